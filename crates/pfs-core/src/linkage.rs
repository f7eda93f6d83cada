//! `LinkAccount`: exchanging practice-issued linkage details for a long-term passphrase, and
//! the NHS-login variants that retrieve or create an online account.
//!
//! Brute force is held back twice: per (account id, provider) with exponential back-off, and per
//! provider with a budget of failures. Both are keyed by provider, so an attacker can only slow
//! down their own provider's attempts, never lock a patient out of another app. Both are
//! reserved before any argon2 work (the back-off in one store statement that also counts the
//! attempt), so concurrent attempts cannot all pass them; a hash also needs a place in the
//! bounded, per-provider hashing queue, or the request is answered "busy" at once. An unknown
//! account and a wrong key get the same answer after the same argon2 work. The rules in full:
//! docs/operations.md, "Linkage throttling".

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use pfs_wire::{LinkAccount, LinkAccountReply, LinkVariant};
use secrecy::SecretString;

use crate::error::DomainError;
use crate::model::{
    LinkAttempt, LinkBackoff, LinkageKeyRecord, OnlineAccount, Patient, Provider, ProviderLink,
};
use crate::operation::{Access, Call, Operation};
use crate::secrets::{Attempt, KdfBusy, KdfTicket, new_linkage_key, new_passphrase, with_fresh_id};
use crate::{Pfs, StoreError, nhs, uktime};

/// The longest `accountId` a register request may send, in characters (real account ids have
/// nine digits). A longer one is refused with `9004` before any store or hash work.
pub const MAX_ACCOUNT_ID_CHARS: usize = 64;

impl Operation for LinkAccount {
    const ACCESS: Access = Access::Provider;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<LinkAccountReply, DomainError> {
        pfs.link_account(call.caller, self).await
    }
}

impl Pfs {
    pub(crate) async fn link_account(
        &self,
        caller: &Provider,
        m: &LinkAccount,
    ) -> Result<LinkAccountReply, DomainError> {
        if m.application.provider_id != caller.id {
            return Err(DomainError::ProviderIdMismatch);
        }
        let variant = m.variant.name();
        match &m.variant {
            LinkVariant::Register {
                account_id,
                linkage_key,
            } => self.register(caller, m, account_id, linkage_key).await,
            LinkVariant::Retrieve { nhs_number } => {
                self.require_trusted(caller, variant)?;
                let ticket = self.hash_ticket(caller)?;
                let patient = self.match_patient(m, nhs_number).await?;
                let Some(account) = self.store.account_for_patient(&patient.id).await? else {
                    // The real API answers "found, but no online account" with blank fields.
                    return Ok(LinkAccountReply::default());
                };
                if account.ended_at.is_some() {
                    return Err(DomainError::RegistrationEnded(
                        "the online account has ended",
                    ));
                }
                let key = self.issue_key(&account.id, Some(ticket)).await?;
                Ok(LinkAccountReply {
                    uuid: None,
                    account_id: Some(account.id),
                    passphrase: None,
                    passphrase_to_link: Some(key),
                })
            }
            LinkVariant::Create {
                nhs_number,
                email_address,
                mobile_no,
            } => {
                self.require_trusted(caller, variant)?;
                let ticket = self.hash_ticket(caller)?;
                let patient = self.match_patient(m, nhs_number).await?;
                let account = self
                    .open_account(&patient, email_address.clone(), mobile_no.clone())
                    .await?;
                let key = self.issue_key(&account.id, Some(ticket)).await?;
                let passphrase = self.link_provider(&account.id, caller).await?;
                Ok(LinkAccountReply {
                    uuid: None,
                    account_id: Some(account.id),
                    passphrase: Some(passphrase),
                    passphrase_to_link: Some(key),
                })
            }
        }
    }

    async fn register(
        &self,
        caller: &Provider,
        m: &LinkAccount,
        account_id: &str,
        linkage_key: &SecretString,
    ) -> Result<LinkAccountReply, DomainError> {
        // The length rule is public, so an over-long id is told so; it gets no store or hash
        // work and leaves no throttle row behind.
        if account_id.chars().count() > MAX_ACCOUNT_ID_CHARS {
            return Err(DomainError::FieldTooLong {
                field: "accountId",
                max: MAX_ACCOUNT_ID_CHARS,
            });
        }
        let now = self.clock.now();
        // One failure of the provider's budget is reserved before any work: concurrent attempts
        // cannot all pass a budget that has room for one. It is given back unless the key is
        // checked and found wrong.
        let failure = self.provider_failures.reserve(&caller.id, now)?;
        // Then a place in the hashing queue, before the store counts the attempt: a busy answer
        // counts as no attempt at all.
        let ticket = self.hash_ticket(caller)?;
        // The pair's back-off is checked and this attempt counted as a failure in one store
        // statement, so concurrent attempts cannot all pass it either.
        let attempt = self
            .store
            .reserve_link_attempt(account_id, &caller.id, now, &self.link_backoff())
            .await?;
        if let LinkAttempt::Refused { locked_until } = attempt {
            return Err(DomainError::RateLimited {
                retry_after_secs: seconds_until(locked_until, now),
            });
        }

        // Both reads whether or not the account exists, so that both cost the same.
        let (account, key) = tokio::join!(
            self.store.account(account_id),
            self.store.linkage_key(account_id)
        );
        let (account, key) = (account?, key?);
        let matched = self
            .kdf
            .verify(
                ticket,
                linkage_key,
                key.as_ref().map(|k| k.key_hash.as_str()),
            )
            .await
            .map_err(DomainError::Unavailable)?;
        let (Some(account), Some(key), true) = (account, key, matched) else {
            // The failure stays counted, for the pair (above) and the provider.
            failure.spend();
            return Err(DomainError::InvalidLinkageCredentials);
        };
        self.store
            .clear_link_throttle(account_id, &caller.id)
            .await?;
        // From here on the caller has proved knowledge of the key, so precise answers are safe.
        if account.ended_at.is_some() {
            return Err(DomainError::RegistrationEnded(
                "the online account has ended",
            ));
        }
        if key.expires_at <= now {
            return Err(DomainError::RegistrationEnded(
                "the linkage key has expired",
            ));
        }
        let patient = self
            .store
            .patient(&account.patient_id)
            .await?
            .ok_or(DomainError::Unavailable("account without patient".into()))?;
        self.check_demographics(m, &patient).await?;
        let passphrase = self.link_provider(&account.id, caller).await?;
        Ok(LinkAccountReply {
            uuid: None,
            account_id: Some(account.id),
            passphrase: Some(passphrase),
            passphrase_to_link: None,
        })
    }

    /// A place in the hashing queue for one of `caller`'s hashes, or `9008` "busy" at once.
    fn hash_ticket(&self, caller: &Provider) -> Result<KdfTicket, DomainError> {
        self.kdf
            .admit(&caller.id)
            .map_err(|KdfBusy| DomainError::Busy {
                retry_after_secs: 1,
            })
    }

    /// The per-(account id, provider) back-off rule, from the settings.
    fn link_backoff(&self) -> LinkBackoff {
        LinkBackoff {
            threshold: self.config.link_failures_before_backoff,
            base: self.config.link_backoff_base,
            max: self.config.link_backoff_max,
        }
    }

    fn require_trusted(&self, caller: &Provider, variant: &'static str) -> Result<(), DomainError> {
        if caller.trusted_identity {
            Ok(())
        } else {
            Err(DomainError::VariantNotAllowed(variant))
        }
    }

    /// The patient named by NHS number, checked against the practice and demographics given.
    async fn match_patient(
        &self,
        m: &LinkAccount,
        nhs_number: &str,
    ) -> Result<Patient, DomainError> {
        let patient = self
            .store
            .patient_by_nhs_number(&nhs::normalise(nhs_number))
            .await?
            .ok_or(DomainError::NhsNumberNotFound)?;
        self.check_demographics(m, &patient).await?;
        Ok(patient)
    }

    async fn check_demographics(
        &self,
        m: &LinkAccount,
        patient: &Patient,
    ) -> Result<(), DomainError> {
        if !m.organisation_code.eq_ignore_ascii_case(&patient.ods) {
            return Err(DomainError::NotRegisteredAtPractice);
        }
        if !same_name(&m.last_name, &patient.last_name) {
            return Err(DomainError::LastNameMismatch);
        }
        if m.date_of_birth != patient.date_of_birth {
            return Err(DomainError::DateOfBirthMismatch);
        }
        let practice = self
            .store
            .practice(&patient.ods)
            .await?
            .ok_or(DomainError::NotRegisteredAtPractice)?;
        let age = uktime::age_on(patient.date_of_birth, uktime::uk_date(self.clock.now()));
        if age < practice.settings.minimum_age {
            return Err(DomainError::TooYoung);
        }
        Ok(())
    }

    /// The patient's online account, created if there is none yet.
    pub(crate) async fn open_account(
        &self,
        patient: &Patient,
        email: Option<String>,
        mobile: Option<String>,
    ) -> Result<OnlineAccount, DomainError> {
        if let Some(existing) = self.store.account_for_patient(&patient.id).await? {
            if existing.ended_at.is_some() {
                return Err(DomainError::RegistrationEnded(
                    "the online account has ended",
                ));
            }
            return Ok(existing);
        }
        let new = OnlineAccount {
            id: String::new(),
            patient_id: patient.id.clone(),
            email,
            mobile,
            created_at: self.clock.now(),
            ended_at: None,
        };
        let opened = with_fresh_id(9, |id| {
            let account = OnlineAccount { id, ..new.clone() };
            async move {
                match self.store.insert_account(&account).await {
                    Ok(()) => Ok(Attempt::Done(account)),
                    // Either the random id was taken (try another) or a concurrent call created the
                    // patient's account first (use it).
                    Err(StoreError::Conflict(_)) => {
                        Ok(match self.store.account_for_patient(&patient.id).await? {
                            Some(existing) => Attempt::Done(existing),
                            None => Attempt::IdTaken,
                        })
                    }
                    Err(e) => Err(DomainError::from(e)),
                }
            }
        })
        .await?;
        opened.ok_or_else(|| DomainError::Unavailable("could not allocate an account id".into()))
    }

    /// Issues the account's linkage key, replacing any earlier one: the practice side's work,
    /// never refused as busy.
    pub(crate) async fn issue_linkage_key(
        &self,
        account_id: &str,
    ) -> Result<SecretString, DomainError> {
        self.issue_key(account_id, None).await
    }

    /// Issues the account's linkage key, replacing any earlier one; hashed as the ticket's
    /// provider's work, or the practice side's without one.
    async fn issue_key(
        &self,
        account_id: &str,
        ticket: Option<KdfTicket>,
    ) -> Result<SecretString, DomainError> {
        let key = new_linkage_key();
        let key_hash = self
            .kdf
            .hash(ticket, &key)
            .await
            .map_err(DomainError::Unavailable)?;
        let now = self.clock.now();
        self.store
            .set_linkage_key(&LinkageKeyRecord {
                account_id: account_id.to_owned(),
                key_hash,
                issued_at: now,
                expires_at: now + self.config.linkage_key_ttl,
            })
            .await?;
        Ok(key)
    }

    /// Gives the provider a new long-term passphrase for the account (replacing its old one).
    async fn link_provider(
        &self,
        account_id: &str,
        caller: &Provider,
    ) -> Result<SecretString, DomainError> {
        let passphrase = new_passphrase();
        self.store
            .upsert_provider_link(&ProviderLink {
                account_id: account_id.to_owned(),
                provider_id: caller.id.clone(),
                passphrase_hash: self.pepper.hash_passphrase(&passphrase),
                linked_at: self.clock.now(),
            })
            .await?;
        Ok(passphrase)
    }
}

/// Last names compare without regard to case, surrounding space, or runs of inner space.
fn same_name(typed: &str, recorded: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(typed) == norm(recorded)
}

/// Whole seconds from `now` until `until`, rounded up, at least 1: for "retry after".
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    ((until - now).num_milliseconds() + 999)
        .div_euclid(1000)
        .max(1)
}

/// A budget of failed linkage attempts per provider (a token bucket, per server instance).
///
/// An attempt reserves one failure before it does any work ([`FailureBudget::reserve`]); the
/// reservation is given back when it is dropped, unless it was spent because the key was wrong.
/// So at most as many attempts are in progress at once as the budget has room for.
pub(crate) struct FailureBudget {
    per_minute: f64,
    burst: f64,
    /// Per provider: the tokens left at an instant.
    buckets: Mutex<HashMap<String, (f64, DateTime<Utc>)>>,
}

/// One failure reserved from a provider's budget; see [`FailureBudget::reserve`].
#[must_use = "dropping the reservation gives the failure back"]
pub(crate) struct ReservedFailure<'a> {
    budget: &'a FailureBudget,
    provider_id: &'a str,
    spent: bool,
}

impl ReservedFailure<'_> {
    /// Keeps the failure: the attempt failed its check.
    pub(crate) fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for ReservedFailure<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.budget.give_back(self.provider_id);
        }
    }
}

impl FailureBudget {
    pub(crate) fn new(per_minute: u32, burst: u32) -> Self {
        FailureBudget {
            per_minute: f64::from(per_minute.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn level(&self, tokens: f64, since: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
        let minutes = (now - since).num_milliseconds().max(0) as f64 / 60_000.0;
        (tokens + minutes * self.per_minute).min(self.burst)
    }

    /// Takes one failure from the provider's budget, or says how long until there is one.
    pub(crate) fn reserve<'a>(
        &'a self,
        provider_id: &'a str,
        now: DateTime<Utc>,
    ) -> Result<ReservedFailure<'a>, DomainError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let entry = buckets
            .entry(provider_id.to_owned())
            .or_insert((self.burst, now));
        let level = self.level(entry.0, entry.1, now);
        if level < 1.0 {
            let wait = ((1.0 - level) / self.per_minute * 60.0).ceil() as i64;
            return Err(DomainError::RateLimited {
                retry_after_secs: wait.max(1),
            });
        }
        *entry = (level - 1.0, now);
        Ok(ReservedFailure {
            budget: self,
            provider_id,
            spent: false,
        })
    }

    fn give_back(&self, provider_id: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = buckets.get_mut(provider_id) {
            entry.0 = (entry.0 + 1.0).min(self.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn names_compare_loosely() {
        assert!(same_name(" o'brien ", "O'Brien"));
        assert!(same_name("Smith  Jones", "smith jones"));
        assert!(!same_name("Smith", "Smyth"));
    }

    #[test]
    fn failure_budget_refills() {
        let b = FailureBudget::new(60, 2);
        let t0 = Utc::now();
        b.reserve("p", t0).unwrap().spend();
        b.reserve("p", t0).unwrap().spend();
        assert!(b.reserve("p", t0).is_err());
        b.reserve("other", t0).unwrap().spend();
        b.reserve("p", t0 + Duration::seconds(1)).unwrap().spend();
        assert!(b.reserve("p", t0 + Duration::seconds(1)).is_err());
    }

    #[test]
    fn failure_budget_is_reserved_and_given_back() {
        let b = FailureBudget::new(60, 2);
        let t0 = Utc::now();
        // Two attempts in progress use up the budget...
        let first = b.reserve("p", t0).unwrap();
        let second = b.reserve("p", t0).unwrap();
        match b.reserve("p", t0) {
            Err(DomainError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected RateLimited, got {:?}", other.err()),
        }
        // ...an attempt that did not fail gives its failure back, a failed one keeps it.
        drop(first);
        second.spend();
        b.reserve("p", t0).unwrap().spend();
        assert!(b.reserve("p", t0).is_err());
        // Giving back never fills the bucket beyond its burst.
        let c = FailureBudget::new(60, 1);
        let t1 = t0 + Duration::minutes(1);
        let early = c.reserve("p", t0).unwrap();
        let late = c.reserve("p", t1).unwrap(); // refilled meanwhile
        drop(early);
        drop(late);
        c.reserve("p", t1).unwrap().spend();
        assert!(c.reserve("p", t1).is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        let t0 = Utc::now();
        assert_eq!(seconds_until(t0 + Duration::milliseconds(29_001), t0), 30);
        assert_eq!(seconds_until(t0 + Duration::seconds(30), t0), 30);
        assert_eq!(seconds_until(t0, t0), 1);
    }
}
