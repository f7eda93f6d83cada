//! A typed Rust SDK for PFS endpoints: XML messages POSTed over mutual TLS.
//!
//! Build a [`Client`] once (it pools keep-alive HTTP/1.1 connections and is cheap to clone),
//! link an account with [`Client::link_account`] if needed, open a [`Session`] with
//! [`Client::authenticate`], make calls inside it and end it with [`Session::logoff`].
//!
//! Replies are read the way the real client reads them: a body matching `errorCode\s?=`
//! anywhere is a PFS `Error` ([`Error::Pfs`]), otherwise the expected reply root element is
//! required. [`Client::raw`] sends hand-written XML and returns the reply uninterpreted.
//!
//! ```no_run
//! use pfs_client::{Application, Client, SecretString};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder("https://127.0.0.1:8443/tpp/")
//!     .identity_pem(&std::fs::read("client.crt")?, &std::fs::read("client.key")?)
//!     .ca_pem(&std::fs::read("ca.crt")?)
//!     .application(Application {
//!         name: "ExampleApp".into(),
//!         version: "2.3".into(),
//!         provider_id: "a1b2c3d4e5f60718".into(),
//!         device_type: "ExampleApp".into(),
//!     })
//!     .build()?;
//!
//! let passphrase = SecretString::from(std::env::var("PFS_PASSPHRASE")?);
//! let session = client.authenticate("X12345", "400123987", &passphrase).await?;
//! for service in session.list_service_accesses().await?.services {
//!     println!("{}: {}", service.description, service.status);
//! }
//! match session.select_patient("9000002").await {
//!     Ok(reply) => println!("now acting for {}", reply.person.name),
//!     Err(e) if e.code() == Some("6") => println!("no access to that patient"),
//!     Err(e) => return Err(e.into()),
//! }
//! session.logoff().await?;
//! # Ok(())
//! # }
//! ```

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
pub use client::{Client, MAX_REPLY_BYTES, RawResponse, is_error_body};
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
