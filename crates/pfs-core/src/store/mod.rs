//! The storage interface every backend implements (SQLite embedded, PostgreSQL).
//!
//! One trait per feature area, in `store/<area>.rs`; [`Store`] is all of them together and has
//! no method of its own, so a backend implements each area in a file of its own and the rest of
//! the code keeps holding an `Arc<dyn Store>`. Methods are small and named for what the domain
//! needs; the rules live in pfs-core, never in a backend. Every backend must pass the shared
//! suite in pfs-store.

use async_trait::async_trait;

mod access_log;
mod account;
mod account_info;
mod appointment;
mod binary_data;
mod demographics;
mod fault;
mod medication;
mod messaging;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod service;
mod session;

pub use access_log::AccessLogStore;
pub use account::AccountStore;
pub use account_info::AccountInfoStore;
pub use appointment::AppointmentStore;
pub use binary_data::BinaryDataStore;
pub use demographics::DemographicsStore;
pub use fault::FaultStore;
pub use medication::MedicationStore;
pub use messaging::MessagingStore;
pub use namespace::{NamespaceRecord, NamespaceStore};
pub use patient::PatientStore;
pub use pharmacy::PharmacyStore;
pub use practice::PracticeStore;
pub use provider::ProviderStore;
pub use proxy::ProxyStore;
pub use record::RecordStore;
pub use sandbox::{SandboxStore, SnapshotInfo};
pub use service::ServiceStore;
pub use session::SessionStore;

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

/// Whether the database answers; for `/health` and start-up checks.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
}

/// Declares [`Store`] as the union of the area traits, and implements it for every type that
/// implements them all: the list of areas is written once.
macro_rules! store_of_areas {
    ($($area:ident),+ $(,)?) => {
        /// Persistent state of openpfs: every area's store. Implemented for any type that
        /// implements them all.
        pub trait Store: $($area +)+ 'static {}

        impl<T> Store for T where T: $($area +)+ 'static {}
    };
}

store_of_areas!(
    HealthStore,
    ProviderStore,
    PracticeStore,
    PatientStore,
    AccountStore,
    ProxyStore,
    ServiceStore,
    SessionStore,
    AppointmentStore,
    MedicationStore,
    DemographicsStore,
    PharmacyStore,
    AccountInfoStore,
    AccessLogStore,
    MessagingStore,
    BinaryDataStore,
    RecordStore,
    SandboxStore,
    NamespaceStore,
    FaultStore,
);
