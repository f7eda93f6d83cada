//! Stored files: `RequestBinaryData` (wire reference §2.17), for record documents and message
//! attachments alike.
//!
//! A file is served only to the patient it belongs to, under its own service: a document needs
//! the `documents` service, the user's documents grant (`record.rs`) and its record item
//! visible online; an attachment needs the `messaging` service. Every refusal that could tell
//! one patient about another's files (an unknown id, another patient's file, a hidden
//! document) is the same `9031`. A file above the practice's
//! maximum gets `24`, one still uploading `45`. The file is read one page at a time and each
//! page is encoded before the next is read, so a request holds one page of raw bytes at most
//! besides its reply.

use pfs_wire::{RequestBinaryData, RequestBinaryDataReply};

use crate::Pfs;
use crate::error::DomainError;
use crate::model::{BinaryDataInfo, BinaryKind, PatientContext};
use crate::operation::{Access, Call, Operation};
use crate::secrets::random_digits;
use crate::services;

/// Digits in a `binaryDataId`.
pub const BINARY_ID_DIGITS: usize = 12;

/// A new file id: 12 random digits, never starting with 0.
pub fn new_binary_id() -> String {
    random_digits(BINARY_ID_DIGITS)
}

impl Operation for RequestBinaryData {
    // Which service applies depends on the file: checked in `request_binary_data`.
    const ACCESS: Access = Access::Patient;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<RequestBinaryDataReply, DomainError> {
        pfs.request_binary_data(call, self).await
    }
}

impl Pfs {
    /// `RequestBinaryData`: one of the selected patient's files, page by page.
    pub(crate) async fn request_binary_data(
        &self,
        call: &Call<'_>,
        m: &RequestBinaryData,
    ) -> Result<RequestBinaryDataReply, DomainError> {
        let context = call.patient()?;
        let info = self
            .store
            .binary_data_info(&m.binary_data_id)
            .await?
            .filter(|info| info.patient_id == context.patient.id)
            .ok_or(DomainError::BinaryDataNotFound)?;
        check_binary_access(context, &info)?;
        if info.kind == BinaryKind::Document {
            self.check_document_access(call, &info).await?;
        }
        if info.uploading {
            return Err(DomainError::FileStillUploading);
        }
        let max = context.practice.settings.max_document_bytes;
        if info.size > max {
            return Err(DomainError::FileTooLarge(max));
        }
        let mut pages = Vec::with_capacity(info.pages as usize);
        for page in 1..=info.pages {
            let bytes = self
                .store
                .binary_data_page(&info.id, page)
                .await?
                .ok_or_else(|| DomainError::Unavailable("a page of a file is missing".into()))?;
            pages.push(RequestBinaryDataReply::encode_page(&bytes));
        }
        self.log_online_read(call, binary_access_type(info.kind))
            .await?;
        Ok(RequestBinaryDataReply {
            file_type: info.file_type,
            pages,
            ..Default::default()
        })
    }

    /// A document is served only while its record item is visible online (a hidden one is
    /// as unknown as another patient's file) and to a user granted the patient's documents.
    async fn check_document_access(
        &self,
        call: &Call<'_>,
        info: &BinaryDataInfo,
    ) -> Result<(), DomainError> {
        let visible = self
            .store
            .document_item(&info.id)
            .await?
            .is_some_and(|d| d.item.visible && d.patient_id == info.patient_id);
        if !visible {
            return Err(DomainError::BinaryDataNotFound);
        }
        if !self.record_grant_for(call).await?.documents {
            return Err(DomainError::NoAccess(
                "the practice has not given online access to this part of the record",
            ));
        }
        Ok(())
    }
}

/// Whether the patient may fetch this file online, under its own service.
fn check_binary_access(context: &PatientContext, info: &BinaryDataInfo) -> Result<(), DomainError> {
    let service = match info.kind {
        BinaryKind::Document => "documents",
        BinaryKind::Attachment => "messaging",
    };
    if !services::is_enabled(
        service,
        &context.practice_switches,
        &context.patient_switches,
    ) {
        return Err(DomainError::NoAccess(
            "the service is switched off for this patient or practice",
        ));
    }
    Ok(())
}

/// The access-log entry's type for fetching a file.
fn binary_access_type(kind: BinaryKind) -> &'static str {
    match kind {
        BinaryKind::Document => "Viewed documents",
        BinaryKind::Attachment => "Viewed message attachment",
    }
}
