//! The online account: `RequestAccountInformation` and `ResetOnlineAccount` (wire reference
//! B.14, B.15).
//!
//! An application's provider id is a credential of that provider, so an application never
//! learns another's: `LinkedApplication/@providerId` is the caller's own provider id for its
//! own application, and for every other one a reference derived from its provider id under
//! the server's pepper ([`crate::Pepper::application_ref`]). `ResetOnlineAccount` accepts
//! either.
//!
//! Unlinking is one store transaction: the links (so the passphrases), the sessions those
//! applications opened (ended at once, on every instance, since sessions live in the store),
//! the account's linkage key (so no application links again until the practice issues a new
//! one) and an access-log entry. The reply is sent even when the caller's own session is among
//! those ended.

use std::collections::HashMap;

use pfs_wire::{
    LinkedApplication, PatientAccess, RequestAccountInformation, RequestAccountInformationReply,
    ResetOnlineAccount, ResetOnlineAccountReply,
};

use crate::Pfs;
use crate::error::DomainError;
use crate::model::{LinkedApp, Practice, Provider};
use crate::operation::{Access, Call, Operation};
use crate::session::person;
use crate::uktime::to_wall_clock;

impl Operation for RequestAccountInformation {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<RequestAccountInformationReply, DomainError> {
        pfs.request_account_information(call).await
    }
}

impl Operation for ResetOnlineAccount {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ResetOnlineAccountReply, DomainError> {
        pfs.reset_online_account(call, self).await
    }
}

impl Pfs {
    /// How `caller` sees the application of `provider_id`: its own id, or a reference.
    fn application_id(&self, caller: &Provider, provider_id: &str) -> String {
        if provider_id == caller.id {
            provider_id.to_owned()
        } else {
            self.pepper.application_ref(provider_id)
        }
    }

    fn linked_application(&self, caller: &Provider, app: &LinkedApp) -> LinkedApplication {
        LinkedApplication {
            name: app.name.clone(),
            provider_id: self.application_id(caller, &app.provider_id),
            date_linked: to_wall_clock(app.linked_at),
            last_used: to_wall_clock(app.last_used_at.unwrap_or(app.linked_at)),
        }
    }

    pub(crate) async fn request_account_information(
        &self,
        call: &Call<'_>,
    ) -> Result<RequestAccountInformationReply, DomainError> {
        let s = call.session()?;
        let account_id = &s.record.account_id;
        let user = self
            .store
            .patient(&s.record.online_user_id)
            .await?
            .ok_or_else(|| DomainError::Unavailable("session without its user".into()))?;
        let proxies = self.store.proxy_patients(&user.id).await?;
        let mut practices: HashMap<String, Option<Practice>> = HashMap::new();
        let mut registration = Vec::with_capacity(proxies.len() + 1);
        for p in std::iter::once(&user).chain(&proxies) {
            if !practices.contains_key(&p.ods) {
                let practice = self.store.practice(&p.ods).await?;
                practices.insert(p.ods.clone(), practice);
            }
            let practice = practices.get(&p.ods).and_then(Option::as_ref);
            registration.push(PatientAccess {
                patient_id: p.id.clone(),
                unit_name: practice.map(|x| x.name.clone()).unwrap_or_default(),
                address: practice.map(|x| x.address.clone()).unwrap_or_default(),
            });
        }
        let applications = self
            .store
            .linked_applications(account_id)
            .await?
            .iter()
            .map(|a| self.linked_application(call.caller, a))
            .collect();
        Ok(RequestAccountInformationReply {
            scope: None,
            uuid: None,
            account_id: account_id.clone(),
            user: person(&user),
            applications,
            registration,
        })
    }

    pub(crate) async fn reset_online_account(
        &self,
        call: &Call<'_>,
        m: &ResetOnlineAccount,
    ) -> Result<ResetOnlineAccountReply, DomainError> {
        let s = call.session()?;
        let context = call.patient()?;
        let account_id = &s.record.account_id;
        let linked = self.store.linked_applications(account_id).await?;
        let chosen: Vec<&LinkedApp> = match m.provider_id.as_deref().map(str::trim) {
            None => linked.iter().collect(),
            Some(wanted) => {
                let found = linked.iter().find(|a| {
                    a.provider_id == wanted || self.pepper.application_ref(&a.provider_id) == wanted
                });
                vec![found.ok_or(DomainError::ApplicationNotLinked)?]
            }
        };
        let user = self
            .store
            .patient(&s.record.online_user_id)
            .await?
            .ok_or_else(|| DomainError::Unavailable("session without its user".into()))?;
        let access_type = match (m.provider_id.is_some(), chosen.first()) {
            (true, Some(app)) => format!("Unlinked application {}", app.name),
            _ => "Reset online account: unlinked every application".to_owned(),
        };
        // The log goes to the account holder's record, whichever patient is selected.
        let practice = if user.ods == context.practice.ods {
            context.practice.clone()
        } else {
            self.store
                .practice(&user.ods)
                .await?
                .unwrap_or_else(|| context.practice.clone())
        };
        let log = self
            .online_access(s, call.caller, &user, &practice, &access_type)
            .await?;
        let unlinked = self
            .store
            .unlink_applications(
                account_id,
                m.provider_id
                    .as_ref()
                    .and(chosen.first().map(|a| a.provider_id.as_str())),
                self.clock.now(),
                &log,
            )
            .await?;
        Ok(ResetOnlineAccountReply {
            scope: None,
            uuid: None,
            unlinked: chosen
                .into_iter()
                .filter(|a| unlinked.contains(&a.provider_id))
                .map(|a| self.linked_application(call.caller, a))
                .collect(),
        })
    }
}
