//! `pfs login`, `pfs select` and `pfs logoff`: a session kept in a profile for `pfs call`.
//!
//! Nothing here prints a session id, a passphrase or a linkage key: they go to the profile
//! file (mode 0600) and to the server, nowhere else.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use pfs_client::{Client, LinkRequest, SecretString};
use pfs_wire::codes::{NOT_AUTHENTICATED, PROBLEM_LOGGING_ON};
use pfs_wire::{Header, Logoff, PatientScope, PatientSelected, WireMessage};

use crate::accounts::{self, TestAccount};
use crate::call::{Connection, login_command};
use crate::output::{self, Reported};
use crate::profile::{self, Link, Patient, Profile, ProfileArg, SavedSession};

/// Options of `pfs login`.
#[derive(clap::Args)]
pub struct LoginArgs {
    /// A demo account, by account id or last name, from CREDENTIALS/accounts.json: linked if
    /// the profile holds no linkage for it, then authenticated.
    #[arg(long, value_name = "ID", conflicts_with = "account_id")]
    account: Option<String>,
    /// An online account id at another endpoint (with --ods-code). Its passphrase comes from
    /// --passphrase-file or PFS_PASSPHRASE; to link it instead, give the linkage key in
    /// --linkage-key-file or PFS_LINKAGE_KEY, with --last-name and --date-of-birth.
    #[arg(long, value_name = "ID", requires = "ods_code")]
    account_id: Option<String>,
    /// The ODS code of the practice of --account-id.
    #[arg(long, value_name = "ODS", requires = "account_id")]
    ods_code: Option<String>,
    /// A file holding the account's passphrase (what LinkAccount returned).
    #[arg(long, value_name = "PATH", requires = "account_id")]
    passphrase_file: Option<PathBuf>,
    /// A file holding the linkage key the practice issued, to link the account first.
    #[arg(long, value_name = "PATH", requires_all = ["account_id", "last_name", "date_of_birth"])]
    linkage_key_file: Option<PathBuf>,
    /// The patient's last name, to link --account-id.
    #[arg(long, value_name = "NAME", requires = "account_id")]
    last_name: Option<String>,
    /// The patient's date of birth (YYYY-MM-DD), to link --account-id.
    #[arg(long, value_name = "DATE", requires = "account_id")]
    date_of_birth: Option<NaiveDate>,
    /// Link again, even when the profile holds a linkage for the account.
    #[arg(long)]
    relink: bool,
    #[command(flatten)]
    profile: ProfileArg,
    #[command(flatten)]
    conn: Connection,
}

/// Options of `pfs select`.
#[derive(clap::Args)]
pub struct SelectArgs {
    /// The patient to act for: a patient id, the number `pfs login` listed it under, or (a
    /// unique part of) the name.
    patient: String,
    #[command(flatten)]
    profile: ProfileArg,
}

/// Options of `pfs logoff`.
#[derive(clap::Args)]
pub struct LogoffArgs {
    #[command(flatten)]
    profile: ProfileArg,
}

/// How to link an account that the profile holds no linkage for.
struct Linking {
    last_name: String,
    date_of_birth: NaiveDate,
    linkage_key: SecretString,
}

pub async fn login(a: LoginArgs) -> Result<()> {
    let name = a.profile.name()?.to_owned();
    let mut profile = profile::load(&name)?.unwrap_or_default();
    let conn = a.conn.or_saved(&profile.connection);
    let client = conn.client()?;

    // Which account, and what can link it.
    let (account_id, ods, linking, passphrase) = if let Some(wanted) = &a.account {
        let d = demo_account(&conn, wanted)?;
        let linking = Linking {
            last_name: d.last_name,
            date_of_birth: d.date_of_birth,
            linkage_key: SecretString::from(d.linkage_key),
        };
        (d.account_id, d.organisation_code, Some(linking), None)
    } else if let (Some(id), Some(ods)) = (&a.account_id, &a.ods_code) {
        let passphrase = secret("PFS_PASSPHRASE", &a.passphrase_file)?;
        let linkage_key = secret("PFS_LINKAGE_KEY", &a.linkage_key_file)?;
        let linking = match (linkage_key, &a.last_name, a.date_of_birth) {
            (Some(key), Some(last), Some(dob)) => Some(Linking {
                last_name: last.clone(),
                date_of_birth: dob,
                linkage_key: key,
            }),
            (Some(_), _, _) => {
                bail!("linking needs --last-name and --date-of-birth with the linkage key")
            }
            _ => None,
        };
        (id.clone(), ods.clone(), linking, passphrase)
    } else if let Some(link) = &profile.link {
        (link.account_id.clone(), link.ods_code.clone(), None, None)
    } else {
        bail!(
            "profile `{name}` holds no account: `pfs login --account ID` with a demo account \
             (CREDENTIALS/accounts.json), or --account-id and --ods-code (see `pfs login --help`)"
        );
    };

    profile.connection = conn.to_saved()?;
    // A new login replaces the profile's session.
    if let Some(old) = profile.session.take() {
        let _ = client.raw("Logoff", Some(&old.suid), logoff_body()).await;
    }
    let stored = profile
        .link
        .as_ref()
        .filter(|l| !a.relink && l.account_id == account_id && l.ods_code == ods)
        .map(|l| SecretString::from(l.passphrase.clone()));
    let mut reused = false;
    let passphrase = match (passphrase, stored, &linking) {
        (Some(p), _, _) => p,
        (None, Some(p), _) => {
            reused = true;
            p
        }
        (None, None, Some(l)) => link(&client, &mut profile, &name, &account_id, &ods, l).await?,
        (None, None, None) => bail!(
            "profile `{name}` holds no linkage for account {account_id}: give its passphrase \
             (--passphrase-file or PFS_PASSPHRASE) or its linkage key (--linkage-key-file or \
             PFS_LINKAGE_KEY, with --last-name and --date-of-birth)"
        ),
    };
    profile.link = Some(Link {
        account_id: account_id.clone(),
        ods_code: ods.clone(),
        passphrase: secrecy::ExposeSecret::expose_secret(&passphrase).to_owned(),
    });
    profile::save(&name, &profile)?;

    let session = match client.authenticate(&ods, &account_id, &passphrase).await {
        Ok(s) => s,
        Err(e) if reused && e.code() == Some(PROBLEM_LOGGING_ON.code) && linking.is_some() => {
            // The server no longer accepts the stored linkage (a reset sandbox, an unlinked
            // application): link again once.
            println!("The stored linkage was refused; linking again.");
            let l = linking.as_ref().context("linking details")?;
            let passphrase = link(&client, &mut profile, &name, &account_id, &ods, l).await?;
            client
                .authenticate(&ods, &account_id, &passphrase)
                .await
                .map_err(|e| reported(&e, None))?
        }
        Err(e) => {
            let hint = (e.code() == Some(PROBLEM_LOGGING_ON.code)).then_some(
                "the account, its passphrase or this provider's linkage was refused; \
                 `pfs login --relink …` links it again",
            );
            return Err(reported(&e, hint));
        }
    };
    let reply = session.reply().clone();
    let unit_id = session.ods().to_owned();
    let suid = secrecy::ExposeSecret::expose_secret(&session.detach()).to_owned();
    let own_id = reply
        .patient_id
        .clone()
        .unwrap_or_else(|| reply.user.patient_id.clone());
    let mut patients = vec![Patient {
        patient_id: reply.user.patient_id.clone(),
        name: reply.user.name.clone(),
    }];
    for p in &reply.people {
        if !patients.iter().any(|q| q.patient_id == p.patient_id) {
            patients.push(Patient {
                patient_id: p.patient_id.clone(),
                name: p.name.clone(),
            });
        }
    }
    let saved = SavedSession {
        suid,
        unit_id: unit_id.clone(),
        account_id: account_id.clone(),
        online_user_id: reply.online_user_id.clone(),
        patient_id: own_id.clone(),
        selected_patient_id: own_id.clone(),
        patients,
    };
    let path = profile::save(
        &name,
        &Profile {
            session: Some(saved.clone()),
            ..profile
        },
    )?;

    println!(
        "Logged in as {}, account {account_id} at {unit_id}.",
        saved.name_of(&own_id)
    );
    println!("Profile `{name}`: {}", path.display());
    println!("Patients this session may act for:");
    for (i, p) in saved.patients.iter().enumerate() {
        let mark = if p.patient_id == saved.selected_patient_id {
            "  (selected)"
        } else {
            ""
        };
        println!("  {}. {}  patient {}{mark}", i + 1, p.name, p.patient_id);
    }
    if saved.patients.len() > 1 {
        println!("`{}` acts for another.", select_command(&name, "2"));
    }
    Ok(())
}

/// Links the account and keeps the linkage in the profile at once, so that a failing
/// `Authenticate` does not lose it.
async fn link(
    client: &Client,
    profile: &mut Profile,
    name: &str,
    account_id: &str,
    ods: &str,
    l: &Linking,
) -> Result<SecretString> {
    let request = LinkRequest::register(
        ods,
        &l.last_name,
        l.date_of_birth,
        account_id,
        l.linkage_key.clone(),
    );
    let reply = client
        .link_account(request)
        .await
        .map_err(|e| reported(&e, None))?;
    let passphrase = reply
        .passphrase
        .context("the LinkAccountReply holds no passphrase")?;
    profile.link = Some(Link {
        account_id: account_id.to_owned(),
        ods_code: ods.to_owned(),
        passphrase: secrecy::ExposeSecret::expose_secret(&passphrase).to_owned(),
    });
    profile::save(name, profile)?;
    println!("Linked account {account_id} at {ods} to this provider.");
    Ok(passphrase)
}

/// The demo account `wanted` names: by account id, else by last name (which must be unique).
fn demo_account(conn: &Connection, wanted: &str) -> Result<TestAccount> {
    let path = conn.credentials_dir().join("accounts.json");
    let mut accounts =
        accounts::read(&path).context("the demo accounts (--credentials names their directory)")?;
    if let Some(i) = accounts.iter().position(|d| d.account_id == wanted) {
        return Ok(accounts.swap_remove(i));
    }
    let mut named: Vec<usize> = accounts
        .iter()
        .enumerate()
        .filter(|(_, d)| d.last_name.eq_ignore_ascii_case(wanted))
        .map(|(i, _)| i)
        .collect();
    match named.len() {
        1 => Ok(accounts.swap_remove(named.remove(0))),
        0 => bail!(
            "no demo account in {} has the account id or last name `{wanted}`",
            path.display()
        ),
        _ => bail!("several demo accounts have the last name `{wanted}`: give the account id"),
    }
}

/// A secret from the environment variable `var` or from `file` (its first line).
fn secret(var: &str, file: &Option<PathBuf>) -> Result<Option<SecretString>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let line = text.lines().next().unwrap_or_default().trim();
        if line.is_empty() {
            bail!("{} is empty", path.display());
        }
        return Ok(Some(SecretString::from(line.to_owned())));
    }
    Ok(std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from))
}

pub async fn select(a: SelectArgs) -> Result<()> {
    let name = a.profile.name()?.to_owned();
    let (mut profile, session) = with_session(&name)?;
    let patient = pick(&session, &a.patient)?;
    let body = PatientSelected {
        header: Header::new(Some(session.unit_id.clone())),
        scope: PatientScope {
            patient_id: patient.clone(),
            online_user_id: session.online_user_id.clone(),
        },
    }
    .encode();
    let client = Connection::default()
        .or_saved(&profile.connection)
        .client()?;
    let reply = client
        .raw("PatientSelected", Some(&session.suid), body)
        .await?;
    if let Err(refusal) = output::refusal(&reply) {
        if refusal.code.as_deref() == Some(NOT_AUTHENTICATED.code) {
            ended(&name, &mut profile)?;
        }
        return Err(Reported.into());
    }
    let updated = SavedSession {
        selected_patient_id: patient.clone(),
        ..session
    };
    println!("Acting for {}.", updated.name_of(&patient));
    profile.session = Some(updated);
    profile::save(&name, &profile)?;
    Ok(())
}

/// The patient id `wanted` names among the session's patients.
fn pick(session: &SavedSession, wanted: &str) -> Result<String> {
    let patients = &session.patients;
    if patients.iter().any(|p| p.patient_id == wanted) {
        return Ok(wanted.to_owned());
    }
    if let Ok(n) = wanted.parse::<usize>()
        && let Some(p) = n.checked_sub(1).and_then(|i| patients.get(i))
    {
        return Ok(p.patient_id.clone());
    }
    let lower = wanted.to_lowercase();
    let named: Vec<&Patient> = patients
        .iter()
        .filter(|p| !lower.is_empty() && p.name.to_lowercase().contains(&lower))
        .collect();
    match named.as_slice() {
        [one] => Ok(one.patient_id.clone()),
        // Not one `pfs login` listed (a proxy granted since): the server judges it.
        [] => Ok(wanted.to_owned()),
        _ => bail!("`{wanted}` names several patients: give the patient id or number"),
    }
}

pub async fn logoff(a: LogoffArgs) -> Result<()> {
    let name = a.profile.name()?.to_owned();
    let Some(mut profile) = profile::load(&name)? else {
        bail!("there is no profile `{name}`");
    };
    let Some(session) = profile.session.take() else {
        println!("Profile `{name}` has no session.");
        return Ok(());
    };
    // The session is forgotten whatever the server answers; the linkage stays.
    profile::save(&name, &profile)?;
    let client = Connection::default()
        .or_saved(&profile.connection)
        .client()?;
    let reply = client
        .raw("Logoff", Some(&session.suid), logoff_body())
        .await?;
    match output::refusal(&reply) {
        Ok(()) => {
            println!("Logged off; profile `{name}` keeps the linkage for the next `pfs login`.");
            Ok(())
        }
        Err(r) if r.code.as_deref() == Some(NOT_AUTHENTICATED.code) => {
            println!("The session had ended already; profile `{name}` has no session now.");
            Ok(())
        }
        Err(_) => Err(Reported.into()),
    }
}

fn logoff_body() -> String {
    Logoff {
        header: Header::new(None),
    }
    .encode()
}

/// The profile `name` and its session, or an error saying how to open one.
fn with_session(name: &str) -> Result<(Profile, SavedSession)> {
    let Some(profile) = profile::load(name)? else {
        bail!(
            "there is no profile `{name}`: run `{}` first",
            login_command(name)
        );
    };
    match profile.session.clone() {
        Some(s) => Ok((profile, s)),
        None => bail!(
            "profile `{name}` has no session: run `{}` first",
            login_command(name)
        ),
    }
}

/// Forgets a session the server has ended, and says what to do.
fn ended(name: &str, profile: &mut Profile) -> Result<()> {
    profile.session = None;
    profile::save(name, profile)?;
    eprintln!(
        "The session of profile `{name}` has ended (it expired, or was logged off elsewhere): \
         run `{}` to open a new one.",
        login_command(name)
    );
    Ok(())
}

fn select_command(name: &str, patient: &str) -> String {
    if name == profile::DEFAULT_PROFILE {
        format!("pfs select {patient}")
    } else {
        format!("pfs select --profile {name} {patient}")
    }
}

/// Shows a client error as `pfs call` shows an `Error` reply, with a hint; the result makes
/// `main` exit with status 1.
fn reported(e: &pfs_client::Error, hint: Option<&str>) -> anyhow::Error {
    output::client_error(e);
    if let Some(hint) = hint {
        eprintln!("{hint}");
    }
    Reported.into()
}
