//! Sessions: `Authenticate`, `PatientSelected`, `ListServiceAccesses`, `Logoff`, and the
//! checks every in-session message goes through.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::Duration;
use pfs_wire::{
    Authenticate, AuthenticateReply, ListServiceAccesses, ListServiceAccessesReply, Logoff,
    LogoffReply, PatientAccess, PatientScope, PatientSelected, PatientSelectedReply, Person,
    PersonAddress,
};
use secrecy::ExposeSecret;

use crate::error::DomainError;
use crate::model::{
    Appointment, AppointmentSession, MedicationList, Patient, PatientContext, Practice, Prefetch,
    Provider, RecordAccess, SessionRecord,
};
use crate::operation::{Access, Call, Operation};
use crate::secrets::{new_suid, suid_hash};
use crate::{Pfs, services};

/// Activity is written back at most this often per session: keeps the keep-alive path free of
/// writes while the idle timer stays accurate to a few seconds.
const TOUCH_GRANULARITY: Duration = Duration::seconds(5);

/// A checked, live session, with what was read alongside it.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// The stored session.
    pub record: SessionRecord,
    /// The patient the request names, read in the same store call as the session.
    pub named: Option<NamedPatient>,
}

impl ActiveSession {
    /// What was read with the session about `patient_id`, if the request named that patient.
    pub fn named_as(&self, patient_id: &str) -> Option<&NamedPatient> {
        self.named.as_ref().filter(|n| n.id == patient_id)
    }
}

/// The patient a request names (`patientId`), as read together with its session.
#[derive(Debug, Clone)]
pub struct NamedPatient {
    /// The `patientId` the request gave.
    pub id: String,
    /// The patient's context; `None` if there is no such patient.
    pub context: Option<PatientContext>,
    /// Whether the session's online user holds a proxy grant for this patient.
    pub proxy_grant: bool,
    /// The patient's live appointments, when the request's [`Prefetch`] asked for them and the
    /// patient exists.
    pub appointments: Option<Vec<(Appointment, AppointmentSession)>>,
    /// The patient's medication list, when the request's [`Prefetch`] asked for it and the
    /// patient exists.
    pub medication: Option<MedicationList>,
}

impl Operation for Authenticate {
    const ACCESS: Access = Access::Provider;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<AuthenticateReply, DomainError> {
        pfs.authenticate(call, self).await
    }
}

/// Checks the patient itself: it may name any patient the user may act for, not only the one
/// selected.
impl Operation for PatientSelected {
    const ACCESS: Access = Access::Session;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<PatientSelectedReply, DomainError> {
        pfs.patient_selected(call, self).await
    }
}

impl Operation for ListServiceAccesses {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ListServiceAccessesReply, DomainError> {
        pfs.list_service_accesses(call)
    }
}

impl Operation for Logoff {
    const ACCESS: Access = Access::Session;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<LogoffReply, DomainError> {
        pfs.logoff(call).await
    }
}

impl Pfs {
    /// The live session named by a `suid` header and the provider that opened it, which must be
    /// the unrevoked provider of the client certificate `fingerprint`; otherwise error `3`.
    /// One store read serves both checks and also fetches the patient the request names
    /// (`patient_id`), which nearly every in-session message needs next, and what `prefetch`
    /// asks for.
    pub async fn session_for(
        &self,
        fingerprint: &str,
        suid: Option<&str>,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> Result<(Provider, ActiveSession), DomainError> {
        let suid = suid
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(DomainError::NotAuthenticated("the suid header is missing"))?;
        let found = self
            .store
            .session_context(&suid_hash(suid), patient_id, prefetch)
            .await?
            // Another provider's session is reported exactly like an unknown one.
            .filter(|c| c.provider.fingerprint == fingerprint && c.provider.revoked_at.is_none())
            .ok_or(DomainError::NotAuthenticated(
                "the suid names no session of this provider",
            ))?;
        let record = found.session;
        let now = self.clock.now();
        if record.ended_at.is_some() {
            return Err(DomainError::NotAuthenticated("the session was logged off"));
        }
        if now - record.last_seen_at >= self.config.idle_timeout {
            return Err(DomainError::NotAuthenticated(
                "the session expired after inactivity",
            ));
        }
        if now - record.created_at >= self.config.session_lifetime {
            return Err(DomainError::NotAuthenticated(
                "the session reached its maximum lifetime",
            ));
        }
        let named = patient_id.map(|id| NamedPatient {
            id: id.to_owned(),
            context: found.patient,
            proxy_grant: found.proxy_grant,
            appointments: found.appointments,
            medication: found.medication,
        });
        Ok((found.provider, ActiveSession { record, named }))
    }

    /// Whether the session's online user may act for `patient_id`: it is themselves, or they
    /// hold a proxy grant (as read with the session when the request named this patient).
    async fn may_act_for(&self, s: &ActiveSession, patient_id: &str) -> Result<bool, DomainError> {
        if patient_id == s.record.online_user_id {
            return Ok(true);
        }
        Ok(match s.named_as(patient_id) {
            Some(n) => n.proxy_grant,
            None => {
                self.store
                    .has_proxy(&s.record.online_user_id, patient_id)
                    .await?
            }
        })
    }

    /// The context of `patient_id`, if there is such a patient: as read with the session when
    /// the request named this patient, otherwise from the store.
    pub(crate) async fn context_of<'s>(
        &self,
        s: &'s ActiveSession,
        patient_id: &str,
    ) -> Result<Option<Cow<'s, PatientContext>>, DomainError> {
        Ok(match s.named_as(patient_id) {
            Some(n) => n.context.as_ref().map(Cow::Borrowed),
            None => self
                .store
                .patient_context(patient_id)
                .await?
                .map(Cow::Owned),
        })
    }

    /// As [`Pfs::context_of`], for a patient who must exist (`NoAccess`, code `6`, if not).
    pub(crate) async fn registered_context<'s>(
        &self,
        s: &'s ActiveSession,
        patient_id: &str,
    ) -> Result<Cow<'s, PatientContext>, DomainError> {
        self.context_of(s, patient_id)
            .await?
            .ok_or(DomainError::NoAccess("the patient is no longer registered"))
    }

    /// Records activity (and a new selected patient), skipping the write when nothing would change
    /// but the time by less than [`TOUCH_GRANULARITY`], or when another request of the session
    /// began that write on this instance less than that ago (`touches.rs`).
    pub(crate) async fn touch(
        &self,
        s: &ActiveSession,
        select: Option<&str>,
    ) -> Result<(), DomainError> {
        let now = self.clock.now();
        let hash = &s.record.suid_hash;
        let select = select.filter(|p| *p != s.record.selected_patient_id);
        if select.is_none() && now - s.record.last_seen_at < TOUCH_GRANULARITY {
            return Ok(());
        }
        // A new selected patient is written whatever this says; its time is noted all the same.
        let claimed = self.recent_touches.claim(hash, now, TOUCH_GRANULARITY);
        if select.is_none() && !claimed {
            return Ok(());
        }
        if let Err(e) = self.store.touch_session(hash, select, now).await {
            self.recent_touches.release(hash);
            return Err(e.into());
        }
        Ok(())
    }

    /// Checks that a per-patient request names the session's online user and selected patient,
    /// and that the user may still act for that patient (a proxy grant withdrawn by the practice
    /// takes effect at once, even in a session that had already selected the patient).
    pub async fn require_scope(
        &self,
        s: &ActiveSession,
        scope: &PatientScope,
    ) -> Result<(), DomainError> {
        if scope.online_user_id != s.record.online_user_id {
            return Err(DomainError::PatientNotSelected(
                "onlineUserId is not the online user of this session",
            ));
        }
        if scope.patient_id != s.record.selected_patient_id {
            return Err(DomainError::PatientNotSelected(
                "patientId is not the patient selected in this session; send PatientSelected first",
            ));
        }
        if !self.may_act_for(s, &scope.patient_id).await? {
            return Err(DomainError::NoAccess(
                "the online user may no longer act for that patientId",
            ));
        }
        Ok(())
    }

    pub(crate) async fn authenticate(
        &self,
        call: &Call<'_>,
        m: &Authenticate,
    ) -> Result<AuthenticateReply, DomainError> {
        let caller = call.caller;
        if m.provider_id != caller.id || m.application.provider_id != caller.id {
            return Err(DomainError::ProviderIdMismatch);
        }
        const BAD: DomainError = DomainError::ProblemLoggingOn(
            "the account id and passphrase do not match a linked account",
        );
        let account = self.store.account(&m.account_id).await?.ok_or(BAD)?;
        let link = self
            .store
            .provider_link(&account.id, &caller.id)
            .await?
            .ok_or(BAD)?;
        if !self
            .pepper
            .verify_passphrase(&m.passphrase, &link.passphrase_hash)
        {
            return Err(BAD);
        }
        if account.ended_at.is_some() {
            return Err(DomainError::ProblemLoggingOn(
                "the online account has ended",
            ));
        }
        let user = self
            .store
            .patient(&account.patient_id)
            .await?
            .ok_or(DomainError::Unavailable("account without patient".into()))?;
        if m.header.unit_id.as_deref().is_some_and(|u| u != user.ods) {
            return Err(DomainError::ProblemLoggingOn(
                "unitId is not the practice the account holder is registered at",
            ));
        }
        let proxies = self.store.proxy_patients(&user.id).await?;

        let suid = new_suid();
        let now = self.clock.now();
        self.store
            .insert_session(&SessionRecord {
                suid_hash: suid_hash(suid.expose_secret()),
                provider_id: caller.id.clone(),
                account_id: account.id.clone(),
                online_user_id: user.id.clone(),
                selected_patient_id: user.id.clone(),
                created_at: now,
                last_seen_at: now,
                ended_at: None,
            })
            .await?;
        self.store
            .record_application_use(&account.id, &caller.id, now)
            .await?;

        let mut practices: HashMap<String, Practice> = HashMap::new();
        let mut registration = Vec::with_capacity(proxies.len() + 1);
        for p in std::iter::once(&user).chain(&proxies) {
            if !practices.contains_key(&p.ods)
                && let Some(practice) = self.store.practice(&p.ods).await?
            {
                practices.insert(p.ods.clone(), practice);
            }
            let practice = practices.get(&p.ods);
            registration.push(PatientAccess {
                patient_id: p.id.clone(),
                unit_name: practice.map(|x| x.name.clone()).unwrap_or_default(),
                address: practice.map(|x| x.address.clone()).unwrap_or_default(),
            });
        }
        call.open_session(suid);
        Ok(AuthenticateReply {
            uuid: None,
            online_user_id: user.id.clone(),
            patient_id: Some(user.id.clone()),
            user: person(&user),
            registration,
            people: std::iter::once(&user).chain(&proxies).map(person).collect(),
        })
    }

    pub(crate) async fn patient_selected(
        &self,
        call: &Call<'_>,
        m: &PatientSelected,
    ) -> Result<PatientSelectedReply, DomainError> {
        let s = call.session()?;
        if m.scope.online_user_id != s.record.online_user_id {
            return Err(DomainError::PatientNotSelected(
                "onlineUserId is not the online user of this session",
            ));
        }
        let target = &m.scope.patient_id;
        const FORBIDDEN: DomainError =
            DomainError::NoAccess("the online user may not act for that patientId");
        if !self.may_act_for(s, target).await? {
            return Err(FORBIDDEN);
        }
        let patient = self
            .context_of(s, target)
            .await?
            .ok_or(FORBIDDEN)?
            .patient
            .clone();
        self.touch(s, Some(target)).await?;
        Ok(PatientSelectedReply {
            uuid: None,
            scope: None,
            person: person(&patient),
        })
    }

    pub(crate) fn list_service_accesses(
        &self,
        call: &Call<'_>,
    ) -> Result<ListServiceAccessesReply, DomainError> {
        let context = call.patient()?;
        Ok(ListServiceAccessesReply {
            services: services::accesses(&context.practice_switches, &context.patient_switches),
            ..Default::default()
        })
    }

    pub(crate) async fn logoff(&self, call: &Call<'_>) -> Result<LogoffReply, DomainError> {
        let s = call.session()?;
        if !self
            .store
            .end_session(&s.record.suid_hash, self.clock.now())
            .await?
        {
            return Err(DomainError::NotAuthenticated("the session was logged off"));
        }
        Ok(LogoffReply::default())
    }
}

/// The wire `Person` for a patient.
pub fn person(p: &Patient) -> Person {
    Person {
        patient_id: p.id.clone(),
        date_of_birth: p.date_of_birth,
        gender: p.gender.clone(),
        nhs_number: Some(p.nhs_number.clone()),
        name: p.display_name(),
        address: Some(PersonAddress {
            address: p.address.clone(),
            address_type: Some("Home".to_owned()),
        }),
    }
}

impl Pfs {
    /// The entry of the patient's access log for an online action (written by the store with
    /// the action itself).
    pub(crate) async fn online_access(
        &self,
        s: &ActiveSession,
        caller: &Provider,
        patient: &Patient,
        practice: &Practice,
        access_type: &str,
    ) -> Result<RecordAccess, DomainError> {
        let user = if s.record.online_user_id == patient.id {
            patient.display_name()
        } else {
            self.store
                .patient(&s.record.online_user_id)
                .await?
                .map(|u| u.display_name())
                .unwrap_or_else(|| "Online user".to_owned())
        };
        Ok(RecordAccess {
            patient_id: patient.id.clone(),
            at: self.clock.now(),
            accessed_by: format!("{user} via {}", caller.name),
            organisation: practice.name.clone(),
            access_type: access_type.to_owned(),
            method: "Online".to_owned(),
        })
    }
}
