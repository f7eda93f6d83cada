//! The storage interface every backend implements (SQLite embedded, PostgreSQL).
//!
//! Methods are small and named for what the domain needs; the rules live in pfs-core, never in
//! a backend. Every backend must pass the shared suite in pfs-store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::*;

/// What a backend can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (the text names the key, never a value).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A referenced row does not exist (the text names what).
    #[error("not found: {0}")]
    NotFound(String),
    /// The database cannot be reached or timed out; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else (corrupt row, unexpected SQL error).
    #[error("database error: {0}")]
    Other(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Persistent state of openpfs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- providers ---
    /// Registers a provider; `Conflict` if the id or fingerprint exists.
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()>;
    /// The provider (revoked or not) with this id.
    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>>;
    /// The provider (revoked or not) whose certificate has this fingerprint.
    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>>;
    /// Every provider, oldest first.
    async fn list_providers(&self) -> StoreResult<Vec<Provider>>;
    /// Marks a provider revoked and ends its open sessions; false if no such provider.
    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    // --- practices ---
    /// Adds a practice; `Conflict` if the ODS code exists.
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()>;
    /// The practice with this ODS code.
    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>>;
    /// Every practice, by ODS code.
    async fn list_practices(&self) -> StoreResult<Vec<Practice>>;
    /// Replaces a practice's settings; false if no such practice.
    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool>;

    // --- patients ---
    /// Adds a patient; `Conflict` if the id or NHS number exists, `NotFound` if the practice
    /// does not.
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()>;
    /// The patient with this id.
    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>>;
    /// The patient with this NHS number.
    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>>;
    /// The patient, their practice and the service switches that apply to them. The default
    /// reads them one by one; a backend may read them in one go.
    async fn patient_context(&self, patient_id: &str) -> StoreResult<Option<PatientContext>> {
        let Some(patient) = self.patient(patient_id).await? else {
            return Ok(None);
        };
        let Some(practice) = self.practice(&patient.ods).await? else {
            return Ok(None);
        };
        let practice_switches = self.practice_services(&practice.ods).await?;
        let patient_switches = self.patient_services(&patient.id).await?;
        Ok(Some(PatientContext {
            patient,
            practice,
            practice_switches,
            patient_switches,
        }))
    }
    /// Patients of one practice (or all), by id.
    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>>;

    // --- online accounts and linkage ---
    /// Adds an account; `Conflict` if the id exists or the patient already has one.
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()>;
    /// The account with this id.
    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>>;
    /// The account of this patient.
    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>>;
    /// Ends an account (and its sessions); false if no such account.
    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets the account's one linkage key, replacing any earlier one.
    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()>;
    /// The account's linkage key, expired or not.
    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>>;
    /// Creates or replaces the (account, provider) link.
    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()>;
    /// The (account, provider) link.
    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>>;

    // --- linkage throttling ---
    /// Failure state for (account id, provider); the account id need not exist.
    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>>;
    /// Stores failure state for (account id, provider).
    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()>;
    /// Forgets failure state for (account id, provider).
    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()>;

    // --- proxy access ---
    /// Lets the online user `grantee_id` act for `patient_id` (idempotent).
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Withdraws a grant; false if there was none.
    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool>;
    /// The patients `grantee_id` may act for (not including themselves), by id.
    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>>;
    /// Whether `grantee_id` may act for `patient_id`.
    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool>;

    // --- service switches ---
    /// Sets (Some) or clears (None) a practice-wide switch.
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()>;
    /// Sets (Some) or clears (None) a per-patient switch.
    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()>;
    /// The practice's switches.
    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>>;
    /// The patient's own switches.
    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>>;

    // --- sessions ---
    /// Stores a new session; `Conflict` if the hash exists.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with this suid hash (ended or not).
    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// The session with this suid hash, the provider that opened it and, when `patient_id` is
    /// given, that patient's context and proxy grant, and what `prefetch` asks for (see
    /// [`SessionContext`]), all from one snapshot: the in-session request path makes this one
    /// read before anything else.
    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>>;
    /// Records activity and, when given, a new selected patient.
    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Ends a session; false if it was unknown or already ended.
    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes sessions that ended or were last seen before `before`; returns how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    // --- appointments ---
    /// Adds an appointment session; `Conflict` if the id exists, `NotFound` if the practice
    /// does not.
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()>;
    /// The appointment session with this id.
    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>>;
    /// A practice's sessions that start in `[from, to)`, by start then id.
    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>>;
    /// Live (not cancelled) appointments of a practice's sessions starting in `[from, to)`, by
    /// start then id.
    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>>;
    /// Books a slot atomically and, in the same transaction, appends `log` to the access log:
    /// `SlotTaken` if a live appointment holds (session, start); `LimitReached` if the patient
    /// already holds `max_future` live appointments starting after `now` (nothing is written
    /// for either). Exactly one of any number of concurrent bookings of a slot succeeds, on
    /// every backend. `NotFound` if the session or patient does not exist.
    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome>;
    /// The appointment with this id (cancelled or not).
    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>>;
    /// A patient's live appointments, each with its session, by start then id.
    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>>;
    /// Cancels a live appointment, freeing its slot, and appends `log` to the access log in the
    /// same transaction; false (and nothing written) if unknown or already cancelled.
    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool>;

    // --- record access log ---
    /// Appends an entry to a patient's access log.
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()>;
    /// A patient's access log entries in `[from, to)`, oldest first.
    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>>;
}
