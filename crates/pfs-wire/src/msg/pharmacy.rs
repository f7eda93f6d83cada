//! Nominated pharmacy: `RequestCommunityPharmacy` and `UpdateCommunityPharmacy` (wire
//! reference B.12, B.13).
//!
//! A pharmacy is written with the standard tags of `common.rs`: its `Address` (one-line and
//! parts) and its `TelephoneNumbers`.

use super::common::{
    Address, Header, PatientScope, TelephoneNumber, read_telephone_numbers, reply_root,
    telephone_numbers_element,
};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, YesNo};
use crate::xml::Element;

/// A community pharmacy as replies describe it (`Pharmacy`, `NominatedPharmacy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyEntry {
    /// `odsCode`: the pharmacy's ODS code, which a nomination names.
    pub ods_code: String,
    /// `name`.
    pub name: String,
    /// `open`: `n` once the pharmacy has closed (a nomination of it stays until changed).
    pub open: YesNo,
    /// `Address`.
    pub address: Address,
    /// `TelephoneNumbers` (its number, if it has one, typed `Work`).
    pub telephone_numbers: Vec<TelephoneNumber>,
}

impl PharmacyEntry {
    fn to_element(&self, name: &'static str) -> Element {
        Element::new(name)
            .attr("odsCode", self.ods_code.clone())
            .attr("name", self.name.clone())
            .attr("open", self.open.as_str())
            .child(self.address.to_element())
            .child(telephone_numbers_element(&self.telephone_numbers))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(PharmacyEntry {
            ods_code: f.req("odsCode")?,
            name: f.opt("name").unwrap_or_default(),
            open: f
                .opt_with("open", "y or n", str::parse::<YesNo>)?
                .unwrap_or(YesNo(true)),
            address: f
                .opt_child("Address")
                .map(|a| Address::read(&a))
                .unwrap_or_default(),
            telephone_numbers: match f.opt_child("TelephoneNumbers") {
                Some(t) => read_telephone_numbers(&t)?,
                None => Vec::new(),
            },
        })
    }
}

/// `RequestCommunityPharmacy`: the selected patient's nominated pharmacy and, with `postcode`
/// (full or outward code) or `name`, a search of the directory (B.12).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestCommunityPharmacy {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `postcode`: a full postcode or an outward code; nearest pharmacies first.
    pub postcode: Option<String>,
    /// `name`: part of a pharmacy's name, any case.
    pub name: Option<String>,
}

impl std::fmt::Debug for RequestCommunityPharmacy {
    // The postcode searched for may be the patient's own: print whether there is one only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCommunityPharmacy")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("postcode", &self.postcode.is_some())
            .field("name", &self.name.is_some())
            .finish()
    }
}

impl WireMessage for RequestCommunityPharmacy {
    const ROOT: &'static str = "RequestCommunityPharmacy";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("postcode", self.postcode.clone())
            .opt_attr("name", self.name.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let m = RequestCommunityPharmacy {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            postcode: f.opt("postcode"),
            name: f.opt("name"),
        };
        if m.postcode.is_some() && m.name.is_some() {
            return Err(DecodeError::Shape(
                "RequestCommunityPharmacy takes postcode or name, not both",
            ));
        }
        Ok(m)
    }
}

/// `RequestCommunityPharmacyReply`: the nominated pharmacy (absent when none) and the search's
/// pharmacies, nearest (or by name) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCommunityPharmacyReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `NominatedPharmacy`.
    pub nominated: Option<PharmacyEntry>,
    /// `Pharmacy`, one per search result.
    pub pharmacies: Vec<PharmacyEntry>,
}

impl WireMessage for RequestCommunityPharmacyReply {
    const ROOT: &'static str = "RequestCommunityPharmacyReply";

    fn to_element(&self) -> Element {
        let el = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid);
        let el = match &self.nominated {
            Some(n) => el.child(n.to_element("NominatedPharmacy")),
            None => el,
        };
        el.children(self.pharmacies.iter().map(|p| p.to_element("Pharmacy")))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestCommunityPharmacyReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            nominated: f
                .opt_child("NominatedPharmacy")
                .map(|n| PharmacyEntry::read(&n))
                .transpose()?,
            pharmacies: f
                .children("Pharmacy")
                .map(|p| PharmacyEntry::read(&p))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `UpdateCommunityPharmacy`: nominate the directory pharmacy `odsCode` (or change the
/// nomination to it), or remove the nomination with `remove="y"` (B.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCommunityPharmacy {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `odsCode`: the pharmacy to nominate (`None` with `remove`).
    pub ods_code: Option<String>,
    /// `remove="y"`: remove the nomination.
    pub remove: bool,
}

impl WireMessage for UpdateCommunityPharmacy {
    const ROOT: &'static str = "UpdateCommunityPharmacy";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("odsCode", self.ods_code.clone())
            .opt_attr("remove", self.remove.then_some("y"))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let remove = f
            .opt_with("remove", "y or n", str::parse::<YesNo>)?
            .is_some_and(|y| y.0);
        let ods_code = f.opt("odsCode");
        match (&ods_code, remove) {
            (Some(_), true) => {
                return Err(DecodeError::Shape(
                    "UpdateCommunityPharmacy takes odsCode or remove=\"y\", not both",
                ));
            }
            (None, false) => {
                return Err(DecodeError::Missing {
                    element: Self::ROOT,
                    attr: "odsCode",
                });
            }
            _ => {}
        }
        Ok(UpdateCommunityPharmacy {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            ods_code,
            remove,
        })
    }
}

/// `UpdateCommunityPharmacyReply`: the nomination as now set (absent after a removal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateCommunityPharmacyReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `NominatedPharmacy`.
    pub nominated: Option<PharmacyEntry>,
}

impl WireMessage for UpdateCommunityPharmacyReply {
    const ROOT: &'static str = "UpdateCommunityPharmacyReply";

    fn to_element(&self) -> Element {
        let el = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid);
        match &self.nominated {
            Some(n) => el.child(n.to_element("NominatedPharmacy")),
            None => el,
        }
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(UpdateCommunityPharmacyReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            nominated: f
                .opt_child("NominatedPharmacy")
                .map(|n| PharmacyEntry::read(&n))
                .transpose()?,
        })
    }
}

per_patient_request!(RequestCommunityPharmacy => RequestCommunityPharmacyReply);
per_patient_request!(UpdateCommunityPharmacy => UpdateCommunityPharmacyReply);
