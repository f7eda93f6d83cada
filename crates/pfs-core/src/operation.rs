//! What is declared once per operation, next to its rules in the area's module, and the one
//! dispatch built from it.
//!
//! Every request type implements [`Operation`]: what must be checked before it runs
//! ([`Access`]), what the in-session store read should fetch with the session
//! ([`Operation::PREFETCH`]), and the function that runs it. [`Pfs::perform`] does what every
//! operation shares, once: the session and patient checks, the service switch, recording
//! activity, and echoing `uuid`, `patientId` and `onlineUserId` in the reply. The dispatch from a
//! decoded [`pfs_wire::Request`] to [`Pfs::perform`] is generated from
//! [`pfs_wire::for_each_request!`], so a request type without an operation does not compile.

use std::borrow::Cow;
use std::sync::OnceLock;

use pfs_wire::{ReplyMessage, RequestMessage, WireMessage};
use secrecy::SecretString;

use crate::error::DomainError;
use crate::model::{PatientContext, Prefetch, Provider};
use crate::session::ActiveSession;
use crate::{Pfs, Reply, check_api_version, services};

/// What must hold before an operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session: the caller's provider is all there is (`LinkAccount`, `Authenticate`,
    /// `CheckVersion`).
    Provider,
    /// A live session of the caller; the operation checks anything else itself
    /// (`PatientSelected`, `Logoff`).
    Session,
    /// A live session, for the patient it has selected: `patientId` and `onlineUserId` must be
    /// the session's, the user must still be allowed to act for the patient, and the patient
    /// must still be registered. The patient's context is handed to the operation, and the
    /// session's activity is recorded after it succeeds.
    Patient,
    /// As [`Access::Patient`], for a service the practice can switch off for everyone or for
    /// this patient (code `6` while it is off).
    Service(&'static str),
}

impl Access {
    /// Whether the operation is about the session's selected patient.
    fn names_patient(self) -> bool {
        matches!(self, Access::Patient | Access::Service(_))
    }
}

/// One request type's operation. Dispatched statically (never as a trait object), so `run` is a
/// plain `async fn` with no boxed future.
pub(crate) trait Operation: RequestMessage + Send + Sync + 'static {
    /// What must hold before [`Operation::run`] is called.
    const ACCESS: Access;
    /// What the in-session store read fetches with the session, so that the operation needs
    /// no read of its own.
    const PREFETCH: Prefetch = Prefetch::Nothing;
    /// Runs the operation. The reply's echoed attributes are set afterwards by the dispatch.
    fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> impl Future<Output = Result<Self::Reply, DomainError>> + Send;
}

/// What an operation is given besides its request.
pub(crate) struct Call<'a> {
    /// The caller's provider.
    pub caller: &'a Provider,
    session: Option<&'a ActiveSession>,
    patient: Option<Cow<'a, PatientContext>>,
    new_suid: OnceLock<SecretString>,
}

impl Call<'_> {
    /// The caller's session (present for every access but [`Access::Provider`]).
    pub fn session(&self) -> Result<&ActiveSession, DomainError> {
        self.session
            .ok_or(DomainError::NotAuthenticated("the suid header is missing"))
    }

    /// The selected patient's context, as checked before the operation (present for
    /// [`Access::Patient`] and [`Access::Service`]).
    pub fn patient(&self) -> Result<&PatientContext, DomainError> {
        self.patient.as_deref().ok_or_else(|| {
            DomainError::Unavailable("operation declared without patient access".into())
        })
    }

    /// Sends `suid` in the reply's header: the session this request opened.
    pub fn open_session(&self, suid: SecretString) {
        let _ = self.new_suid.set(suid);
    }
}

impl Pfs {
    /// Runs one decoded request of type `M`, with everything every operation shares.
    pub(crate) async fn perform<M: Operation>(
        &self,
        caller: &Provider,
        session: Option<&ActiveSession>,
        suid: Option<&str>,
        m: M,
    ) -> Result<Reply, DomainError> {
        check_api_version(m.header())?;
        let patient = match (M::ACCESS, session) {
            (Access::Provider, _) => None,
            (_, None) => return Err(DomainError::NotAuthenticated("the suid header is missing")),
            (Access::Session, Some(_)) => None,
            (access, Some(s)) => {
                let scope = m.scope().ok_or_else(|| {
                    DomainError::Unavailable("a per-patient operation without a scope".into())
                })?;
                self.require_scope(s, scope).await?;
                let context = self.registered_context(s, &scope.patient_id).await?;
                if let Access::Service(service) = access
                    && !services::is_enabled(
                        service,
                        &context.practice_switches,
                        &context.patient_switches,
                    )
                {
                    return Err(DomainError::NoAccess(
                        "the service is switched off for this patient or practice",
                    ));
                }
                Some(context)
            }
        };
        let call = Call {
            caller,
            session,
            patient,
            new_suid: OnceLock::new(),
        };
        let mut reply = m.run(self, &call).await?;
        if let (true, Some(s)) = (M::ACCESS.names_patient(), session) {
            self.touch(s, None).await?;
        }
        reply.echo(m.header().uuid, m.scope());
        // Inside a session every reply carries the suid back.
        let suid = match call.new_suid.into_inner() {
            Some(new) => Some(new),
            None => session
                .and(suid)
                .map(|s| SecretString::from(s.trim().to_owned())),
        };
        Ok(Reply {
            body: reply.into_element(),
            suid,
        })
    }
}

/// Generates, from the one list of request types, the dispatch to [`Pfs::perform`], the
/// prefetch each request asks for, and the table of declarations the tests check.
macro_rules! dispatch {
    ($($name:ident),* $(,)?) => {
        use pfs_wire::{Request, $($name),*};

        impl Pfs {
            /// The one dispatch from a decoded request to its operation.
            ///
            /// Each operation's future is boxed (one allocation of its own size): inline, every
            /// future that awaits this one would be sized for the largest operation (the
            /// endpoint's handler future was 9.3 KB), and copied whole at each move on its way
            /// to the runtime (docs/benchmarks.md, "Instructions per request").
            pub(crate) async fn dispatch(
                &self,
                caller: &Provider,
                session: Option<&ActiveSession>,
                suid: Option<&str>,
                request: Request,
            ) -> Result<Reply, DomainError> {
                match request {
                    $(Request::$name(m) => Box::pin(self.perform(caller, session, suid, m)).await,)*
                }
            }
        }

        /// What a request wants read with its session (see [`Operation::PREFETCH`]).
        pub(crate) fn prefetch(request: &Request) -> Prefetch {
            match request {
                $(Request::$name(_) => <$name as Operation>::PREFETCH,)*
            }
        }

        /// Every request type with its declarations: (type, needs a session, access).
        #[cfg(test)]
        pub(crate) const DECLARED: &[(&str, bool, Access)] = &[
            $((
                stringify!($name),
                <$name as RequestMessage>::NEEDS_SESSION,
                <$name as Operation>::ACCESS,
            ),)*
        ];
    };
}

pfs_wire::for_each_request!(dispatch);

#[cfg(test)]
mod tests {
    use super::*;

    /// A request outside a session has only its provider checked, and every request in a
    /// session needs one: the wire's declaration and the operation's agree.
    #[test]
    fn session_and_access_agree() {
        assert_eq!(DECLARED.len(), pfs_wire::REQUEST_TYPES.len());
        for (name, needs_session, access) in DECLARED {
            assert_eq!(
                *needs_session,
                *access != Access::Provider,
                "{name}: NEEDS_SESSION and ACCESS disagree"
            );
        }
    }
}
