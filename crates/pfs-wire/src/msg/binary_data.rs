//! Stored files: `RequestBinaryData` (wire reference §2.17), which serves the record's
//! documents (`RequestPatientRecord`'s `binaryDataId`) and messages' attachments
//! (`MessagesView`'s `binaryDataId`) alike.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::common::{Header, PatientScope, reply_root};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::Guid;
use crate::xml::Element;

/// `RequestBinaryData`: one stored file of the selected patient, by `binaryDataId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBinaryData {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `binaryDataId`: the file, as the record or a message names it.
    pub binary_data_id: String,
}

impl WireMessage for RequestBinaryData {
    const ROOT: &'static str = "RequestBinaryData";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("binaryDataId", self.binary_data_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestBinaryData {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            binary_data_id: f.req("binaryDataId")?,
        })
    }
}

/// `RequestBinaryDataReply`: the file's type and its pages, each one `BinaryDataPage` of
/// base64 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestBinaryDataReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `BinaryData/@fileType`: an extension such as `pdf` or `png`.
    pub file_type: String,
    /// `BinaryData/BinaryDataPage`: each page's bytes, base64-encoded (see
    /// [`RequestBinaryDataReply::page_bytes`]).
    pub pages: Vec<String>,
}

impl RequestBinaryDataReply {
    /// Encodes one page's bytes as a `BinaryDataPage` text.
    pub fn encode_page(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// The pages' bytes, decoded.
    pub fn page_bytes(&self) -> Result<Vec<Vec<u8>>, DecodeError> {
        self.pages
            .iter()
            .map(|p| {
                // White space inside base64 text (line breaks) carries nothing.
                let compact: String = p.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                STANDARD.decode(compact).map_err(|_| DecodeError::Invalid {
                    element: "BinaryDataPage",
                    attr: "text()",
                    expected: "base64 text",
                })
            })
            .collect()
    }
}

impl WireMessage for RequestBinaryDataReply {
    const ROOT: &'static str = "RequestBinaryDataReply";

    fn to_element(&self) -> Element {
        self.clone().into_element()
    }

    fn into_element(self) -> Element {
        let data = Element::new("BinaryData")
            .attr("fileType", self.file_type)
            .children(
                self.pages
                    .into_iter()
                    .map(|p| Element::new("BinaryDataPage").text(p)),
            );
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid).child(data)
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let data = f.child("BinaryData")?;
        Ok(RequestBinaryDataReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            file_type: data.req("fileType")?,
            pages: data
                .children("BinaryDataPage")
                .map(|p| p.el.text.clone())
                .collect(),
        })
    }
}

per_patient_request!(RequestBinaryData => RequestBinaryDataReply);
