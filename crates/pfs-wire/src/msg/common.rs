//! Pieces shared by many messages: the common request attributes, the patient scope, the
//! `Application` element and the `Person` element.

use chrono::NaiveDate;

use crate::codec::{DecodeError, Fields};
use crate::scalar::{Guid, format_date_as_datetime, parse_date};
use crate::xml::Element;

/// The API version this implementation speaks and writes on requests.
pub const API_VERSION: &str = "1";

/// Attributes every request carries: `apiVersion`, `uuid`, `unitId` (in any order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `apiVersion`; real clients send `1`.
    pub api_version: Option<String>,
    /// `uuid`: a fresh GUID per request, echoed by the reply.
    pub uuid: Option<Guid>,
    /// `unitId`: the practice ODS code (absent on `Logoff` and the `LinkAccount` family).
    pub unit_id: Option<String>,
}

impl Header {
    /// A header for a new request: API version 1 and a fresh `uuid`.
    pub fn new(unit_id: Option<String>) -> Self {
        Header {
            api_version: Some(API_VERSION.to_owned()),
            uuid: Some(Guid::new_v4()),
            unit_id,
        }
    }

    pub(crate) fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Header {
            api_version: f.opt("apiVersion"),
            uuid: f.uuid()?,
            unit_id: f.opt("unitId"),
        })
    }

    pub(crate) fn write(&self, el: Element) -> Element {
        el.opt_attr("apiVersion", self.api_version.clone())
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
            .opt_attr("unitId", self.unit_id.clone())
    }
}

/// `patientId` and `onlineUserId`, carried by every per-patient request and echoed by its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientScope {
    /// The currently selected patient.
    pub patient_id: String,
    /// The logged-in online user (constant for a session).
    pub online_user_id: String,
}

impl PatientScope {
    pub(crate) fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(PatientScope {
            patient_id: f.req("patientId")?,
            online_user_id: f.req("onlineUserId")?,
        })
    }

    pub(crate) fn write(&self, el: Element) -> Element {
        el.attr("patientId", self.patient_id.clone())
            .attr("onlineUserId", self.online_user_id.clone())
    }
}

/// The `Application` element naming the calling app (on `Authenticate`, `LinkAccount`,
/// `CheckVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// `name`, e.g. `ExampleApp`.
    pub name: String,
    /// `version`, e.g. `2.3`.
    pub version: String,
    /// `providerId`: the provider's 16-hex-character id; must match its client certificate.
    pub provider_id: String,
    /// `deviceType`.
    pub device_type: String,
}

impl Application {
    pub(crate) fn read(parent: &Fields<'_>) -> Result<Self, DecodeError> {
        let f = parent.child("Application")?;
        Ok(Application {
            name: f.opt("name").unwrap_or_default(),
            version: f.opt("version").unwrap_or_default(),
            provider_id: f.req("providerId")?,
            device_type: f.opt("deviceType").unwrap_or_default(),
        })
    }

    pub(crate) fn to_element(&self) -> Element {
        Element::new("Application")
            .attr("name", self.name.clone())
            .attr("version", self.version.clone())
            .attr("providerId", self.provider_id.clone())
            .attr("deviceType", self.device_type.clone())
    }
}

/// A patient as replies describe them (`User/Person`, root-level `Person`, `PatientSelectedReply/Person`).
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// TPP patient id.
    pub patient_id: String,
    /// Date of birth (written as an `xs:dateTime` at midnight).
    pub date_of_birth: NaiveDate,
    /// Free text, e.g. `Male`, `Female`.
    pub gender: String,
    /// The NHS number (`NationalId type="NHS"`).
    pub nhs_number: Option<String>,
    /// Full display name including title (`PersonName/@name`).
    pub name: String,
    /// One-line address.
    pub address: Option<PersonAddress>,
}

/// `Person/Address`.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonAddress {
    /// The one-line address.
    pub address: String,
    /// `addressType`, e.g. `Home`.
    pub address_type: Option<String>,
}

impl std::fmt::Debug for Person {
    // Names, dates of birth, NHS numbers and addresses identify patients: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("patient_id", &self.patient_id)
            .finish_non_exhaustive()
    }
}

impl Person {
    pub(crate) fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Person {
            patient_id: f.req("patientId")?,
            date_of_birth: f.req_with("dateOfBirth", "an xs:dateTime", parse_date)?,
            gender: f.opt("gender").unwrap_or_default(),
            nhs_number: f
                .opt_child("NationalId")
                .map(|n| n.el.text.trim().to_owned())
                .filter(|t| !t.is_empty()),
            name: f
                .opt_child("PersonName")
                .and_then(|n| n.opt("name"))
                .unwrap_or_default(),
            address: f.opt_child("Address").and_then(|a| {
                a.opt("address").map(|address| PersonAddress {
                    address,
                    address_type: a.opt("addressType"),
                })
            }),
        })
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new("Person")
            .attr("patientId", self.patient_id.clone())
            .attr("dateOfBirth", format_date_as_datetime(self.date_of_birth))
            .attr("gender", self.gender.clone());
        if let Some(nhs) = &self.nhs_number {
            el = el.child(
                Element::new("NationalId")
                    .attr("type", "NHS")
                    .text(nhs.clone()),
            );
        }
        el = el.child(Element::new("PersonName").attr("name", self.name.clone()));
        if let Some(a) = &self.address {
            el = el.child(
                Element::new("Address")
                    .attr("address", a.address.clone())
                    .opt_attr("addressType", a.address_type.clone()),
            );
        }
        el
    }
}

/// The root of a per-patient reply with the attributes it starts with: `patientId` and
/// `onlineUserId` (when known), then `uuid`, in the order of the wire reference's examples.
pub(crate) fn reply_root(
    root: &'static str,
    scope: Option<&PatientScope>,
    uuid: Option<Guid>,
) -> Element {
    let el = Element::new(root);
    let el = match scope {
        Some(s) => s.write(el),
        None => el,
    };
    el.opt_attr("uuid", uuid.map(|g| g.to_string()))
}
