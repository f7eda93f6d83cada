//! Demographics: `RetrieveDemographics` and `ChangeDemographics` (wire reference B.10, B.11).
//!
//! Both use the standard tags of `common.rs` (`PersonName`, `Address`, `TelephoneNumbers`,
//! `EmailAddress`) with the same codec as `AuthenticateReply`'s `Person`. A change may carry
//! any of `Address`, `TelephoneNumbers` and `EmailAddress`; each one present replaces what the
//! practice holds (an empty `TelephoneNumbers` removes every number, an `EmailAddress` without
//! `address` removes the e-mail address). A `PersonName` or `dateOfBirth` in a change is read
//! so that the server can refuse it with its own code.

use chrono::{NaiveDate, NaiveDateTime};

use super::common::{
    Address, Header, PatientScope, PersonName, TelephoneNumber, email_address_element, person_root,
    read_email_address, read_nhs_number, read_telephone_numbers, reply_root,
    telephone_numbers_element,
};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, format_wall_clock, parse_date, parse_wall_clock};
use crate::xml::{Element, Limits};

/// The accepted form of a date in a reply, in words.
const WALL_CLOCK: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

/// `TelephoneNumber` children a `ChangeDemographics` has room for on the wire besides its other
/// elements (the server's own maximum, 5, is checked afterwards with its own `Error`); the
/// body's element limit is this plus the root and its four other children.
pub const MAX_WIRE_TELEPHONE_NUMBERS: usize = 10;

/// Parsing limits of `ChangeDemographics`: the root, `Address`, `PersonName`, `EmailAddress`,
/// `TelephoneNumbers` and [`MAX_WIRE_TELEPHONE_NUMBERS`] numbers, and values of up to 2,048
/// bytes, so that an over-long field gets its own friendly `Error` rather than `9001`.
pub const CHANGE_LIMITS: Limits = Limits {
    max_elements: MAX_WIRE_TELEPHONE_NUMBERS + 5,
    max_attributes: 2 * MAX_WIRE_TELEPHONE_NUMBERS + 64,
    max_value_bytes: 2 * 1024,
    ..Limits::REQUEST
};

/// Where a demographics change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeStatus {
    /// The change is in the practice's record.
    Applied,
    /// The change waits for the practice to approve it.
    PendingApproval,
    /// The practice turned the change down.
    Rejected,
    /// A later change replaced it before the practice decided.
    Superseded,
}

impl ChangeStatus {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Applied => "Applied",
            ChangeStatus::PendingApproval => "PendingApproval",
            ChangeStatus::Rejected => "Rejected",
            ChangeStatus::Superseded => "Superseded",
        }
    }
}

impl std::str::FromStr for ChangeStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            ChangeStatus::Applied,
            ChangeStatus::PendingApproval,
            ChangeStatus::Rejected,
            ChangeStatus::Superseded,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
        .ok_or(())
    }
}

impl std::fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How `status` is described in errors.
const STATUS: &str = "Applied, PendingApproval, Rejected or Superseded";

/// The patient as `RetrieveDemographicsReply` describes them: `Person` with every standard tag.
#[derive(Clone, PartialEq, Eq)]
pub struct DemographicsPerson {
    /// `patientId`.
    pub patient_id: String,
    /// `dateOfBirth` (an `xs:dateTime` at midnight, as in `AuthenticateReply`).
    pub date_of_birth: NaiveDate,
    /// `gender`.
    pub gender: String,
    /// `NationalId type="NHS"`.
    pub nhs_number: Option<String>,
    /// `PersonName` with its parts.
    pub name: PersonName,
    /// `Address` with its parts (absent when the practice holds none).
    pub address: Option<Address>,
    /// `TelephoneNumbers` (always written, possibly empty).
    pub telephone_numbers: Vec<TelephoneNumber>,
    /// `EmailAddress/@address`, when the practice holds one.
    pub email_address: Option<String>,
}

impl std::fmt::Debug for DemographicsPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemographicsPerson")
            .field("patient_id", &self.patient_id)
            .finish_non_exhaustive()
    }
}

impl DemographicsPerson {
    fn to_element(&self) -> Element {
        let el = person_root(
            &self.patient_id,
            self.date_of_birth,
            &self.gender,
            &self.nhs_number,
        )
        .child(self.name.to_element());
        let el = match &self.address {
            Some(a) => el.child(a.to_element()),
            None => el,
        };
        let el = el.child(telephone_numbers_element(&self.telephone_numbers));
        match &self.email_address {
            Some(e) => el.child(email_address_element(e)),
            None => el,
        }
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(DemographicsPerson {
            patient_id: f.req("patientId")?,
            date_of_birth: f.req_with("dateOfBirth", "an xs:dateTime", parse_date)?,
            gender: f.opt("gender").unwrap_or_default(),
            nhs_number: read_nhs_number(f),
            name: f
                .opt_child("PersonName")
                .map(|n| PersonName::read(&n))
                .unwrap_or_default(),
            address: f.opt_child("Address").map(|a| Address::read(&a)),
            telephone_numbers: match f.opt_child("TelephoneNumbers") {
                Some(t) => read_telephone_numbers(&t)?,
                None => Vec::new(),
            },
            email_address: f
                .opt_child("EmailAddress")
                .and_then(|e| read_email_address(&e)),
        })
    }
}

/// One `DemographicsChange` of a `RetrieveDemographicsReply`: a change the patient asked for
/// and where it stands (an openpfs addition, so that the patient sees the practice's decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemographicsChange {
    /// `changeId`.
    pub change_id: String,
    /// `dateRequested`, UK wall-clock time.
    pub date_requested: NaiveDateTime,
    /// `status`.
    pub status: ChangeStatus,
    /// `statusDate`: when the status last changed, UK wall-clock time.
    pub status_date: NaiveDateTime,
    /// `practiceComment`: the practice's comment on its decision, if any.
    pub practice_comment: Option<String>,
}

impl DemographicsChange {
    fn to_element(&self) -> Element {
        Element::new("DemographicsChange")
            .attr("changeId", self.change_id.clone())
            .attr("dateRequested", format_wall_clock(self.date_requested))
            .attr("status", self.status.as_str())
            .attr("statusDate", format_wall_clock(self.status_date))
            .opt_attr("practiceComment", self.practice_comment.clone())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(DemographicsChange {
            change_id: f.req("changeId")?,
            date_requested: f.req_with("dateRequested", WALL_CLOCK, parse_wall_clock)?,
            status: f.req_with("status", STATUS, str::parse::<ChangeStatus>)?,
            status_date: f.req_with("statusDate", WALL_CLOCK, parse_wall_clock)?,
            practice_comment: f.opt("practiceComment"),
        })
    }
}

/// `RetrieveDemographics`: the selected patient's name, date of birth, address, telephone
/// numbers and e-mail address as the practice holds them (B.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveDemographics {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for RetrieveDemographics {
    const ROOT: &'static str = "RetrieveDemographics";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RetrieveDemographics {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `RetrieveDemographicsReply`: the echo, the `Person`, and the patient's recent changes,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveDemographicsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The patient.
    pub person: DemographicsPerson,
    /// Recent changes the patient asked for, newest first.
    pub changes: Vec<DemographicsChange>,
}

impl WireMessage for RetrieveDemographicsReply {
    const ROOT: &'static str = "RetrieveDemographicsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .child(self.person.to_element())
            .children(self.changes.iter().map(DemographicsChange::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RetrieveDemographicsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            person: DemographicsPerson::read(&f.child("Person")?)?,
            changes: f
                .children("DemographicsChange")
                .map(|c| DemographicsChange::read(&c))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `ChangeDemographics`: replace the address, the telephone numbers or the e-mail address
/// (any of them; at least one) (B.11).
#[derive(Clone, PartialEq, Eq)]
pub struct ChangeDemographics {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `Address`: the new address (its parts; the server writes the one-line form).
    pub address: Option<Address>,
    /// `TelephoneNumbers`: the new numbers (`Some(empty)` removes them all).
    pub telephone_numbers: Option<Vec<TelephoneNumber>>,
    /// `EmailAddress`: `Some(Some(address))` sets it, `Some(None)` removes it.
    pub email_address: Option<Option<String>>,
    /// `PersonName`: a name cannot be changed online; read only to be refused.
    pub person_name: Option<PersonName>,
    /// `dateOfBirth`: cannot be changed online; read (as sent) only to be refused.
    pub date_of_birth: Option<String>,
}

impl std::fmt::Debug for ChangeDemographics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeDemographics")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("address", &self.address.is_some())
            .field(
                "telephone_numbers",
                &self.telephone_numbers.as_ref().map(Vec::len),
            )
            .field("email_address", &self.email_address.is_some())
            .finish_non_exhaustive()
    }
}

impl WireMessage for ChangeDemographics {
    const ROOT: &'static str = "ChangeDemographics";

    fn to_element(&self) -> Element {
        let mut el = self
            .scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("dateOfBirth", self.date_of_birth.clone());
        if let Some(n) = &self.person_name {
            el = el.child(n.to_element());
        }
        if let Some(a) = &self.address {
            el = el.child(a.to_element());
        }
        if let Some(t) = &self.telephone_numbers {
            el = el.child(telephone_numbers_element(t));
        }
        if let Some(e) = &self.email_address {
            el = el.child(match e {
                Some(e) => email_address_element(e),
                None => Element::new("EmailAddress"),
            });
        }
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ChangeDemographics {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            address: f.opt_child("Address").map(|a| Address::read(&a)),
            telephone_numbers: f
                .opt_child("TelephoneNumbers")
                .map(|t| read_telephone_numbers(&t))
                .transpose()?,
            email_address: f.opt_child("EmailAddress").map(|e| read_email_address(&e)),
            person_name: f.opt_child("PersonName").map(|n| PersonName::read(&n)),
            date_of_birth: f.opt("dateOfBirth"),
        })
    }
}

/// `ChangeDemographicsReply`: whether the change is in the record (`Applied`) or waits for the
/// practice (`PendingApproval`), and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDemographicsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `status`: `Applied` or `PendingApproval`.
    pub status: ChangeStatus,
    /// `changeId`: the change's id, as `RetrieveDemographicsReply` lists it.
    pub change_id: String,
}

impl WireMessage for ChangeDemographicsReply {
    const ROOT: &'static str = "ChangeDemographicsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .attr("status", self.status.as_str())
            .attr("changeId", self.change_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ChangeDemographicsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            status: f.req_with("status", STATUS, str::parse::<ChangeStatus>)?,
            change_id: f.req("changeId")?,
        })
    }
}

per_patient_request!(RetrieveDemographics => RetrieveDemographicsReply);
per_patient_request!(ChangeDemographics => ChangeDemographicsReply, LIMITS = CHANGE_LIMITS);
