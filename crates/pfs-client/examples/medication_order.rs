//! A medication order: link an account, log on, list the repeat medication, order a course,
//! find the order in the request history, cancel it and log off.
//!
//! Run it against a local sandbox, from the root of the repository:
//!
//! ```text
//! pfs serve --demo                                   # in one terminal
//! cargo run -p pfs-client --example medication_order # in another
//! ```
//!
//! Environment (all optional):
//!
//! * `PFS_ENDPOINT`: the PFS endpoint, default `https://localhost:8443/tpp/`.
//! * `PFS_CREDENTIALS`: the directory of the provider's credentials, default `pfs-data/demo/`
//!   (`ca.pem`, `client.pem`, `client-key.pem`, `provider-id`, `accounts.json`), which
//!   `pfs serve --demo` writes.
//! * `PFS_ACCOUNT`: which account of `accounts.json`, by last name or account id; default the
//!   first.
//!
//! The account is linked on every run (linking again gives a new passphrase); a real app links
//! once and stores the account id and passphrase.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use pfs_client::pfs_wire::RequestStatus;
use pfs_client::{Application, Client, LinkRequest, RetryPolicy, SecretString};

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let endpoint =
        std::env::var("PFS_ENDPOINT").unwrap_or_else(|_| "https://localhost:8443/tpp/".into());
    let dir =
        PathBuf::from(std::env::var("PFS_CREDENTIALS").unwrap_or_else(|_| "pfs-data/demo".into()));
    let client = client(&endpoint, &dir)?;
    let account = account(&dir, std::env::var("PFS_ACCOUNT").ok().as_deref())?;
    let order = order_and_cancel(&client, &account).await?;
    println!(
        "ordered and cancelled {} (request {})",
        order.drug, order.request_id
    );
    Ok(())
}

/// A client of the provider whose credentials are in `dir`, retrying what is safe to retry.
pub fn client(endpoint: &str, dir: &Path) -> Result<Client, BoxError> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let provider_id = String::from_utf8(read("provider-id")?)?.trim().to_owned();
    let client = Client::builder(endpoint)
        .identity_pem(&read("client.pem")?, &read("client-key.pem")?)
        .ca_pem(&read("ca.pem")?)
        .application(Application {
            name: "MedicationExample".into(),
            version: "1.0".into(),
            provider_id,
            device_type: "MedicationExample".into(),
        })
        .timeout(Duration::from_secs(20))
        // Reads are retried after transient failures, writes only when they were certainly
        // not processed: a booking is never made twice by a retry.
        .retry(RetryPolicy::default())
        .build()?;
    Ok(client)
}

/// One entry of `accounts.json`: what the practice gave the patient to link their account.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The online account id.
    pub account_id: String,
    /// The linkage key (secret).
    pub linkage_key: String,
    /// The patient's last name.
    pub last_name: String,
    /// The patient's date of birth.
    pub date_of_birth: NaiveDate,
    /// The practice's ODS code.
    pub organisation_code: String,
}

/// The account of `dir/accounts.json` with this last name or account id, or the first.
pub fn account(dir: &Path, which: Option<&str>) -> Result<Account, BoxError> {
    let path = dir.join("accounts.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let accounts: Vec<Account> = serde_json::from_str(&text)?;
    accounts
        .into_iter()
        .find(|a| which.is_none_or(|w| a.last_name == w || a.account_id == w))
        .ok_or_else(|| format!("no such account in {}", path.display()).into())
}

/// The order that was placed and cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The request's id.
    pub request_id: String,
    /// The drug ordered.
    pub drug: String,
}

/// Links `account`, orders the first orderable repeat course, finds the order in the history,
/// cancels it and logs off.
pub async fn order_and_cancel(client: &Client, account: &Account) -> Result<Order, BoxError> {
    // 1. Link and log on.
    let linked = client
        .link_account(LinkRequest::register(
            &account.organisation_code,
            &account.last_name,
            account.date_of_birth,
            &account.account_id,
            SecretString::from(account.linkage_key.clone()),
        ))
        .await?;
    let passphrase = linked.passphrase.ok_or("LinkAccount gave no passphrase")?;
    let session = client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await?;

    // 2. The repeat courses. Fetching the list is what allows this session to order (9013).
    let repeats = session.list_repeat_medication().await?;
    for m in &repeats.medications {
        let orderable = if m.requestable.0 {
            ""
        } else {
            " (not orderable online)"
        };
        println!("{}: {}{orderable}", m.drug, m.details);
    }
    let course = repeats
        .medications
        .iter()
        .find(|m| m.requestable.0)
        .ok_or("no repeat course can be ordered online")?;

    // 3. Order it. All or nothing; 9014: the list changed since it was fetched (fetch again),
    //    9017: already requested and waiting for the practice.
    let ordered = session
        .request_medication(
            &[(course.drug_id.as_str(), course.course_type)],
            Some("Example order"),
        )
        .await?;
    let request_id = ordered.request_id.ok_or("the reply names no request")?;
    if let Some(message) = &ordered.message {
        println!("the practice says: {message}");
    }

    // 4. The history, newest first: the order is there, waiting for the practice.
    let history = session.get_prescription_requests(None, None).await?;
    let request = history
        .requests
        .iter()
        .find(|r| r.request_id == request_id)
        .ok_or("the order is not in the history")?;
    println!(
        "ordered at {}, status {}",
        request.date_requested,
        request.status.as_str()
    );
    if request.status != RequestStatus::Requested {
        return Err("the order is not waiting for the practice".into());
    }

    // 5. Cancel it while the practice has not dealt with it (9020 once it has).
    session.cancel_prescription_request(&request_id).await?;
    let history = session.get_prescription_requests(None, None).await?;
    let cancelled = history
        .requests
        .iter()
        .any(|r| r.request_id == request_id && r.status == RequestStatus::Cancelled);
    if !cancelled {
        return Err("the order was not cancelled".into());
    }
    println!("cancelled");

    // 6. Log off.
    session.logoff().await?;
    Ok(Order {
        request_id,
        drug: course.drug.clone(),
    })
}
