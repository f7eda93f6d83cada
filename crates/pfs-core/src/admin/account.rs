//! Online accounts and their linkage keys.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;

use super::{AdminError, xml_safe_opt};
use crate::Pfs;

/// An online account and the linkage key just issued for it (shown once; only a hash is kept).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedAccount {
    /// The account id.
    pub account_id: String,
    /// The patient.
    pub patient_id: String,
    /// The practice.
    pub ods: String,
    /// The new linkage key.
    #[serde(serialize_with = "expose")]
    pub linkage_key: SecretString,
    /// When the key stops working.
    pub expires_at: DateTime<Utc>,
}

fn expose<S: serde::Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    ser.serialize_str(s.expose_secret())
}

impl Pfs {
    /// Opens the patient's online account if needed and issues a new linkage key (any earlier
    /// key stops working).
    pub async fn issue_account(
        &self,
        patient_id: &str,
        email: Option<String>,
        mobile: Option<String>,
    ) -> Result<IssuedAccount, AdminError> {
        xml_safe_opt("email", email.as_deref())?;
        xml_safe_opt("mobile", mobile.as_deref())?;
        let patient = self
            .store
            .patient(patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))?;
        let account = self.open_account(&patient, email, mobile).await?;
        let key = self.issue_linkage_key(&account.id).await?;
        Ok(IssuedAccount {
            account_id: account.id,
            patient_id: patient.id,
            ods: patient.ods,
            linkage_key: key,
            expires_at: self.clock.now() + self.config.linkage_key_ttl,
        })
    }

    /// Ends an online account: it can no longer link or log on, and its sessions end.
    pub async fn end_account(&self, account_id: &str) -> Result<(), AdminError> {
        if self.store.end_account(account_id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound("account".into()))
        }
    }
}
