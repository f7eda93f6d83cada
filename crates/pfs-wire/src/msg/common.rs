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
            nhs_number: read_nhs_number(f),
            name: f
                .opt_child("PersonName")
                .map(|n| PersonName::read(&n).name)
                .unwrap_or_default(),
            address: f
                .opt_child("Address")
                .filter(|a| a.opt("address").is_some())
                .map(|a| {
                    let a = Address::read(&a);
                    PersonAddress {
                        address: a.address,
                        address_type: a.address_type,
                    }
                }),
        })
    }

    pub(crate) fn to_element(&self) -> Element {
        let el = person_root(
            &self.patient_id,
            self.date_of_birth,
            &self.gender,
            &self.nhs_number,
        )
        .child(PersonName::from_name(self.name.clone()).to_element());
        match &self.address {
            Some(a) => el.child(
                Address {
                    address: a.address.clone(),
                    address_type: a.address_type.clone(),
                    ..Address::default()
                }
                .to_element(),
            ),
            None => el,
        }
    }
}

/// A `Person` element's attributes and its `NationalId`, as every message writes them.
pub(crate) fn person_root(
    patient_id: &str,
    date_of_birth: NaiveDate,
    gender: &str,
    nhs_number: &Option<String>,
) -> Element {
    let el = Element::new("Person")
        .attr("patientId", patient_id.to_owned())
        .attr("dateOfBirth", format_date_as_datetime(date_of_birth))
        .attr("gender", gender.to_owned());
    match nhs_number {
        Some(nhs) => el.child(
            Element::new("NationalId")
                .attr("type", "NHS")
                .text(nhs.clone()),
        ),
        None => el,
    }
}

/// The NHS number of a `Person` (`NationalId` text), if it has one.
pub(crate) fn read_nhs_number(f: &Fields<'_>) -> Option<String> {
    f.opt_child("NationalId")
        .map(|n| n.el.text.trim().to_owned())
        .filter(|t| !t.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The standard tags: PersonName, Address, TelephoneNumbers, EmailAddress. Every message that
// carries one of them reads and writes it here, and nowhere else.
// ---------------------------------------------------------------------------------------------

/// `PersonName`: the display name (`name`, with title) and, where a message carries them, its
/// parts. Absent parts are not written, so a `PersonName` with only `name` is written exactly
/// as `AuthenticateReply` has always written it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    /// `name`: the full display name including the title, e.g. `Mrs Ada Example`.
    pub name: String,
    /// `title`, e.g. `Mrs`.
    pub title: Option<String>,
    /// `forenames`: the given names.
    pub forenames: Option<String>,
    /// `surname`: the family name (the last name used to link).
    pub surname: Option<String>,
}

impl std::fmt::Debug for PersonName {
    // A name identifies a person: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonName([REDACTED])")
    }
}

impl PersonName {
    /// A `PersonName` with the display name only.
    pub fn from_name(name: String) -> Self {
        PersonName {
            name,
            ..PersonName::default()
        }
    }

    /// Writes `<PersonName name=… title=… forenames=… surname=…/>`.
    pub fn to_element(&self) -> Element {
        Element::new("PersonName")
            .attr("name", self.name.clone())
            .opt_attr("title", self.title.clone())
            .opt_attr("forenames", self.forenames.clone())
            .opt_attr("surname", self.surname.clone())
    }

    pub(crate) fn read(f: &Fields<'_>) -> Self {
        PersonName {
            name: f.opt("name").unwrap_or_default(),
            title: f.opt("title"),
            forenames: f.opt("forenames"),
            surname: f.opt("surname"),
        }
    }
}

/// `Address`: the one-line `address` and, where a message carries them, the structured parts
/// and `addressType`. Absent parts are not written.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// `address`: the whole address on one line (always written in replies).
    pub address: String,
    /// `houseNameFlat`: house name or number, flat.
    pub house_name_flat: Option<String>,
    /// `street`.
    pub street: Option<String>,
    /// `village`: village or locality.
    pub village: Option<String>,
    /// `town`: post town.
    pub town: Option<String>,
    /// `county`.
    pub county: Option<String>,
    /// `postcode`, e.g. `LS1 4AP`.
    pub postcode: Option<String>,
    /// `addressType`, e.g. `Home`.
    pub address_type: Option<String>,
}

impl std::fmt::Debug for Address {
    // An address identifies a person: print which parts are present only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("has_postcode", &self.postcode.is_some())
            .finish_non_exhaustive()
    }
}

impl Address {
    /// Writes `<Address address=… houseNameFlat=… street=… village=… town=… county=…
    /// postcode=… addressType=…/>`; an empty `address` (a request's, which the server writes
    /// itself) is left out.
    pub fn to_element(&self) -> Element {
        Element::new("Address")
            .opt_attr(
                "address",
                Some(self.address.clone()).filter(|a| !a.is_empty()),
            )
            .opt_attr("houseNameFlat", self.house_name_flat.clone())
            .opt_attr("street", self.street.clone())
            .opt_attr("village", self.village.clone())
            .opt_attr("town", self.town.clone())
            .opt_attr("county", self.county.clone())
            .opt_attr("postcode", self.postcode.clone())
            .opt_attr("addressType", self.address_type.clone())
    }

    /// Reads an `Address`; every attribute is optional here (`address` is empty when absent).
    pub(crate) fn read(f: &Fields<'_>) -> Self {
        Address {
            address: f.opt("address").unwrap_or_default(),
            house_name_flat: f.opt("houseNameFlat"),
            street: f.opt("street"),
            village: f.opt("village"),
            town: f.opt("town"),
            county: f.opt("county"),
            postcode: f.opt("postcode"),
            address_type: f.opt("addressType"),
        }
    }
}

/// A telephone number's `type`: exactly `Home`, `Mobile` or `Work` on the wire (read in any
/// case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TelephoneType {
    /// A home (landline) number.
    Home,
    /// A mobile number.
    Mobile,
    /// A work number.
    Work,
}

impl TelephoneType {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            TelephoneType::Home => "Home",
            TelephoneType::Mobile => "Mobile",
            TelephoneType::Work => "Work",
        }
    }
}

impl std::str::FromStr for TelephoneType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            TelephoneType::Home,
            TelephoneType::Mobile,
            TelephoneType::Work,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
        .ok_or(())
    }
}

impl std::fmt::Display for TelephoneType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `TelephoneNumbers/TelephoneNumber`.
#[derive(Clone, PartialEq, Eq)]
pub struct TelephoneNumber {
    /// `number`, e.g. `07700900123`.
    pub number: String,
    /// `type`.
    pub number_type: TelephoneType,
}

impl std::fmt::Debug for TelephoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelephoneNumber")
            .field("number_type", &self.number_type)
            .finish_non_exhaustive()
    }
}

impl TelephoneNumber {
    fn to_element(&self) -> Element {
        Element::new("TelephoneNumber")
            .attr("number", self.number.clone())
            .attr("type", self.number_type.as_str())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(TelephoneNumber {
            number: f.req("number")?,
            number_type: f.req_with("type", "Home, Mobile or Work", str::parse::<TelephoneType>)?,
        })
    }
}

/// Writes `<TelephoneNumbers>` with one `<TelephoneNumber number=… type=…/>` per number.
pub fn telephone_numbers_element(numbers: &[TelephoneNumber]) -> Element {
    Element::new("TelephoneNumbers").children(numbers.iter().map(TelephoneNumber::to_element))
}

/// Reads the numbers of a `TelephoneNumbers` element.
pub(crate) fn read_telephone_numbers(f: &Fields<'_>) -> Result<Vec<TelephoneNumber>, DecodeError> {
    f.children("TelephoneNumber")
        .map(|t| TelephoneNumber::read(&t))
        .collect()
}

/// Writes `<EmailAddress address=…/>`.
pub fn email_address_element(address: &str) -> Element {
    Element::new("EmailAddress").attr("address", address.to_owned())
}

/// Reads an `EmailAddress` element's `address` (`None` when absent or empty).
pub(crate) fn read_email_address(f: &Fields<'_>) -> Option<String> {
    f.opt("address")
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
