//! Nominated pharmacy: `RequestCommunityPharmacy` and `UpdateCommunityPharmacy` (wire
//! reference B.12, B.13), and how a postcode search finds the nearest pharmacies.
//!
//! "Nearest" is by postcode, without coordinates: the same full postcode first, then the same
//! sector (`LS6 3`), then districts of the same area by how far apart their numbers are
//! (`LS6`, then `LS5` and `LS7`, …; ties by outward code and ODS code). A search looks in one postcode area only and returns at
//! most [`SEARCH_LIMIT`] open pharmacies. Searches are not written to the access log (they
//! read the directory, not the patient's record); nominating and removing are.

use pfs_wire::{
    Address, PharmacyEntry, RequestCommunityPharmacy, RequestCommunityPharmacyReply,
    TelephoneNumber, TelephoneType, UpdateCommunityPharmacy, UpdateCommunityPharmacyReply, YesNo,
};

use crate::Pfs;
use crate::demographics::{normalise_outward_code, normalise_postcode};
use crate::error::DomainError;
use crate::model::{Pharmacy, PharmacySearch};
use crate::operation::{Access, Call, Operation};

/// Most pharmacies one search returns.
pub const SEARCH_LIMIT: u32 = 20;

/// Shortest and longest `name` a search accepts, in characters.
pub const NAME_SEARCH_CHARS: std::ops::RangeInclusive<usize> = 2..=100;

/// The area letters and district number of an outward code (`EC1A` → `EC`, 1).
pub fn area_and_district(outward: &str) -> (String, i32) {
    let area: String = outward
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let district = outward
        .chars()
        .skip_while(char::is_ascii_alphabetic)
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    (area, district)
}

/// Where a search for `postcode` (a full postcode or an outward code, any case and spacing)
/// looks; `None` if it is neither.
pub fn postcode_search(postcode: &str) -> Option<PharmacySearch> {
    if let Some(full) = normalise_postcode(postcode) {
        let (outward, inward) = full.split_once(' ')?;
        let (area, district) = area_and_district(outward);
        let sector = format!("{outward} {}", inward.chars().next()?);
        return Some(PharmacySearch {
            area,
            district,
            outward: outward.to_owned(),
            sector: Some(sector),
            postcode: Some(full.clone()),
        });
    }
    let outward = normalise_outward_code(postcode)?;
    let (area, district) = area_and_district(&outward);
    Some(PharmacySearch {
        area,
        district,
        outward,
        sector: None,
        postcode: None,
    })
}

/// A pharmacy as the wire writes it.
pub fn pharmacy_entry(p: &Pharmacy) -> PharmacyEntry {
    let a = &p.address;
    PharmacyEntry {
        ods_code: p.ods.clone(),
        name: p.name.clone(),
        open: YesNo(p.closed_at.is_none()),
        address: Address {
            address: a.one_line(),
            house_name_flat: a.house_name_flat.clone(),
            street: a.street.clone(),
            village: a.village.clone(),
            town: a.town.clone(),
            county: a.county.clone(),
            postcode: Some(a.postcode.clone()),
            address_type: None,
        },
        telephone_numbers: p
            .telephone
            .iter()
            .map(|n| TelephoneNumber {
                number: n.clone(),
                number_type: TelephoneType::Work,
            })
            .collect(),
    }
}

impl Operation for RequestCommunityPharmacy {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<RequestCommunityPharmacyReply, DomainError> {
        pfs.request_community_pharmacy(call, self).await
    }
}

impl Operation for UpdateCommunityPharmacy {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<UpdateCommunityPharmacyReply, DomainError> {
        pfs.update_community_pharmacy(call, self).await
    }
}

impl Pfs {
    /// The directory's open pharmacies for a postcode (full or outward) or a name fragment.
    pub async fn search_pharmacies(
        &self,
        postcode: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Pharmacy>, DomainError> {
        match (postcode, name) {
            (Some(p), _) => {
                let search = postcode_search(p).ok_or(DomainError::InvalidPostcode(
                    "postcode is neither a UK postcode nor an outward code",
                ))?;
                Ok(self.store.pharmacies_near(&search, SEARCH_LIMIT).await?)
            }
            (None, Some(n)) => {
                let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
                if !NAME_SEARCH_CHARS.contains(&n.chars().count()) {
                    return Err(DomainError::InvalidSearch(
                        "name must be 2 to 100 characters",
                    ));
                }
                Ok(self
                    .store
                    .pharmacies_named(&n.to_lowercase(), SEARCH_LIMIT)
                    .await?)
            }
            (None, None) => Ok(Vec::new()),
        }
    }

    pub(crate) async fn request_community_pharmacy(
        &self,
        call: &Call<'_>,
        m: &RequestCommunityPharmacy,
    ) -> Result<RequestCommunityPharmacyReply, DomainError> {
        let patient = &call.patient()?.patient;
        let pharmacies = self
            .search_pharmacies(m.postcode.as_deref(), m.name.as_deref())
            .await?;
        let nominated = self.store.nominated_pharmacy(&patient.id).await?;
        Ok(RequestCommunityPharmacyReply {
            scope: None,
            uuid: None,
            nominated: nominated.as_ref().map(pharmacy_entry),
            pharmacies: pharmacies.iter().map(pharmacy_entry).collect(),
        })
    }

    pub(crate) async fn update_community_pharmacy(
        &self,
        call: &Call<'_>,
        m: &UpdateCommunityPharmacy,
    ) -> Result<UpdateCommunityPharmacyReply, DomainError> {
        let s = call.session()?;
        let context = call.patient()?;
        let patient = &context.patient;
        let pharmacy = match &m.ods_code {
            None => None,
            Some(ods) => {
                let ods = ods.trim().to_ascii_uppercase();
                let p = self
                    .store
                    .pharmacy(&ods)
                    .await?
                    .ok_or(DomainError::PharmacyNotFound)?;
                if p.closed_at.is_some() {
                    return Err(DomainError::PharmacyClosed);
                }
                Some(p)
            }
        };
        let access_type = if pharmacy.is_some() {
            "Nominated pharmacy"
        } else {
            "Removed nominated pharmacy"
        };
        let log = self
            .online_access(s, call.caller, patient, &context.practice, access_type)
            .await?;
        self.store
            .set_nominated_pharmacy(
                &patient.id,
                pharmacy.as_ref().map(|p| p.ods.as_str()),
                self.clock.now(),
                &log,
            )
            .await?;
        Ok(UpdateCommunityPharmacyReply {
            scope: None,
            uuid: None,
            nominated: pharmacy.as_ref().map(pharmacy_entry),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches() {
        let s = postcode_search("ls6 3aa").unwrap();
        assert_eq!(
            (s.area.as_str(), s.district, s.outward.as_str()),
            ("LS", 6, "LS6")
        );
        assert_eq!(s.sector.as_deref(), Some("LS6 3"));
        assert_eq!(s.postcode.as_deref(), Some("LS6 3AA"));
        let s = postcode_search(" ec1a ").unwrap();
        assert_eq!((s.area.as_str(), s.district), ("EC", 1));
        assert_eq!(s.sector, None);
        assert!(postcode_search("nope").is_none());
        assert!(postcode_search("").is_none());
        assert_eq!(area_and_district("W1"), ("W".to_owned(), 1));
        assert_eq!(area_and_district("LS16"), ("LS".to_owned(), 16));
    }
}
