//! The practice model: providers, practices, patients, online accounts, sessions.
//!
//! Plain data; the [`crate::Store`] persists it and pfs-core's operations give it meaning.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A third-party provider (an app supplier) identified by its client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    /// The secret provider id: 16 lower-case hex characters, sent as `providerId`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the client certificate (DER), lower-case hex.
    pub fingerprint: String,
    /// May use the NHS-login `LinkAccount` variants (retrieve, create), which identify patients
    /// by NHS number and demographics alone.
    pub trusted_identity: bool,
    /// When registered.
    pub created_at: DateTime<Utc>,
    /// When revoked; a revoked provider is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Practice-level settings, stored as one JSON document so later settings need no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PracticeSettings {
    /// Youngest age (years) at which a patient may link an online account themselves.
    pub minimum_age: u32,
    /// How many days ahead patients may see and book slots (default 56).
    pub booking_window_days: u32,
    /// Most future appointments a patient may hold (booked online or not; default 4).
    pub max_future_appointments: u32,
    /// Minutes before the start within which an appointment can no longer be cancelled online
    /// (default 60).
    pub cancellation_cutoff_minutes: u32,
    /// Practice guidance shown above the slot list (`BookAppointments`).
    pub booking_guidance: Option<String>,
    /// Shown after a medication request (`RequestMedicationConfirmation`).
    pub medication_request_confirmation: Option<String>,
    /// Medication guidance (`Medication`).
    pub medication_guidance: Option<String>,
    /// Whether patients may order acute courses online (default no: only repeats).
    pub acute_requests_allowed: bool,
    /// Most courses one medication order may name (default 10).
    pub max_medications_per_request: u32,
    /// Longest note on a medication order, in characters (default 500).
    pub max_medication_notes: u32,
    /// Whether a patient's change of address, telephone numbers or e-mail address waits for
    /// the practice's approval (default no: it applies at once).
    pub demographics_approval: bool,
    /// The attachment types (`fileType`, lower case) patients may send with a message
    /// (default pdf, jpg, jpeg, png); each must be a type whose content the server can check.
    pub message_attachment_types: Vec<String>,
    /// Largest attachment a patient may send, decoded, in bytes (default and most 5 MiB).
    pub max_message_attachment_bytes: u32,
    /// Most attachments on one message (default and most 3; 0 turns attachments off).
    pub max_message_attachments: u32,
    /// Largest file, in bytes, that patients may download online (`RequestBinaryData` answers
    /// `24` above it; default 10 MiB).
    pub max_document_bytes: u64,
}

impl Default for PracticeSettings {
    fn default() -> Self {
        PracticeSettings {
            minimum_age: 16,
            booking_window_days: 56,
            max_future_appointments: 4,
            cancellation_cutoff_minutes: 60,
            booking_guidance: None,
            medication_request_confirmation: None,
            medication_guidance: None,
            acute_requests_allowed: false,
            max_medications_per_request: 10,
            max_medication_notes: 500,
            demographics_approval: false,
            message_attachment_types: ["pdf", "jpg", "jpeg", "png"].map(str::to_owned).to_vec(),
            max_message_attachment_bytes: 5 * 1024 * 1024,
            max_message_attachments: 3,
            max_document_bytes: 10 * 1024 * 1024,
        }
    }
}

/// A GP practice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Practice {
    /// ODS code, e.g. `X12345`; the wire's `unitId` / `organisationCode`.
    pub ods: String,
    /// Name, e.g. `Riverside Surgery` (`SiteDetails/@unitName`).
    pub name: String,
    /// One-line address.
    pub address: String,
    /// Settings.
    pub settings: PracticeSettings,
}

/// A registered patient.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    /// TPP-style patient id (digits); also the online user id when the patient has an account.
    pub id: String,
    /// The practice the patient is registered at.
    pub ods: String,
    /// 10-digit NHS number.
    pub nhs_number: String,
    /// Title, e.g. `Mrs`.
    pub title: Option<String>,
    /// Given names.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Free text, e.g. `Female`.
    pub gender: String,
    /// One-line home address.
    pub address: String,
}

impl Patient {
    /// The display name with title: `Mrs Ada Example`.
    pub fn display_name(&self) -> String {
        match &self.title {
            Some(t) if !t.is_empty() => format!("{t} {} {}", self.first_name, self.last_name),
            _ => format!("{} {}", self.first_name, self.last_name),
        }
    }
}

impl std::fmt::Debug for Patient {
    // Everything but the id identifies a person: keep it out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patient")
            .field("id", &self.id)
            .field("ods", &self.ods)
            .finish_non_exhaustive()
    }
}

/// A patient's online account (one per patient).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineAccount {
    /// The account id (digits) the patient types or the app stores.
    pub id: String,
    /// The account holder; their patient id is the online user id.
    pub patient_id: String,
    /// Contact e-mail given at creation.
    pub email: Option<String>,
    /// Contact mobile number given at creation.
    pub mobile: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When ended by the practice; an ended account cannot link or log on.
    pub ended_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for OnlineAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineAccount")
            .field("id", &self.id)
            .field("patient_id", &self.patient_id)
            .finish_non_exhaustive()
    }
}

/// The one active linkage key of an account, stored as an argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageKeyRecord {
    /// The account.
    pub account_id: String,
    /// argon2id PHC string of the normalised key.
    pub key_hash: String,
    /// When issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// An account linked to a provider: the keyed hash of the long-term passphrase it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLink {
    /// The account.
    pub account_id: String,
    /// The provider.
    pub provider_id: String,
    /// HMAC-SHA-256 of the passphrase under the server's pepper, lower-case hex.
    pub passphrase_hash: String,
    /// When (re)linked.
    pub linked_at: DateTime<Utc>,
}

/// A PFS session, stored under the SHA-256 of its `suid` (the `suid` itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the suid, lower-case hex.
    pub suid_hash: String,
    /// The provider that opened it.
    pub provider_id: String,
    /// The online account.
    pub account_id: String,
    /// The online user (the account holder's patient id).
    pub online_user_id: String,
    /// The patient the session currently acts for.
    pub selected_patient_id: String,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// Last activity (kept with a few seconds' granularity).
    pub last_seen_at: DateTime<Utc>,
    /// When logged off.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Failed linkage attempts for one (account id, provider) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkThrottle {
    /// Consecutive failures. An attempt counts as a failure from the moment it is admitted
    /// (see [`crate::store::AccountStore::reserve_link_attempt`]) until it succeeds.
    pub failures: u32,
    /// No attempt is checked before this instant.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The back-off rule for one (account id, provider) pair, handed to the store so that it can
/// apply it in the same statement that counts a failure.
///
/// The failure that reaches `threshold` locks the pair for `base`; each further one doubles
/// the lock, up to `max` (the doubling stops after 20 steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkBackoff {
    /// The failure that starts the first lock (0 counts as 1).
    pub threshold: u32,
    /// The first lock.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
}

impl LinkBackoff {
    /// The most doublings of `base`.
    pub const MAX_DOUBLINGS: u32 = 20;

    /// [`LinkBackoff::threshold`], at least 1.
    pub fn first_locking_failure(&self) -> u32 {
        self.threshold.max(1)
    }

    /// How long the pair is locked after its `failures`-th consecutive failure.
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let threshold = self.first_locking_failure();
        (failures >= threshold).then(|| {
            let doublings = (failures - threshold).min(Self::MAX_DOUBLINGS);
            (self.base * (1i32 << doublings)).min(self.max)
        })
    }
}

/// The outcome of [`crate::store::AccountStore::reserve_link_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAttempt {
    /// No back-off was in force: the attempt may be checked, and it has already been counted
    /// as a failure. The pair's state after counting it.
    Admitted(LinkThrottle),
    /// A back-off is in force: the attempt must not be checked and was not counted.
    Refused {
        /// When the back-off ends (at the latest: `now` when the lock was cleared meanwhile).
        locked_until: DateTime<Utc>,
    },
}

/// A service switch: practice-wide (patient `None`) or for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSwitch {
    /// The service key, e.g. `messaging` (see [`crate::services::SERVICES`]).
    pub service: String,
    /// On or off.
    pub enabled: bool,
}

/// An appointment session: one clinician's run of equal slots at one location, e.g. a morning
/// surgery. The wire has no slot id: a slot is (`id`, slot start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentSession {
    /// Session id (digits), the wire's `sessionId`.
    pub id: String,
    /// The practice.
    pub ods: String,
    /// Session name, e.g. `Morning surgery` (`Session/@type`).
    pub session_type: String,
    /// Clinician, e.g. `Dr A Jones (Female)` (`staffDetails`).
    pub staff_details: String,
    /// Where, e.g. `Main site` (`location`).
    pub location: String,
    /// Slot type, e.g. `Routine`, `Telephone` (`Slot/@type`).
    pub slot_type: String,
    /// Start of the first slot.
    pub start: DateTime<Utc>,
    /// Length of every slot, minutes.
    pub slot_minutes: u32,
    /// Number of slots.
    pub slot_count: u32,
}

/// A booked appointment: one slot of a session, for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    /// Appointment id (digits), the wire's `apptId`.
    pub id: String,
    /// The session.
    pub session_id: String,
    /// The patient the appointment is for (the child, when a parent booked it).
    pub patient_id: String,
    /// Slot start.
    pub start: DateTime<Utc>,
    /// Slot end.
    pub end: DateTime<Utc>,
    /// The patient's booking reason.
    pub notes: Option<String>,
    /// Who booked: an online user id, or `practice`.
    pub booked_by: String,
    /// When booked.
    pub booked_at: DateTime<Utc>,
    /// When cancelled; a cancelled appointment frees its slot.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// What happened to a booking attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOutcome {
    /// Booked.
    Booked,
    /// Another live appointment holds the slot.
    SlotTaken,
    /// The patient already holds the maximum number of future appointments.
    LimitReached,
}

/// One entry of a patient's record access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordAccess {
    /// The patient whose record was used.
    pub patient_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Staff name, or the online user's name and the application's name.
    pub accessed_by: String,
    /// The practice's name.
    pub organisation: String,
    /// What was done, e.g. `Booked appointment`.
    pub access_type: String,
    /// `Online` or `Practice`.
    pub method: String,
}

/// What a stored file belongs to: a document of the patient's record, or an attachment of a
/// message. `RequestBinaryData` serves both, under the rules of their own service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryKind {
    /// A letter or attachment of the record (service `documents`).
    Document,
    /// An attachment of a message (service `messaging`).
    Attachment,
}

impl BinaryKind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryKind::Document => "Document",
            BinaryKind::Attachment => "Attachment",
        }
    }

    /// The value of a stored text.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "Document" => Some(BinaryKind::Document),
            "Attachment" => Some(BinaryKind::Attachment),
            _ => None,
        }
    }
}

/// A file to store: its pages are written with it (more may follow while it is uploading).
#[derive(Clone, PartialEq, Eq)]
pub struct NewBinaryData {
    /// 12-digit id (`binaryDataId`).
    pub id: String,
    /// The patient it belongs to: the only one it is ever served to.
    pub patient_id: String,
    /// A record document or a message attachment.
    pub kind: BinaryKind,
    /// The file's name, e.g. `discharge-letter.pdf`.
    pub file_name: String,
    /// Its type as an extension in lower case, e.g. `pdf` (`BinaryData/@fileType`).
    pub file_type: String,
    /// The pages, each served as one `BinaryDataPage`; a PDF or a photo is one page.
    pub pages: Vec<Vec<u8>>,
    /// Whether more pages are still to come (`45` until the upload completes).
    pub uploading: bool,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewBinaryData {
    // File names and contents are patient data: shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBinaryData")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("file_type", &self.file_type)
            .field("pages", &self.pages.len())
            .field("uploading", &self.uploading)
            .finish_non_exhaustive()
    }
}

impl NewBinaryData {
    /// Total bytes of all pages.
    pub fn size(&self) -> u64 {
        self.pages.iter().map(|p| p.len() as u64).sum()
    }
}

/// A stored file's description, without its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct BinaryDataInfo {
    /// 12-digit id.
    pub id: String,
    /// The patient it belongs to.
    pub patient_id: String,
    /// A record document or a message attachment.
    pub kind: BinaryKind,
    /// The file's name.
    pub file_name: String,
    /// Its type, an extension in lower case.
    pub file_type: String,
    /// Total bytes of all pages.
    pub size: u64,
    /// How many pages.
    pub pages: u32,
    /// Whether it is still uploading.
    pub uploading: bool,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for BinaryDataInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryDataInfo")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("file_type", &self.file_type)
            .field("size", &self.size)
            .field("pages", &self.pages)
            .field("uploading", &self.uploading)
            .finish_non_exhaustive()
    }
}

/// How much of their record a user sees online: each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecordLevel {
    /// Nothing of the record (`6` on every record message).
    None,
    /// The overview: allergies, drug sensitivities, medication (`ViewPatientOverview`).
    Summary,
    /// Also the record's coded entries: items with a SNOMED CT code (`RequestPatientRecord`).
    Coded,
    /// Also its free text: every item.
    Full,
}

impl RecordLevel {
    /// The stored and admin text.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordLevel::None => "None",
            RecordLevel::Summary => "Summary",
            RecordLevel::Coded => "Coded",
            RecordLevel::Full => "Full",
        }
    }

    /// The level of a stored or admin text.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RecordLevel::None,
            RecordLevel::Summary,
            RecordLevel::Coded,
            RecordLevel::Full,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

/// What of a patient's record one user may see online: the patient themself, or a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordGrant {
    /// How much of the record.
    pub level: RecordLevel,
    /// Whether documents (letters, attachments) too.
    pub documents: bool,
    /// Whether test results too.
    pub test_results: bool,
}

impl RecordGrant {
    /// A patient's own access until the practice sets another: the whole record, documents
    /// and test results.
    pub const OWN_DEFAULT: RecordGrant = RecordGrant {
        level: RecordLevel::Full,
        documents: true,
        test_results: true,
    };
    /// A proxy's access until the practice sets another: the overview only.
    pub const PROXY_DEFAULT: RecordGrant = RecordGrant {
        level: RecordLevel::Summary,
        documents: false,
        test_results: false,
    };

    /// What holds when both grants apply (a proxy's never exceeds the patient's own).
    pub fn narrowed_by(self, other: RecordGrant) -> RecordGrant {
        RecordGrant {
            level: self.level.min(other.level),
            documents: self.documents && other.documents,
            test_results: self.test_results && other.test_results,
        }
    }
}

/// One entry of an event in the record.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordItem {
    /// Id (digits).
    pub id: String,
    /// e.g. `Problem`, `Consultation`, `Allergy`, `Drug sensitivity`, `Letter`, `Attachment`.
    #[serde(rename = "type")]
    pub item_type: String,
    /// The text exactly as entered; for a document, `<TYPE>: <file name> - <comments>`.
    pub details: String,
    /// SNOMED CT concept id: an item with one is coded, one without is free text.
    pub snomed_code: Option<String>,
    /// The document's file (`Letter` and `Attachment` items).
    pub binary_data_id: Option<String>,
    /// Whether the patient may see it online; a hidden item is never returned.
    pub visible: bool,
}

impl std::fmt::Debug for RecordItem {
    // The details are the patient's record: shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordItem")
            .field("id", &self.id)
            .field("item_type", &self.item_type)
            .field("coded", &self.snomed_code.is_some())
            .field("binary_data_id", &self.binary_data_id)
            .field("visible", &self.visible)
            .finish_non_exhaustive()
    }
}

/// One event of the record: what was done, when, by whom, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordEvent {
    /// Id (digits).
    pub id: String,
    /// The patient.
    pub patient_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// e.g. `Dr A Jones`.
    pub done_by: String,
    /// e.g. `Riverside Surgery`.
    pub location: String,
    /// Its items, in the order entered.
    pub items: Vec<RecordItem>,
}

/// The record item that shows a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentItem {
    /// The patient whose record holds it.
    pub patient_id: String,
    /// Its event.
    pub event_id: String,
    /// The item.
    pub item: RecordItem,
}

/// One value of a test result, e.g. haemoglobin in a full blood count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestValue {
    /// e.g. `Haemoglobin`.
    pub name: String,
    /// e.g. `131`.
    pub value: String,
    /// e.g. `g/L`.
    #[serde(default)]
    pub units: Option<String>,
    /// e.g. `115 - 165`.
    #[serde(default)]
    pub reference_range: Option<String>,
    /// Outside the reference range.
    #[serde(default)]
    pub abnormal: bool,
}

/// A test result.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Id (digits), the wire's `testResultId`.
    pub id: String,
    /// The patient.
    pub patient_id: String,
    /// When the result was reported.
    pub at: DateTime<Utc>,
    /// e.g. `Pathology`, `Radiology` (`Item/@description`).
    pub category: String,
    /// e.g. `Full blood count` (the list form's text).
    pub name: String,
    /// The values.
    pub values: Vec<TestValue>,
    /// The clinician's comment.
    pub comment: Option<String>,
    /// Whether the patient may see it online.
    pub visible: bool,
}

impl std::fmt::Debug for TestResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestResult")
            .field("id", &self.id)
            .field("values", &self.values.len())
            .field("visible", &self.visible)
            .finish_non_exhaustive()
    }
}

/// A patient with their practice and every service switch that applies to them: what each
/// per-patient message needs before it can start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientContext {
    /// The patient.
    pub patient: Patient,
    /// The patient's practice.
    pub practice: Practice,
    /// The practice's switches.
    pub practice_switches: Vec<ServiceSwitch>,
    /// The patient's own switches.
    pub patient_switches: Vec<ServiceSwitch>,
}

/// Per-patient data an in-session request wants read together with its session context (see
/// [`SessionContext`]), so that the whole request is served by one store read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefetch {
    /// Nothing more.
    #[default]
    Nothing,
    /// The named patient's live appointments (`ViewAppointments`).
    Appointments,
    /// The named patient's medication list with the version this session last fetched (the
    /// medication messages).
    Medication,
}

/// What an in-session request reads before it starts, in one store call: its session, the
/// provider that opened it and, when the request names a patient, that patient's context,
/// whether the session's online user holds a proxy grant for them, and what was prefetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    /// The session (ended or not).
    pub session: SessionRecord,
    /// The provider that opened it (revoked or not).
    pub provider: Provider,
    /// The named patient, when there is one and they exist.
    pub patient: Option<PatientContext>,
    /// Whether the session's online user holds a proxy grant for the named patient.
    pub proxy_grant: bool,
    /// With [`Prefetch::Appointments`] and a named patient who exists: that patient's live
    /// appointments with their sessions, as [`Store::patient_appointments`] returns them.
    ///
    /// [`Store::patient_appointments`]: crate::AppointmentStore::patient_appointments
    pub appointments: Option<Vec<(Appointment, AppointmentSession)>>,
    /// With [`Prefetch::Medication`] and a named patient who exists: that patient's medication
    /// list as [`Store::medication_list`] returns it for this session.
    ///
    /// [`Store::medication_list`]: crate::MedicationStore::medication_list
    pub medication: Option<MedicationList>,
}

/// A course of medication the practice prescribes: what `ListRepeatMedication` and
/// `ListAcuteMedication` list and `RequestMedication` orders.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationCourse {
    /// Course id (digits), the wire's `drugId`.
    pub id: String,
    /// The patient it is prescribed for.
    pub patient_id: String,
    /// Drug name, e.g. `Amlodipine 5mg tablets`.
    pub drug: String,
    /// Dosage and quantity, e.g. `One daily - 28 tablet`.
    pub details: String,
    /// `Repeat` or `Acute`.
    #[serde(with = "wire_text")]
    pub course_type: CourseType,
    /// Whether the practice lets the patient order it online.
    pub requestable: bool,
    /// Whether the patient sees it online at all.
    pub online_visible: bool,
    /// When the course started.
    pub started_on: NaiveDate,
    /// When the practice stopped it; a stopped course is no longer listed or orderable.
    pub stopped_on: Option<NaiveDate>,
    /// When it was last issued.
    pub last_issued_at: Option<DateTime<Utc>>,
    /// Issues since the course was last authorised.
    pub issue_count: u32,
    /// Most issues one authorisation allows (`None`: no limit). With all used, the course is
    /// not requestable until the practice re-authorises it.
    pub max_issues: Option<u32>,
}

impl MedicationCourse {
    /// Whether the course is current: started by `today` and not stopped.
    pub fn is_current(&self, today: NaiveDate) -> bool {
        self.started_on <= today && self.stopped_on.is_none_or(|s| s > today)
    }

    /// Whether its authorisation has issues left.
    pub fn has_issues_left(&self) -> bool {
        self.max_issues.is_none_or(|max| self.issue_count < max)
    }
}

impl std::fmt::Debug for MedicationCourse {
    // A drug name says much about a patient's health: print ids and flags only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MedicationCourse")
            .field("id", &self.id)
            .field("patient_id", &self.patient_id)
            .field("course_type", &self.course_type)
            .field("requestable", &self.requestable)
            .finish_non_exhaustive()
    }
}

/// A patient's courses as the store holds them, with what the integrity rule needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MedicationList {
    /// The list's version: it changes whenever the practice adds, stops or changes one of the
    /// patient's courses (or issues one), never when a patient orders.
    pub version: i64,
    /// Every course of the patient (stopped and hidden ones too), by drug name then id, each
    /// with the id of its outstanding request, if it has one.
    pub courses: Vec<(MedicationCourse, Option<String>)>,
    /// The version this list had when the asking session last fetched it for this patient;
    /// `None` if it has not.
    pub seen_version: Option<i64>,
}

/// A course's type (the wire's `type`).
pub use pfs_wire::CourseType;
/// That a session fetched a patient's medication list at a version, with its access-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicationView {
    /// The session (SHA-256 of its suid).
    pub suid_hash: String,
    /// The patient whose list it is.
    pub patient_id: String,
    /// The version of the list the session was shown, when the session had not seen that
    /// version before; `None` when it re-read a list it had already seen, which records only
    /// the access-log entry (so a re-read writes one row, not two).
    pub version: Option<i64>,
    /// The access-log entry for the read.
    pub log: RecordAccess,
}

/// Where a prescription request stands (the wire's `status`).
pub use pfs_wire::RequestStatus as PrescriptionStatus;

/// One course of a prescription request, with its name when it was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrescriptionItem {
    /// The course.
    pub course_id: String,
    /// The drug's name when it was requested.
    pub drug: String,
    /// The course's type.
    #[serde(with = "wire_text")]
    pub course_type: CourseType,
}

/// A patient's request for one or more courses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrescriptionRequest {
    /// Request id (digits), the wire's `requestId`.
    pub id: String,
    /// The patient the courses are for.
    pub patient_id: String,
    /// Who asked: the online user id.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// The patient's note to the practice.
    pub notes: Option<String>,
    /// Where it stands.
    #[serde(with = "wire_text")]
    pub status: PrescriptionStatus,
    /// When the status last changed.
    pub status_at: DateTime<Utc>,
    /// The practice's comment when it issued or rejected the request.
    pub practice_comment: Option<String>,
    /// The courses, in the order they were requested.
    pub items: Vec<PrescriptionItem>,
}

impl std::fmt::Debug for PrescriptionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrescriptionRequest")
            .field("id", &self.id)
            .field("patient_id", &self.patient_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What happened to an order or an amendment in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Stored.
    Stored,
    /// The patient's medication list is no longer at the version the order was checked
    /// against: nothing was written.
    ListChanged,
    /// Another request for one of the courses is outstanding: nothing was written.
    AlreadyRequested,
    /// (Amendments only) the request is no longer `Requested`: nothing was written.
    Actioned(PrescriptionStatus),
    /// (Amendments only) no such request: nothing was written.
    NotFound,
}

/// Where a demographics change stands (the wire's `status`).
pub use pfs_wire::ChangeStatus;
/// A telephone number's type (the wire's `type`: `Home`, `Mobile`, `Work`).
pub use pfs_wire::TelephoneType;

/// A structured postal address, as the practice holds it; the one-line form is
/// [`PostalAddress::one_line`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PostalAddress {
    /// House name or number, flat.
    pub house_name_flat: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// Village or locality.
    pub village: Option<String>,
    /// Post town.
    pub town: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Postcode, normalised (`LS6 3AA`).
    pub postcode: String,
}

impl PostalAddress {
    /// The address on one line: `houseNameFlat street, village, town, county, postcode`, with
    /// the parts that are present.
    pub fn one_line(&self) -> String {
        let first = [&self.house_name_flat, &self.street]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        std::iter::once(first)
            .chain(
                [&self.village, &self.town, &self.county]
                    .into_iter()
                    .flatten()
                    .cloned(),
            )
            .chain(std::iter::once(self.postcode.clone()))
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Debug for PostalAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostalAddress([REDACTED])")
    }
}

/// A telephone number with its type; the number is normalised (digits, `0` then 9 or 10 more).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Telephone {
    /// The number, e.g. `07700900123`.
    pub number: String,
    /// `Home`, `Mobile` or `Work`.
    #[serde(rename = "type", with = "wire_text")]
    pub number_type: TelephoneType,
}

impl std::fmt::Debug for Telephone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telephone")
            .field("number_type", &self.number_type)
            .finish_non_exhaustive()
    }
}

/// A patient's contact details as the practice holds them, besides the one-line address of
/// [`Patient::address`] (which is kept equal to [`PostalAddress::one_line`] once a structured
/// address is held).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContactDetails {
    /// The structured address; `None` while the practice holds the one-line address only.
    pub address: Option<PostalAddress>,
    /// Telephone numbers, in the patient's order.
    pub telephones: Vec<Telephone>,
    /// E-mail address.
    pub email: Option<String>,
}

impl std::fmt::Debug for ContactDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactDetails")
            .field("has_address", &self.address.is_some())
            .field("telephones", &self.telephones.len())
            .field("has_email", &self.email.is_some())
            .finish()
    }
}

/// What a demographics change replaces: each field present replaces the held one.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContactChange {
    /// The new address.
    pub address: Option<PostalAddress>,
    /// The new telephone numbers (empty: none).
    pub telephones: Option<Vec<Telephone>>,
    /// The new e-mail address (`Some(None)`: none). Stored as `{"email": null}` for a removal.
    #[serde(
        deserialize_with = "crate::admin::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
}

impl ContactChange {
    /// `details` with this change made.
    pub fn applied_to(&self, details: &ContactDetails) -> ContactDetails {
        ContactDetails {
            address: self.address.clone().or_else(|| details.address.clone()),
            telephones: self
                .telephones
                .clone()
                .unwrap_or_else(|| details.telephones.clone()),
            email: match &self.email {
                Some(e) => e.clone(),
                None => details.email.clone(),
            },
        }
    }
}

impl std::fmt::Debug for ContactChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactChange")
            .field("address", &self.address.is_some())
            .field("telephones", &self.telephones.as_ref().map(Vec::len))
            .field("email", &self.email.is_some())
            .finish()
    }
}

/// A change of contact details a patient asked for online, and where it stands.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemographicsChangeRecord {
    /// Change id (digits), the wire's `changeId`.
    pub id: String,
    /// The patient whose details change.
    pub patient_id: String,
    /// Who asked: the online user id.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// What changes.
    pub change: ContactChange,
    /// Where it stands.
    #[serde(with = "wire_text")]
    pub status: ChangeStatus,
    /// When the status last changed.
    pub status_at: DateTime<Utc>,
    /// The practice's comment on its decision.
    pub practice_comment: Option<String>,
}

impl std::fmt::Debug for DemographicsChangeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemographicsChangeRecord")
            .field("id", &self.id)
            .field("patient_id", &self.patient_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// New contact details to store with the one-line address they give the patient.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactWrite {
    /// The patient.
    pub patient_id: String,
    /// The details, whole.
    pub details: ContactDetails,
    /// The patient's one-line address afterwards ([`Patient::address`]).
    pub one_line_address: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl std::fmt::Debug for ContactWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactWrite")
            .field("patient_id", &self.patient_id)
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

/// A community pharmacy of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pharmacy {
    /// ODS code, upper case (e.g. `FA123`): the wire's `odsCode`.
    pub ods: String,
    /// Name.
    pub name: String,
    /// Address (its postcode normalised).
    pub address: PostalAddress,
    /// Telephone number, normalised to its digits.
    pub telephone: Option<String>,
    /// When it closed; a closed pharmacy is not found by searches and cannot be nominated.
    pub closed_at: Option<DateTime<Utc>>,
}

/// Where a postcode search looks: the area, district and sector of a postcode or outward code
/// (see [`crate::pharmacy::postcode_search`]).
#[derive(Clone, PartialEq, Eq)]
pub struct PharmacySearch {
    /// Postcode area: the leading letters (`LS`).
    pub area: String,
    /// District number within the area (`LS6` → 6).
    pub district: i32,
    /// The outward code (`LS6`).
    pub outward: String,
    /// The sector (`LS6 3`), when a full postcode was given.
    pub sector: Option<String>,
    /// The full postcode, when given.
    pub postcode: Option<String>,
}

/// A third-party application linked to an online account: its provider and the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedApp {
    /// The provider id (a credential: never sent to another provider).
    pub provider_id: String,
    /// The provider's name.
    pub name: String,
    /// When the application last linked.
    pub linked_at: DateTime<Utc>,
    /// When it last logged on (`Authenticate`), if it has since linking.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PharmacySearch {
    // A full postcode searched for may be the patient's own: print the outward code only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PharmacySearch")
            .field("outward", &self.outward)
            .finish_non_exhaustive()
    }
}

/// Someone at a practice whom patients can write to: a member of staff (`Recipient`) or a team
/// (`UnitRecipient`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecipient {
    /// Id (digits): the wire's `recipientId` / `unitRecipientId`.
    pub id: String,
    /// The practice.
    pub ods: String,
    /// A person or a team.
    #[serde(with = "wire_text")]
    pub kind: pfs_wire::RecipientKind,
    /// The name patients see, e.g. `Dr A Jones` or `Reception team`.
    pub name: String,
    /// Whether patients may write to them (only these are listed by `MessageRecipients`).
    pub enabled: bool,
}

/// An attachment of a message: a file in the binary-data store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttachmentInfo {
    /// The file's id in the binary-data store (`binaryDataId`).
    pub binary_data_id: String,
    /// The file name as sent.
    pub file_name: String,
    /// The type (extension), lower case.
    pub file_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// One message between a patient and their practice.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Id (digits): the wire's `messageId`.
    pub id: String,
    /// The conversation: the id of its first message.
    pub conversation_id: String,
    /// The patient whose conversation it is.
    pub patient_id: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The text.
    pub text: String,
    /// `true` from the patient (or their proxy) to the practice; `false` from the practice.
    pub incoming: bool,
    /// Who wrote it: the online user's name (the patient, or a proxy acting for them), or the
    /// practice recipient's name.
    pub sender: String,
    /// Whom it was written to: the practice recipient's name, or the patient's.
    pub recipient: String,
    /// The practice recipient it was sent to (incoming) or from (outgoing).
    pub recipient_id: String,
    /// The online user who sent an incoming message (the patient, or a proxy).
    pub sent_by: Option<String>,
    /// When its reader read it: the practice for an incoming message, the patient otherwise.
    pub read_at: Option<DateTime<Utc>>,
    /// When the patient deleted it.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Its attachments, in order.
    pub attachments: Vec<MessageAttachmentInfo>,
}

impl std::fmt::Debug for Message {
    // Text and names are the patient's: print ids and flags only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("conversation_id", &self.conversation_id)
            .field("incoming", &self.incoming)
            .field("read", &self.read_at.is_some())
            .field("deleted", &self.deleted_at.is_some())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// Whose messages a change may touch: one patient's (the patient side) or one practice's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOwner<'a> {
    /// The patient with this id.
    Patient(&'a str),
    /// The patients of the practice with this ODS code.
    Practice(&'a str),
}

/// Serde for the wire's enums by their wire text (`Repeat`, `Issued`, …).
mod wire_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub trait WireText: Sized + std::str::FromStr {
        fn text(&self) -> &'static str;
    }

    impl WireText for pfs_wire::CourseType {
        fn text(&self) -> &'static str {
            self.as_str()
        }
    }

    impl WireText for pfs_wire::ChangeStatus {
        fn text(&self) -> &'static str {
            self.as_str()
        }
    }

    impl WireText for pfs_wire::TelephoneType {
        fn text(&self) -> &'static str {
            self.as_str()
        }
    }

    impl WireText for pfs_wire::RecipientKind {
        fn text(&self) -> &'static str {
            self.as_str()
        }
    }

    impl WireText for pfs_wire::RequestStatus {
        fn text(&self) -> &'static str {
            self.as_str()
        }
    }

    pub fn serialize<T: WireText, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.text())
    }

    pub fn deserialize<'de, T: WireText, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("not one of the accepted values"))
    }
}
