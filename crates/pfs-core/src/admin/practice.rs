//! Practices and their settings.

use serde::{Deserialize, Serialize};

use super::{AdminError, non_empty, ods_code, xml_safe, xml_safe_opt};
use crate::Pfs;
use crate::model::*;

/// A new practice.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPractice {
    /// ODS code: letters and digits, 3 to 10 characters.
    pub ods: String,
    /// Name.
    pub name: String,
    /// One-line address.
    pub address: String,
    /// Settings (defaults when absent).
    #[serde(default)]
    pub settings: Option<PracticeSettings>,
}

/// A new practice as it is stored, once every field is checked.
pub(super) fn checked_practice(p: NewPractice) -> Result<Practice, AdminError> {
    let ods = ods_code(&p.ods);
    if !(3..=10).contains(&ods.len()) || !ods.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AdminError::Invalid(
            "ods must be 3 to 10 letters or digits".into(),
        ));
    }
    non_empty("name", &p.name)?;
    non_empty("address", &p.address)?;
    xml_safe("name", &p.name)?;
    xml_safe("address", &p.address)?;
    let settings = p.settings.unwrap_or_default();
    check_settings(&settings)?;
    Ok(Practice {
        ods,
        name: p.name.trim().to_owned(),
        address: p.address.trim().to_owned(),
        settings,
    })
}

impl Pfs {
    /// Adds a practice.
    pub async fn add_practice(&self, p: NewPractice) -> Result<Practice, AdminError> {
        let practice = checked_practice(p)?;
        self.store.insert_practice(&practice).await?;
        Ok(practice)
    }

    /// Every practice.
    pub async fn list_practices(&self) -> Result<Vec<Practice>, AdminError> {
        Ok(self.store.list_practices().await?)
    }

    /// Replaces a practice's settings.
    pub async fn update_practice_settings(
        &self,
        ods: &str,
        settings: PracticeSettings,
    ) -> Result<Practice, AdminError> {
        let ods = &ods_code(ods);
        check_settings(&settings)?;
        if !self.store.update_practice_settings(ods, &settings).await? {
            return Err(AdminError::NotFound("practice".into()));
        }
        self.store
            .practice(ods)
            .await?
            .ok_or_else(|| AdminError::NotFound("practice".into()))
    }
}

/// The largest `maxDocumentBytes`: a file this size, base64-encoded in its reply, stays within
/// the 64 MiB reply the SDK reads.
const MAX_DOCUMENT_BYTES: u64 = 40 * 1024 * 1024;

/// The rules every stored `PracticeSettings` keeps, whether given with a new practice or later.
fn check_settings(settings: &PracticeSettings) -> Result<(), AdminError> {
    if !(1..=365).contains(&settings.booking_window_days) {
        return Err(AdminError::Invalid(
            "bookingWindowDays must be 1 to 365".into(),
        ));
    }
    if settings.cancellation_cutoff_minutes > 7 * 24 * 60 {
        return Err(AdminError::Invalid(
            "cancellationCutoffMinutes must be at most 10080 (a week)".into(),
        ));
    }
    if !(1..=100).contains(&settings.max_medications_per_request) {
        return Err(AdminError::Invalid(
            "maxMedicationsPerRequest must be 1 to 100".into(),
        ));
    }
    if !(1..=2000).contains(&settings.max_medication_notes) {
        return Err(AdminError::Invalid(
            "maxMedicationNotes must be 1 to 2000".into(),
        ));
    }
    if settings.max_message_attachments > pfs_wire::MAX_ATTACHMENTS as u32 {
        return Err(AdminError::Invalid(format!(
            "maxMessageAttachments must be 0 to {}",
            pfs_wire::MAX_ATTACHMENTS
        )));
    }
    if !(1..=pfs_wire::MAX_ATTACHMENT_BYTES as u32).contains(&settings.max_message_attachment_bytes)
    {
        return Err(AdminError::Invalid(format!(
            "maxMessageAttachmentBytes must be 1 to {}",
            pfs_wire::MAX_ATTACHMENT_BYTES
        )));
    }
    if settings
        .message_attachment_types
        .iter()
        .any(|t| !crate::messaging::is_known_file_type(t))
    {
        return Err(AdminError::Invalid(format!(
            "messageAttachmentTypes must be lower-case types the server can check: {}",
            crate::messaging::KNOWN_FILE_TYPES
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !(1..=MAX_DOCUMENT_BYTES).contains(&settings.max_document_bytes) {
        return Err(AdminError::Invalid(format!(
            "maxDocumentBytes must be 1 to {MAX_DOCUMENT_BYTES} (40 MiB)"
        )));
    }
    xml_safe_opt("bookingGuidance", settings.booking_guidance.as_deref())?;
    xml_safe_opt(
        "medicationRequestConfirmation",
        settings.medication_request_confirmation.as_deref(),
    )?;
    xml_safe_opt(
        "medicationGuidance",
        settings.medication_guidance.as_deref(),
    )
}
