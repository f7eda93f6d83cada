//! `CheckVersion`: which API versions the server speaks (no session needed).

use chrono::NaiveDate;

use super::common::{Application, Header};
use crate::codec::{DecodeError, Fields, RequestMessage, WireMessage, uuid_reply};
use crate::scalar::{Guid, format_date_as_datetime, parse_date};
use crate::xml::Element;

/// `CheckVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckVersion {
    /// Common attributes.
    pub header: Header,
    /// The calling application.
    pub application: Application,
}

impl WireMessage for CheckVersion {
    const ROOT: &'static str = "CheckVersion";

    fn to_element(&self) -> Element {
        self.header
            .write(Element::new(Self::ROOT))
            .child(self.application.to_element())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(CheckVersion {
            header: Header::read(&f)?,
            application: Application::read(&f)?,
        })
    }
}

/// One `SupportedVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedVersion {
    /// The version, e.g. `1`.
    pub version: String,
    /// `current` or `deprecated`.
    pub status: String,
    /// When a deprecated version stops being served.
    pub withdrawal_date: Option<NaiveDate>,
}

/// `CheckVersionReply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckVersionReply {
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The newest version.
    pub current_version: String,
    /// The oldest version still served.
    pub minimum_version: String,
    /// Every version served.
    pub supported: Vec<SupportedVersion>,
}

impl WireMessage for CheckVersionReply {
    const ROOT: &'static str = "CheckVersionReply";

    fn to_element(&self) -> Element {
        Element::new(Self::ROOT)
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
            .attr("currentVersion", self.current_version.clone())
            .attr("minimumVersion", self.minimum_version.clone())
            .children(self.supported.iter().map(|v| {
                Element::new("SupportedVersion")
                    .attr("version", v.version.clone())
                    .attr("status", v.status.clone())
                    .opt_attr(
                        "withdrawalDate",
                        v.withdrawal_date.map(format_date_as_datetime),
                    )
            }))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(CheckVersionReply {
            uuid: f.uuid()?,
            current_version: f.req("currentVersion")?,
            minimum_version: f.req("minimumVersion")?,
            supported: f
                .children("SupportedVersion")
                .map(|v| {
                    Ok(SupportedVersion {
                        version: v.req("version")?,
                        status: v.req("status")?,
                        withdrawal_date: v.opt_with("withdrawalDate", "a date", parse_date)?,
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
        })
    }
}

impl RequestMessage for CheckVersion {
    type Reply = CheckVersionReply;
    const NEEDS_SESSION: bool = false;
    const SENDS_APPLICATION: bool = true;
    fn header(&self) -> &Header {
        &self.header
    }
}

uuid_reply!(CheckVersionReply);
