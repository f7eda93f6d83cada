//! Demographics calls of a [`Session`]: reading the selected patient's details and changing
//! their address, telephone numbers or e-mail address.
//!
//! A change is checked whole by the server (UK postcode, UK telephone numbers, e-mail syntax,
//! lengths); a refusal is [`crate::Error::Pfs`] with one of the codes `9021`–`9027` of
//! docs/error-codes.md and nothing is stored.

use pfs_wire::{
    Address, ChangeDemographics, ChangeDemographicsReply, RetrieveDemographics,
    RetrieveDemographicsReply, TelephoneNumber,
};

use crate::error::Result;
use crate::session::Session;

/// What a [`Session::change_demographics`] call replaces: each field given replaces what the
/// practice holds; fields left `None` are kept.
#[derive(Debug, Clone, Default)]
pub struct DemographicsUpdate {
    /// The new address: its parts (`house_name_flat` or `street`, and `postcode`, are needed;
    /// the one-line `address` is written by the server).
    pub address: Option<Address>,
    /// The new telephone numbers (an empty list removes them all).
    pub telephone_numbers: Option<Vec<TelephoneNumber>>,
    /// The new e-mail address (`Some(None)` removes it).
    pub email_address: Option<Option<String>>,
}

impl Session {
    /// `RetrieveDemographics`: the selected patient's name (with title, forenames, surname),
    /// date of birth, address, telephone numbers and e-mail address, and their recent changes
    /// with where each stands.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn retrieve_demographics(&self) -> Result<RetrieveDemographicsReply> {
        let req = RetrieveDemographics {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `ChangeDemographics`: replaces what `update` gives for the selected patient. The reply's
    /// `status` is `Applied` when the practice applies changes at once, `PendingApproval` when
    /// it approves them first.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9021`–`9027`,
    /// `9004`, `6`.
    pub async fn change_demographics(
        &self,
        update: DemographicsUpdate,
    ) -> Result<ChangeDemographicsReply> {
        let req = ChangeDemographics {
            header: self.header(),
            scope: self.scope(),
            address: update.address,
            telephone_numbers: update.telephone_numbers,
            email_address: update.email_address,
            person_name: None,
            date_of_birth: None,
        };
        self.request(&req).await
    }
}
