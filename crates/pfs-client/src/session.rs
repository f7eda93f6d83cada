//! [`Session`]: an authenticated PFS session, selecting a patient, the services open to them,
//! and logging off. Each service area's calls are in a file of their own (`appointments.rs`, …).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pfs_wire::{
    AuthenticateReply, Header, ListServiceAccesses, ListServiceAccessesReply, Logoff, LogoffReply,
    PatientScope, PatientSelected, PatientSelectedReply, RequestMessage, WireMessage,
};
use secrecy::{ExposeSecret, SecretString};

use crate::client::Client;
use crate::error::Result;
use crate::retry::RetryPolicy;

/// An open session, returned by [`Client::authenticate`].
///
/// Every call sends the session id in the `suid` header, `unitId` = the practice ODS code,
/// and, for per-patient messages, `patientId` = the selected patient and `onlineUserId`.
/// Methods take `&self`, so a session can be shared between tasks (e.g. in an `Arc`).
///
/// End it with [`logoff`](Self::logoff). A session dropped without logging off sends a
/// best-effort `Logoff` in the background when dropped inside a Tokio runtime (the result is
/// ignored; outside a runtime nothing is sent).
///
/// Calls use the timeout and retry policy of the client that opened the session;
/// [`with_timeout`](Self::with_timeout) and [`with_retry`](Self::with_retry) give a view of the
/// same session with other values for some calls.
pub struct Session {
    client: Client,
    state: Arc<State>,
    /// Whether this handle is the session itself (which logs off when dropped) rather than a
    /// view from `with_timeout` or `with_retry`.
    owner: bool,
}

/// What the session and its views share.
struct State {
    suid: SecretString,
    ods: String,
    reply: AuthenticateReply,
    selected_patient_id: Mutex<String>,
    /// Logged off or detached: dropping the session sends nothing.
    ended: AtomicBool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("suid", &"[REDACTED]")
            .field("ods", &self.state.ods)
            .field("online_user_id", &self.online_user_id())
            .field("selected_patient_id", &self.selected_patient_id())
            .field("logged_off", &self.state.ended.load(Ordering::Relaxed))
            .field("view", &!self.owner)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        client: Client,
        suid: SecretString,
        ods: String,
        reply: AuthenticateReply,
    ) -> Self {
        let selected_patient_id = Mutex::new(reply.online_user_id.clone());
        Session {
            client,
            state: Arc::new(State {
                suid,
                ods,
                reply,
                selected_patient_id,
                ended: AtomicBool::new(false),
            }),
            owner: true,
        }
    }

    /// A view of this session whose calls have the time limit `timeout` per attempt instead
    /// of the client's ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)).
    ///
    /// The view shares everything else with the session: the `suid`, the selected patient,
    /// the connections. Dropping a view sends nothing; the session still ends with
    /// [`logoff`](Self::logoff) or when the session is dropped. [`logoff`](Self::logoff) and
    /// [`detach`](Self::detach) on a view act on the session: it then sends nothing when
    /// dropped.
    ///
    /// ```no_run
    /// # async fn demo(session: &pfs_client::Session) -> pfs_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// // A patient's record can take longer to assemble than the usual call.
    /// let record = session
    ///     .with_timeout(Duration::from_secs(90))
    ///     .request_patient_record()
    ///     .await?;
    /// println!("{} events", record.events.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Session {
        self.view(self.client.with_timeout(timeout))
    }

    /// A view of this session whose calls follow `policy` instead of the client's retry
    /// policy; see [`with_timeout`](Self::with_timeout) for what a view shares.
    ///
    /// ```no_run
    /// # async fn demo(session: &pfs_client::Session) -> pfs_client::Result<()> {
    /// use pfs_client::RetryPolicy;
    ///
    /// // Be more patient with the inbox than with other calls: a read, so retried after
    /// // timeouts, broken connections, 502–504, 9008 and 9010.
    /// let patient = RetryPolicy { max_attempts: 5, ..RetryPolicy::default() };
    /// let inbox = session.with_retry(patient).messages_view().await?;
    /// # let _ = inbox;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_retry(&self, policy: RetryPolicy) -> Session {
        self.view(self.client.with_retry(policy))
    }

    fn view(&self, client: Client) -> Session {
        Session {
            client,
            state: Arc::clone(&self.state),
            owner: false,
        }
    }

    /// The time limit of each attempt of this handle's calls.
    pub fn timeout(&self) -> Duration {
        self.client.timeout()
    }

    /// The retry policy of this handle's calls.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.client.retry_policy()
    }

    /// The `AuthenticateReply` that opened the session (user, registrations, proxy patients).
    pub fn reply(&self) -> &AuthenticateReply {
        &self.state.reply
    }

    /// The online user id (equal to the user's own patient id).
    pub fn online_user_id(&self) -> &str {
        &self.state.reply.online_user_id
    }

    /// The practice ODS code the session was opened at (sent as `unitId`).
    pub fn ods(&self) -> &str {
        &self.state.ods
    }

    /// The patient the session currently acts for: the user's own patient id (the online
    /// user id) until [`select_patient`](Self::select_patient) succeeds for another.
    pub fn selected_patient_id(&self) -> String {
        self.state
            .selected_patient_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The session id, for tools that must pass the session to another client; keep it
    /// secret.
    pub fn suid(&self) -> &SecretString {
        &self.state.suid
    }

    /// A fresh request header for this session: API version 1, a new `uuid`, `unitId` = ODS.
    pub fn header(&self) -> Header {
        Header::new(Some(self.state.ods.clone()))
    }

    /// `patientId` (the selected patient) and `onlineUserId`, for building per-patient
    /// requests to send with [`call`](Self::call).
    pub fn scope(&self) -> PatientScope {
        self.scope_for(self.selected_patient_id())
    }

    fn scope_for(&self, patient_id: String) -> PatientScope {
        PatientScope {
            patient_id,
            online_user_id: self.state.reply.online_user_id.clone(),
        }
    }

    /// Sends any request inside this session (with the `suid` header) and decodes its reply,
    /// whose type the request declares ([`RequestMessage::Reply`]).
    pub async fn request<Req: RequestMessage>(&self, req: &Req) -> Result<Req::Reply> {
        self.call(req).await
    }

    /// Sends any message inside this session (with the `suid` header) and decodes the reply
    /// as `Rep`; for a reply other than the one the request declares (see
    /// [`request`](Self::request)).
    pub async fn call<Req: WireMessage, Rep: WireMessage>(&self, req: &Req) -> Result<Rep> {
        self.client
            .send(req, Some(self.state.suid.expose_secret()))
            .await
    }

    /// `PatientSelected`: act for `patient_id` from now on (the user's own id or a proxy
    /// patient's). On success the session remembers the selection.
    ///
    /// Idempotent: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6` (no access to that patient), `9009`.
    pub async fn select_patient(&self, patient_id: &str) -> Result<PatientSelectedReply> {
        let req = PatientSelected {
            header: self.header(),
            scope: self.scope_for(patient_id.to_owned()),
        };
        let reply = self.request(&req).await?;
        *self
            .state
            .selected_patient_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = patient_id.to_owned();
        Ok(reply)
    }

    /// Keeps the session alive: `PatientSelected` for the currently selected patient.
    ///
    /// Idempotent: retried after transient failures under the retry policy. `3` means the
    /// session has ended: authenticate again.
    pub async fn keep_alive(&self) -> Result<PatientSelectedReply> {
        let req = PatientSelected {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `ListServiceAccesses` for the selected patient.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn list_service_accesses(&self) -> Result<ListServiceAccessesReply> {
        let req = ListServiceAccesses {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `Logoff`: ends the session. The session is consumed and counts as logged off even when
    /// the call fails, so dropping it sends nothing more. On a view, it ends the session the
    /// view belongs to.
    ///
    /// A write: with a retry policy, it is sent again only when it certainly did not reach the
    /// server. Errors: `3` (the session had already ended).
    pub async fn logoff(self) -> Result<LogoffReply> {
        self.state.ended.store(true, Ordering::Relaxed);
        self.request(&Logoff {
            header: Header::new(None),
        })
        .await
    }

    /// Gives up the session without logging off and returns its id, e.g. to hand the session
    /// to another process; keep it secret. Dropping the returned id does not end the session.
    pub fn detach(self) -> SecretString {
        self.state.ended.store(true, Ordering::Relaxed);
        self.state.suid.clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.owner || self.state.ended.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let suid = self.state.suid.clone();
        runtime.spawn(async move {
            let req = Logoff {
                header: Header::new(None),
            };
            if let Err(e) = client
                .send::<Logoff, LogoffReply>(&req, Some(suid.expose_secret()))
                .await
            {
                tracing::debug!(error = %e, "background Logoff of a dropped session failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::offline_client;
    use chrono::NaiveDate;
    use pfs_wire::Person;

    fn reply() -> AuthenticateReply {
        AuthenticateReply {
            uuid: None,
            online_user_id: "9000001".into(),
            patient_id: Some("9000001".into()),
            user: Person {
                patient_id: "9000001".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 14).expect("valid date"),
                gender: "Female".into(),
                nhs_number: Some("9990001112".into()),
                name: "Mrs Ada Example".into(),
                address: None,
            },
            registration: Vec::new(),
            people: Vec::new(),
        }
    }

    fn session() -> Session {
        Session::new(
            offline_client(),
            SecretString::from("s3cr3t-suid-value"),
            "X12345".into(),
            reply(),
        )
    }

    #[test]
    fn debug_redacts_the_suid() {
        let s = session();
        let d = format!("{s:?}");
        assert!(d.contains("[REDACTED]"), "{d}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(d.contains("X12345"), "{d}");
        // Dropped outside a runtime: nothing is sent and nothing panics.
        drop(s);
    }

    #[test]
    fn initial_selection_is_the_user() {
        let s = session().detach_for_test();
        assert_eq!(s.selected_patient_id(), "9000001");
        assert_eq!(s.online_user_id(), "9000001");
        assert_eq!(s.ods(), "X12345");
        assert_eq!(s.scope().patient_id, "9000001");
        assert_eq!(s.header().unit_id.as_deref(), Some("X12345"));
        assert_eq!(s.suid().expose_secret(), "s3cr3t-suid-value");
    }

    #[test]
    fn detach_returns_the_suid() {
        assert_eq!(session().detach().expose_secret(), "s3cr3t-suid-value");
    }

    #[tokio::test]
    async fn drop_inside_a_runtime_does_not_panic() {
        // The background Logoff fails to connect; that is ignored.
        drop(session());
        tokio::task::yield_now().await;
    }

    #[tokio::test]
    async fn failed_calls_keep_the_selection() {
        let s = session().detach_for_test();
        assert!(s.select_patient("9000002").await.is_err());
        assert_eq!(s.selected_patient_id(), "9000001");
    }

    #[test]
    fn sessions_and_their_futures_can_move_between_tasks() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        fn assert_send<T: Send>(_: &T) {}
        let s = session().detach_for_test();
        assert_send_sync(&s);
        assert_send(&s.select_patient("9000002"));
        assert_send(&s.call::<Logoff, LogoffReply>(&Logoff {
            header: Header::new(None),
        }));
        assert_send(&s.client.raw("Logoff", None, String::new()));
    }

    #[test]
    fn views_share_the_session_and_never_log_off() {
        let s = session();
        let v = s
            .with_timeout(Duration::from_millis(5))
            .with_retry(RetryPolicy::default());
        assert_eq!(v.timeout(), Duration::from_millis(5));
        assert_eq!(v.retry_policy(), RetryPolicy::default());
        // The session keeps its own options.
        assert_eq!(s.timeout(), Duration::from_secs(1));
        assert_eq!(s.retry_policy(), RetryPolicy::none());
        assert_eq!(v.suid().expose_secret(), "s3cr3t-suid-value");
        *s.state
            .selected_patient_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = "9000002".into();
        assert_eq!(v.selected_patient_id(), "9000002");
        let d = format!("{v:?}");
        assert!(d.contains("view: true") && !d.contains("s3cr3t"), "{d}");
        // Dropping a view neither sends a Logoff nor ends the session.
        drop(v);
        assert!(!s.state.ended.load(Ordering::Relaxed));
        // Detaching (or logging off) through a view ends it for the session too.
        let _ = s.with_timeout(Duration::from_secs(2)).detach();
        assert!(s.state.ended.load(Ordering::Relaxed));
    }

    impl Session {
        /// Marks a test session as logged off so that dropping it sends nothing.
        fn detach_for_test(self) -> Self {
            self.state.ended.store(true, Ordering::Relaxed);
            self
        }
    }
}
