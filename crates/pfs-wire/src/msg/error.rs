//! The `Error` reply.

use crate::codec::{DecodeError, Fields, WireMessage};
use crate::scalar::Guid;
use crate::xml::Element;

/// `Error`: every failure, sent with HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The numeric code; see [`crate::codes`].
    pub error_code: String,
    /// Text safe to show a patient.
    pub user_friendly_message: String,
    /// Text for a developer; never contains secrets or patient data.
    pub technical_message: String,
    /// Echo of the request `uuid` (a fresh GUID when the request had none).
    pub uuid: Option<Guid>,
}

impl WireMessage for ErrorReply {
    const ROOT: &'static str = "Error";

    fn to_element(&self) -> Element {
        Element::new(Self::ROOT)
            .attr("errorCode", self.error_code.clone())
            .attr("userFriendlyMessage", self.user_friendly_message.clone())
            .attr("technicalMessage", self.technical_message.clone())
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ErrorReply {
            error_code: f.req("errorCode")?,
            user_friendly_message: f.opt("userFriendlyMessage").unwrap_or_default(),
            technical_message: f.opt("technicalMessage").unwrap_or_default(),
            uuid: f.opt_parse("uuid", "a GUID")?,
        })
    }
}
