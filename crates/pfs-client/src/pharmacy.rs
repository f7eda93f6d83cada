//! Nominated pharmacy calls of a [`Session`]: the nomination, searching the directory, and
//! nominating, changing or removing a pharmacy.

use pfs_wire::{
    RequestCommunityPharmacy, RequestCommunityPharmacyReply, UpdateCommunityPharmacy,
    UpdateCommunityPharmacyReply,
};

use crate::error::Result;
use crate::session::Session;

/// What [`Session::request_community_pharmacy`] searches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PharmacySearch<'a> {
    /// No search: the nomination only.
    None,
    /// A full postcode or an outward code: the nearest pharmacies first.
    Postcode(&'a str),
    /// Part of a pharmacy's name, any case.
    Name(&'a str),
}

impl Session {
    /// `RequestCommunityPharmacy`: the selected patient's nominated pharmacy and, for a search,
    /// up to 20 open pharmacies.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9021` (postcode), `9004` (name), `6`.
    pub async fn request_community_pharmacy(
        &self,
        search: PharmacySearch<'_>,
    ) -> Result<RequestCommunityPharmacyReply> {
        let (postcode, name) = match search {
            PharmacySearch::None => (None, None),
            PharmacySearch::Postcode(p) => (Some(p.to_owned()), None),
            PharmacySearch::Name(n) => (None, Some(n.to_owned())),
        };
        let req = RequestCommunityPharmacy {
            header: self.header(),
            scope: self.scope(),
            postcode,
            name,
        };
        self.request(&req).await
    }

    /// `UpdateCommunityPharmacy`: nominates the pharmacy `ods_code` for the selected patient
    /// (replacing any earlier nomination), or removes the nomination with `None`.
    ///
    /// Idempotent: retried after transient failures under the retry policy. (nominating the
    /// nominated pharmacy changes nothing) Errors (besides `3` and `9010`): `9028` (unknown),
    /// `9029` (closed), `6`.
    pub async fn update_community_pharmacy(
        &self,
        ods_code: Option<&str>,
    ) -> Result<UpdateCommunityPharmacyReply> {
        let req = UpdateCommunityPharmacy {
            header: self.header(),
            scope: self.scope(),
            ods_code: ods_code.map(str::to_owned),
            remove: ods_code.is_none(),
        };
        self.request(&req).await
    }
}
