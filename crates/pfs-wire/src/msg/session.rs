//! Opening, steering and closing a session: `Authenticate`, `PatientSelected`, `Logoff`.

use secrecy::{ExposeSecret, SecretString};

use super::common::{Application, Header, PatientScope, Person};
use crate::codec::{
    DecodeError, Fields, RequestMessage, WireMessage, per_patient_request, uuid_reply,
};
use crate::scalar::Guid;
use crate::xml::Element;

/// `Authenticate`: open a session with an account id and the long-term passphrase.
#[derive(Debug, Clone)]
pub struct Authenticate {
    /// Common attributes; `unitId` is the practice ODS code.
    pub header: Header,
    /// The online account id.
    pub account_id: String,
    /// The long-term passphrase `LinkAccount` returned (never the linkage key).
    pub passphrase: SecretString,
    /// `@providerId`; must match the client certificate's provider.
    pub provider_id: String,
    /// The calling application.
    pub application: Application,
}

impl WireMessage for Authenticate {
    const ROOT: &'static str = "Authenticate";

    fn to_element(&self) -> Element {
        self.header
            .write(Element::new(Self::ROOT))
            .attr("accountId", self.account_id.clone())
            .attr("passphrase", self.passphrase.expose_secret())
            .attr("providerId", self.provider_id.clone())
            .child(self.application.to_element())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(Authenticate {
            header: Header::read(&f)?,
            account_id: f.req("accountId")?,
            passphrase: SecretString::from(f.req("passphrase")?),
            provider_id: f.req("providerId")?,
            application: Application::read(&f)?,
        })
    }
}

/// One `Registration/PatientAccess`: a patient the user may act for, with their practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccess {
    /// The patient's id.
    pub patient_id: String,
    /// `SiteDetails/@unitName`: the practice name.
    pub unit_name: String,
    /// `SiteDetails/Address/@address`: the practice address.
    pub address: String,
}

impl PatientAccess {
    pub(crate) fn to_element(&self) -> Element {
        Element::new("PatientAccess")
            .attr("patientId", self.patient_id.clone())
            .child(
                Element::new("SiteDetails")
                    .attr("unitName", self.unit_name.clone())
                    .child(Element::new("Address").attr("address", self.address.clone())),
            )
    }

    pub(crate) fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        let site = f.opt_child("SiteDetails");
        Ok(PatientAccess {
            patient_id: f.req("patientId")?,
            unit_name: site
                .as_ref()
                .and_then(|s| s.opt("unitName"))
                .unwrap_or_default(),
            address: site
                .as_ref()
                .and_then(|s| s.opt_child("Address"))
                .and_then(|a| a.opt("address"))
                .unwrap_or_default(),
        })
    }
}

/// `AuthenticateReply`; the `suid` travels in the HTTP response header, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The online user id; equal to the user's own `patientId`.
    pub online_user_id: String,
    /// The user's own patient id.
    pub patient_id: Option<String>,
    /// `User/Person`: the logged-in user.
    pub user: Person,
    /// `Registration/PatientAccess`: every patient the user may act for, the user first.
    pub registration: Vec<PatientAccess>,
    /// Root-level `Person` elements: the user and every proxy patient.
    pub people: Vec<Person>,
}

impl WireMessage for AuthenticateReply {
    const ROOT: &'static str = "AuthenticateReply";

    fn to_element(&self) -> Element {
        Element::new(Self::ROOT)
            .attr("onlineUserId", self.online_user_id.clone())
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
            .opt_attr("patientId", self.patient_id.clone())
            .child(Element::new("User").child(self.user.to_element()))
            .child(
                Element::new("Registration")
                    .children(self.registration.iter().map(PatientAccess::to_element)),
            )
            .children(self.people.iter().map(Person::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let user = f.child("User")?.child("Person")?;
        Ok(AuthenticateReply {
            uuid: f.uuid()?,
            online_user_id: f.req("onlineUserId")?,
            patient_id: f.opt("patientId"),
            user: Person::read(&user)?,
            registration: match f.opt_child("Registration") {
                Some(r) => r
                    .children("PatientAccess")
                    .map(|p| PatientAccess::read(&p))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
            people: f
                .children("Person")
                .map(|p| Person::read(&p))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `PatientSelected`: act for this patient from now on; also the session keep-alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSelected {
    /// Common attributes.
    pub header: Header,
    /// `patientId` (the patient to act for) and `onlineUserId`.
    pub scope: PatientScope,
}

impl WireMessage for PatientSelected {
    const ROOT: &'static str = "PatientSelected";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(PatientSelected {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `PatientSelectedReply`: the selected patient's demographics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSelectedReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// The selected patient.
    pub person: Person,
}

impl WireMessage for PatientSelectedReply {
    const ROOT: &'static str = "PatientSelectedReply";

    fn to_element(&self) -> Element {
        let el = Element::new(Self::ROOT).opt_attr("uuid", self.uuid.map(|g| g.to_string()));
        let el = match &self.scope {
            Some(s) => s.write(el),
            None => el,
        };
        el.child(self.person.to_element())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(PatientSelectedReply {
            uuid: f.uuid()?,
            scope: PatientScope::read(&f).ok(),
            person: Person::read(&f.child("Person")?)?,
        })
    }
}

/// `Logoff`: end the session named by the `suid` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logoff {
    /// Common attributes (`unitId` normally absent).
    pub header: Header,
}

impl WireMessage for Logoff {
    const ROOT: &'static str = "Logoff";

    fn to_element(&self) -> Element {
        self.header.write(Element::new(Self::ROOT))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(Logoff {
            header: Header::read(&Fields::new(el, Self::ROOT))?,
        })
    }
}

/// `LogoffReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoffReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
}

impl WireMessage for LogoffReply {
    const ROOT: &'static str = "LogoffReply";

    fn to_element(&self) -> Element {
        Element::new(Self::ROOT).opt_attr("uuid", self.uuid.map(|g| g.to_string()))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(LogoffReply {
            uuid: Fields::new(el, Self::ROOT).uuid()?,
        })
    }
}

impl RequestMessage for Authenticate {
    type Reply = AuthenticateReply;
    const NEEDS_SESSION: bool = false;
    const SENDS_APPLICATION: bool = true;
    fn header(&self) -> &Header {
        &self.header
    }
}

uuid_reply!(AuthenticateReply);

impl RequestMessage for Logoff {
    type Reply = LogoffReply;
    fn header(&self) -> &Header {
        &self.header
    }
}

uuid_reply!(LogoffReply);

per_patient_request!(PatientSelected => PatientSelectedReply);
