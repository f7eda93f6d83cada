//! The rules of every PFS operation, as plain async functions over a [`Store`] and an injected
//! [`Clock`]. No HTTP and no SQL here.
//!
//! [`Pfs::serve`] runs one request: it finds the caller's provider and session, then hands the
//! decoded request to the one dispatch (in `operation.rs`), generated from the list of request
//! types; each area's module declares its operations next to their rules. Errors become `Error`
//! replies in one place ([`DomainError::to_reply`]).

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod access_log;
pub mod account_info;
pub mod admin;
pub mod appointments;
pub mod binary_data;
pub mod clock;
pub mod config;
pub mod demographics;
pub mod error;
pub mod fault;
mod group_commit;
pub mod linkage;
pub mod medication;
pub mod messaging;
pub mod model;
pub mod nhs;
mod operation;
pub mod pharmacy;
pub mod record;
mod reply_cache;
pub mod secrets;
pub mod services;
pub mod session;
pub mod store;
mod touches;
pub mod uktime;
mod version;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pfs_wire::{API_VERSION, DecodeError, Element, Guid, Header, Request, sniff_uuid};
use secrecy::SecretString;

pub use clock::{Clock, ClockOffset, ManualClock, ShiftedClock, SystemClock};
pub use config::Config;
pub use error::DomainError;
pub use model::{Prefetch, Provider};
pub use operation::Access;
pub use secrets::{Kdf, KdfBusy, KdfHold, KdfParams, KdfQueue, KdfTicket, Pepper};
pub use session::ActiveSession;
pub use store::{
    AccessLogStore, AccountInfoStore, AccountStore, AppointmentStore, DemographicsStore,
    FaultStore, HealthStore, MedicationStore, MessagingStore, PatientStore, PharmacyStore,
    PracticeStore, ProviderStore, ProxyStore, SandboxStore, ServiceStore, SessionStore, Store,
    StoreError, StoreResult,
};

/// Every API version served; `CheckVersion` lists them and other versions are refused.
pub const SUPPORTED_API_VERSIONS: &str = API_VERSION;

/// A reply ready to send: the body and, inside a session, the `suid` for the response header.
pub struct Reply {
    /// The reply element.
    pub body: Element,
    /// The session id to send back in the `suid` header.
    pub suid: Option<SecretString>,
}

/// The outcome of [`Pfs::serve`].
pub struct Served {
    /// The reply, or the error to send as an `Error`.
    pub result: Result<Reply, DomainError>,
    /// The request's `uuid` (also found in bodies that did not decode), for the `Error` echo.
    pub uuid: Option<Guid>,
    /// The caller's provider name, for logs (never its id, which is a credential).
    pub provider: Option<String>,
}

/// What [`Pfs::housekeeping`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Housekeeping {
    /// Sessions.
    pub sessions: u64,
    /// (account id, provider) linkage failure states.
    pub link_throttles: u64,
    /// Sessions still usable after the purge (not ended, within the idle timeout and the
    /// lifetime): what the live-sessions gauge shows.
    pub live_sessions: u64,
}

/// The PFS service: the store, the clock, the secrets and the rules.
pub struct Pfs {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Config,
    pepper: Pepper,
    kdf: Kdf,
    provider_failures: linkage::FailureBudget,
    medication_views: group_commit::GroupCommit<model::MedicationView>,
    /// The access-log entries of reads, written behind their replies.
    read_log: group_commit::GroupCommit<model::RecordAccess>,
    /// The fault injection rules this instance applies.
    faults: fault::Faults,
    /// `RequestPatientRecord`'s events and `MessagesView`'s messages as last encoded (see
    /// `reply_cache.rs`).
    reply_cache: reply_cache::ReplyCache,
    /// The sessions whose activity this instance began writing lately (see `touches.rs`).
    recent_touches: touches::RecentTouches,
}

impl Pfs {
    /// A service over `store`, telling time by `clock`, hashing passphrases under `pepper`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        pepper: Pepper,
        config: Config,
    ) -> Result<Self, String> {
        let kdf = Kdf::new(
            config.kdf,
            config.kdf_concurrency,
            KdfQueue {
                total: config.kdf_queue,
                per_provider: config.kdf_queue_per_provider,
            },
        )?;
        let provider_failures = linkage::FailureBudget::new(
            config.provider_link_failures_per_minute,
            config.provider_link_failure_burst,
        );
        let linger = config
            .write_behind_linger
            .to_std()
            .map_err(|_| "the write-behind linger must not be negative".to_owned())?;
        Ok(Pfs {
            store,
            clock,
            pepper,
            kdf,
            provider_failures,
            medication_views: group_commit::GroupCommit::new(medication::write_views, linger),
            read_log: group_commit::GroupCommit::new(access_log::write_reads, linger),
            faults: fault::Faults::default(),
            reply_cache: reply_cache::ReplyCache::new(config.reply_cache_bytes),
            recent_touches: touches::RecentTouches::new(),
            config,
        })
    }

    /// Returns once the writes queued behind their requests (the access-log entries of list
    /// re-reads, see `group_commit.rs`) are committed. Whoever reads the access log calls this
    /// first, so that it holds every read answered so far; the server calls it when it stops.
    pub async fn flush_writes(&self) -> Result<(), StoreError> {
        self.medication_views.flush(&self.store).await?;
        self.read_log.flush(&self.store).await
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The linkage-key hasher (its counters and hold are for tests and metrics).
    pub fn kdf(&self) -> &Kdf {
        &self.kdf
    }

    /// Deletes what can no longer matter, as of `now`; for a once-a-minute task:
    ///
    /// * sessions that ended, or were last used, longer ago than the larger of the idle
    ///   timeout and the session lifetime;
    /// * the linkage failure state of (account id, provider) pairs with no back-off in force
    ///   and no failure for [`Config::link_throttle_retention`];
    ///
    /// and then counts the sessions still live (one count over the sessions table, which the
    /// purge keeps to the sessions of the last idle timeout or lifetime).
    ///
    /// All three are tried even if one fails; the first error is returned.
    pub async fn housekeeping(&self, now: DateTime<Utc>) -> StoreResult<Housekeeping> {
        let session_cut = now - self.config.idle_timeout.max(self.config.session_lifetime);
        let sessions = self.store.purge_sessions(session_cut).await;
        let throttle_cut = now - self.config.link_throttle_retention;
        let link_throttles = self.store.purge_link_throttles(now, throttle_cut).await;
        let live_sessions = self
            .store
            .count_live_sessions(
                now - self.config.idle_timeout,
                now - self.config.session_lifetime,
            )
            .await;
        Ok(Housekeeping {
            sessions: sessions?,
            link_throttles: link_throttles?,
            live_sessions: live_sessions?,
        })
    }

    /// The registered, unrevoked provider whose client certificate has this fingerprint.
    pub async fn provider_for(&self, fingerprint: &str) -> Result<Provider, DomainError> {
        match self.store.provider_by_fingerprint(fingerprint).await? {
            None => Err(DomainError::ProviderNotRecognised("not registered")),
            Some(p) if p.revoked_at.is_some() => Err(DomainError::ProviderNotRecognised("revoked")),
            Some(p) => Ok(p),
        }
    }

    /// Runs one request: everything after TLS and HTTP. `fingerprint` names the client
    /// certificate, `message_type` and `suid` are the request headers.
    ///
    /// In-session requests find their session and its provider in one store read; the others
    /// look the provider up by fingerprint. An unknown or revoked provider is told so (`9007`)
    /// before anything about its request.
    pub async fn serve(
        &self,
        fingerprint: Option<&str>,
        message_type: Option<&str>,
        suid: Option<&str>,
        body: &[u8],
    ) -> Served {
        let decoded = Request::decode(message_type.unwrap_or(""), body);
        let uuid = match &decoded {
            Ok(r) => r.header().uuid,
            Err(_) => sniff_uuid(body),
        };
        let mut provider = None;
        let result = self.run(fingerprint, suid, decoded, &mut provider).await;
        Served {
            result,
            uuid,
            provider,
        }
    }

    async fn run(
        &self,
        fingerprint: Option<&str>,
        suid: Option<&str>,
        decoded: Result<Request, DecodeError>,
        provider_name: &mut Option<String>,
    ) -> Result<Reply, DomainError> {
        let fingerprint =
            fingerprint.ok_or(DomainError::ProviderNotRecognised("not registered"))?;
        match decoded {
            Ok(request) if request.needs_session() => {
                // Precedence as for every request: the provider, then apiVersion, then the
                // session. The happy path reads session and provider together.
                let version = check_api_version(request.header());
                let found = self
                    .session_for(
                        fingerprint,
                        suid,
                        request.patient_id(),
                        operation::prefetch(&request),
                    )
                    .await;
                let (provider, session) = match found {
                    Ok(found) => found,
                    Err(session_error) => {
                        let provider = self.provider_for(fingerprint).await?;
                        *provider_name = Some(provider.name);
                        version?;
                        return Err(session_error);
                    }
                };
                *provider_name = Some(provider.name.clone());
                version?;
                self.dispatch(&provider, Some(&session), suid, request)
                    .await
            }
            decoded => {
                let provider = self.provider_for(fingerprint).await?;
                *provider_name = Some(provider.name.clone());
                self.dispatch(&provider, None, None, decoded?).await
            }
        }
    }
}

pub(crate) fn check_api_version(header: &Header) -> Result<(), DomainError> {
    match header.api_version.as_deref() {
        None => Ok(()),
        Some(v) if v == API_VERSION => Ok(()),
        Some(_) => Err(DomainError::UnsupportedApiVersion(SUPPORTED_API_VERSIONS)),
    }
}
