//! `ListServiceAccesses`: which online services the selected patient may use.

use super::common::{Header, PatientScope};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, YesNo};
use crate::xml::Element;

/// `ListServiceAccesses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListServiceAccesses {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for ListServiceAccesses {
    const ROOT: &'static str = "ListServiceAccesses";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListServiceAccesses {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// One `ServiceAccess`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccess {
    /// The service name, e.g. `Messaging` (clients match it exactly).
    pub description: String,
    /// A stable numeric identifier, e.g. `512` for messaging.
    pub service_identifier: String,
    /// `A` when available.
    pub status: String,
    /// The status in words.
    pub status_desc: String,
    /// `y` when the patient may look but not change.
    pub read_only: YesNo,
}

/// `ListServiceAccessesReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListServiceAccessesReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// One entry per service the API offers.
    pub services: Vec<ServiceAccess>,
}

impl WireMessage for ListServiceAccessesReply {
    const ROOT: &'static str = "ListServiceAccessesReply";

    fn to_element(&self) -> Element {
        let el = Element::new(Self::ROOT).opt_attr("uuid", self.uuid.map(|g| g.to_string()));
        let el = match &self.scope {
            Some(s) => s.write(el),
            None => el,
        };
        el.children(self.services.iter().map(|s| {
            Element::new("ServiceAccess")
                .attr("description", s.description.clone())
                .attr("serviceIdentifier", s.service_identifier.clone())
                .attr("status", s.status.clone())
                .attr("statusDesc", s.status_desc.clone())
                .attr("readOnly", s.read_only.as_str())
        }))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListServiceAccessesReply {
            uuid: f.uuid()?,
            scope: PatientScope::read(&f).ok(),
            services: f
                .children("ServiceAccess")
                .map(|s| {
                    Ok(ServiceAccess {
                        description: s.req("description")?,
                        service_identifier: s.opt("serviceIdentifier").unwrap_or_default(),
                        status: s.opt("status").unwrap_or_default(),
                        status_desc: s.opt("statusDesc").unwrap_or_default(),
                        read_only: s.opt_parse("readOnly", "y or n")?.unwrap_or_default(),
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
        })
    }
}

per_patient_request!(ListServiceAccesses => ListServiceAccessesReply);
