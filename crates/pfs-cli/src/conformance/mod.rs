//! `pfs conformance`: scenario suites run against any PFS endpoint, reported for people and as
//! JUnit XML.
//!
//! A scenario is an async function over a [`Ctx`] that returns `Ok` (pass), an error (fail,
//! with what was expected and what came back) or a [`Skip`] (with the reason: typically a
//! practice-side set-up that only openpfs's admin API can do). Scenarios run one after the
//! other, in the order of [`scenarios::ALL`], each with sessions of its own.

mod scenarios;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfs_client::{Client, LinkRequest, SecretString, Session};
use tokio::sync::Mutex;

use crate::accounts::{self, TestAccount};
use crate::admin::Api;
use crate::call::Connection;

/// Options of `pfs conformance`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: Connection,
    /// The test accounts (`accounts.json` form: accountId, linkageKey, lastName, dateOfBirth,
    /// organisationCode, proxyFor); default CREDENTIALS/accounts.json.
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// The target's admin API, when it is openpfs: scenarios that need practice-side set-up
    /// (moving the clock) use it, and are skipped without it. Default, for a target on this
    /// machine (localhost, 127.0.0.1, ::1) only: DATA_DIR/admin-url if that file exists.
    #[arg(long, env = "PFS_ADMIN_URL")]
    admin_url: Option<String>,
    /// The admin API's token; default DATA_DIR/admin-token.
    #[arg(long, env = "PFS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The openpfs data directory the admin defaults are read from.
    #[arg(long, env = "PFS_DATA_DIR", default_value = "pfs-data")]
    data_dir: PathBuf,
    /// Also write the results as JUnit XML to this file (for CI systems).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run only the scenarios whose name contains one of these (repeatable).
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Leave out the scenarios whose name contains one of these (repeatable). Suites running
    /// side by side in namespaces of one server leave out `idle-expiry`: it moves the
    /// server's clock, which every namespace shares.
    #[arg(long, value_name = "TEXT")]
    skip: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// What every scenario gets: a client of the endpoint, the test accounts, the admin API when
/// the target is openpfs, and the passphrases of the accounts linked so far.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) accounts: Vec<TestAccount>,
    pub(crate) admin: Option<Api>,
    passphrases: Mutex<HashMap<String, SecretString>>,
}

/// A scenario that cannot run against this target, and why.
#[derive(Debug)]
pub(crate) struct Skip(pub(crate) String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

impl Ctx {
    /// The first account that may act for someone else, or a skip.
    pub(crate) fn carer(&self) -> Result<&TestAccount> {
        self.accounts
            .iter()
            .find(|a| !a.proxy_for.is_empty())
            .ok_or_else(|| Skip("no test account acts for anyone (proxyFor)".into()).into())
    }

    /// The `n`th account that acts for nobody (0 the first), or a skip.
    pub(crate) fn plain(&self, n: usize) -> Result<&TestAccount> {
        self.accounts
            .iter()
            .filter(|a| a.proxy_for.is_empty())
            .nth(n)
            .ok_or_else(|| Skip(format!("needs {} test accounts acting for nobody", n + 1)).into())
    }

    /// The admin API, or a skip naming what needed it.
    pub(crate) fn admin(&self, what: &str) -> Result<&Api> {
        self.admin
            .as_ref()
            .ok_or_else(|| Skip(format!("{what} needs openpfs's admin API (--admin-url)")).into())
    }

    /// The account's passphrase: linked once per run (`LinkAccount` register), then reused.
    pub(crate) async fn passphrase(&self, a: &TestAccount) -> Result<SecretString> {
        let mut known = self.passphrases.lock().await;
        if let Some(p) = known.get(&a.account_id) {
            return Ok(p.clone());
        }
        let reply = self
            .client
            .link_account(LinkRequest::register(
                &a.organisation_code,
                &a.last_name,
                a.date_of_birth,
                &a.account_id,
                SecretString::from(a.linkage_key.clone()),
            ))
            .await
            .context("LinkAccount (register) of a test account")?;
        let passphrase = reply
            .passphrase
            .context("LinkAccountReply carried no passphrase")?;
        known.insert(a.account_id.clone(), passphrase.clone());
        Ok(passphrase)
    }

    /// A new session of the account.
    pub(crate) async fn login(&self, a: &TestAccount) -> Result<Session> {
        let passphrase = self.passphrase(a).await?;
        self.client
            .authenticate(&a.organisation_code, &a.account_id, &passphrase)
            .await
            .context("Authenticate")
    }
}

/// The exchanges of the scenario running, as the client's observer saw them.
type Exchanges = Arc<std::sync::Mutex<Vec<Seen>>>;

/// The longest body a report shows (a `RequestBinaryData` reply can be megabytes).
const MAX_SHOWN_BODY: usize = 2_000;

/// One exchange: the request and the reply as they crossed the wire.
struct Seen {
    message_type: String,
    request: String,
    reply: Option<(u16, String)>,
}

impl Seen {
    /// Whether the reply was a failure: an `Error`, another HTTP status, or none at all.
    fn failed(&self) -> bool {
        match &self.reply {
            Some((status, body)) => *status != 200 || pfs_client::is_error_body(body),
            None => true,
        }
    }

    /// The exchange for a failure report, secrets redacted, long bodies cut.
    fn describe(&self) -> String {
        let reply = match &self.reply {
            Some((status, body)) => format!("HTTP {status} {}", shown(body)),
            None => "no reply (transport failure or timeout)".to_owned(),
        };
        format!(
            "\nexchange ({}):\n  request: {}\n  reply: {reply}",
            self.message_type,
            shown(&self.request)
        )
    }
}

/// The exchange that best explains a failed scenario: the last one that failed, else the last
/// one that was not a tidying-up `Logoff`, else the last.
fn culprit(seen: &[Seen]) -> Option<&Seen> {
    seen.iter()
        .rev()
        .find(|x| x.failed())
        .or_else(|| seen.iter().rev().find(|x| x.message_type != "Logoff"))
        .or(seen.last())
}

/// `body` for a report: secrets redacted, at most [`MAX_SHOWN_BODY`] characters.
fn shown(body: &str) -> String {
    let body = scenarios::redacted(body);
    match body.char_indices().nth(MAX_SHOWN_BODY) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &body[..cut], body.len()),
        None => body,
    }
}

/// How one scenario ended.
enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

struct Ran {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
}

pub async fn run(a: Args) -> Result<()> {
    let all = scenarios::ALL;
    if a.list {
        for s in all {
            println!("{:40} {}", s.name, s.about);
        }
        return Ok(());
    }
    let accounts_path = a
        .accounts
        .clone()
        .unwrap_or_else(|| a.conn.credentials_dir().join("accounts.json"));
    let accounts = accounts::read(&accounts_path)?;
    // The data directory's admin API is taken only for a target on this machine: a local
    // openpfs must not be mistaken for a remote target's practice side.
    let local_target = a
        .conn
        .endpoint()
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .is_some_and(|h| matches!(h.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1"));
    let admin = match (
        &a.admin_url,
        local_target && a.data_dir.join("admin-url").exists(),
    ) {
        (None, false) => None,
        _ => Some(Api::new(
            a.admin_url.as_deref(),
            a.admin_token.as_deref(),
            &a.data_dir,
        )?),
    };
    // The exchanges of each scenario, for its report if it fails.
    let exchanges: Exchanges = Arc::default();
    let seen = exchanges.clone();
    let client = a
        .conn
        .client_builder()?
        .on_exchange(move |x| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Seen {
                    message_type: x.message_type.to_owned(),
                    request: text(x.request),
                    reply: x.reply.map(|(status, body)| (status, text(body))),
                });
        })
        .build()?;
    let ctx = Ctx {
        client,
        accounts,
        admin,
        passphrases: Mutex::new(HashMap::new()),
    };
    println!(
        "pfs conformance against {} ({} test accounts; admin API {})",
        a.conn.endpoint(),
        ctx.accounts.len(),
        if ctx.admin.is_some() {
            "in use"
        } else {
            "not given: openpfs-only set-ups are skipped"
        }
    );
    let chosen: Vec<_> = all
        .iter()
        .filter(|s| a.only.is_empty() || a.only.iter().any(|o| s.name.contains(o.as_str())))
        .filter(|s| !a.skip.iter().any(|o| s.name.contains(o.as_str())))
        .collect();
    if chosen.is_empty() {
        bail!("no scenario is left by --only and --skip (see --list)");
    }
    let mut ran = Vec::new();
    for s in chosen {
        let started = Instant::now();
        exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let outcome = match (s.run)(&ctx).await {
            Ok(()) => Outcome::Pass,
            Err(e) => match e.downcast_ref::<Skip>() {
                Some(skip) => Outcome::Skip(skip.0.clone()),
                None => {
                    let mut report = format!("{e:#}");
                    let seen = exchanges.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(x) = culprit(&seen) {
                        report.push_str(&x.describe());
                    }
                    Outcome::Fail(report)
                }
            },
        };
        let r = Ran {
            name: s.name,
            outcome,
            took: started.elapsed(),
        };
        print_one(&r);
        ran.push(r);
    }
    let count = |f: fn(&Outcome) -> bool| ran.iter().filter(|r| f(&r.outcome)).count();
    let (passed, failed, skipped) = (
        count(|o| matches!(o, Outcome::Pass)),
        count(|o| matches!(o, Outcome::Fail(_))),
        count(|o| matches!(o, Outcome::Skip(_))),
    );
    println!("\n{passed} passed, {failed} failed, {skipped} skipped");
    if let Some(path) = &a.junit {
        std::fs::write(path, junit(&ran))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("JUnit XML written to {}", path.display());
    }
    if failed > 0 {
        bail!("{failed} scenario(s) failed");
    }
    Ok(())
}

fn print_one(r: &Ran) {
    let ms = r.took.as_millis();
    match &r.outcome {
        Outcome::Pass => println!("PASS {} ({ms} ms)", r.name),
        Outcome::Skip(why) => println!("SKIP {}: {why}", r.name),
        Outcome::Fail(why) => {
            println!("FAIL {} ({ms} ms)", r.name);
            for line in why.lines() {
                println!("     {line}");
            }
        }
    }
}

/// The results as one JUnit `testsuite`.
fn junit(ran: &[Ran]) -> String {
    let esc = xml_escape;
    let failures = ran
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
        .count();
    let skipped = ran
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skip(_)))
        .count();
    let total: f64 = ran.iter().map(|r| r.took.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"pfs-conformance\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        ran.len()
    );
    for r in ran {
        let (class, case) = r.name.split_once('/').unwrap_or(("pfs", r.name));
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            esc(class),
            esc(case),
            r.took.as_secs_f64()
        );
        match &r.outcome {
            Outcome::Pass => out.push_str("/>\n"),
            Outcome::Skip(why) => {
                let _ = writeln!(out, "><skipped message=\"{}\"/></testcase>", esc(why));
            }
            Outcome::Fail(why) => {
                let first = why.lines().next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "><failure message=\"{}\">{}</failure></testcase>",
                    esc(first),
                    esc(why)
                );
            }
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// `s` as XML attribute or element text: the five special characters escaped, and the control
/// characters XML 1.0 cannot carry dropped.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
