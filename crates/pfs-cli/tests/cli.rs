//! The `pfs` binary as a newcomer uses it: `serve` on a new data directory, then `call` and
//! `admin` against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pfs(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    // No profile of the user's (`pfs login`) may change what `pfs call` sends.
    let out = Command::new(PFS)
        .args(args)
        .current_dir(dir)
        .env("PFS_CONFIG_DIR", dir.join("pfs-config"))
        .env_remove("PFS_PROFILE")
        .output()
        .expect("pfs runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_then_call_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PFS)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--log",
            "warn",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);

    // The bound address is printed; read until the demo hint so the seed is complete.
    let mut endpoint = None;
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.trim().strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("pfs admin patient list") {
            break;
        }
    }
    let endpoint = endpoint.unwrap_or_else(|| panic!("no endpoint printed:\n{printed}"));
    assert!(printed.contains("pfs-data/demo/"), "{printed}");
    let endpoint = format!("{endpoint}tpp/");

    let (ok, out, err) = pfs(
        &["call", "CheckVersion", "--endpoint", &endpoint],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("<CheckVersionReply"), "{out}");

    // A made-up session: the reply is an Error and the command says so.
    let (ok, out, _) = pfs(
        &[
            "call",
            "Logoff",
            "--endpoint",
            &endpoint,
            "--suid",
            "made-up",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(out.contains(r#"errorCode="3""#), "{out}");

    let (ok, out, err) = pfs(&["admin", "patient", "list"], dir.path());
    assert!(ok, "{err}");
    let patients: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(patients.as_array().unwrap().len() >= 8);

    // The sandbox: seed a set in batches, snapshot, reset to the demo, restore the snapshot.
    let count = |ods: &str| {
        let (ok, out, err) = pfs(&["admin", "patient", "list", "--ods", ods], dir.path());
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array().unwrap().len()
    };
    let (ok, out, err) = pfs(
        &[
            "admin",
            "seed",
            "--practices",
            "2",
            "--patients",
            "25",
            "--seed",
            "9",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let seeded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(seeded["patients"], 50, "{out}");
    assert_eq!(seeded["practices"], serde_json::json!(["S00901", "S00902"]));
    assert_eq!(count("S00902"), 25);
    for args in [
        &["admin", "sandbox", "snapshot", "seeded"][..],
        &["admin", "sandbox", "reset"],
    ] {
        let (ok, _, err) = pfs(args, dir.path());
        assert!(ok, "{args:?}: {err}");
    }
    assert_eq!(count("S00902"), 0);
    let (ok, _, err) = pfs(&["admin", "sandbox", "restore", "seeded"], dir.path());
    assert!(ok, "{err}");
    assert_eq!(count("S00902"), 25);

    // Medication: a course through its life, the request listings, the settings flags.
    let patient = patients[0]["id"].as_str().unwrap().to_owned();
    let json = |args: &[&str]| {
        let (ok, out, err) = pfs(args, dir.path());
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let course = json(&[
        "admin",
        "course",
        "add",
        &patient,
        "--drug",
        "Amlodipine 5mg tablets",
        "--details",
        "One to be taken each day - 28 tablet",
        "--max-issues",
        "6",
    ]);
    assert_eq!(course["courseType"], "Repeat");
    assert_eq!(course["maxIssues"], 6);
    let id = course["id"].as_str().unwrap().to_owned();
    let changed = json(&[
        "admin",
        "course",
        "change",
        &id,
        "--max-issues",
        "none",
        "--requestable",
        "false",
    ]);
    assert!(changed["maxIssues"].is_null(), "{changed}");
    assert_eq!(changed["requestable"], false);
    let re = json(&["admin", "course", "reauthorise", &id, "--max-issues", "3"]);
    assert_eq!(re["maxIssues"], 3);
    let stopped = json(&["admin", "course", "stop", &id]);
    assert!(stopped["stoppedOn"].is_string(), "{stopped}");
    let listed = json(&["admin", "course", "list", &patient]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    let acute = json(&[
        "admin",
        "course",
        "add",
        &patient,
        "--drug",
        "Amoxicillin 500mg capsules",
        "--details",
        "One three times a day - 15 capsule",
        "--type",
        "acute",
        "--hidden",
    ]);
    assert_eq!(acute["courseType"], "Acute");
    assert_eq!(acute["onlineVisible"], false);
    assert_eq!(
        json(&["admin", "prescription", "pending", "Y99001"]),
        serde_json::json!([])
    );
    assert!(json(&["admin", "prescription", "list", &patient]).is_array());
    let (ok, _, err) = pfs(
        &["admin", "prescription", "issue", "404404", "--comment", "x"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let practice = json(&[
        "admin",
        "practice",
        "settings",
        "Y99001",
        "--acute-requests-allowed",
        "true",
        "--max-medications-per-request",
        "4",
        "--max-medication-notes",
        "800",
    ]);
    assert_eq!(practice["settings"]["acuteRequestsAllowed"], true);
    assert_eq!(practice["settings"]["maxMedicationsPerRequest"], 4);
    assert_eq!(practice["settings"]["maxMedicationNotes"], 800);

    // Demographics and the pharmacy directory.
    let shown = json(&["admin", "demographics", "show", &patient]);
    assert!(
        shown["details"]["address"]["postcode"].is_string(),
        "{shown}"
    );
    let practice = json(&[
        "admin",
        "practice",
        "settings",
        "Y99001",
        "--demographics-approval",
        "true",
    ]);
    assert_eq!(practice["settings"]["demographicsApproval"], true);
    assert_eq!(
        json(&["admin", "demographics", "pending", "Y99001"]),
        serde_json::json!([])
    );
    let header = "ods_code,name,house_name_flat,street,village,town,county,postcode,telephone";
    std::fs::write(
        dir.path().join("bad.csv"),
        format!(
            "{header}\nFC001,Good Pharmacy,1,Good Street,,York,,YO1 7HH,,\nFC002,Bad Pharmacy,2,Bad Street,,York,,NOT-A-POSTCODE,,\n"
        ),
    )
    .unwrap();
    let (ok, _, err) = pfs(
        &["admin", "pharmacy", "import", "bad.csv", "--quiet"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(!err.contains("NOT-A-POSTCODE"), "{err}");
    let (ok, _, _) = pfs(&["admin", "pharmacy", "show", "FC001"], dir.path());
    assert!(!ok, "nothing of a refused file is imported");
    std::fs::write(
        dir.path().join("good.csv"),
        format!("{header}\nFC001,Good Pharmacy,1,Good Street,,York,,yo1 7hh,01904 496000\n"),
    )
    .unwrap();
    let imported = json(&["admin", "pharmacy", "import", "good.csv", "--quiet"]);
    assert_eq!(imported["imported"], 1);
    let found = json(&["admin", "pharmacy", "search", "--postcode", "YO1"]);
    assert_eq!(found[0]["ods"], "FC001");
    let closed = json(&["admin", "pharmacy", "close", "FC001"]);
    assert!(closed["closedAt"].is_string());

    // The record: an event, a two-page document uploaded from files and read back, a test
    // result, hiding, grants and the access log.
    let event = json(&[
        "admin",
        "record",
        "add-event",
        &patient,
        "--done-by",
        "Dr CLI",
        "--location",
        "Riverside Surgery",
        "--type",
        "Problem",
        "--details",
        "Asthma",
        "--snomed",
        "195967001",
    ]);
    let item = event["items"][0]["id"].as_str().unwrap().to_owned();
    std::fs::write(dir.path().join("page1.png"), b"\x89PNG\r\n\x1a\nfirst").unwrap();
    std::fs::write(dir.path().join("page2.png"), b"\x89PNG\r\n\x1a\nsecond").unwrap();
    let doc = json(&[
        "admin",
        "document",
        "upload",
        &patient,
        "page1.png",
        "page2.png",
        "--comments",
        "two pages",
        "--done-by",
        "Dr CLI",
        "--location",
        "Riverside Surgery",
    ]);
    assert_eq!(doc["pages"], 2, "{doc}");
    assert_eq!(doc["uploading"], false);
    assert_eq!(doc["details"], "PNG: page1.png - two pages");
    let id = doc["binaryDataId"].as_str().unwrap().to_owned();
    json(&["admin", "document", "page", &id, "2", "-o", "back.png"]);
    assert_eq!(
        std::fs::read(dir.path().join("back.png")).unwrap(),
        b"\x89PNG\r\n\x1a\nsecond"
    );
    let result = json(&[
        "admin",
        "test-result",
        "add",
        &patient,
        "--name",
        "HbA1c",
        "--value",
        "HbA1c=41;mmol/mol;20 - 41",
    ]);
    assert_eq!(result["values"][0]["referenceRange"], "20 - 41");
    assert_eq!(
        json(&["admin", "test-result", "list", &patient])[0]["name"],
        "HbA1c"
    );
    json(&["admin", "record", "hide", &patient, &item]);
    let record = json(&["admin", "record", "show", &patient]);
    let hidden = record
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["items"].as_array().unwrap())
        .find(|i| i["id"] == item.as_str())
        .unwrap();
    assert_eq!(hidden["visible"], false);
    let grant = json(&[
        "admin",
        "record",
        "access",
        &patient,
        "--level",
        "Coded",
        "--test-results",
    ]);
    assert_eq!(grant["level"], "Coded");
    assert_eq!(grant["documents"], false);
    let grant = json(&["admin", "record", "access", &patient, "--clear"]);
    assert_eq!(grant["setByPractice"], false);
    let log = json(&["admin", "record", "access-log", &patient]);
    assert_eq!(log[0]["accessType"], "Changed online record access");

    let (ok, _, err) = pfs(
        &["admin", "--token", "wrong", "patient", "list"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("401"), "{err}");

    let (ok, out, err) = pfs(
        &[
            "admin",
            "provider",
            "add",
            "--name",
            "CLI test app",
            "--out",
            "cli-app",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("CLI test app"), "{out}");
    for f in ["client.pem", "client-key.pem", "ca.pem", "provider-id"] {
        assert!(dir.path().join("cli-app").join(f).exists(), "{f}");
    }
    let (ok, out, err) = pfs(
        &[
            "call",
            "CheckVersion",
            "--endpoint",
            &endpoint,
            "--credentials",
            "cli-app",
        ],
        dir.path(),
    );
    assert!(ok, "the new provider's credentials work: {out}{err}");

    // Fault injection: fail the next CheckVersion, then serve normally; list, remove, clear.
    let rule = json(&[
        "admin",
        "fault",
        "add",
        "error",
        "--error-code",
        "9999",
        "--message-type",
        "CheckVersion",
        "--count",
        "1",
    ]);
    assert_eq!(rule["action"]["kind"], "error");
    assert_eq!(rule["remaining"], 1);
    let check = || {
        pfs(
            &["call", "CheckVersion", "--endpoint", &endpoint],
            dir.path(),
        )
    };
    let (ok, out, _) = check();
    assert!(!ok && out.contains(r#"errorCode="9999""#), "{out}");
    let (ok, out, err) = check();
    assert!(ok, "the rule is spent: {out}{err}");
    let listed = json(&["admin", "fault", "list"]);
    assert_eq!(listed[0]["hits"], 1, "{listed}");
    assert_eq!(listed[0]["spent"], true, "{listed}");
    let id = rule["id"].to_string();
    let shown = json(&["admin", "fault", "show", &id]);
    assert_eq!(shown["id"], rule["id"]);
    let (ok, _, err) = pfs(&["admin", "fault", "remove", &id], dir.path());
    assert!(ok, "{err}");
    let drop_rule = json(&[
        "admin",
        "fault",
        "add",
        "drop",
        "--when",
        "after-handling",
        "--patient-id",
        "1",
        "--probability",
        "0.5",
        "--seed",
        "3",
    ]);
    assert_eq!(
        drop_rule["action"],
        serde_json::json!({"kind": "drop", "when": "afterHandling"})
    );
    assert_eq!(drop_rule["trigger"]["seed"], 3);
    assert_eq!(json(&["admin", "fault", "clear"])["removed"], 1);
    let (ok, _, err) = pfs(
        &["admin", "fault", "add", "empty", "--message-type", "Nope"],
        dir.path(),
    );
    assert!(
        !ok && err.contains("422") && err.contains("messageType"),
        "{err}"
    );
    drop(server);
}

#[test]
fn bad_arguments_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = pfs(&["serve", "--listen", "not-an-address"], dir.path());
    assert!(!ok);
    assert!(err.contains("--listen"), "{err}");
    let (ok, _, err) = pfs(
        &["call", "CheckVersion", "--credentials", "nowhere"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("nowhere"), "{err}");
    let (ok, _, err) = pfs(&["admin", "patient", "list"], dir.path());
    assert!(!ok);
    assert!(err.contains("admin-url"), "{err}");
    let (ok, _, err) = pfs(&["serve", "--sqlite-synchronous", "off"], dir.path());
    assert!(!ok, "--sqlite-synchronous off was accepted");
    assert!(err.contains("--sqlite-synchronous"), "{err}");
    for flag in [
        "--db-connections",
        "--db-read-connections",
        "--header-timeout-ms",
        "--request-timeout-ms",
        "--max-connections",
        "--max-in-flight-per-provider",
        "--kdf-queue",
        "--kdf-queue-per-provider",
    ] {
        let (ok, _, err) = pfs(&["serve", flag, "0"], dir.path());
        assert!(!ok, "{flag} 0 was accepted");
        assert!(err.contains(&format!("{flag} must be at least 1")), "{err}");
    }
    // MiB that overflow a byte count are refused, not wrapped into a small cache.
    let (ok, _, err) = pfs(
        &["serve", "--reply-cache-mib", &usize::MAX.to_string()],
        dir.path(),
    );
    assert!(!ok, "an overflowing --reply-cache-mib was accepted");
    assert!(err.contains("--reply-cache-mib is too large"), "{err}");
}

/// Without `--demo`, a new data directory gets no demo credentials, and the server says what to
/// do next instead.
#[test]
fn serve_without_demo_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PFS)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0", "--log", "warn"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("--demo") {
            break;
        }
    }
    assert!(printed.contains("holds no practice yet"), "{printed}");
    assert!(printed.contains("pfs admin provider add"), "{printed}");
    assert!(!dir.path().join("pfs-data/demo").exists());
}

/// At `--log trace`, a whole session (link, authenticate, act for a dependant, read, log off)
/// leaves no secret and no patient value in the server's output: not the linkage key, the
/// passphrase or the suid, not a name, a date of birth or an NHS number.
#[test]
fn trace_logs_hold_no_secrets_or_patient_values() {
    session_at_trace_level(&[]);
}

/// The same on PostgreSQL, whose driver logs every statement's parameters at debug.
#[test]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
fn trace_logs_hold_no_secrets_or_patient_values_on_postgres() {
    use pfs_store::pg_testing::{TestSchema, required_test_url};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&required_test_url()));
    session_at_trace_level(&["--database", schema.url()]);
    drop(schema);
}

/// Runs a session against `pfs serve --demo --log trace` started with `extra` arguments and
/// checks its output.
fn session_at_trace_level(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(PFS)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0", "--log", "trace"])
        .args(extra)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut endpoint = None;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    while let Ok(line) = lines.recv() {
        if let Some(rest) = line.trim().strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(|e| format!("{e}tpp/"));
        }
        let done = line.contains("pfs admin patient list");
        printed.push_str(&line);
        printed.push('\n');
        if done {
            break;
        }
    }
    let endpoint = endpoint.expect("endpoint printed");
    let accounts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("pfs-data/demo/accounts.json")).unwrap(),
    )
    .unwrap();
    let ada = &accounts[0];
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let call = |args: &[&str], suid: Option<&str>| {
        let mut all = vec!["call", "--endpoint", &endpoint];
        all.extend_from_slice(args);
        let mut cmd = Command::new(PFS);
        cmd.args(&all)
            .current_dir(dir.path())
            .env("PFS_CONFIG_DIR", dir.path().join("pfs-config"))
            .env_remove("PFS_PROFILE");
        if let Some(s) = suid {
            cmd.env("PFS_SUID", s);
        }
        let out = cmd.output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {body}{err}");
        (body, err)
    };
    let attr = |body: &str, name: &str| {
        let start = body.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        body[start..].split('"').next().unwrap().to_owned()
    };
    let (linked, _) = call(
        &[
            "LinkAccount",
            &format!("organisationCode={}", text(&ada["organisationCode"])),
            &format!("lastName={}", text(&ada["lastName"])),
            &format!("dateOfBirth={}T00:00:00", text(&ada["dateOfBirth"])),
            &format!("accountId={}", text(&ada["accountId"])),
            &format!("passphrase={}", text(&ada["linkageKey"])),
        ],
        None,
    );
    let passphrase = attr(&linked, "passphrase");
    let (authenticated, err) = call(
        &[
            "Authenticate",
            &format!("unitId={}", text(&ada["organisationCode"])),
            &format!("accountId={}", text(&ada["accountId"])),
            &format!("passphrase={passphrase}"),
        ],
        None,
    );
    let suid = err
        .lines()
        .find_map(|l| l.strip_prefix("suid: "))
        .expect("suid printed")
        .to_owned();
    let user = attr(&authenticated, "onlineUserId");
    let ben_nhs = text(&ada["proxyFor"][0]);
    let ben = authenticated
        .split("<Person ")
        .find(|p| p.contains(&ben_nhs))
        .map(|p| attr(&format!(" {p}"), "patientId"))
        .expect("Ben listed");
    let scope = [
        format!("unitId={}", text(&ada["organisationCode"])),
        format!("onlineUserId={user}"),
        format!("patientId={ben}"),
    ];
    let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
    for message in ["PatientSelected", "ListServiceAccesses", "ViewAppointments"] {
        let mut args = vec![message];
        args.extend_from_slice(&scope);
        if message == "ViewAppointments" {
            args.push("futureAppointments=Y");
        }
        call(&args, Some(&suid));
    }
    // Ben's repeat medication: the list, then an order of a course he may order, sent as a
    // body file since the courses are child elements.
    let mut args = vec!["ListRepeatMedication"];
    args.extend_from_slice(&scope);
    let (list, _) = call(&args, Some(&suid));
    let course = list
        .split("<Medication ")
        .skip(1)
        .find(|m| m.contains(r#"requestable="y""#))
        .map(|m| attr(&format!(" {m}"), "drugId"))
        .expect("a requestable course");
    let order = dir.path().join("order.xml");
    std::fs::write(
        &order,
        format!(
            r#"<RequestMedication apiVersion="1" uuid="6f1c9a2e-5b3d-4c7e-8a90-1b2c3d4e5f60" unitId="{}" patientId="{ben}" onlineUserId="{user}"><Medication drugId="{course}" type="Repeat"/></RequestMedication>"#,
            text(&ada["organisationCode"])
        ),
    )
    .unwrap();
    let (ordered, _) = call(
        &["RequestMedication", "-f", order.to_str().unwrap()],
        Some(&suid),
    );
    assert!(ordered.contains("<RequestMedicationReply"), "{ordered}");
    let mut args = vec!["GetPrescriptionRequests"];
    args.extend_from_slice(&scope);
    let (history, _) = call(&args, Some(&suid));
    assert!(
        history.contains(&format!(r#"drugId="{course}""#)),
        "{history}"
    );
    // A drug name says much about a patient: it must stay out of the logs too.
    let drug = list
        .split("<Medication ")
        .find(|m| m.contains(&format!(r#"drugId="{course}""#)))
        .map(|m| attr(&format!(" {m}"), "drug"))
        .expect("the course's name");
    // Messaging for Ben: the recipients, a message with an attachment from a file, the view,
    // and marking the practice's reply read; the practice side through `pfs admin message`.
    // Neither the text nor the file name may reach the logs.
    let mut args = vec!["MessageRecipients"];
    args.extend_from_slice(&scope);
    let (recipients, _) = call(&args, Some(&suid));
    let team = recipients
        .split("<Item ")
        .find(|i| i.contains(r#"description="UnitRecipient""#))
        .map(|i| attr(&format!(" {i}"), "id"))
        .expect("a team recipient");
    let message_text = "Zq7PrivateText about my rash";
    let file_name = "Zq7PrivateName.pdf";
    std::fs::write(dir.path().join(file_name), b"%PDF-1.4\nZq7 scan\n%%EOF\n").unwrap();
    let unit = format!("unitRecipientId={team}");
    let text_attr = format!("message={message_text}");
    let mut args = vec!["MessageCreate"];
    args.extend_from_slice(&scope);
    args.extend_from_slice(&[&unit, &text_attr, "--attach", file_name]);
    let (created, _) = call(&args, Some(&suid));
    let conversation = attr(&created, "conversationId");
    let pfs_admin = |args: &[&str]| {
        let (ok, out, err) = pfs(args, dir.path());
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let inbox = pfs_admin(&["admin", "message", "inbox", "Y99001", "--recipient", &team]);
    assert_eq!(inbox[0]["conversationId"], conversation.as_str());
    let file_id = inbox[0]["attachments"][0]["binaryDataId"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = pfs_admin(&[
        "admin",
        "message",
        "attachment",
        "Y99001",
        &file_id,
        "-o",
        "saved.pdf",
    ]);
    assert_eq!(saved["bytes"], 24);
    assert_eq!(
        std::fs::read(dir.path().join("saved.pdf")).unwrap(),
        std::fs::read(dir.path().join(file_name)).unwrap()
    );
    let reply = pfs_admin(&[
        "admin",
        "message",
        "reply",
        "Y99001",
        &conversation,
        "--from",
        &team,
        "--text",
        "Thank you, see attached.",
        "--attach",
        file_name,
    ]);
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    pfs_admin(&[
        "admin",
        "message",
        "read",
        "Y99001",
        &attr(&created, "messageId"),
    ]);
    let mut args = vec!["MessagesView"];
    args.extend_from_slice(&scope);
    let (view, _) = call(&args, Some(&suid));
    assert!(
        view.contains(&format!(r#"messageId="{reply_id}""#)),
        "{view}"
    );
    let mut args = vec!["MessageMarkAsRead"];
    args.extend_from_slice(&scope);
    args.extend_from_slice(&["--message-id", &reply_id]);
    call(&args, Some(&suid));
    let mut args = vec!["UnreadMessageCount"];
    args.extend_from_slice(&scope);
    let (count, _) = call(&args, Some(&suid));
    assert!(count.contains(r#"count="0""#), "{count}");
    call(&["Logoff"], Some(&suid));
    drop(server);

    // Killing the server closed its output: the reader ends and hands over every line.
    let logged = printed
        + &std::fs::read_to_string(&log_path).unwrap()
        + &lines.iter().collect::<Vec<_>>().join("\n");
    for message in [
        "LinkAccount",
        "Authenticate",
        "ViewAppointments",
        "RequestMedication",
        "MessageCreate",
        "Logoff",
    ] {
        assert!(
            logged.contains(&format!("type=\"{message}\"")),
            "no log line for {message}: is logging on?\n{logged}"
        );
    }
    for secret in [
        text(&ada["linkageKey"]),
        passphrase,
        suid,
        text(&ada["lastName"]),
        text(&ada["dateOfBirth"]),
        text(&ada["nhsNumber"]),
        ben_nhs,
        drug,
        "Zq7PrivateText".to_owned(),
        "Zq7PrivateName".to_owned(),
    ] {
        assert!(
            !logged.contains(&secret),
            "the log holds a secret or patient value"
        );
    }
}

/// `--log-format json`: every log line is one JSON object, and a PFS request's lines carry
/// its span (message type, result code, time taken).
#[test]
fn json_logs_are_one_object_per_line_with_the_request_span() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PFS)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .args(["--log", "info,pfs_server=debug", "--log-format", "json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut endpoint = None;
    let mut banner = Vec::new();
    while let Ok(line) = lines.recv() {
        if let Some(rest) = line.trim().strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(|e| format!("{e}tpp/"));
        }
        let done = line.contains("pfs admin patient list");
        banner.push(line);
        if done {
            break;
        }
    }
    let endpoint = endpoint.expect("endpoint printed");
    let check_version = || {
        let (ok, out, err) = pfs(
            &["call", "--endpoint", &endpoint, "CheckVersion"],
            dir.path(),
        );
        assert!(ok, "{out}{err}");
    };
    check_version();
    // While the sandbox clock is moved, every line says so; before, none does.
    let (ok, out, err) = pfs(&["admin", "clock", "set", "2h"], dir.path());
    assert!(ok, "{out}{err}");
    assert!(out.contains("\"offsetSeconds\": 7200"), "{out}");
    check_version();
    drop(server);
    let logged: Vec<String> = banner
        .into_iter()
        .filter(|l| l.starts_with('{'))
        .chain(lines.iter())
        .collect();
    let mut requests = 0;
    let mut moved = false;
    for line in &logged {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        moved |= v["fields"]["message"] == "the sandbox clock was moved";
        if moved {
            assert_eq!(v["clockOffset"], "+2h00m00s", "{line}");
        } else {
            assert!(v.get("clockOffset").is_none(), "{line}");
        }
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["level"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
        if v["fields"]["message"] == "request" {
            requests += 1;
            assert_eq!(v["level"], "DEBUG", "{line}");
            assert_eq!(v["span"]["name"], "request", "{line}");
            assert_eq!(v["span"]["type"], "CheckVersion", "{line}");
            assert_eq!(v["span"]["code"], "0", "{line}");
            assert!(v["span"]["micros"].is_u64(), "{line}");
            assert!(v["span"]["provider"].is_string(), "{line}");
        }
    }
    assert!(moved, "the clock move is logged\n{}", logged.join("\n"));
    assert_eq!(requests, 2, "two request lines\n{}", logged.join("\n"));
}
