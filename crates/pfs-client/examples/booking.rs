//! A complete booking: link an account, log on, list free slots, book one, see it among the
//! patient's appointments, cancel it and log off.
//!
//! Run it against a local sandbox, from the root of the repository:
//!
//! ```text
//! pfs serve --demo                                   # in one terminal
//! cargo run -p pfs-client --example booking          # in another
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

use chrono::{NaiveDate, NaiveDateTime};
use pfs_client::{Application, Client, LinkRequest, RetryPolicy, SecretString};

pub type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let endpoint =
        std::env::var("PFS_ENDPOINT").unwrap_or_else(|_| "https://localhost:8443/tpp/".into());
    let dir =
        PathBuf::from(std::env::var("PFS_CREDENTIALS").unwrap_or_else(|_| "pfs-data/demo".into()));
    let client = client(&endpoint, &dir)?;
    let account = account(&dir, std::env::var("PFS_ACCOUNT").ok().as_deref())?;
    let booked = book_and_cancel(&client, &account).await?;
    println!(
        "booked and cancelled {} to {}",
        booked.start_date, booked.end_date
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
            name: "BookingExample".into(),
            version: "1.0".into(),
            provider_id,
            device_type: "BookingExample".into(),
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

/// The slot that was booked and cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    /// When it starts (UK wall-clock time).
    pub start_date: NaiveDateTime,
    /// When it ends.
    pub end_date: NaiveDateTime,
}

/// Links `account`, books the first free slot at least three hours ahead, checks that it is
/// listed, cancels it and logs off.
pub async fn book_and_cancel(client: &Client, account: &Account) -> Result<Booked, BoxError> {
    // 1. Link: the account id and linkage key from the practice give a long-term passphrase.
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

    // 2. Log on.
    let session = client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await?;
    println!("logged on as {}", session.reply().user.name);

    // 3. Free slots for the next two weeks. Times are UK wall-clock times; a start in the past
    //    is read as "now", so UTC (never later than UK time) is a safe "now" to send.
    let now = chrono::Utc::now().naive_utc();
    let slots = session.list_slots(now, 14).await?;
    let earliest = now + chrono::Duration::hours(3);
    let (session_id, slot) = slots
        .sessions
        .iter()
        .flat_map(|s| s.slots.iter().map(move |slot| (&s.session_id, slot)))
        .filter(|(_, slot)| slot.start_date >= earliest)
        .min_by_key(|(_, slot)| slot.start_date)
        .ok_or("no free slot in the next two weeks")?;
    println!(
        "{} sessions offered; booking {} ({})",
        slots.sessions.len(),
        slot.start_date,
        slot.slot_type
    );

    // 4. Book it, exactly as listed. 1103: someone else was quicker; list again.
    match session
        .book_appointment(
            session_id,
            slot.start_date,
            slot.end_date,
            Some("Example booking"),
        )
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("1103") => return Err("the slot was taken; list again".into()),
        Err(e) => return Err(e.into()),
    }

    // 5. The appointment is among the upcoming ones.
    let upcoming = session.view_appointments(true).await?;
    let appointment = upcoming
        .appointments
        .iter()
        .find(|a| a.start_date == slot.start_date)
        .ok_or("the booking is not listed")?;
    println!(
        "booked: {} at {}",
        appointment.details, appointment.site_name
    );

    // 6. Cancel it. 40: within the practice's cut-off; 9012: already cancelled.
    session.cancel_appointment(&appointment.appt_id).await?;
    println!("cancelled");

    // 7. Log off.
    session.logoff().await?;
    Ok(Booked {
        start_date: slot.start_date,
        end_date: slot.end_date,
    })
}
