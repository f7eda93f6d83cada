//! Testing an app's error handling against openpfs's fault injection: the server is told,
//! through its admin API, to misbehave in a precise way, and the test checks that the client
//! copes as it should.
//!
//! 1. Two `ViewAppointments` in a row answer `9010` (service unavailable): a client with a
//!    retry policy still gets the appointments, and the rule's hit counter shows both
//!    failures happened.
//! 2. A `BookAppointment` is made but its reply is lost (the connection drops after the
//!    booking): the client must not book again blindly (the SDK never retries a write whose
//!    fate is unknown); it looks at the appointments instead, finds the booking, and cancels
//!    it.
//!
//! Run it against a local sandbox, from the root of the repository:
//!
//! ```text
//! pfs serve --demo                                        # in one terminal
//! cargo run -p pfs-client --example fault_handling        # in another
//! ```
//!
//! Environment (all optional): `PFS_ENDPOINT`, `PFS_CREDENTIALS` and `PFS_ACCOUNT` as in the
//! booking example; `PFS_DATA_DIR`, the server's data directory (default `pfs-data`), whose
//! `admin-url` and `admin-token` name the admin API. The rules it adds are removed at the end,
//! also when a step fails.

#[path = "booking.rs"]
#[allow(dead_code)]
pub mod booking;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pfs_client::{Client, Error, LinkRequest, SecretString};

use booking::{Account, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let endpoint =
        std::env::var("PFS_ENDPOINT").unwrap_or_else(|_| "https://localhost:8443/tpp/".into());
    let dir =
        PathBuf::from(std::env::var("PFS_CREDENTIALS").unwrap_or_else(|_| "pfs-data/demo".into()));
    let data = PathBuf::from(std::env::var("PFS_DATA_DIR").unwrap_or_else(|_| "pfs-data".into()));
    let client = booking::client(&endpoint, &dir)?;
    let account = booking::account(&dir, std::env::var("PFS_ACCOUNT").ok().as_deref())?;
    let admin = Admin::from_data_dir(&data)?;
    let seen = check_error_handling(&client, &admin, &account).await?;
    println!(
        "a read survived {} injected 9010s; a booking whose reply was lost was found and cancelled",
        seen.read_failures_survived
    );
    Ok(())
}

/// What the checks saw.
#[derive(Debug)]
pub struct Seen {
    /// How many `9010`s the retried read went through (the rule's hit counter).
    pub read_failures_survived: u64,
    /// Whether the booking whose reply was lost was found among the appointments.
    pub lost_booking_found: bool,
}

/// Runs both checks as `account`; removes the rules it added whatever happens.
pub async fn check_error_handling(
    client: &Client,
    admin: &Admin,
    account: &Account,
) -> Result<Seen, BoxError> {
    let mut rules = Vec::new();
    let result = checks(client, admin, account, &mut rules).await;
    for id in rules {
        admin
            .call("DELETE", &format!("/api/faults/{id}"), None)
            .await?;
    }
    result
}

async fn checks(
    client: &Client,
    admin: &Admin,
    account: &Account,
    rules: &mut Vec<u64>,
) -> Result<Seen, BoxError> {
    let passphrase = client
        .link_account(LinkRequest::register(
            &account.organisation_code,
            &account.last_name,
            account.date_of_birth,
            &account.account_id,
            SecretString::from(account.linkage_key.clone()),
        ))
        .await?
        .passphrase
        .ok_or("LinkAccount gave no passphrase")?;
    let session = client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await?;
    let me = session.reply().online_user_id.clone();

    // 1. The next two ViewAppointments of this patient fail with 9010; the third attempt the
    //    retry policy makes gets through.
    let rule = admin
        .add_rule(serde_json::json!({
            "match": {"messageType": "ViewAppointments", "patientId": me},
            "trigger": {"count": 2},
            "action": {"kind": "error", "errorCode": "9010"},
        }))
        .await?;
    rules.push(rule);
    session.view_appointments(true).await?;
    let hits = admin
        .call("GET", &format!("/api/faults/{rule}"), None)
        .await?["hits"]
        .as_u64()
        .unwrap_or_default();
    if hits != 2 {
        return Err(format!("expected the read to meet 2 injected failures, it met {hits}").into());
    }

    // 2. The next booking is made, but its reply never arrives.
    let rule = admin
        .add_rule(serde_json::json!({
            "match": {"messageType": "BookAppointment", "patientId": me},
            "trigger": {"count": 1},
            "action": {"kind": "drop", "when": "afterHandling"},
        }))
        .await?;
    rules.push(rule);
    let now = chrono::Utc::now().naive_utc();
    let slots = session.list_slots(now, 14).await?;
    let (session_id, slot) = slots
        .sessions
        .iter()
        .flat_map(|s| s.slots.iter().map(move |slot| (&s.session_id, slot)))
        .find(|(_, slot)| slot.start_date >= now + chrono::Duration::hours(3))
        .ok_or("no free slot in the next two weeks")?;
    match session
        .book_appointment(session_id, slot.start_date, slot.end_date, None)
        .await
    {
        // What the app sees: a transport failure, not a PFS answer. Whether the booking was
        // made is unknown, so the app looks before it does anything else.
        Err(Error::Transport(_)) => {}
        other => return Err(format!("expected the reply to be lost, got {other:?}").into()),
    }
    let booked = session.view_appointments(true).await?;
    let found = booked
        .appointments
        .iter()
        .find(|a| a.start_date == slot.start_date);
    let lost_booking_found = found.is_some();
    if let Some(appointment) = found {
        session.cancel_appointment(&appointment.appt_id).await?;
    }
    session.logoff().await?;
    Ok(Seen {
        read_failures_survived: hits,
        lost_booking_found,
    })
}

/// The admin API of an openpfs sandbox (plain HTTP on the loopback, a bearer token).
pub struct Admin {
    base: String,
    token: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

impl Admin {
    /// The admin API named by `data/admin-url`, with the token in `data/admin-token`.
    pub fn from_data_dir(data: &Path) -> Result<Admin, BoxError> {
        let read = |name: &str| {
            std::fs::read_to_string(data.join(name))
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("{}: {e}", data.join(name).display()))
        };
        Ok(Admin {
            base: read("admin-url")?,
            token: read("admin-token")?,
            http: HttpClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// Adds a fault rule; its id.
    pub async fn add_rule(&self, rule: serde_json::Value) -> Result<u64, BoxError> {
        let added = self.call("POST", "/api/faults", Some(rule)).await?;
        added["id"]
            .as_u64()
            .ok_or_else(|| format!("the admin API answered {added}").into())
    }

    /// One call; the JSON answer (`null` for none), or an error naming the status.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, BoxError> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))?;
        let response = self.http.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            )
            .into());
        }
        Ok(if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        })
    }
}
