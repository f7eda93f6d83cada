//! `CheckVersion`: the API versions this server speaks.

use pfs_wire::{API_VERSION, CheckVersion, CheckVersionReply, SupportedVersion};

use crate::Pfs;
use crate::error::DomainError;
use crate::operation::{Access, Call, Operation};

impl Operation for CheckVersion {
    const ACCESS: Access = Access::Provider;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<CheckVersionReply, DomainError> {
        pfs.check_version(call, self)
    }
}

impl Pfs {
    pub(crate) fn check_version(
        &self,
        call: &Call<'_>,
        m: &CheckVersion,
    ) -> Result<CheckVersionReply, DomainError> {
        if m.application.provider_id != call.caller.id {
            return Err(DomainError::ProviderIdMismatch);
        }
        Ok(CheckVersionReply {
            uuid: None,
            current_version: API_VERSION.to_owned(),
            minimum_version: API_VERSION.to_owned(),
            supported: vec![SupportedVersion {
                version: API_VERSION.to_owned(),
                status: "current".to_owned(),
                withdrawal_date: None,
            }],
        })
    }
}
