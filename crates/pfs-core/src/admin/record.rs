//! The patient's record, kept by the practice: events and items, documents (uploaded page by
//! page), test results, what is hidden online, and what each user may see. Every change is
//! logged in the patient's access log with the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AdminError, non_empty, xml_safe};
use crate::binary_data::new_binary_id;
use crate::model::*;
use crate::record::DOCUMENT_TYPES;
use crate::secrets::random_digits;
use crate::{Pfs, StoreError};

/// Digits of a new event, item or test result id.
const RECORD_ID_DIGITS: usize = 12;
/// Longest item details or test comment, in characters.
pub const MAX_DETAILS_CHARS: usize = 20_000;
/// Longest name (`doneBy`, `location`, a test's name), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest item type or test category, in characters.
pub const MAX_TYPE_CHARS: usize = 50;
/// Most items in one event, and values in one test result.
pub const MAX_PARTS: usize = 500;
/// Largest document the practice may upload, all pages together (as `maxDocumentBytes`).
pub const MAX_UPLOAD_BYTES: u64 = 40 * 1024 * 1024;
/// The file types documents may have (`BinaryData/@fileType`, in lower case).
pub const DOCUMENT_FILE_TYPES: &[&str] = &[
    "pdf", "jpg", "jpeg", "jpe", "jfif", "png", "gif", "bmp", "dib", "tif", "tiff", "doc", "docx",
    "docm", "dot", "rtf", "txt",
];

/// An item to add to the record.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRecordItem {
    /// e.g. `Problem`, `Consultation`, `Allergy`, `Drug sensitivity`, `Immunisation`, `Note`.
    /// Documents (`Letter`, `Attachment`) are added by uploading their file.
    #[serde(rename = "type")]
    pub item_type: String,
    /// The text, stored exactly as given.
    pub details: String,
    /// SNOMED CT concept id (6 to 18 digits): makes the item part of the coded record.
    #[serde(default)]
    pub snomed_code: Option<String>,
    /// Whether the patient sees it online (default true).
    #[serde(default = "yes")]
    pub visible: bool,
}

fn yes() -> bool {
    true
}

/// A new event with its items.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRecordEvent {
    /// When (default now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Who, e.g. `Dr A Jones`.
    pub done_by: String,
    /// Where, e.g. `Riverside Surgery`.
    pub location: String,
    /// At least one item.
    pub items: Vec<NewRecordItem>,
}

/// A document to upload: its first page travels as the request's bytes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDocument {
    /// The file's name with its extension, which gives its type (e.g. `letter.pdf`).
    pub file_name: String,
    /// `Letter` or `Attachment` (default `Attachment`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Shown after the file name in the record (`PDF: letter.pdf - <comments>`).
    #[serde(default)]
    pub comments: Option<String>,
    /// The event to add it to; without one, a new event (`doneBy`, `location`, `at`).
    #[serde(default)]
    pub event_id: Option<String>,
    /// Who filed it, for a new event.
    #[serde(default)]
    pub done_by: Option<String>,
    /// Where, for a new event.
    #[serde(default)]
    pub location: Option<String>,
    /// When, for a new event (default now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// More pages follow (`45` for patients until it is completed).
    #[serde(default)]
    pub uploading: bool,
    /// Whether the patient sees it online (default true).
    #[serde(default = "yes")]
    pub visible: bool,
}

/// A document as stored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    /// Its event.
    pub event_id: String,
    /// Its item.
    pub item_id: String,
    /// Its file (`binaryDataId`).
    pub binary_data_id: String,
    /// Its type.
    pub file_type: String,
    /// The item's details.
    pub details: String,
    /// Pages stored so far.
    pub pages: u32,
    /// Bytes stored so far.
    pub size: u64,
    /// Whether more pages may follow.
    pub uploading: bool,
}

/// A test result to add.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTestResult {
    /// When it was reported (default now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// e.g. `Pathology` (default `Pathology`).
    #[serde(default)]
    pub category: Option<String>,
    /// e.g. `Full blood count`.
    pub name: String,
    /// The values.
    pub values: Vec<TestValue>,
    /// The clinician's comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Whether the patient sees it online (default true).
    #[serde(default = "yes")]
    pub visible: bool,
}

/// What a user may see of a patient's record, and whether the practice set it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    /// The patient.
    pub patient_id: String,
    /// The patient themself, or a proxy.
    pub grantee_id: String,
    /// `None`, `Summary`, `Coded` or `Full`.
    pub level: String,
    /// Documents too.
    pub documents: bool,
    /// Test results too.
    pub test_results: bool,
    /// False while the default applies.
    pub set_by_practice: bool,
}

/// A grant as sent: absent, the default applies again.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantChange {
    /// `None`, `Summary`, `Coded` or `Full`.
    pub level: String,
    /// Documents too (default false).
    #[serde(default)]
    pub documents: bool,
    /// Test results too (default false).
    #[serde(default)]
    pub test_results: bool,
}

fn too_long(field: &'static str, v: &str, max: usize) -> Result<(), AdminError> {
    if v.chars().count() > max {
        return Err(AdminError::Invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

/// A name-like field: not blank, not too long, XML-safe.
fn check_name(field: &'static str, v: &str, max: usize) -> Result<(), AdminError> {
    non_empty(field, v)?;
    too_long(field, v, max)?;
    xml_safe(field, v)
}

fn check_item(item: &NewRecordItem) -> Result<(), AdminError> {
    check_name("type", &item.item_type, MAX_TYPE_CHARS)?;
    if DOCUMENT_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(item.item_type.trim()))
    {
        return Err(AdminError::Invalid(
            "type Letter and Attachment are added by uploading the document".into(),
        ));
    }
    check_name("details", &item.details, MAX_DETAILS_CHARS)?;
    if let Some(code) = &item.snomed_code
        && !(6..=18).contains(&code.len())
    {
        return Err(AdminError::Invalid(
            "snomedCode must be a SNOMED CT concept id of 6 to 18 digits".into(),
        ));
    }
    if let Some(code) = &item.snomed_code
        && !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AdminError::Invalid(
            "snomedCode must be a SNOMED CT concept id of 6 to 18 digits".into(),
        ));
    }
    Ok(())
}

fn record_item(item: NewRecordItem) -> RecordItem {
    RecordItem {
        id: random_digits(RECORD_ID_DIGITS),
        item_type: item.item_type,
        details: item.details,
        snomed_code: item.snomed_code,
        binary_data_id: None,
        visible: item.visible,
    }
}

/// The type of a file from its name's extension, in lower case, if documents may have it.
pub fn document_file_type(file_name: &str) -> Result<String, AdminError> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if DOCUMENT_FILE_TYPES.contains(&ext.as_str()) {
        Ok(ext)
    } else {
        Err(AdminError::Invalid(format!(
            "fileName must end in one of the document types: {}",
            DOCUMENT_FILE_TYPES.join(", ")
        )))
    }
}

/// A file name the record can show: no path, no control characters.
fn check_file_name(file_name: &str) -> Result<(), AdminError> {
    check_name("fileName", file_name, MAX_NAME_CHARS)?;
    if file_name.contains(['/', '\\']) || file_name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(
            "fileName must be a plain file name, without a path or control characters".into(),
        ));
    }
    Ok(())
}

impl Pfs {
    /// Adds an event with its items to a patient's record.
    pub async fn add_record_event(
        &self,
        patient_id: &str,
        new: NewRecordEvent,
    ) -> Result<RecordEvent, AdminError> {
        self.existing_patient(patient_id).await?;
        check_name("doneBy", &new.done_by, MAX_NAME_CHARS)?;
        check_name("location", &new.location, MAX_NAME_CHARS)?;
        if new.items.is_empty() || new.items.len() > MAX_PARTS {
            return Err(AdminError::Invalid(format!(
                "an event must have 1 to {MAX_PARTS} items"
            )));
        }
        new.items.iter().try_for_each(check_item)?;
        let event = RecordEvent {
            id: random_digits(RECORD_ID_DIGITS),
            patient_id: patient_id.to_owned(),
            at: new.at.unwrap_or_else(|| self.clock.now()),
            done_by: new.done_by,
            location: new.location,
            items: new.items.into_iter().map(record_item).collect(),
        };
        let log = self.practice_access(patient_id, "Added to record").await?;
        self.store.insert_record_event(&event, None, &log).await?;
        Ok(event)
    }

    /// Adds an item to an event of a patient's record.
    pub async fn add_record_item(
        &self,
        patient_id: &str,
        event_id: &str,
        new: NewRecordItem,
    ) -> Result<RecordItem, AdminError> {
        check_item(&new)?;
        let item = record_item(new);
        let log = self.practice_access(patient_id, "Added to record").await?;
        if !self
            .store
            .insert_record_item(patient_id, event_id, &item, None, &log)
            .await?
        {
            return Err(AdminError::NotFound("event".into()));
        }
        Ok(item)
    }

    /// A patient's whole record as the practice sees it: hidden items too.
    pub async fn record_for_practice(
        &self,
        patient_id: &str,
    ) -> Result<Vec<RecordEvent>, AdminError> {
        self.existing_patient(patient_id).await?;
        Ok(self.store.record_events(patient_id).await?)
    }

    /// Shows or hides an item (a document's too) online.
    pub async fn set_record_item_visible(
        &self,
        patient_id: &str,
        item_id: &str,
        visible: bool,
    ) -> Result<(), AdminError> {
        let what = if visible {
            "Showed record entry online"
        } else {
            "Hid record entry online"
        };
        let log = self.practice_access(patient_id, what).await?;
        if !self
            .store
            .set_record_item_visible(item_id, visible, &log)
            .await?
        {
            return Err(AdminError::NotFound("record item".into()));
        }
        Ok(())
    }

    /// Uploads a document: its first page (`first_page`, possibly empty while uploading) and
    /// an item that shows it in the record, in a new event or an existing one.
    pub async fn add_document(
        &self,
        patient_id: &str,
        new: NewDocument,
        first_page: Vec<u8>,
    ) -> Result<DocumentView, AdminError> {
        self.existing_patient(patient_id).await?;
        check_file_name(&new.file_name)?;
        let file_type = document_file_type(&new.file_name)?;
        let kind = match new.kind.as_deref().map(str::trim) {
            None | Some("") => "Attachment",
            Some(k) if k.eq_ignore_ascii_case("Attachment") => "Attachment",
            Some(k) if k.eq_ignore_ascii_case("Letter") => "Letter",
            Some(_) => {
                return Err(AdminError::Invalid(
                    "kind must be Letter or Attachment".into(),
                ));
            }
        };
        if let Some(c) = &new.comments {
            too_long("comments", c, MAX_NAME_CHARS * 5)?;
            xml_safe("comments", c)?;
        }
        if first_page.is_empty() && !new.uploading {
            return Err(AdminError::Invalid(
                "a complete document needs its bytes (or uploading=true)".into(),
            ));
        }
        check_upload_size(first_page.len() as u64)?;
        // What clients parse: `<TYPE>: <file name>.<ext>[ - comments]`.
        let details = match new.comments.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => format!(
                "{}: {} - {c}",
                file_type.to_ascii_uppercase(),
                new.file_name
            ),
            None => format!("{}: {}", file_type.to_ascii_uppercase(), new.file_name),
        };
        let now = self.clock.now();
        let file = NewBinaryData {
            id: new_binary_id(),
            patient_id: patient_id.to_owned(),
            kind: BinaryKind::Document,
            file_name: new.file_name.clone(),
            file_type: file_type.clone(),
            pages: if first_page.is_empty() {
                Vec::new()
            } else {
                vec![first_page]
            },
            uploading: new.uploading,
            created_at: now,
        };
        let item = RecordItem {
            id: random_digits(RECORD_ID_DIGITS),
            item_type: kind.to_owned(),
            details,
            snomed_code: None,
            binary_data_id: Some(file.id.clone()),
            visible: new.visible,
        };
        let log = self.practice_access(patient_id, "Added document").await?;
        let event_id = match new.event_id {
            Some(event_id) => {
                if !self
                    .store
                    .insert_record_item(patient_id, &event_id, &item, Some(&file), &log)
                    .await?
                {
                    return Err(AdminError::NotFound("event".into()));
                }
                event_id
            }
            None => {
                let done_by = new.done_by.unwrap_or_default();
                let location = new.location.unwrap_or_default();
                check_name("doneBy", &done_by, MAX_NAME_CHARS)?;
                check_name("location", &location, MAX_NAME_CHARS)?;
                let event = RecordEvent {
                    id: random_digits(RECORD_ID_DIGITS),
                    patient_id: patient_id.to_owned(),
                    at: new.at.unwrap_or(now),
                    done_by,
                    location,
                    items: vec![item.clone()],
                };
                self.store
                    .insert_record_event(&event, Some(&file), &log)
                    .await?;
                event.id
            }
        };
        Ok(DocumentView {
            event_id,
            item_id: item.id,
            binary_data_id: file.id.clone(),
            file_type,
            details: item.details,
            pages: file.pages.len() as u32,
            size: file.size(),
            uploading: file.uploading,
        })
    }

    /// Adds a page to a document that is still uploading.
    pub async fn append_document_page(
        &self,
        binary_data_id: &str,
        page: Vec<u8>,
    ) -> Result<DocumentView, AdminError> {
        let info = self.document_info(binary_data_id).await?;
        if !info.uploading {
            return Err(AdminError::Conflict("the document is complete".into()));
        }
        check_upload_size(info.size + page.len() as u64)?;
        if !self.store.append_binary_page(binary_data_id, &page).await? {
            return Err(AdminError::Conflict("the document is complete".into()));
        }
        self.document_view(binary_data_id).await
    }

    /// Marks a document complete: patients can fetch it from now on.
    pub async fn complete_document(
        &self,
        binary_data_id: &str,
    ) -> Result<DocumentView, AdminError> {
        let info = self.document_info(binary_data_id).await?;
        if info.pages == 0 {
            return Err(AdminError::Invalid("the document has no pages yet".into()));
        }
        self.store.complete_binary_data(binary_data_id).await?;
        self.document_view(binary_data_id).await
    }

    async fn document_info(&self, binary_data_id: &str) -> Result<BinaryDataInfo, AdminError> {
        self.store
            .binary_data_info(binary_data_id)
            .await?
            .filter(|i| i.kind == BinaryKind::Document)
            .ok_or_else(|| AdminError::NotFound("document".into()))
    }

    async fn document_view(&self, binary_data_id: &str) -> Result<DocumentView, AdminError> {
        let info = self.document_info(binary_data_id).await?;
        let doc = self
            .store
            .document_item(binary_data_id)
            .await?
            .ok_or_else(|| AdminError::NotFound("document".into()))?;
        Ok(DocumentView {
            event_id: doc.event_id,
            item_id: doc.item.id,
            binary_data_id: info.id,
            file_type: info.file_type,
            details: doc.item.details,
            pages: info.pages,
            size: info.size,
            uploading: info.uploading,
        })
    }

    /// A document's page, as the practice uploaded it.
    pub async fn document_page(
        &self,
        binary_data_id: &str,
        page: u32,
    ) -> Result<Vec<u8>, AdminError> {
        self.document_info(binary_data_id).await?;
        self.store
            .binary_data_page(binary_data_id, page)
            .await?
            .ok_or_else(|| AdminError::NotFound("page".into()))
    }

    /// Adds a test result.
    pub async fn add_test_result(
        &self,
        patient_id: &str,
        new: NewTestResult,
    ) -> Result<TestResult, AdminError> {
        self.existing_patient(patient_id).await?;
        let category = new.category.unwrap_or_else(|| "Pathology".to_owned());
        check_name("category", &category, MAX_TYPE_CHARS)?;
        check_name("name", &new.name, MAX_NAME_CHARS)?;
        if new.values.len() > MAX_PARTS {
            return Err(AdminError::Invalid(format!(
                "a test result has at most {MAX_PARTS} values"
            )));
        }
        for v in &new.values {
            check_name("values.name", &v.name, MAX_NAME_CHARS)?;
            check_name("values.value", &v.value, MAX_NAME_CHARS)?;
            for (field, text) in [
                ("values.units", &v.units),
                ("values.referenceRange", &v.reference_range),
            ] {
                if let Some(t) = text {
                    too_long(field, t, MAX_NAME_CHARS)?;
                    xml_safe(field, t)?;
                }
            }
        }
        if let Some(c) = &new.comment {
            too_long("comment", c, MAX_DETAILS_CHARS)?;
            xml_safe("comment", c)?;
        }
        let result = TestResult {
            id: random_digits(RECORD_ID_DIGITS),
            patient_id: patient_id.to_owned(),
            at: new.at.unwrap_or_else(|| self.clock.now()),
            category,
            name: new.name,
            values: new.values,
            comment: new.comment,
            visible: new.visible,
        };
        let log = self
            .practice_access(patient_id, "Added test result")
            .await?;
        self.store.insert_test_result(&result, &log).await?;
        Ok(result)
    }

    /// A patient's test results from `from` to `to`, hidden ones too, newest first.
    pub async fn test_results_for_practice(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TestResult>, AdminError> {
        self.existing_patient(patient_id).await?;
        Ok(self.store.test_results(patient_id, from, to).await?)
    }

    /// Shows or hides a test result online.
    pub async fn set_test_result_visible(
        &self,
        patient_id: &str,
        id: &str,
        visible: bool,
    ) -> Result<(), AdminError> {
        let what = if visible {
            "Showed test result online"
        } else {
            "Hid test result online"
        };
        let log = self.practice_access(patient_id, what).await?;
        if !self
            .store
            .set_test_result_visible(id, visible, &log)
            .await?
        {
            return Err(AdminError::NotFound("test result".into()));
        }
        Ok(())
    }

    /// What `grantee_id` (the patient, or a proxy) may see of `patient_id`'s record.
    pub async fn record_grant_view(
        &self,
        patient_id: &str,
        grantee_id: &str,
    ) -> Result<GrantView, AdminError> {
        self.existing_patient(patient_id).await?;
        self.existing_patient(grantee_id).await?;
        let set = self.store.record_grant(patient_id, grantee_id).await?;
        let default = if patient_id == grantee_id {
            RecordGrant::OWN_DEFAULT
        } else {
            RecordGrant::PROXY_DEFAULT
        };
        let g = set.unwrap_or(default);
        Ok(GrantView {
            patient_id: patient_id.to_owned(),
            grantee_id: grantee_id.to_owned(),
            level: g.level.as_str().to_owned(),
            documents: g.documents,
            test_results: g.test_results,
            set_by_practice: set.is_some(),
        })
    }

    /// Sets (or, with `None`, returns to the default) what `grantee_id` may see.
    pub async fn set_record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
        change: Option<GrantChange>,
    ) -> Result<GrantView, AdminError> {
        self.existing_patient(patient_id).await?;
        self.existing_patient(grantee_id).await?;
        let grant = change
            .map(|c| {
                let level = RecordLevel::parse(c.level.trim()).ok_or_else(|| {
                    AdminError::Invalid("level must be None, Summary, Coded or Full".into())
                })?;
                Ok::<_, AdminError>(RecordGrant {
                    level,
                    documents: c.documents,
                    test_results: c.test_results,
                })
            })
            .transpose()?;
        let log = self
            .practice_access(patient_id, "Changed online record access")
            .await?;
        self.store
            .set_record_grant(patient_id, grantee_id, grant, &log)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => AdminError::NotFound("patient".into()),
                other => other.into(),
            })?;
        self.record_grant_view(patient_id, grantee_id).await
    }

    /// A patient's access log from `from` to `to`, newest first (reads answered so far
    /// included).
    pub async fn access_log(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RecordAccess>, AdminError> {
        self.existing_patient(patient_id).await?;
        self.flush_writes().await?;
        let mut log = self.store.record_accesses(patient_id, from, to).await?;
        log.reverse();
        Ok(log)
    }
}

fn check_upload_size(size: u64) -> Result<(), AdminError> {
    if size > MAX_UPLOAD_BYTES {
        return Err(AdminError::Invalid(format!(
            "a document may have at most {MAX_UPLOAD_BYTES} bytes (40 MiB)"
        )));
    }
    Ok(())
}
