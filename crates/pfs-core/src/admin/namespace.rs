//! Sandbox namespaces: an isolated practice, with its own provider and accounts, that a test
//! run makes for itself and deletes afterwards, so that suites running side by side never see
//! each other's data.
//!
//! A namespace is numbered (the lowest number free when it is made). Its practice's ODS code
//! is `N` and the number in four digits; its patients' NHS numbers start `9 00 <number>`, which
//! no seeded practice (numbered from 1, see `seed.rs`) and not the demo (`999…`) uses. The
//! server fills the practice (the demo's patients and their data, `pfs-server`'s `demo.rs`);
//! this file keeps the registry and deletes.

use super::practice::checked_practice;
use super::sandbox::check_plain_name;
use super::{AdminError, NewPractice};
use crate::store::NamespaceRecord;
use crate::{Pfs, nhs};

/// The most namespaces at once.
pub const MAX_NAMESPACES: u32 = 9_999;

/// The ODS code of namespace `number`.
pub fn namespace_ods(number: u32) -> String {
    format!("N{number:04}")
}

/// The most patients a namespace can number.
pub const MAX_NAMESPACE_PATIENTS: u32 = 10;

/// The NHS number of the `person`th patient (0 to 9) of namespace `number`.
pub fn namespace_nhs_number(number: u32, person: u32) -> String {
    let stem = format!("900{number:04}{}", person % MAX_NAMESPACE_PATIENTS);
    // The free ninth digit has weight 2: of its ten values, at least nine complete the number.
    (0..10)
        .find_map(|free| nhs::complete(&format!("{stem}{free}")))
        .unwrap_or_default()
}

impl Pfs {
    /// Registers namespace `name` and adds its practice, `practice` under the namespace's ODS
    /// code (the `ods` given is replaced).
    pub async fn create_namespace(
        &self,
        name: &str,
        practice: NewPractice,
    ) -> Result<NamespaceRecord, AdminError> {
        check_plain_name("namespace", name)?;
        let practice = checked_practice(NewPractice {
            ods: namespace_ods(1),
            ..practice
        })?;
        let record = self
            .store
            .create_namespace(
                name,
                self.clock.now(),
                &practice,
                namespace_ods,
                MAX_NAMESPACES,
            )
            .await
            .map_err(|e| match e {
                crate::StoreError::Conflict(m) => AdminError::Conflict(format!("namespace: {m}")),
                other => other.into(),
            })?;
        tracing::info!(namespace = name, ods = %record.ods, "sandbox namespace created");
        Ok(record)
    }

    /// Records the provider made for namespace `name`.
    pub async fn set_namespace_provider(
        &self,
        name: &str,
        provider_id: &str,
    ) -> Result<(), AdminError> {
        Ok(self.store.set_namespace_provider(name, provider_id).await?)
    }

    /// Every namespace, by name.
    pub async fn namespaces(&self) -> Result<Vec<NamespaceRecord>, AdminError> {
        Ok(self.store.namespaces().await?)
    }

    /// Deletes namespace `name`: its practice, its provider and everything that refers to
    /// them (patients, accounts, sessions, appointments, messages, files, the access log…), in
    /// one transaction, then the fault rules that match its practice or its provider.
    pub async fn delete_namespace(&self, name: &str) -> Result<(), AdminError> {
        check_plain_name("namespace", name)?;
        let record = self
            .store
            .namespaces()
            .await?
            .into_iter()
            .find(|n| n.name == name)
            .ok_or_else(|| AdminError::NotFound("namespace".into()))?;
        // Entries queued behind replies may belong to the namespace: written first, they are
        // deleted with it rather than landing after it.
        self.flush_writes().await?;
        self.store.delete_namespace(name).await?;
        let mut removed = 0;
        for rule in self.store.list_fault_rules().await? {
            let m = &rule.spec.matches;
            let ours = m
                .practice
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(&record.ods))
                || (m.provider.is_some() && m.provider == record.provider_id);
            if ours && self.store.delete_fault_rule(rule.id).await? {
                removed += 1;
            }
        }
        if removed > 0 {
            self.reload_faults().await?;
        }
        tracing::info!(
            namespace = name,
            fault_rules = removed,
            "sandbox namespace deleted"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_numbers_are_the_namespaces_own() {
        assert_eq!(namespace_ods(1), "N0001");
        assert_eq!(namespace_ods(MAX_NAMESPACES), "N9999");
        let mut seen = std::collections::BTreeSet::new();
        for number in [1, 2, 17, MAX_NAMESPACES] {
            for person in 0..MAX_NAMESPACE_PATIENTS {
                let nhs = namespace_nhs_number(number, person);
                assert_eq!(nhs.len(), 10, "{nhs}");
                assert!(nhs.starts_with(&format!("900{number:04}")), "{nhs}");
                assert!(nhs::is_valid(&nhs), "{nhs}");
                assert!(seen.insert(nhs));
            }
        }
    }
}
