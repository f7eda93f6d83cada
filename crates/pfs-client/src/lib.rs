//! A typed Rust SDK for PFS endpoints: XML messages POSTed over mutual TLS.
//!
//! Build a [`Client`] once (it pools keep-alive HTTP/1.1 connections and is cheap to clone),
//! link an account with [`Client::link_account`] if needed, open a [`Session`] with
//! [`Client::authenticate`], make calls inside it and end it with [`Session::logoff`]. Every
//! request of the API has a typed method, and every reply a type; [`Session::request`] and
//! [`Client::raw`] send anything else.
//!
//! Replies are read the way the real client reads them: a body matching `errorCode\s?=`
//! anywhere is a PFS `Error` ([`Error::Pfs`], whose [`code`](Error::code) is the `errorCode`;
//! the codes each method can answer are listed in docs/error-codes.md), otherwise the expected
//! reply root element is required.
//!
//! # A whole session
//!
//! ```no_run
//! use std::time::Duration;
//! use pfs_client::{Application, Client, LinkRequest, RetryPolicy, SecretString};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder("https://localhost:8443/tpp/")
//!     .identity_pem(&std::fs::read("client.pem")?, &std::fs::read("client-key.pem")?)
//!     .ca_pem(&std::fs::read("ca.pem")?)
//!     .application(Application {
//!         name: "ExampleApp".into(),
//!         version: "2.3".into(),
//!         provider_id: "a1b2c3d4e5f60718".into(),
//!         device_type: "ExampleApp".into(),
//!     })
//!     .timeout(Duration::from_secs(20))
//!     .retry(RetryPolicy::default())
//!     .build()?;
//!
//! // Once per patient and app: the practice's account id and linkage key give a passphrase
//! // to store (with the account id) for later sessions.
//! let date_of_birth = chrono::NaiveDate::from_ymd_opt(1980, 2, 14).ok_or("date")?;
//! let linkage_key = SecretString::from(std::env::var("LINKAGE_KEY")?);
//! let linked = client
//!     .link_account(LinkRequest::register("Y99001", "Example", date_of_birth, "400123987", linkage_key))
//!     .await?;
//! let passphrase = linked.passphrase.ok_or("no passphrase")?;
//!
//! let session = client.authenticate("Y99001", "400123987", &passphrase).await?;
//! for service in session.list_service_accesses().await?.services {
//!     println!("{}: {}", service.description, service.status);
//! }
//! match session.select_patient("9000002").await {
//!     Ok(reply) => println!("now acting for {}", reply.person.name),
//!     Err(e) if e.code() == Some("6") => println!("no access to that patient"),
//!     Err(e) => return Err(e.into()),
//! }
//! let upcoming = session
//!     .with_timeout(Duration::from_secs(5))
//!     .view_appointments(true)
//!     .await?;
//! println!("{} upcoming appointments", upcoming.appointments.len());
//! session.logoff().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Retries
//!
//! A client retries nothing unless it is given a [`RetryPolicy`]
//! ([`ClientBuilder::retry`], or per call [`Client::with_retry`] and [`Session::with_retry`]).
//! With one, what is retried depends on what the request does, its [`Effect`], declared for
//! every message in one table in `pfs_wire` ([`pfs_wire::Request::type_effect`]):
//!
//! | Failure | [`Effect::Read`], [`Effect::Idempotent`] | [`Effect::Write`] |
//! |---|---|---|
//! | connecting or the TLS handshake failed ([`Error::Transport`] before a byte was sent) | retried | retried |
//! | `9008`: rate limited, busy, or the provider's in-flight cap (refused before processing) | retried | retried |
//! | [`Error::Timeout`], or the connection broke after the request was sent | retried | **not retried** |
//! | `9010` (database unavailable or an internal fault), HTTP 502, 503, 504 | retried | **not retried** |
//! | any other PFS error, HTTP status or reply | not retried | not retried |
//!
//! A write is thus never sent twice unless the first copy certainly was not processed: no
//! appointment is booked twice, no medication ordered twice, no message sent twice. Waits
//! between attempts grow exponentially with jitter; a `9008` that says "retry after N seconds"
//! waits at least that long, or is returned at once when N is beyond the policy's
//! `max_delay`. [`Client::raw`] is never retried.
//!
//! # Timeouts
//!
//! Each attempt of a call (connect, send, read the whole reply) is bounded by the client's
//! timeout ([`ClientBuilder::timeout`], default [`DEFAULT_TIMEOUT`]); [`Client::with_timeout`]
//! and [`Session::with_timeout`] set another for some calls. Opening the TCP connection is also
//! bounded by [`ClientBuilder::connect_timeout`].
//!
//! # Tracing
//!
//! Every call is one `tracing` span named `pfs.call` at `INFO` level, with the fields
//! `message_type` (a request name of the API, or `other` for a [`Client::raw`] call of any
//! other type), `effect` (`read`, `idempotent`, `write`), `attempts`, `outcome` (`ok`, or the
//! [`Error::kind`] of the failure), `code` (the PFS `errorCode`, on `pfs` failures), `status`
//! (the last HTTP status) and `elapsed_ms`. Inside it, `DEBUG` events report each exchange
//! (with the request's `uuid`) and each retry. Nothing logged carries a body, the `suid`, a
//! passphrase, a linkage key, an account id or a patient id.
//!
//! # Examples
//!
//! `examples/booking.rs` (link, log on, list slots, book, view, cancel, log off) and
//! `examples/medication_order.rs` (list repeats, order, history, cancel) run against
//! `pfs serve --demo`: `cargo run -p pfs-client --example booking` from the repository root.

mod account_info;
mod appointments;
mod builder;
mod client;
mod demographics;
mod error;
mod link;
mod medication;
mod messaging;
mod pharmacy;
mod record;
mod retry;
mod session;

pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use client::{Client, Exchange, MAX_REPLY_BYTES, RawResponse, is_error_body};
pub use demographics::DemographicsUpdate;
pub use error::{Error, Result};
pub use link::LinkRequest;
pub use messaging::{NewMessage, file_name_and_type};
pub use pharmacy::PharmacySearch;
pub use record::BinaryFile;
pub use retry::RetryPolicy;
pub use session::Session;

/// The message types and codec this SDK speaks, re-exported for convenience.
pub use pfs_wire;
pub use pfs_wire::{Application, Effect};
/// Secret strings for passphrases and session ids, re-exported for convenience.
pub use secrecy::{self, ExposeSecret, SecretString};
