//! Providers: third-party apps, registered by client certificate fingerprint.

use super::{AdminError, non_empty, xml_safe};
use crate::Pfs;
use crate::model::*;
use crate::secrets::random_bytes;

impl Pfs {
    /// Registers a provider for a client certificate fingerprint; returns it with its new id.
    pub async fn add_provider(
        &self,
        name: &str,
        fingerprint: &str,
        trusted_identity: bool,
    ) -> Result<Provider, AdminError> {
        non_empty("name", name)?;
        xml_safe("name", name)?;
        xml_safe("fingerprint", fingerprint)?;
        let provider = Provider {
            id: hex::encode(random_bytes::<8>()),
            name: name.trim().to_owned(),
            fingerprint: fingerprint.to_ascii_lowercase(),
            trusted_identity,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.insert_provider(&provider).await?;
        Ok(provider)
    }

    /// Every provider.
    pub async fn list_providers(&self) -> Result<Vec<Provider>, AdminError> {
        Ok(self.store.list_providers().await?)
    }

    /// Revokes a provider at once: its certificate is refused and its sessions end.
    pub async fn revoke_provider(&self, id: &str) -> Result<(), AdminError> {
        if self.store.revoke_provider(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound("provider".into()))
        }
    }
}
