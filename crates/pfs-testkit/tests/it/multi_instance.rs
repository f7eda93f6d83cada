//! Several instances on one PostgreSQL database (the one named by `PFS_TEST_POSTGRES_URL`,
//! each test in a schema of its own): a session opened on one instance works on another,
//! revocation through one is seen by the other at once, and an unreachable or stalled database
//! gives `9010` (and `/health` 503) until it returns, with no restart, while the reads waiting
//! for it stay bounded. The tests that need the database are ignored unless run with
//! `--include-ignored` (or `--ignored`), and then fail when the variable is unset.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pfs_client::{Error, ExposeSecret};
use pfs_core::StoreError;
use pfs_store::pg_testing::{TestSchema, required_test_url};
use pfs_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::session::{error_body, new_uuid, ok_body};

const XMLNS: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#;

fn patient_selected_xml(ods: &str, online_user_id: &str, patient_id: &str) -> String {
    format!(
        r#"<PatientSelected {XMLNS} uuid="{}" apiVersion="1" unitId="{ods}" onlineUserId="{online_user_id}" patientId="{patient_id}" />"#,
        new_uuid()
    )
}

fn logoff_xml() -> String {
    format!(r#"<Logoff {XMLNS} uuid="{}" apiVersion="1"/>"#, new_uuid())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn sessions_and_revocation_span_instances() {
    let (_schema, a, b) = crate::stores::two_instances().await;
    assert!(a.server.seeded.is_some(), "the first instance seeds");
    assert!(b.server.seeded.is_none(), "the second finds the practice");

    // Link and authenticate on A.
    let ada = a.account("Example").clone();
    let ben = a.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = a.login("Example").await.unwrap();
    let ada_id = session.online_user_id().to_owned();
    let ods = session.ods().to_owned();
    let suid = session.detach().expose_secret().to_owned();

    // The suid works on B.
    let on_b = b.client();
    let r = on_b
        .raw(
            "PatientSelected",
            Some(&suid),
            patient_selected_xml(&ods, &ada_id, &ben),
        )
        .await
        .unwrap();
    ok_body(&r, "PatientSelectedReply");
    assert_eq!(r.suid.as_deref(), Some(suid.as_str()));

    // Log off on B; the suid is dead on A.
    let r = on_b.raw("Logoff", Some(&suid), logoff_xml()).await.unwrap();
    ok_body(&r, "LogoffReply");
    let r = a
        .client()
        .raw(
            "PatientSelected",
            Some(&suid),
            patient_selected_xml(&ods, &ada_id, &ada_id),
        )
        .await
        .unwrap();
    error_body(&r, "3", &[&suid]);

    // A provider registered and revoked through A's admin API is refused by B at once.
    let creds = a.new_provider("Shared App", false).await.unwrap();
    let app_on_b = b.client_for(&creds);
    app_on_b
        .check_version()
        .await
        .expect("B knows the new provider");
    let (status, _) = a
        .admin(
            "POST",
            &format!("/api/providers/{}/revoke", creds.provider_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    match app_on_b.check_version().await {
        Err(Error::Pfs { code, .. }) if code == "9007" => {}
        other => panic!("expected 9007 from B, got {other:?}"),
    }

    // The practice side sees one truth: both instances list the same providers.
    let (_, on_a) = a.admin("GET", "/api/providers", None).await.unwrap();
    let (_, on_b_list) = b.admin("GET", "/api/providers", None).await.unwrap();
    assert_eq!(on_a, on_b_list);

    b.server.shutdown().await;
    a.server.shutdown().await;
}

/// Each instance keeps its own record cache; a change written through either instance's admin
/// API is seen at the next read on both (the record token moves in the writing transaction,
/// and every read checks it against the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn the_record_cache_is_never_stale_across_instances() {
    use crate::record::{add_event, reads_match, set_visible};
    let (_schema, a, b) = crate::stores::two_instances().await;
    let on_a = a.login("Patel").await.unwrap();
    let on_b = b.login("Patel").await.unwrap();
    let me = on_a.online_user_id().to_owned();
    let both = [&on_a, &on_b];
    let (status, _) = a
        .admin(
            "PUT",
            &format!("/api/patients/{me}/record-access/{me}"),
            Some(serde_json::json!({"level": "Full", "documents": true, "testResults": true})),
        )
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{status}");
    let at_start = reads_match(&a, &both, true, true, "at the start").await;

    // Written through B: A, whose cache holds the record, sees it at once.
    add_event(&b, &me, "2099-01-01T10:00:00Z", "written through B").await;
    let added = reads_match(&a, &both, true, true, "an event added through B").await;
    assert_ne!(added, at_start);
    // Hidden through A: B sees it at once.
    let record = a
        .admin("GET", &format!("/api/patients/{me}/record"), None)
        .await
        .unwrap()
        .1;
    let item = record[0]["items"][0]["id"].as_str().unwrap().to_owned();
    set_visible(&a, &me, &item, false).await;
    let hidden = reads_match(&b, &both, true, true, "an item hidden through A").await;
    assert_ne!(hidden, added);
    set_visible(&b, &me, &item, true).await;
    assert_eq!(
        reads_match(&a, &both, true, true, "shown again through B").await,
        added
    );

    b.server.shutdown().await;
    a.server.shutdown().await;
}

/// Each instance keeps its own cached `MessagesView`; a change made through either instance
/// (by the patient or through the practice's admin API) is seen byte for byte at the next read
/// on both (the messages token moves in the writing transaction, and every read checks it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn the_messages_cache_is_never_stale_across_instances() {
    use crate::messaging::message_views_match;
    use pfs_client::NewMessage;
    use pfs_wire::{MessageTo, RecipientKind};
    let (_schema, a, b) = crate::stores::two_instances().await;
    let on_a = a.login("Patel").await.unwrap();
    let on_b = b.login("Patel").await.unwrap();
    let both = [(&a, &on_a), (&b, &on_b)];
    let at_start = message_views_match(&a, &both, "at the start").await;
    let recipients = on_a.message_recipients().await.unwrap().items;
    let id_of = |kind| {
        recipients
            .iter()
            .find(|i| i.kind == kind)
            .map(|i| i.id.clone())
            .unwrap()
    };
    let (doctor, team) = (
        id_of(RecipientKind::Recipient),
        id_of(RecipientKind::UnitRecipient),
    );

    // Sent through A: B, whose cache holds the messages, sees it at once.
    let sent = on_a
        .message_create(&NewMessage::new(
            MessageTo::UnitRecipient(team),
            "Sent through A",
        ))
        .await
        .unwrap();
    let first_id = sent.message_id.unwrap();
    let after_send = message_views_match(&b, &both, "sent through A").await;
    assert_ne!(after_send, at_start);
    // Replied to through B's admin API: A sees it at once.
    let ods = &a.account("Patel").organisation_code;
    let (status, reply) = b
        .admin(
            "POST",
            &format!("/api/practices/{ods}/conversations/{first_id}/replies"),
            Some(serde_json::json!({"fromRecipientId": doctor, "text": "Replied through B"})),
        )
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{status} {reply}");
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    let after_reply = message_views_match(&a, &both, "replied through B").await;
    assert_ne!(after_reply, after_send);
    // Read through B, deleted through A.
    on_b.message_mark_as_read(&[&reply_id]).await.unwrap();
    let after_read = message_views_match(&a, &both, "read through B").await;
    assert_ne!(after_read, after_reply);
    on_a.message_delete(&[&reply_id]).await.unwrap();
    assert_eq!(
        message_views_match(&b, &both, "deleted through A").await,
        after_send
    );

    b.server.shutdown().await;
    a.server.shutdown().await;
}

/// A TCP relay to PostgreSQL that can be cut and restored, standing in for a database that
/// goes away (network failure, restart) and comes back, or stalled: connections stay open but
/// nothing gets through (a network that drops packets).
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, stalled, links) = (up.clone(), stalled.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let (target, stalled) = (target.clone(), stalled.clone());
                    let link = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(&target).await {
                            let (in_read, in_write) = inbound.into_split();
                            let (out_read, out_write) = outbound.into_split();
                            // Either direction ending ends the link, closing both sockets.
                            tokio::select! {
                                () = forward(in_read, out_write, stalled.clone()) => {}
                                () = forward(out_read, in_write, stalled) => {}
                            }
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Relay {
            addr,
            up,
            stalled,
            links,
            accept,
        }
    }

    /// Holds every byte in both directions, on open and new connections, until `unstall`.
    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// Cuts every open connection and refuses new ones (they are accepted and closed).
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, holding what it read while `stalled`.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `url` with its host and port replaced by `addr`; also returns the original `host:port`.
fn via(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    let target = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    (format!("{scheme}://{userinfo}{addr}{tail}"), target)
}

/// A server on a fresh schema that reaches the database through a [`Relay`], with Ada logged
/// in and her son Ben selected.
struct BehindRelay {
    _schema: TestSchema,
    relay: Relay,
    t: TestServer,
    session: pfs_client::Session,
    ben: String,
}

/// [`BehindRelay`] with a 1 s acquire timeout and the given statement timeout.
async fn behind_relay(statement_timeout: Duration) -> BehindRelay {
    let schema = TestSchema::create(&required_test_url()).await;
    let (_, target) = via(schema.url(), "127.0.0.1:1".parse().unwrap());
    let relay = Relay::start(target).await;
    let (url, _) = via(schema.url(), relay.addr);
    let t = TestServer::start_with(|o| {
        o.database = Some(url);
        o.postgres.acquire_timeout = Duration::from_secs(1);
        o.postgres.statement_timeout = statement_timeout;
    })
    .await
    .unwrap();
    let ada = t.account("Example").clone();
    let ben = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = t.login("Example").await.unwrap();
    session.select_patient(&ben).await.unwrap();
    BehindRelay {
        _schema: schema,
        relay,
        t,
        session,
        ben,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn unreachable_database_gives_9010_and_recovers() {
    let BehindRelay {
        _schema,
        relay,
        t,
        session,
        ben,
    } = behind_relay(Duration::from_secs(5)).await;
    let (status, body) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(
        (status, body["database"].as_str()),
        (200, Some("reachable"))
    );

    relay.cut();
    match session.select_patient(&ben).await {
        Err(Error::Pfs { code, .. }) if code == "9010" => {}
        other => panic!("expected 9010 while the database is away, got {other:?}"),
    }
    // Sessionless requests that need the database fail the same way.
    match t.client().check_version().await {
        Err(Error::Pfs { code, .. }) if code == "9010" => {}
        other => panic!("expected 9010 while the database is away, got {other:?}"),
    }
    let (status, body) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "unreachable", "{body}");

    // The database returns: the server recovers by itself.
    relay.restore();
    let mut healthy = false;
    for _ in 0..50 {
        let (status, _) = t.admin("GET", "/health", None).await.unwrap();
        if status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(healthy, "/health did not recover");
    session.select_patient(&ben).await.expect("works again");
    session.logoff().await.unwrap();
    t.server.shutdown().await;
}

/// A database that stops answering without closing its connections (the shared read
/// connection included) gives `9010` once the statement timeout and a second have passed, not a
/// hang, and the server recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn stalled_database_gives_9010_and_recovers() {
    let BehindRelay {
        _schema,
        relay,
        t,
        session,
        ben,
    } = behind_relay(Duration::from_millis(300)).await;

    relay.stall();
    // The session-context read gives up rather than hang; so does the next, which finds the
    // stalled read connection retired and cannot open another.
    let bound = Duration::from_secs(30);
    for attempt in ["read", "again, on a fresh read connection"] {
        match tokio::time::timeout(bound, session.select_patient(&ben)).await {
            Ok(Err(Error::Pfs { code, .. })) if code == "9010" => {}
            other => panic!("{attempt}: expected 9010 while stalled, got {other:?}"),
        }
    }
    let (status, _) = tokio::time::timeout(bound, t.admin("GET", "/health", None))
        .await
        .expect("health answers")
        .unwrap();
    assert_eq!(status, 503);

    relay.unstall();
    let mut recovered = false;
    for _ in 0..50 {
        if session.select_patient(&ben).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "reads did not recover");
    session.logoff().await.expect("writes work again");
    t.server.shutdown().await;
}

/// While the database is stalled, session-context reads queue only up to the queue's capacity
/// (plus the two batches of 64 in flight): every read beyond is answered `Unavailable` at once,
/// while the database is still stalled. The queued reads are answered once it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn stalled_database_bounds_the_session_context_queue() {
    let BehindRelay {
        _schema,
        relay,
        t,
        session,
        ben,
    } = behind_relay(Duration::from_secs(60)).await;
    let store = t.server.pfs.store().clone();
    let capacity = pfs_store::postgres::SESSION_CONTEXT_QUEUE;
    let in_flight = 2 * 64;
    let reads = 3 * capacity;

    relay.stall();
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..reads {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let read = store
                .session_context(&"0".repeat(64), None, pfs_core::Prefetch::Nothing)
                .await;
            let _ = done.send(read);
        });
    }
    let is_full = |r: &Result<_, StoreError>| matches!(r, Err(StoreError::Unavailable(text)) if text.contains("too many reads are waiting"));
    // Nothing reaches the database, so every answer now is a refusal of a full queue.
    let refused_at_once = reads - capacity - in_flight;
    // (The bound only keeps a queue without a limit from hanging the test.)
    let bound = Duration::from_secs(30);
    for n in 0..refused_at_once {
        let answer = tokio::time::timeout(bound, answers.recv())
            .await
            .unwrap_or_else(|_| panic!("only {n} reads were refused while stalled"))
            .expect("an answer");
        assert!(is_full(&answer), "answer {n} while stalled: {answer:?}");
    }

    relay.unstall();
    let (mut refused, mut answered) = (refused_at_once, 0);
    for _ in refused_at_once..reads {
        match answers.recv().await.expect("an answer") {
            Ok(None) => answered += 1,
            other if is_full(&other) => refused += 1,
            other => panic!("expected no session or a full queue, got {other:?}"),
        }
    }
    assert!(
        answered <= capacity + in_flight,
        "{answered} reads were queued"
    );
    assert_eq!(refused + answered, reads);
    session.select_patient(&ben).await.expect("works again");
    session.logoff().await.unwrap();
    t.server.shutdown().await;
}

#[test]
fn via_rewrites_host_and_port() {
    let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    assert_eq!(
        via(
            "postgres://u:p@db.example:6543/pfs?options=-c%20search_path%3Ds",
            addr
        ),
        (
            "postgres://u:p@127.0.0.1:4000/pfs?options=-c%20search_path%3Ds".to_owned(),
            "db.example:6543".to_owned()
        )
    );
    assert_eq!(via("postgres://db/pfs", addr).1, "db:5432");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn concurrent_bookings_across_instances_have_one_winner() {
    let (_schema, a, b) = crate::stores::two_instances().await;

    // Every demo account logs in, half on A and half on B.
    let mut sessions = Vec::new();
    for (i, account) in a.accounts.clone().iter().enumerate() {
        let on = if i % 2 == 0 { &a } else { &b };
        let client = on.client();
        let passphrase = on.link(&client, account).await.unwrap();
        sessions.push(
            client
                .authenticate(&account.organisation_code, &account.account_id, &passphrase)
                .await
                .unwrap(),
        );
    }
    let now = pfs_core::uktime::to_wall_clock(a.clock_now());
    let slots = sessions[0].list_slots(now, 14).await.unwrap();
    let session = slots
        .sessions
        .first()
        .expect("the demo practice has sessions");
    let slot = session.slots.first().expect("a free slot");

    let attempts = sessions
        .iter()
        .map(|s| s.book_appointment(&session.session_id, slot.start_date, slot.end_date, None));
    let results = futures_util::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "exactly one booking wins");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code(), Some("1103"), "{e}");
        }
    }
    let start = pfs_core::uktime::to_instant(slot.start_date);
    let held = a
        .server
        .pfs
        .store()
        .practice_appointments(
            sessions[0].ods(),
            start,
            start + chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let for_slot: Vec<_> = held
        .iter()
        .filter(|x| x.session_id == session.session_id && x.start == start)
        .collect();
    assert_eq!(
        for_slot.len(),
        1,
        "the store holds exactly one appointment for the slot"
    );
}

/// Each instance keeps copies of patients' contexts; a service switched off or on through the
/// other instance's admin API, for the practice or for the patient, is seen by the next request
/// (the context generation moves in the writing transaction, and every session read returns
/// it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn patient_contexts_are_never_stale_across_instances() {
    let (_schema, a, b) = crate::stores::two_instances().await;
    let on_a = a.login("Patel").await.unwrap();
    let ods = on_a.ods().to_owned();
    let patient = on_a.selected_patient_id();
    let views = async |what: &str| -> Option<String> {
        // Twice: the second is served from the copy when it is current.
        let first = on_a.view_appointments(true).await.map(|_| ());
        let second = on_a.view_appointments(true).await;
        assert_eq!(first.is_ok(), second.is_ok(), "{what}: two reads agree");
        second
            .err()
            .map(|e| e.code().unwrap_or("not a PFS error").to_owned())
    };
    let switch = async |path: String, enabled: serde_json::Value| {
        let (status, body) = b
            .admin(
                "PUT",
                &path,
                Some(serde_json::json!({ "enabled": enabled })),
            )
            .await
            .unwrap();
        assert_eq!(status, 204, "{path}: {body}");
    };
    let practice = format!("/api/practices/{ods}/services/appointments");
    let theirs = format!("/api/patients/{patient}/services/appointments");

    assert_eq!(views("at the start").await, None);
    switch(practice.clone(), false.into()).await;
    assert_eq!(views("practice off through B").await.as_deref(), Some("6"));
    switch(practice, serde_json::Value::Null).await;
    assert_eq!(views("practice cleared through B").await, None);
    switch(theirs.clone(), false.into()).await;
    assert_eq!(views("patient off through B").await.as_deref(), Some("6"));
    switch(theirs, true.into()).await;
    assert_eq!(views("patient on through B").await, None);

    b.server.shutdown().await;
    a.server.shutdown().await;
}

/// Each instance keeps copies of lists' courses, checked against the patient's medication token
/// (migration 0016): a course prescribed, an order and a stop made through the other instance
/// are in the next list read, and two reads in a row (the second from the copy when it is
/// current) agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn medication_lists_are_never_stale_across_instances() {
    use crate::medication::{add_course, practice};
    use pfs_core::model::CourseType;
    use pfs_wire::{Medication, YesNo};

    let (_schema, a, b) = crate::stores::two_instances().await;
    let on_a = a.login("Patel").await.unwrap();
    let on_b = b.login("Patel").await.unwrap();
    let patient = on_a.selected_patient_id().to_owned();
    let listed = async |what: &str| -> Vec<Medication> {
        let first = on_a.list_repeat_medication().await.unwrap().medications;
        let second = on_a.list_repeat_medication().await.unwrap().medications;
        assert_eq!(first, second, "{what}: two reads agree");
        second
    };
    let requestable = |list: &[Medication], id: &str| {
        list.iter()
            .find(|m| m.drug_id == id)
            .map(|m| m.requestable == YesNo(true))
    };

    let before = listed("at the start").await;
    let course = add_course(
        &b,
        &patient,
        1,
        "Copyline 5mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let after = listed("prescribed through B").await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(requestable(&after, &course), Some(true));

    on_b.list_repeat_medication().await.unwrap();
    on_b.request_medication(&[(course.as_str(), CourseType::Repeat)], None)
        .await
        .unwrap();
    let ordered = listed("ordered through B").await;
    assert_eq!(requestable(&ordered, &course), Some(false), "claimed");

    practice(
        &b,
        "POST",
        &format!("/courses/{course}/stop"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        requestable(&listed("stopped through B").await, &course),
        None,
        "a stopped course is not listed"
    );

    b.server.shutdown().await;
    a.server.shutdown().await;
}
