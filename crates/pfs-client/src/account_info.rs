//! Online account calls of a [`Session`]: the account's information and unlinking
//! applications from it.

use pfs_wire::{
    RequestAccountInformation, RequestAccountInformationReply, ResetOnlineAccount,
    ResetOnlineAccountReply,
};

use crate::error::Result;
use crate::session::Session;

impl Session {
    /// `RequestAccountInformation`: the account id, the user's `Person`, every linked
    /// application (this app's own `provider_id`, a reference for any other) and the patients
    /// the user may act for.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn request_account_information(&self) -> Result<RequestAccountInformationReply> {
        let req = RequestAccountInformation {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `ResetOnlineAccount`: unlinks the application `provider_id` (as
    /// [`Session::request_account_information`] names it), or every application with `None`.
    /// Unlinked applications' passphrases stop working and their sessions end at once, this
    /// one too if this application is unlinked: after a reset that includes it, the session is
    /// gone (error `3`).
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9030` (not linked),
    /// `6`.
    pub async fn reset_online_account(
        &self,
        provider_id: Option<&str>,
    ) -> Result<ResetOnlineAccountReply> {
        let req = ResetOnlineAccount {
            header: self.header(),
            scope: self.scope(),
            provider_id: provider_id.map(str::to_owned),
        };
        self.request(&req).await
    }
}
