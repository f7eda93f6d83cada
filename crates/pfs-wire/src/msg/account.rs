//! The online account: `RequestAccountInformation` and `ResetOnlineAccount` (wire reference
//! B.14, B.15).

use chrono::NaiveDateTime;

use super::common::{Header, PatientScope, Person, reply_root};
use super::session::PatientAccess;
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, format_wall_clock, parse_wall_clock};
use crate::xml::Element;

/// The accepted form of a date in a reply, in words.
const WALL_CLOCK: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

/// One `LinkedApplication`: a third-party application linked to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedApplication {
    /// `name`: the application's (provider's) name.
    pub name: String,
    /// `providerId`: the caller's own provider id for its own application; for another
    /// application, a reference to it that `ResetOnlineAccount` accepts.
    pub provider_id: String,
    /// `dateLinked`: when the application last linked (UK wall-clock time).
    pub date_linked: NaiveDateTime,
    /// `lastUsed`: when the application last logged on (its link time if never).
    pub last_used: NaiveDateTime,
}

impl LinkedApplication {
    fn to_element(&self, name: &'static str) -> Element {
        Element::new(name)
            .attr("name", self.name.clone())
            .attr("providerId", self.provider_id.clone())
            .attr("dateLinked", format_wall_clock(self.date_linked))
            .attr("lastUsed", format_wall_clock(self.last_used))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(LinkedApplication {
            name: f.opt("name").unwrap_or_default(),
            provider_id: f.req("providerId")?,
            date_linked: f.req_with("dateLinked", WALL_CLOCK, parse_wall_clock)?,
            last_used: f.req_with("lastUsed", WALL_CLOCK, parse_wall_clock)?,
        })
    }
}

/// `RequestAccountInformation`: the online account, its user, its linked applications and the
/// patients the user may act for (B.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAccountInformation {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for RequestAccountInformation {
    const ROOT: &'static str = "RequestAccountInformation";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestAccountInformation {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `RequestAccountInformationReply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAccountInformationReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `accountId`.
    pub account_id: String,
    /// `User/Person`: the account holder, as in `AuthenticateReply`.
    pub user: Person,
    /// `LinkedApplication`, one per linked third-party application.
    pub applications: Vec<LinkedApplication>,
    /// `Registration/PatientAccess`: every patient the user may act for, the user first.
    pub registration: Vec<PatientAccess>,
}

impl WireMessage for RequestAccountInformationReply {
    const ROOT: &'static str = "RequestAccountInformationReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .attr("accountId", self.account_id.clone())
            .child(Element::new("User").child(self.user.to_element()))
            .children(
                self.applications
                    .iter()
                    .map(|a| a.to_element("LinkedApplication")),
            )
            .child(
                Element::new("Registration")
                    .children(self.registration.iter().map(PatientAccess::to_element)),
            )
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestAccountInformationReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            account_id: f.req("accountId")?,
            user: Person::read(&f.child("User")?.child("Person")?)?,
            applications: f
                .children("LinkedApplication")
                .map(|a| LinkedApplication::read(&a))
                .collect::<Result<_, _>>()?,
            registration: match f.opt_child("Registration") {
                Some(r) => r
                    .children("PatientAccess")
                    .map(|p| PatientAccess::read(&p))
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
        })
    }
}

/// `ResetOnlineAccount`: unlink one application (`providerId`) or, without it, every
/// third-party application of the account (B.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetOnlineAccount {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `providerId`: the application to unlink, as `RequestAccountInformationReply` names it.
    pub provider_id: Option<String>,
}

impl WireMessage for ResetOnlineAccount {
    const ROOT: &'static str = "ResetOnlineAccount";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("providerId", self.provider_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ResetOnlineAccount {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            provider_id: f.opt("providerId"),
        })
    }
}

/// `ResetOnlineAccountReply`: the applications unlinked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetOnlineAccountReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `UnlinkedApplication`, one per application unlinked (same attributes as
    /// `LinkedApplication`).
    pub unlinked: Vec<LinkedApplication>,
}

impl WireMessage for ResetOnlineAccountReply {
    const ROOT: &'static str = "ResetOnlineAccountReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid).children(
            self.unlinked
                .iter()
                .map(|a| a.to_element("UnlinkedApplication")),
        )
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ResetOnlineAccountReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            unlinked: f
                .children("UnlinkedApplication")
                .map(|a| LinkedApplication::read(&a))
                .collect::<Result<_, _>>()?,
        })
    }
}

per_patient_request!(RequestAccountInformation => RequestAccountInformationReply);
per_patient_request!(ResetOnlineAccount => ResetOnlineAccountReply);
