//! `pfs login`, `pfs call` with a profile, `pfs select` and `pfs logoff`: the `pfs` binary
//! against a real server (a `TestServer`, over real mutual TLS), with its profiles in a
//! temporary configuration directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pfs_testkit::TestServer;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// What one run of `pfs` did.
struct Run {
    ok: bool,
    out: String,
    err: String,
}

/// A server, a configuration directory, and everything `pfs` printed (to look for secrets).
struct Cli {
    ts: TestServer,
    home: tempfile::TempDir,
    printed: std::sync::Mutex<String>,
}

impl Cli {
    async fn start() -> Cli {
        Cli {
            ts: TestServer::start().await.expect("server starts"),
            home: tempfile::tempdir().unwrap(),
            printed: Default::default(),
        }
    }

    fn config(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn demo(&self) -> PathBuf {
        self.ts.server.data_dir.path("demo")
    }

    /// Runs `pfs ARGS` with the configuration directory and nothing else from the environment
    /// that `pfs` reads.
    async fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[]).await
    }

    /// As [`run`](Self::run), with `env` set.
    async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(PFS);
        cmd.args(args)
            .current_dir(self.home.path())
            .env("HOME", self.home.path())
            .env("PFS_CONFIG_DIR", self.config());
        for var in [
            "PFS_PROFILE",
            "PFS_SUID",
            "PFS_ENDPOINT",
            "PFS_CREDENTIALS",
            "PFS_PROVIDER_ID",
            "PFS_PASSPHRASE",
            "PFS_LINKAGE_KEY",
            "XDG_CONFIG_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("pfs runs"))
            .await
            .unwrap();
        let run = Run {
            ok: out.status.success(),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let mut printed = self.printed.lock().unwrap();
        printed.push_str(&run.out);
        printed.push_str(&run.err);
        run
    }

    /// Runs `pfs ARGS` and expects success.
    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert!(run.ok, "pfs {args:?} failed:\n{}{}", run.out, run.err);
        run
    }

    /// `pfs login` for a demo account, connection options given.
    async fn login(&self, profile: &str, account: &str) -> Run {
        let endpoint = self.ts.endpoint();
        let demo = self.demo();
        self.ok(&[
            "login",
            "--profile",
            profile,
            "--account",
            account,
            "--endpoint",
            &endpoint,
            "--credentials",
            demo.to_str().unwrap(),
        ])
        .await
    }

    fn profile(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.profile_path(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn profile_path(&self, name: &str) -> PathBuf {
        self.config().join("profiles").join(format!("{name}.json"))
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The value of attribute `name` on the first element that has it.
fn attr(body: &str, name: &str) -> String {
    let start = body
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + name.len()
        + 3;
    body[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_call_select_logoff() {
    let cli = Cli::start().await;
    let ada = cli.ts.accounts[0].clone();
    let ada_id = cli.ts.patient_id(&ada.nhs_number).await.unwrap();
    let ben_id = cli.ts.patient_id(&ada.proxy_for[0]).await.unwrap();

    // The first login links the account, then authenticates.
    let login = cli.login("default", &ada.account_id).await;
    assert!(login.out.contains("Linked account"), "{}", login.out);
    assert!(
        login.out.contains("Logged in as Mrs Ada Example"),
        "{}",
        login.out
    );
    assert!(login.out.contains(&ben_id), "Ben is listed: {}", login.out);
    assert!(login.out.contains(&ada_id), "{}", login.out);

    // The profile: 0600 in 0700 directories, with the session and the linkage.
    let path = cli.profile_path("default");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&cli.config()), 0o700);
    let saved = cli.profile("default");
    assert_eq!(saved["session"]["onlineUserId"], ada_id.as_str());
    assert_eq!(saved["session"]["selectedPatientId"], ada_id.as_str());
    assert_eq!(saved["session"]["unitId"], "Y99001");
    assert_eq!(saved["link"]["accountId"], ada.account_id.as_str());
    let first_suid = saved["session"]["suid"].as_str().unwrap().to_owned();

    // Calls need no ids: the session fills them in.
    let services = cli.ok(&["call", "ListServiceAccesses"]).await;
    assert!(
        services.out.contains("<ListServiceAccessesReply"),
        "{}",
        services.out
    );
    assert_eq!(attr(&services.out, "patientId"), ada_id);
    assert_eq!(attr(&services.out, "onlineUserId"), ada_id);
    // Pretty-printed: one element a line, indented.
    assert!(services.out.contains("\n  <"), "{}", services.out);
    let slots = cli.ok(&["call", "ListSlots", "numberOfDays=7"]).await;
    assert!(slots.out.contains("<ListSlotsReply"), "{}", slots.out);
    let appointments = cli
        .ok(&["call", "ViewAppointments", "futureAppointments=Y"])
        .await;
    assert!(
        appointments.out.contains("<ViewAppointmentsReply"),
        "{}",
        appointments.out
    );

    // Acting for Ben, by the number login listed him under.
    let select = cli.ok(&["select", "2"]).await;
    assert!(select.out.contains("Master Ben Example"), "{}", select.out);
    assert_eq!(
        cli.profile("default")["session"]["selectedPatientId"],
        ben_id.as_str()
    );
    let for_ben = cli.ok(&["call", "ListServiceAccesses"]).await;
    assert_eq!(attr(&for_ben.out, "patientId"), ben_id);
    assert_eq!(attr(&for_ben.out, "onlineUserId"), ada_id);
    // An attribute given wins over the profile's: Ada's id is sent, and the server refuses
    // it as not the selected patient.
    let own = cli
        .run(&[
            "call",
            "ListServiceAccesses",
            &format!("patientId={ada_id}"),
        ])
        .await;
    assert!(!own.ok);
    assert!(own.err.starts_with("error 9009: "), "{}", own.err);
    assert!(
        own.err.contains("patientId is not the patient selected"),
        "{}",
        own.err
    );
    // Back to Ada by name, then Ben by id.
    cli.ok(&["select", "ada"]).await;
    assert_eq!(
        cli.profile("default")["session"]["selectedPatientId"],
        ada_id.as_str()
    );
    cli.ok(&["select", &ben_id]).await;

    // --raw: the body as it came, on one line.
    let raw = cli.ok(&["call", "ListServiceAccesses", "--raw"]).await;
    assert!(raw.out.contains("><ServiceAccess "), "{}", raw.out);
    assert_eq!(raw.out.lines().count(), 1, "{}", raw.out);

    // --json: the element tree as JSON.
    let json = cli.ok(&["call", "ListServiceAccesses", "--json"]).await;
    let tree: serde_json::Value = serde_json::from_str(&json.out).expect("JSON");
    assert_eq!(tree["name"], "ListServiceAccessesReply");
    assert_eq!(tree["attributes"]["patientId"], ben_id.as_str());
    assert!(tree["children"].as_array().is_some_and(|c| !c.is_empty()));

    // An Error reply: code and texts on standard error, the reply on standard output, exit 1.
    let refused = cli
        .run(&["call", "CancelAppointment", "apptId=no-such-appointment"])
        .await;
    assert!(!refused.ok);
    assert!(refused.out.contains("<Error"), "{}", refused.out);
    let first = refused.err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error "), "{}", refused.err);
    let code = first["error ".len()..]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(code.parse::<u32>().is_ok(), "{}", refused.err);
    assert!(refused.err.contains("  technical: "), "{}", refused.err);
    let refused = cli
        .run(&[
            "call",
            "CancelAppointment",
            "apptId=no-such-appointment",
            "--json",
        ])
        .await;
    assert!(!refused.ok);
    let tree: serde_json::Value = serde_json::from_str(&refused.out).expect("JSON");
    assert_eq!(tree["name"], "Error");
    assert_eq!(tree["attributes"]["errorCode"], code.as_str());

    // Log off: the session is gone, the linkage stays; a call now fails with code 3.
    let logoff = cli.ok(&["logoff"]).await;
    assert!(logoff.out.contains("Logged off"), "{}", logoff.out);
    let saved = cli.profile("default");
    assert!(saved.get("session").is_none(), "{saved}");
    assert!(saved["link"]["passphrase"].is_string());
    // Without a session nothing is filled in, and the server refuses what is left.
    let after = cli.run(&["call", "ListServiceAccesses"]).await;
    assert!(!after.ok);
    assert!(after.err.starts_with("error 9004: "), "{}", after.err);
    assert!(after.err.contains("has no session"), "{}", after.err);
    assert!(after.err.contains("run `pfs login` first"), "{}", after.err);
    let after = cli.run(&["call", "Logoff"]).await;
    assert!(!after.ok);
    assert!(after.err.starts_with("error 3: "), "{}", after.err);
    assert!(after.err.contains("run `pfs login` first"), "{}", after.err);

    // A second login reuses the linkage: no LinkAccount.
    let passphrase = saved["link"]["passphrase"].as_str().unwrap().to_owned();
    let again = cli.ok(&["login"]).await;
    assert!(!again.out.contains("Linked"), "{}", again.out);
    assert!(again.out.contains("Logged in as"), "{}", again.out);
    let saved = cli.profile("default");
    assert_eq!(saved["link"]["passphrase"], passphrase.as_str());
    cli.ok(&["call", "ListServiceAccesses"]).await;

    // The server ends the session (here: logged off by hand with its id): the next call says
    // so, and the profile forgets it.
    let suid = saved["session"]["suid"].as_str().unwrap().to_owned();
    cli.ok(&["call", "Logoff", "--suid", &suid]).await;
    let ended = cli.run(&["call", "ListServiceAccesses"]).await;
    assert!(!ended.ok);
    assert!(ended.err.starts_with("error 3: "), "{}", ended.err);
    assert!(ended.err.contains("has ended"), "{}", ended.err);
    assert!(ended.err.contains("pfs login"), "{}", ended.err);
    assert!(cli.profile("default").get("session").is_none());
    let logoff = cli.ok(&["logoff"]).await;
    assert!(logoff.out.contains("no session"), "{}", logoff.out);

    // `pfs call Logoff` ends the profile's session too.
    cli.ok(&["login"]).await;
    let bye = cli.ok(&["call", "Logoff"]).await;
    assert!(bye.out.contains("<LogoffReply"), "{}", bye.out);
    assert!(bye.err.contains("has no session now"), "{}", bye.err);
    assert!(cli.profile("default").get("session").is_none());

    // No secret was printed by login, call, select or logoff: not a session id, the
    // passphrase or the linkage key.
    cli.ok(&["login"]).await;
    let latest = cli.profile("default")["session"]["suid"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.ok(&["logoff"]).await;
    let printed = cli.printed.lock().unwrap().clone();
    for secret in [&first_suid, &suid, &latest, &passphrase, &ada.linkage_key] {
        assert!(
            !printed.contains(secret.as_str()),
            "a secret was printed: {secret} in\n{printed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_profiles_are_independent() {
    let cli = Cli::start().await;
    let ada = cli.ts.accounts[0].clone();
    let other = cli
        .ts
        .accounts
        .iter()
        .find(|a| {
            a.account_id != ada.account_id
                && cli
                    .ts
                    .accounts
                    .iter()
                    .filter(|b| b.last_name == a.last_name)
                    .count()
                    == 1
        })
        .unwrap()
        .clone();
    let ada_id = cli.ts.patient_id(&ada.nhs_number).await.unwrap();
    let other_id = cli.ts.patient_id(&other.nhs_number).await.unwrap();

    cli.login("default", &ada.account_id).await;
    // By last name, in a profile of its own.
    cli.login("second", &other.last_name).await;
    for (profile, id) in [("default", &ada_id), ("second", &other_id)] {
        let run = cli
            .ok(&["call", "--profile", profile, "ListServiceAccesses"])
            .await;
        assert_eq!(&attr(&run.out, "onlineUserId"), id, "{profile}");
    }
    assert_eq!(mode(&cli.profile_path("second")), 0o600);

    // Logging one off leaves the other's session alone; PFS_PROFILE names a profile too.
    cli.ok(&["logoff", "--profile", "second"]).await;
    let ada_call = cli.ok(&["call", "ListServiceAccesses"]).await;
    assert_eq!(attr(&ada_call.out, "onlineUserId"), ada_id);
    assert!(
        !cli.run(&["call", "--profile", "second", "ListServiceAccesses"])
            .await
            .ok
    );

    // A profile that does not exist, named explicitly, is an error; --no-profile sends only
    // what is given.
    let missing = cli
        .run(&["call", "--profile", "nowhere", "ListServiceAccesses"])
        .await;
    assert!(!missing.ok);
    assert!(
        missing.err.contains("pfs login --profile nowhere"),
        "{}",
        missing.err
    );
    let endpoint = cli.ts.endpoint();
    let demo = cli.demo();
    let bare = cli
        .run(&[
            "call",
            "--no-profile",
            "ListServiceAccesses",
            "--endpoint",
            &endpoint,
            "--credentials",
            demo.to_str().unwrap(),
        ])
        .await;
    assert!(!bare.ok, "no session, no ids: {}", bare.out);

    // A profile others can read is refused.
    std::fs::set_permissions(
        cli.profile_path("default"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refused = cli.run(&["call", "ListServiceAccesses"]).await;
    assert!(!refused.ok);
    assert!(refused.err.contains("chmod 600"), "{}", refused.err);
}

/// The server ends an idle session: the next call says so, the profile forgets the session,
/// and `pfs login` opens a new one without linking again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_reported() {
    let cli = Cli::start().await;
    let ada = cli.ts.accounts[0].clone();
    cli.login("default", &ada.account_id).await;
    cli.ok(&["call", "ListServiceAccesses"]).await;
    cli.ts.clock.advance(chrono::Duration::hours(2));
    let ended = cli.run(&["call", "ListServiceAccesses"]).await;
    assert!(!ended.ok);
    assert!(ended.err.starts_with("error 3: "), "{}", ended.err);
    assert!(ended.err.contains("has ended"), "{}", ended.err);
    assert!(ended.err.contains("run `pfs login`"), "{}", ended.err);
    assert!(cli.profile("default").get("session").is_none());
    let again = cli.ok(&["login"]).await;
    assert!(!again.out.contains("Linked"), "{}", again.out);
    cli.ok(&["call", "ListServiceAccesses"]).await;

    // The same for `pfs select`.
    cli.ts.clock.advance(chrono::Duration::hours(2));
    let ended = cli.run(&["select", "2"]).await;
    assert!(!ended.ok);
    assert!(ended.err.starts_with("error 3: "), "{}", ended.err);
    assert!(ended.err.contains("has ended"), "{}", ended.err);
    assert!(cli.profile("default").get("session").is_none());
}

/// An account given by id and practice, as for an endpoint without demo data: linked with a
/// linkage key from the environment, then logged in elsewhere with the passphrase from a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_given_by_id_link_with_secrets_from_the_environment_or_files() {
    let cli = Cli::start().await;
    let a = cli.ts.accounts[1].clone();
    let endpoint = cli.ts.endpoint();
    let demo = cli.demo();
    let dob = a.date_of_birth.to_string();
    let base = [
        "login",
        "--endpoint",
        &endpoint,
        "--credentials",
        demo.to_str().unwrap(),
        "--account-id",
        &a.account_id,
        "--ods-code",
        &a.organisation_code,
    ];

    // Neither a passphrase nor a linkage key: nothing to log in with.
    let none = cli.run(&base).await;
    assert!(!none.ok);
    assert!(none.err.contains("PFS_LINKAGE_KEY"), "{}", none.err);

    let mut args = base.to_vec();
    args.extend(["--last-name", &a.last_name, "--date-of-birth", &dob]);
    let linked = cli
        .run_env(&args, &[("PFS_LINKAGE_KEY", a.linkage_key.as_str())])
        .await;
    assert!(linked.ok, "{}{}", linked.out, linked.err);
    assert!(linked.out.contains("Linked account"), "{}", linked.out);
    cli.ok(&["call", "ListServiceAccesses"]).await;

    // The passphrase, in a file, opens a session in another profile without linking.
    let passphrase = cli.profile("default")["link"]["passphrase"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = cli.home.path().join("passphrase");
    std::fs::write(&file, format!("{passphrase}\n")).unwrap();
    let mut args = base.to_vec();
    args.extend([
        "--profile",
        "other",
        "--passphrase-file",
        file.to_str().unwrap(),
    ]);
    let other = cli.ok(&args).await;
    assert!(!other.out.contains("Linked"), "{}", other.out);
    assert!(other.out.contains("Logged in as"), "{}", other.out);
    cli.ok(&["call", "--profile", "other", "ListServiceAccesses"])
        .await;

    let printed = cli.printed.lock().unwrap().clone();
    assert!(!printed.contains(&passphrase), "the passphrase was printed");
    assert!(
        !printed.contains(&a.linkage_key),
        "the linkage key was printed"
    );
}
