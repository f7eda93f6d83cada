//! The SDK's retries, per-call timeouts and `pfs.call` spans against a real server.
//!
//! Transient failures are real: the provider's in-flight cap held by a half-sent request
//! (`9008`), a TCP relay in front of the server that closes its first connections before the
//! TLS handshake, and a listener that accepts connections and never answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use pfs_client::{Application, Client, Error, ExposeSecret, RetryPolicy, Session};
use pfs_core::uktime::to_wall_clock;
use pfs_testkit::TestServer;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::session::new_uuid;
use crate::transport::{check_version_xml, read_response, start_in_flight};

/// A policy that retries quickly, for tests.
fn quick(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

/// A client of the demo provider for `endpoint`, with `retry`.
fn client_at(t: &TestServer, endpoint: &str, retry: RetryPolicy) -> Client {
    builder_at(t, endpoint).retry(retry).build().unwrap()
}

/// A client builder of the demo provider for `endpoint`.
fn builder_at(t: &TestServer, endpoint: &str) -> pfs_client::ClientBuilder {
    Client::builder(endpoint)
        .identity_pem(t.demo.cert_pem.as_bytes(), t.demo.key_pem.as_bytes())
        .ca_pem(t.ca_pem.as_bytes())
        .application(Application {
            name: "testkit".into(),
            version: "1.0".into(),
            provider_id: t.demo.provider_id.clone(),
            device_type: "testkit".into(),
        })
}

// ---------------------------------------------------------------------------------------------
// Capturing what the SDK logs.

/// Every span and event of the `pfs_client` crate, with its fields as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

#[derive(Default)]
struct Captured {
    /// Spans in creation order: name and fields (recorded later ones included).
    spans: Vec<(String, BTreeMap<String, String>)>,
    /// Span id → index in `spans` (ids are reused once a span closes).
    live: BTreeMap<u64, usize>,
    /// Events' fields.
    events: Vec<BTreeMap<String, String>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if !attrs.metadata().target().starts_with("pfs_client") {
            return;
        }
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut c = self.0.lock().unwrap();
        let index = c.spans.len();
        c.spans.push((attrs.metadata().name().to_owned(), fields));
        c.live.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut c = self.0.lock().unwrap();
        if let Some(&index) = c.live.get(&id.into_u64()) {
            values.record(&mut Fields(&mut c.spans[index].1));
        }
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        self.0.lock().unwrap().live.remove(&id.into_u64());
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("pfs_client") {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().events.push(fields);
    }
}

impl Capture {
    /// Installs the capture for this thread (the tests run on a current-thread runtime, so the
    /// SDK's tasks run here too).
    ///
    /// tracing decides once per callsite whether anyone is interested, asking the subscriber of
    /// whichever thread reaches it first. Another test using the SDK on a thread without a
    /// subscriber would answer "never" for `pfs.call`, and this thread's capture would see no
    /// span. A process-wide registry with no layers answers "always" on every thread (it records
    /// nothing); each span is then offered to the current thread's subscriber.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        static EVERY_THREAD_INTERESTED: std::sync::Once = std::sync::Once::new();
        EVERY_THREAD_INTERESTED.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry())
                .expect("no other test sets a global subscriber");
        });
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()));
        // A callsite first reached while the global registry was being set may have kept its
        // "never": ask again now that both subscribers are in place.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// The fields of every `pfs.call` span, in order.
    fn calls(&self) -> Vec<BTreeMap<String, String>> {
        let c = self.0.lock().unwrap();
        c.spans
            .iter()
            .filter(|(name, _)| name == "pfs.call")
            .map(|(_, fields)| fields.clone())
            .collect()
    }

    /// The last `pfs.call` span of `message_type`.
    fn last_call(&self, message_type: &str) -> BTreeMap<String, String> {
        self.calls()
            .into_iter()
            .rev()
            .find(|c| c.get("message_type").map(String::as_str) == Some(message_type))
            .unwrap_or_else(|| panic!("no pfs.call span for {message_type}"))
    }

    /// Everything captured, as one text.
    fn text(&self) -> String {
        let c = self.0.lock().unwrap();
        format!("{:?} {:?}", c.spans, c.events)
    }
}

fn field<'a>(call: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    call.get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no field {name} in {call:?}"))
}

// ---------------------------------------------------------------------------------------------
// A TCP relay that fails the way networks do.

/// A listener on a free port. With an upstream, it closes its first `refuse` connections as
/// soon as it accepts them (before the TLS handshake) and relays the others to the upstream;
/// without one, it accepts every connection and never sends a byte.
struct Relay {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: Option<SocketAddr>, refuse: usize) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    continue;
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                match upstream {
                    None => held.push(socket),
                    Some(_) if n < refuse => drop(socket),
                    Some(upstream) => {
                        tokio::spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(upstream).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut socket, &mut server).await;
                            }
                        });
                    }
                }
            }
        });
        Relay {
            addr,
            accepted,
            task,
        }
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/tpp/", self.addr.port())
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free slot at least three hours ahead (beyond the cancellation cut-off).
async fn later_slot(t: &TestServer, s: &Session) -> (String, NaiveDateTime, NaiveDateTime) {
    let now = to_wall_clock(t.clock_now());
    let reply = s.list_slots(now, 14).await.unwrap();
    reply
        .sessions
        .iter()
        .flat_map(|x| x.slots.iter().map(move |slot| (x, slot)))
        .filter(|(_, slot)| slot.start_date > now + chrono::Duration::hours(3))
        .min_by_key(|(_, slot)| slot.start_date)
        .map(|(x, slot)| (x.session_id.clone(), slot.start_date, slot.end_date))
        .expect("the demo practice has free slots")
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "current_thread")]
async fn a_booking_refused_at_the_in_flight_cap_is_sent_again_and_booked_once() {
    let capture = Capture::default();
    let _guard = capture.install();
    let t = TestServer::start_with(|o| o.limits.max_in_flight_per_provider = 1)
        .await
        .unwrap();
    let s = t.login("Jones").await.unwrap();
    let (session_id, start, end) = later_slot(&t, &s).await;

    // The provider's one slot is taken by a request whose body is half sent.
    let body = check_version_xml(&new_uuid(), &t.demo.provider_id);
    let mut held = start_in_flight(&t, &t.demo, &body, 10).await;

    // Without retries the caller gets the refusal.
    let e = s
        .book_appointment(&session_id, start, end, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("9008"), "{e:?}");
    let call = capture.last_call("BookAppointment");
    assert_eq!(field(&call, "attempts"), "1");
    assert_eq!(field(&call, "outcome"), "pfs");
    assert_eq!(field(&call, "code"), "9008");

    // 9008 says the request was refused before it was processed: a write is sent again, until
    // the held request completes and frees the slot.
    let patient = RetryPolicy {
        max_attempts: 50,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    };
    let patient_session = s.with_retry(patient);
    let booking = patient_session.book_appointment(&session_id, start, end, None);
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.write_all(&body.as_bytes()[10..]).await.unwrap();
        held.flush().await.unwrap();
        read_response(&mut held).await.unwrap()
    };
    let (booked, released) = tokio::join!(booking, release);
    let released = format!("{released:?}");
    assert!(released.contains("CheckVersionReply"), "{released}");
    booked.unwrap();
    let call = capture.last_call("BookAppointment");
    assert_eq!(field(&call, "outcome"), "ok");
    assert_eq!(field(&call, "effect"), "write");
    let attempts: u32 = field(&call, "attempts").parse().unwrap();
    assert!(attempts >= 2, "{call:?}");

    // Booked exactly once.
    let upcoming = s.view_appointments(true).await.unwrap();
    let matching: Vec<_> = upcoming
        .appointments
        .iter()
        .filter(|a| a.start_date == start)
        .collect();
    assert_eq!(matching.len(), 1, "{upcoming:?}");
    s.logoff().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_link_whose_connection_closed_before_the_handshake_is_sent_again() {
    let capture = Capture::default();
    let _guard = capture.install();
    let t = TestServer::start().await.unwrap();
    let relay = Relay::start(Some(t.server.pfs_addr), 2).await;
    let account = t.account("Example").clone();

    // Without retries, a connection closed before the TLS handshake is a transport error.
    let once = client_at(&t, &relay.endpoint(), RetryPolicy::none());
    let e = once
        .link_account(TestServer::register(&account))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert_eq!(relay.accepted(), 1);

    // Not a byte of the request was sent, so even a write is sent again.
    let client = client_at(&t, &relay.endpoint(), quick(3));
    let linked = client
        .link_account(TestServer::register(&account))
        .await
        .unwrap();
    assert_eq!(relay.accepted(), 3);
    let call = capture.last_call("LinkAccount");
    assert_eq!(field(&call, "attempts"), "2");
    assert_eq!(field(&call, "outcome"), "ok");
    assert_eq!(field(&call, "status"), "200");

    // The passphrase of that one link opens a session.
    let passphrase = linked.passphrase.unwrap();
    let s = client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await
        .unwrap();
    s.logoff().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_timeout_reads_are_sent_again_and_writes_are_not() {
    let t = TestServer::start().await.unwrap();
    let silent = Relay::start(None, 0).await;
    // The client's own timeout is long; the calls set a short one.
    let client = client_at(&t, &silent.endpoint(), quick(3)).with_timeout(Duration::from_secs(60));
    assert_eq!(client.timeout(), Duration::from_secs(60));
    let short = Duration::from_millis(300);

    // A read: three attempts, each its own connection, each given the per-call timeout.
    let started = Instant::now();
    let e = client
        .with_timeout(short)
        .check_version()
        .await
        .unwrap_err();
    assert_eq!(e, Error::Timeout);
    assert!(started.elapsed() >= short * 3, "{:?}", started.elapsed());
    assert_eq!(silent.accepted(), 3);

    // A write that timed out may have been processed: it is not sent again.
    let account = t.account("Example").clone();
    let started = Instant::now();
    let e = client
        .with_timeout(short)
        .link_account(TestServer::register(&account))
        .await
        .unwrap_err();
    assert_eq!(e, Error::Timeout);
    assert!(started.elapsed() >= short, "{:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(silent.accepted(), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn call_spans_name_the_message_and_never_the_patient_or_a_secret() {
    let capture = Capture::default();
    let _guard = capture.install();
    let t = TestServer::start().await.unwrap();
    let client = client_at(&t, &t.endpoint(), quick(3));
    let account = t.account("Example").clone();
    let linked = client
        .link_account(TestServer::register(&account))
        .await
        .unwrap();
    let passphrase = linked.passphrase.clone().unwrap();
    let s = client
        .authenticate(&account.organisation_code, &account.account_id, &passphrase)
        .await
        .unwrap();
    let suid = s.suid().expose_secret().to_owned();
    let me = s.online_user_id().to_owned();
    let child = s
        .reply()
        .people
        .iter()
        .find(|p| p.patient_id != me)
        .expect("the demo user acts for a child")
        .clone();
    s.select_patient(&child.patient_id).await.unwrap();
    s.select_patient(&me).await.unwrap();
    let (session_id, start, end) = later_slot(&t, &s).await;
    let notes = "Secret reason for the visit";
    s.book_appointment(&session_id, start, end, Some(notes))
        .await
        .unwrap();
    let appt_id = s
        .view_appointments(true)
        .await
        .unwrap()
        .appointments
        .into_iter()
        .find(|a| a.start_date == start)
        .unwrap()
        .appt_id;
    s.cancel_appointment(&appt_id).await.unwrap();
    let e = s.cancel_appointment(&appt_id).await.unwrap_err();
    assert_eq!(e.code(), Some("9012"));
    s.list_repeat_medication().await.unwrap();
    s.logoff().await.unwrap();

    let calls = capture.calls();
    let types: Vec<&str> = calls.iter().map(|c| field(c, "message_type")).collect();
    assert_eq!(
        types,
        [
            "LinkAccount",
            "Authenticate",
            "PatientSelected",
            "PatientSelected",
            "ListSlots",
            "BookAppointment",
            "ViewAppointments",
            "CancelAppointment",
            "CancelAppointment",
            "ListRepeatMedication",
            "Logoff",
        ]
    );
    for call in &calls {
        assert_eq!(field(call, "attempts"), "1", "{call:?}");
        assert!(field(call, "elapsed_ms").parse::<u64>().is_ok(), "{call:?}");
        assert_eq!(field(call, "status"), "200", "{call:?}");
    }
    assert_eq!(field(&calls[0], "effect"), "write");
    assert_eq!(field(&calls[2], "effect"), "idempotent");
    assert_eq!(field(&calls[4], "effect"), "read");
    assert_eq!(field(&calls[7], "outcome"), "ok");
    assert!(!calls[7].contains_key("code"), "{:?}", calls[7]);
    assert_eq!(field(&calls[8], "outcome"), "pfs");
    assert_eq!(field(&calls[8], "code"), "9012");

    let text = capture.text();
    for secret in [
        suid.as_str(),
        passphrase.expose_secret(),
        account.linkage_key.as_str(),
        account.account_id.as_str(),
        account.last_name.as_str(),
        account.nhs_number.as_str(),
        me.as_str(),
        child.patient_id.as_str(),
        child.name.as_str(),
        notes,
    ] {
        assert!(!secret.is_empty());
        assert!(!text.contains(secret), "{secret:?} appears in {text}");
    }
}

/// An exchange observer sees every attempt's request and reply as they crossed the wire, and an
/// attempt that got no reply as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_observer_sees_each_attempt() {
    let t = TestServer::start().await.unwrap();
    type Seen = Vec<(String, String, Option<(u16, String)>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let record = seen.clone();
    let client = builder_at(&t, &t.endpoint())
        .on_exchange(move |x| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            record.lock().unwrap().push((
                x.message_type.to_owned(),
                text(x.request),
                x.reply.map(|(status, body)| (status, text(body))),
            ));
        })
        .build()
        .unwrap();
    client.check_version().await.unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (message_type, request, reply) = &seen[0];
        assert_eq!(message_type, "CheckVersion");
        assert!(request.contains("<CheckVersion"), "{request}");
        let (status, body) = reply.as_ref().unwrap();
        assert_eq!(*status, 200);
        assert!(body.contains("<CheckVersionReply"), "{body}");
    }
    // A raw call the server refuses is seen with its Error reply.
    client
        .raw("CheckVersion", None, "not xml".into())
        .await
        .unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].1, "not xml");
        assert!(
            seen[1]
                .2
                .as_ref()
                .unwrap()
                .1
                .contains(r#"errorCode="9001""#)
        );
    }
    // A server that closes every connection at once: the attempt is seen, with no reply.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let record = seen.clone();
    let closed = builder_at(&t, &format!("https://127.0.0.1:{port}/tpp/"))
        .on_exchange(move |x| {
            record
                .lock()
                .unwrap()
                .push((x.message_type.to_owned(), String::new(), None));
            assert!(x.reply.is_none());
        })
        .build()
        .unwrap();
    assert!(closed.check_version().await.is_err());
    assert_eq!(seen.lock().unwrap().len(), 3);
}

/// The capture's own check: a thread with no subscriber that reaches the `pfs.call` span first
/// must not hide the span from this thread's capture (tracing asks only once per callsite). Run
/// alone, the other thread is first for certain; in the whole suite some test was first.
#[tokio::test(flavor = "current_thread")]
async fn the_capture_sees_calls_after_a_thread_without_a_subscriber_made_one() {
    let capture = Capture::default();
    let _guard = capture.install();
    let t = Arc::new(TestServer::start().await.unwrap());
    let elsewhere = Arc::clone(&t);
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { elsewhere.login("Jones").await.unwrap() });
    })
    .await
    .unwrap();

    t.login("Jones").await.unwrap();
    let call = capture.last_call("Authenticate");
    assert_eq!(field(&call, "outcome"), "ok");
}
