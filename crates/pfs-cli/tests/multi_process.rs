//! Two real `pfs serve` processes on one PostgreSQL database (the one named by
//! `PFS_TEST_POSTGRES_URL`, each test in a schema of its own), set up as docs/operations.md
//! says: the first seeds the empty database, the second gets a copy of its shared secrets (CA,
//! server certificate, pepper, admin token) and the same `--database`. The processes share
//! nothing else, so what one does must reach the other through the database:
//!
//! * a session opened on A works on B, and a logoff on B ends it on A (`3`);
//! * a provider revoked through A's admin API is refused by B at once (`9007`), also inside a
//!   session it opened on B;
//! * concurrent bookings of one slot spread over A and B have exactly one winner, every other
//!   gets `1103`, and both admin APIs list exactly one appointment in the slot.
//!
//! These are the scenarios of pfs-testkit's in-process multi-instance tests, with processes.
//! The tests that need the database are ignored unless run with `--include-ignored` (or
//! `--ignored`), and then fail when the variable is unset.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use chrono::NaiveDateTime;
use pfs_client::pfs_wire::{
    Header, Logoff, LogoffReply, PatientScope, PatientSelected, PatientSelectedReply, WireMessage,
};
use pfs_client::{Application, Client, ExposeSecret, SecretString, Session};
use pfs_store::pg_testing::{TestSchema, required_test_url};
use pfs_testkit::{DemoAccount, SHARED_SECRETS, TestServer};
use serde_json::Value;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// How long a process may take to migrate, seed and listen (debug build, busy machine).
const STARTUP: Duration = Duration::from_secs(60);

/// One `pfs serve` process, killed when dropped, however the test ends.
struct Server {
    child: Child,
    data_dir: PathBuf,
    /// The PFS endpoint, with the `/tpp/` path real clients use.
    endpoint: String,
    output: Receiver<String>,
}

impl Server {
    /// Starts `pfs serve` on `data_dir` and `database`, with `extra` arguments, and waits until
    /// it listens.
    fn start(data_dir: &Path, database: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(PFS)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(["--log", "warn"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--database", database])
            // Three tests of two processes each run at once: stay well under PostgreSQL's
            // default of 100 connections.
            .args(["--db-connections", "8"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pfs serve starts");
        let (tx, output) = mpsc::channel();
        common::forward_lines(child.stdout.take().unwrap(), tx.clone());
        common::forward_lines(child.stderr.take().unwrap(), tx);
        let mut server = Server {
            child,
            data_dir: data_dir.to_owned(),
            endpoint: String::new(),
            output,
        };
        server.endpoint = format!("{}tpp/", server.wait_for_endpoint());
        server
    }

    /// Reads the start-up summary up to its last line (`database …`), printed once the
    /// process has seeded (if it does) and listens; returns the endpoint it names.
    fn wait_for_endpoint(&self) -> String {
        common::wait_for_endpoint(&self.output, STARTUP)
    }

    /// A client of this process for `provider`.
    fn client(&self, provider: &Provider) -> Client {
        Client::builder(&self.endpoint)
            .identity_pem(&provider.cert, &provider.key)
            .ca_pem(&provider.ca)
            .application(Application {
                name: "multi-process test".into(),
                version: "1.0".into(),
                provider_id: provider.id.clone(),
                device_type: "test".into(),
            })
            .build()
            .expect("client configuration is valid")
    }

    /// `pfs admin --data-dir DATA_DIR ARGS…`, i.e. against this process's admin API; the
    /// printed JSON (`Null` when nothing is printed).
    fn admin(&self, args: &[&str]) -> Value {
        let out = Command::new(PFS)
            .arg("admin")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .output()
            .expect("pfs admin runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "pfs admin {args:?}: {stderr}");
        if out.stdout.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).expect("pfs admin prints JSON")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the process said (its logs hold no secrets).
        if std::thread::panicking() {
            for line in self.output.try_iter() {
                eprintln!("[{}] {line}", self.data_dir.display());
            }
        }
    }
}

/// Two processes on one schema: A seeded it, B runs on a copy of A's shared secrets.
/// Fields drop in order: both processes are killed before their directories go.
struct Pair {
    a: Server,
    b: Server,
    accounts: Vec<DemoAccount>,
    demo: Provider,
    dir: tempfile::TempDir,
}

impl Pair {
    fn start(database: &str) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let a = Server::start(&dir.path().join("a"), database, &["--demo"]);
        let demo_dir = a.data_dir.join("demo");
        assert!(demo_dir.exists(), "A seeds the empty database");

        let b_dir = dir.path().join("b");
        std::fs::create_dir(&b_dir).unwrap();
        // Only its owner may enter a data directory: the server refuses to start otherwise.
        std::fs::set_permissions(&b_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        for name in SHARED_SECRETS {
            std::fs::copy(a.data_dir.join(name), b_dir.join(name))
                .unwrap_or_else(|e| panic!("copying {name}: {e}"));
        }
        // B spreads its reads over two shared connections (A has the default, one).
        let b = Server::start(&b_dir, database, &["--db-read-connections", "2"]);
        assert!(!b_dir.join("demo").exists(), "B finds the practice seeded");

        let accounts = std::fs::read_to_string(demo_dir.join("accounts.json")).unwrap();
        Pair {
            accounts: serde_json::from_str(&accounts).expect("demo/accounts.json"),
            demo: Provider::read(&demo_dir),
            a,
            b,
            dir,
        }
    }

    /// The demo account with this last name.
    fn account(&self, last_name: &str) -> &DemoAccount {
        self.accounts
            .iter()
            .find(|a| a.last_name == last_name)
            .unwrap_or_else(|| panic!("no demo account named {last_name}"))
    }
}

/// A provider's credentials as `pfs admin provider add --out` (and the demo seed) write them.
struct Provider {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
    id: String,
}

impl Provider {
    fn read(dir: &Path) -> Provider {
        let read =
            |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        Provider {
            cert: read("client.pem"),
            key: read("client-key.pem"),
            ca: read("ca.pem"),
            id: String::from_utf8(read("provider-id"))
                .unwrap()
                .trim()
                .to_owned(),
        }
    }
}

/// Links a demo account for `client`'s provider and opens a session.
async fn login(client: &Client, account: &DemoAccount) -> Session {
    let linked = client
        .link_account(TestServer::register(account))
        .await
        .expect("LinkAccount");
    let passphrase = linked.passphrase.expect("LinkAccount gives a passphrase");
    client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await
        .expect("Authenticate")
}

/// Sends `req` with session id `suid` through `client` and decodes the reply.
async fn send_in<Req: WireMessage, Rep: WireMessage>(
    client: &Client,
    suid: &SecretString,
    req: &Req,
) -> pfs_client::Result<Rep> {
    client
        .raw(Req::ROOT, Some(suid.expose_secret()), req.encode())
        .await?
        .decode()
}

fn patient_selected(ods: &str, online_user_id: &str, patient_id: &str) -> PatientSelected {
    PatientSelected {
        header: Header::new(Some(ods.to_owned())),
        scope: PatientScope {
            patient_id: patient_id.to_owned(),
            online_user_id: online_user_id.to_owned(),
        },
    }
}

/// Checks that a call failed with PFS error `code`.
#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: pfs_client::Result<T>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), Some(code), "{e}"),
        Ok(reply) => panic!("expected error {code}, got {reply:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn a_session_opened_on_one_process_works_and_ends_on_the_other() {
    let schema = TestSchema::create(&required_test_url()).await;
    let pair = Pair::start(schema.url());
    let on_a = pair.a.client(&pair.demo);
    let on_b = pair.b.client(&pair.demo);

    // Ada links and logs on at A; she may act for her son Ben.
    let session = login(&on_a, pair.account("Example")).await;
    let (ods, ada) = (
        session.ods().to_owned(),
        session.online_user_id().to_owned(),
    );
    let ben = session
        .reply()
        .people
        .iter()
        .find(|p| p.patient_id != ada)
        .expect("Ada acts for Ben")
        .patient_id
        .clone();
    let suid = session.detach();

    let reply: PatientSelectedReply = send_in(&on_b, &suid, &patient_selected(&ods, &ada, &ben))
        .await
        .expect("B serves the session opened on A");
    assert_eq!(reply.person.patient_id, ben);

    let logoff = Logoff {
        header: Header::new(None),
    };
    let _: LogoffReply = send_in(&on_b, &suid, &logoff)
        .await
        .expect("B logs the session off");
    let on_a_after =
        send_in::<_, PatientSelectedReply>(&on_a, &suid, &patient_selected(&ods, &ada, &ada)).await;
    assert_code(on_a_after, "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn a_provider_revoked_through_one_process_is_refused_by_the_other() {
    let schema = TestSchema::create(&required_test_url()).await;
    let pair = Pair::start(schema.url());

    let out = pair.dir.path().join("shared-app");
    let added = pair.a.admin(&[
        "provider",
        "add",
        "--name",
        "Shared app",
        "--out",
        out.to_str().unwrap(),
    ]);
    let app = Provider::read(&out);
    assert_eq!(added["id"], app.id.as_str());
    let on_b = pair.b.client(&app);
    on_b.check_version()
        .await
        .expect("B knows a provider registered through A");
    let session = login(&on_b, pair.account("Example")).await;

    let revoked = pair.a.admin(&["provider", "revoke", &app.id]);
    assert_eq!(revoked, Value::Null, "204, nothing printed");
    assert_code(on_b.check_version().await, "9007");
    assert_code(session.keep_alive().await, "9007");
    assert_code(session.logoff().await, "9007");

    // Both admin APIs tell the same story.
    let listed = pair.b.admin(&["provider", "list"]);
    assert_eq!(listed, pair.a.admin(&["provider", "list"]));
    let entry = listed
        .as_array()
        .and_then(|all| all.iter().find(|p| p["id"] == app.id.as_str()))
        .expect("the provider is listed");
    assert!(entry["revokedAt"].is_string(), "{entry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn concurrent_bookings_across_processes_have_one_winner() {
    let schema = TestSchema::create(&required_test_url()).await;
    let pair = Pair::start(schema.url());
    let clients = [pair.a.client(&pair.demo), pair.b.client(&pair.demo)];

    // Every demo account logs on, alternately at A and at B.
    assert!(pair.accounts.len() >= 8, "at least 8 demo accounts");
    let mut sessions = Vec::new();
    for (i, account) in pair.accounts.iter().enumerate() {
        sessions.push(login(&clients[i % 2], account).await);
    }
    let ods = sessions[0].ods().to_owned();
    let (slot_session, start, end) = first_free_slot(&sessions[0]).await;

    // All of them book that slot at once, each in a task of its own.
    let barrier = Arc::new(tokio::sync::Barrier::new(sessions.len()));
    let attempts: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let (barrier, slot_session) = (barrier.clone(), slot_session.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let result = session
                    .book_appointment(&slot_session, start, end, None)
                    .await;
                (session.online_user_id().to_owned(), result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("booking task") {
            (user, Ok(_)) => winners.push(user),
            (_, Err(e)) => assert_eq!(e.code(), Some("1103"), "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one booking wins");

    // The practice sees one appointment in the slot, the winner's, through either process.
    for server in [&pair.a, &pair.b] {
        let held = appointments_at(server, &ods, &slot_session, start);
        assert_eq!(held.len(), 1, "one appointment in the slot: {held:?}");
        assert_eq!(held[0]["bookedBy"], winners[0].as_str());
    }
}

/// The first free slot `session` can book: its appointment session id, start and end (UK
/// wall-clock time).
async fn first_free_slot(session: &Session) -> (String, NaiveDateTime, NaiveDateTime) {
    let now = pfs_core::uktime::to_wall_clock(chrono::Utc::now());
    let slots = session.list_slots(now, 14).await.expect("ListSlots");
    let free = slots
        .sessions
        .iter()
        .find_map(|s| s.slots.first().map(|slot| (s, slot)));
    let (s, slot) = free.expect("the demo practice has a free slot");
    (s.session_id.clone(), slot.start_date, slot.end_date)
}

/// The live appointments of appointment session `session_id` starting at `start`, as the
/// admin API of `server` lists them.
fn appointments_at(
    server: &Server,
    ods: &str,
    session_id: &str,
    start: NaiveDateTime,
) -> Vec<Value> {
    let day = start.format("%Y-%m-%d").to_string();
    let listed = server.admin(&["appointment", "list", ods, "--from", &day, "--to", &day]);
    let start_local = start.format("%Y-%m-%dT%H:%M").to_string();
    listed
        .as_array()
        .expect("a list of appointments")
        .iter()
        .filter(|a| a["sessionId"] == session_id && a["startLocal"] == start_local.as_str())
        .cloned()
        .collect()
}

/// The embedded database belongs to the server that opened it. A second `pfs serve` on the
/// same data directory stops at once and says why, another process cannot read the file
/// meanwhile (the first server keeps copies of hot rows that only its own writes change), and
/// the first server goes on serving.
#[test]
fn a_second_server_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |extra: &[&str]| {
        let mut c = Command::new(PFS);
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--admin-listen", "127.0.0.1:0", "--log", "warn"])
            .arg("--data-dir")
            .arg(dir.path().join("pfs-data"))
            .args(extra);
        c
    };
    let mut first = serve(&["--demo"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let (tx, lines) = mpsc::channel();
    common::forward_lines(first.stdout.take().unwrap(), tx);
    let first = common::KillOnDrop(first);
    common::wait_for_endpoint(&lines, STARTUP);

    let second = serve(&[]).output().expect("the second pfs serve runs");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{said}");
    assert!(
        said.contains("locked by another process (another pfs serve on this data directory?)"),
        "{said}"
    );

    let db = dir.path().join("pfs-data/pfs.db");
    let read = rusqlite::Connection::open(&db)
        .and_then(|c| c.query_row("SELECT count(*) FROM practices", [], |r| r.get::<_, i64>(0)));
    let refused = read.expect_err("another process read the server's database");
    assert!(refused.to_string().contains("locked"), "{refused}");

    let health = Command::new(PFS)
        .args(["admin", "--data-dir"])
        .arg(dir.path().join("pfs-data"))
        .arg("health")
        .output()
        .expect("pfs admin runs");
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    drop(first);
}
