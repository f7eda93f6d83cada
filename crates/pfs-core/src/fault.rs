//! Fault injection: rules that make the PFS endpoint misbehave on purpose, so that an
//! integrator can see what their app does when the real service is slow, fails, or loses a
//! reply.
//!
//! A rule is a match (practice, patient, provider, message type; each optional), a trigger
//! (probability with a seed, every Nth matching request, a rate beyond which requests are hit,
//! a count limit) and an action (latency, a PFS `Error`, an HTTP status, a dropped connection,
//! a malformed, truncated or empty reply). Rules live in the store ([`FaultStore`]), so every
//! instance on one PostgreSQL database applies them; each instance holds them in memory as a
//! [`Snapshot`] indexed by what they match, so that a request no rule names costs a few hash
//! lookups, and a server with no rules costs one atomic load.
//!
//! Decisions are reproducible: the k-th request matching a rule (counted in the store, so
//! across instances) is hit by a probability trigger when `splitmix64(seed, k)` falls below
//! it, and a random latency is drawn the same way from the rule's hit number. Counts are
//! decremented in the store at the moment of the hit, so "fail the next 3" is exact however
//! many instances serve. The rate trigger is the exception: its token bucket is per instance.
//!
//! [`FaultStore`]: crate::store::FaultStore

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreResult;

/// Which requests a rule applies to; each field absent means any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultMatch {
    /// The practice's ODS code as the request sends it (`unitId`, or `organisationCode` for
    /// `LinkAccount`); compared without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
    /// The request's `patientId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// The provider id of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The `type` header: one of the known message names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
}

/// When a matching request is hit; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultTrigger {
    /// Chance of a hit, 0 to 1 (absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The seed of the rule's random choices; chosen at random when the rule is added, and
    /// always shown, so that a run can be repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Only the Nth, 2Nth, … matching requests are hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_nth: Option<u64>,
    /// Throttling: matching requests within this rate pass, those beyond it are hit (a token
    /// bucket per instance holding one second's worth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
    /// At most this many hits; then the rule is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// When a dropped connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DropWhen {
    /// Before the request is handled: nothing happened.
    BeforeHandling,
    /// After the request was handled (its changes are stored), instead of the reply.
    AfterHandling,
}

/// What a hit does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultAction {
    /// Waits, then serves the request normally: `ms`, or a time drawn from `minMs..=maxMs`.
    #[serde(rename_all = "camelCase")]
    Latency {
        /// A fixed delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<u64>,
        /// The shortest random delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<u64>,
        /// The longest random delay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
    /// A PFS `Error` reply (HTTP 200) echoing the request's `uuid`; not executed.
    #[serde(rename_all = "camelCase")]
    Error {
        /// `errorCode`.
        error_code: String,
        /// `userFriendlyMessage` (a default is filled in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_friendly_message: Option<String>,
        /// `technicalMessage` (a default is filled in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        technical_message: Option<String>,
    },
    /// HTTP 502, 503 or 504 with a short plain-text body; not executed.
    #[serde(rename_all = "camelCase")]
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The connection is closed with no reply, before or after the request is handled.
    #[serde(rename_all = "camelCase")]
    Drop {
        /// Before or after handling.
        when: DropWhen,
    },
    /// Executed; HTTP 200 with a body that is not XML instead of the reply.
    Malformed,
    /// Executed; HTTP 200 with the first half of the reply's bytes.
    Truncated,
    /// Executed; HTTP 200 with an empty body.
    Empty,
}

impl FaultAction {
    /// The action's name, as in JSON (`kind`) and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Latency { .. } => "latency",
            FaultAction::Error { .. } => "error",
            FaultAction::HttpStatus { .. } => "httpStatus",
            FaultAction::Drop {
                when: DropWhen::BeforeHandling,
            } => "drop(beforeHandling)",
            FaultAction::Drop {
                when: DropWhen::AfterHandling,
            } => "drop(afterHandling)",
            FaultAction::Malformed => "malformed",
            FaultAction::Truncated => "truncated",
            FaultAction::Empty => "empty",
        }
    }

    /// Whether the request is handled (and its changes stored) when this action hits.
    pub fn executes(&self) -> bool {
        !matches!(
            self,
            FaultAction::Error { .. }
                | FaultAction::HttpStatus { .. }
                | FaultAction::Drop {
                    when: DropWhen::BeforeHandling
                }
        )
    }
}

/// A rule as sent to the admin API: match, trigger and action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Which requests.
    #[serde(default, rename = "match")]
    pub matches: FaultMatch,
    /// When.
    #[serde(default)]
    pub trigger: FaultTrigger,
    /// What.
    pub action: FaultAction,
}

/// A stored rule with its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Given by the store, counting up; never reused.
    pub id: u64,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// What it does (checked and completed: the practice in upper case, the seed and the
    /// error texts filled in).
    pub spec: FaultSpec,
    /// Matching requests that reached this rule, counted only when the trigger needs their
    /// number `k` (a probability below 1, or `everyNth`); a request a rule tried before this
    /// one decided does not reach it.
    pub matched: u64,
    /// Hits so far.
    pub hits: u64,
    /// Hits left for a rule with a count; 0 means spent.
    pub remaining: Option<u64>,
}

impl FaultRule {
    /// Whether the rule has used up its count.
    pub fn spent(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// A hit recorded by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultHit {
    /// The rule's hits, this one included.
    pub hits: u64,
    /// Hits left (rules with a count).
    pub remaining: Option<u64>,
}

// --- checking ----------------------------------------------------------------------------------

/// The longest latency a rule may ask for.
pub const MAX_LATENCY_MS: u64 = 120_000;
/// The longest `errorCode` and identifier a rule may hold.
const MAX_ID_CHARS: usize = pfs_wire::MAX_SNIFFED_ID;
/// The longest error text a rule may hold.
const MAX_TEXT_CHARS: usize = 2_000;

const DEFAULT_USER_MESSAGE: &str = "Sorry, something went wrong. Please try again later.";
const DEFAULT_TECHNICAL_MESSAGE: &str = "fault injected";

/// Checks a rule and completes it: the practice in upper case, identifiers trimmed, a seed
/// chosen when none was given, the error texts' defaults. Whether a named provider exists is
/// for the caller (it needs the store). The error names the field, never the value.
pub fn check(mut spec: FaultSpec) -> Result<FaultSpec, String> {
    let m = &mut spec.matches;
    if let Some(p) = &mut m.practice {
        *p = p.trim().to_ascii_uppercase();
        if p.is_empty() || p.len() > MAX_ID_CHARS || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("match.practice must be an ODS code (letters and digits)".into());
        }
    }
    for (field, value) in [
        ("match.patientId", &mut m.patient_id),
        ("match.provider", &mut m.provider),
    ] {
        if let Some(v) = value {
            *v = v.trim().to_owned();
            if v.is_empty() || v.len() > MAX_ID_CHARS || !v.chars().all(|c| c.is_ascii_graphic()) {
                return Err(format!(
                    "{field} must be 1 to {MAX_ID_CHARS} printable ASCII characters"
                ));
            }
        }
    }
    if let Some(t) = &mut m.message_type {
        *t = t.trim().to_owned();
        if !pfs_wire::REQUEST_TYPES.contains(&t.as_str()) {
            return Err("match.messageType is not a known message type".into());
        }
    }
    let t = &mut spec.trigger;
    if let Some(p) = t.probability
        && !(p.is_finite() && (0.0..=1.0).contains(&p))
    {
        return Err("trigger.probability must be between 0 and 1".into());
    }
    if t.every_nth == Some(0) {
        return Err("trigger.everyNth must be at least 1".into());
    }
    if let Some(r) = t.rate_per_second
        && !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)
    {
        return Err("trigger.ratePerSecond must be above 0 and at most 1000000".into());
    }
    if t.count == Some(0) {
        return Err("trigger.count must be at least 1".into());
    }
    if t.count.is_some_and(|c| c > i64::MAX as u64) {
        return Err("trigger.count is too large".into());
    }
    if t.seed.is_none() {
        // 53 bits: the seed survives a round trip through any JSON tool.
        t.seed = Some(u64::from_le_bytes(crate::secrets::random_bytes::<8>()) & ((1 << 53) - 1));
    }
    match &mut spec.action {
        FaultAction::Latency { ms, min_ms, max_ms } => match (*ms, *min_ms, *max_ms) {
            (Some(ms), None, None) if ms <= MAX_LATENCY_MS => {}
            (None, Some(min), Some(max)) if min <= max && max <= MAX_LATENCY_MS => {}
            _ => {
                return Err(format!(
                    "action latency needs ms, or minMs and maxMs with minMs <= maxMs, \
                     all at most {MAX_LATENCY_MS}"
                ));
            }
        },
        FaultAction::Error {
            error_code,
            user_friendly_message,
            technical_message,
        } => {
            *error_code = error_code.trim().to_owned();
            if error_code.is_empty()
                || error_code.len() > MAX_ID_CHARS
                || !error_code.chars().all(|c| c.is_ascii_graphic())
            {
                return Err(format!(
                    "action.errorCode must be 1 to {MAX_ID_CHARS} printable ASCII characters"
                ));
            }
            for (field, text, default) in [
                (
                    "action.userFriendlyMessage",
                    user_friendly_message,
                    DEFAULT_USER_MESSAGE,
                ),
                (
                    "action.technicalMessage",
                    technical_message,
                    DEFAULT_TECHNICAL_MESSAGE,
                ),
            ] {
                let value = text.get_or_insert_with(|| default.to_owned());
                if value.chars().count() > MAX_TEXT_CHARS {
                    return Err(format!(
                        "{field} must be at most {MAX_TEXT_CHARS} characters"
                    ));
                }
                crate::admin::xml_safe(field, value).map_err(|e| e.to_string())?;
            }
        }
        FaultAction::HttpStatus { status } => {
            if !matches!(status, 502..=504) {
                return Err("action.status must be 502, 503 or 504".into());
            }
        }
        FaultAction::Drop { .. }
        | FaultAction::Malformed
        | FaultAction::Truncated
        | FaultAction::Empty => {}
    }
    Ok(spec)
}

// --- deciding ----------------------------------------------------------------------------------

/// SplitMix64 of the seed's k-th value: the reproducible randomness of a rule.
pub fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether the k-th matching request of a rule with this seed and probability is hit.
pub fn chance(seed: u64, k: u64, probability: f64) -> bool {
    let unit = (mix(seed, k) >> 11) as f64 / (1u64 << 53) as f64;
    unit < probability
}

/// A second stream of the seed, for latencies, so that they do not follow the hits.
const LATENCY_STREAM: u64 = 0x6C61_7465_6E63_7921;

/// The delay of a latency action's `hit`-th hit.
pub fn latency(
    seed: u64,
    hit: u64,
    ms: Option<u64>,
    min: Option<u64>,
    max: Option<u64>,
) -> Duration {
    let ms = match (ms, min, max) {
        (Some(ms), _, _) => ms,
        (None, Some(min), Some(max)) if max > min => {
            min + mix(seed ^ LATENCY_STREAM, hit) % (max - min + 1)
        }
        (None, Some(min), _) => min,
        _ => 0,
    };
    Duration::from_millis(ms)
}

/// What a request is asked to match against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe<'a> {
    /// The `type` header.
    pub message_type: Option<&'a str>,
    /// The practice, upper case.
    pub practice: Option<&'a str>,
    /// The patient.
    pub patient: Option<&'a str>,
    /// The client certificate's fingerprint.
    pub fingerprint: Option<&'a str>,
}

/// A rule ready to match: its provider resolved to a certificate fingerprint.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) id: u64,
    pub(crate) spec: FaultSpec,
    fingerprint: Option<String>,
}

impl Compiled {
    fn matches(&self, p: &Probe<'_>) -> bool {
        let m = &self.spec.matches;
        fn same(want: Option<&str>, got: Option<&str>) -> bool {
            want.is_none_or(|w| got == Some(w))
        }
        same(m.message_type.as_deref(), p.message_type)
            && same(m.practice.as_deref(), p.practice)
            && same(m.patient_id.as_deref(), p.patient)
            && same(self.fingerprint.as_deref(), p.fingerprint)
    }
}

/// The rules an instance applies, indexed: each rule is filed under the most selective field
/// it matches on (patient, practice, provider, message type, or none), so that finding the
/// rules a request might meet is one hash lookup per field rather than a scan.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The store's version these rules were read at (`None`: never read).
    version: Option<u64>,
    rules: Vec<Compiled>,
    by_patient: HashMap<String, Vec<usize>>,
    by_practice: HashMap<String, Vec<usize>>,
    by_fingerprint: HashMap<String, Vec<usize>>,
    by_type: HashMap<String, Vec<usize>>,
    any: Vec<usize>,
}

impl Snapshot {
    /// Files `rules` (oldest first); a rule naming a provider not found in `fingerprints`
    /// can match nothing and is left out.
    pub(crate) fn build(
        version: u64,
        rules: Vec<FaultRule>,
        fingerprints: &HashMap<String, String>,
    ) -> Snapshot {
        let mut s = Snapshot {
            version: Some(version),
            ..Snapshot::default()
        };
        for rule in rules.into_iter().filter(|r| !r.spent()) {
            let fingerprint = match &rule.spec.matches.provider {
                Some(id) => match fingerprints.get(id) {
                    Some(f) => Some(f.clone()),
                    None => continue,
                },
                None => None,
            };
            let i = s.rules.len();
            let m = &rule.spec.matches;
            let bucket = if let Some(p) = &m.patient_id {
                s.by_patient.entry(p.clone()).or_default()
            } else if let Some(p) = &m.practice {
                s.by_practice.entry(p.clone()).or_default()
            } else if let Some(f) = &fingerprint {
                s.by_fingerprint.entry(f.clone()).or_default()
            } else if let Some(t) = &m.message_type {
                s.by_type.entry(t.clone()).or_default()
            } else {
                &mut s.any
            };
            bucket.push(i);
            s.rules.push(Compiled {
                id: rule.id,
                spec: rule.spec,
                fingerprint,
            });
        }
        s
    }

    /// Whether matching needs the request's practice or patient (read from its body).
    pub(crate) fn needs_ids(&self) -> bool {
        !self.by_patient.is_empty() || !self.by_practice.is_empty()
    }

    /// The rules that match, oldest first.
    pub(crate) fn matching(&self, p: &Probe<'_>) -> Vec<&Compiled> {
        let look = |map: &HashMap<String, Vec<usize>>, key: Option<&str>| -> Option<Vec<usize>> {
            key.and_then(|k| map.get(k)).cloned()
        };
        let mut found: Vec<usize> = Vec::new();
        for list in [
            look(&self.by_patient, p.patient),
            look(&self.by_practice, p.practice),
            look(&self.by_fingerprint, p.fingerprint),
            look(&self.by_type, p.message_type),
        ]
        .into_iter()
        .flatten()
        {
            found.extend(list);
        }
        found.extend(self.any.iter().copied());
        if found.is_empty() {
            return Vec::new();
        }
        found.sort_unstable();
        found
            .into_iter()
            .filter_map(|i| self.rules.get(i))
            .filter(|r| r.matches(p))
            .collect()
    }

    /// How many rules are applied.
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }
}

/// A per-instance token bucket of a rule's rate trigger.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// An instance's rules and the state of their rate triggers.
#[derive(Debug, Default)]
pub struct Faults {
    /// Whether the snapshot holds any rule: the whole cost of fault injection when none does.
    active: AtomicBool,
    snapshot: RwLock<Arc<Snapshot>>,
    buckets: Mutex<HashMap<u64, Bucket>>,
    /// One reload at a time, so that an older read never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
}

impl Faults {
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn version(&self) -> Option<u64> {
        self.snapshot().version
    }

    pub(crate) async fn reload_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reloading.lock().await
    }

    pub(crate) fn install(&self, snapshot: Snapshot) {
        let active = snapshot.len() > 0;
        let ids: Vec<u64> = snapshot.rules.iter().map(|r| r.id).collect();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        self.active.store(active, Ordering::Release);
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| ids.contains(id));
    }

    /// Takes a token from rule `id`'s bucket (`rate` per second, holding a second's worth,
    /// at least one); false when there is none, i.e. the request is beyond the rate.
    pub(crate) fn within_rate(&self, id: u64, rate: f64, now: DateTime<Utc>) -> bool {
        let capacity = rate.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(id).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = (now - b.at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        if now > b.at {
            b.at = now;
        }
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the endpoint is to do to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// Wait this long first (the sum of the latency rules that hit).
    pub delay: Duration,
    /// Then this, instead of serving normally (the oldest non-latency rule that hit).
    pub action: Option<FiredAction>,
}

/// A non-latency action that hit.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredAction {
    /// The rule.
    pub rule: u64,
    /// What to do.
    pub action: FaultAction,
}

/// Resolves what is needed to build a snapshot: the fingerprints of the providers rules name.
pub(crate) async fn provider_fingerprints(
    store: &dyn crate::Store,
    rules: &[FaultRule],
) -> StoreResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for id in rules
        .iter()
        .filter_map(|r| r.spec.matches.provider.as_ref())
    {
        if out.contains_key(id) {
            continue;
        }
        if let Some(p) = store.provider(id).await? {
            out.insert(id.clone(), p.fingerprint);
        }
    }
    Ok(out)
}

impl crate::Pfs {
    /// Reads the rules from the store and applies them from now on (this instance).
    pub async fn reload_faults(&self) -> StoreResult<()> {
        let _one = self.faults.reload_lock().await;
        // The version first: a change made while the rules are read moves it past this one,
        // so the next poll reads them again.
        let version = self.store.fault_rules_version().await?;
        let rules = self.store.list_fault_rules().await?;
        let fingerprints = provider_fingerprints(self.store.as_ref(), &rules).await?;
        self.faults
            .install(Snapshot::build(version, rules, &fingerprints));
        Ok(())
    }

    /// Reads the rules again if their version in the store moved since they were read (one
    /// small read when it did not); true if they were read. A background task calls this
    /// about once a second, which bounds how long another instance's change takes to apply.
    pub async fn refresh_faults(&self) -> StoreResult<bool> {
        let version = self.store.fault_rules_version().await?;
        if self.faults.version() == Some(version) {
            return Ok(false);
        }
        self.reload_faults().await?;
        Ok(true)
    }

    /// How many fault rules this instance applies (not spent, naming no unknown provider).
    pub fn active_fault_rules(&self) -> usize {
        if self.faults.active() {
            self.faults.snapshot().len()
        } else {
            0
        }
    }

    /// What fault injection does to a request, before it is handled: `None` (almost always)
    /// to serve it normally. `message_type` is the `type` header, `fingerprint` the client
    /// certificate's, `body` the request body (its root's `unitId` and `patientId` are read
    /// only when some rule names a practice or patient).
    ///
    /// Each hit is counted in the store and logged at `info` with the rule, the message type
    /// and the action, never a patient, `suid` or body. A store failure here is logged and
    /// the request served as if no rule had hit.
    pub async fn fault_for(
        &self,
        message_type: Option<&str>,
        fingerprint: Option<&str>,
        body: &[u8],
    ) -> Option<Injection> {
        if !self.faults.active() {
            return None;
        }
        let snapshot = self.faults.snapshot();
        let ids = if snapshot.needs_ids() {
            pfs_wire::sniff_root_ids(body)
        } else {
            pfs_wire::RootIds::default()
        };
        let practice = ids.unit_id.map(|u| u.to_ascii_uppercase());
        let probe = Probe {
            message_type,
            practice: practice.as_deref(),
            patient: ids.patient_id.as_deref(),
            fingerprint,
        };
        let rules = snapshot.matching(&probe);
        if rules.is_empty() {
            return None;
        }
        let logged_type = message_type
            .and_then(|t| pfs_wire::REQUEST_TYPES.iter().find(|known| **known == t))
            .copied()
            .unwrap_or("unknown");
        let mut injection = Injection {
            delay: Duration::ZERO,
            action: None,
        };
        let mut spent = false;
        for rule in rules {
            let hit = match self.try_fault(rule).await {
                Ok(Some(hit)) => hit,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(rule = rule.id, error = %e, "a fault rule could not be applied");
                    continue;
                }
            };
            spent |= hit.remaining == Some(0);
            let action = &rule.spec.action;
            tracing::info!(
                rule = rule.id,
                r#type = logged_type,
                action = action.kind(),
                hits = hit.hits,
                "fault injected"
            );
            if let FaultAction::Latency { ms, min_ms, max_ms } = action {
                let seed = rule.spec.trigger.seed.unwrap_or(0);
                injection.delay += latency(seed, hit.hits, *ms, *min_ms, *max_ms);
            } else {
                injection.action = Some(FiredAction {
                    rule: rule.id,
                    action: action.clone(),
                });
                break;
            }
        }
        if spent && let Err(e) = self.reload_faults().await {
            tracing::warn!(error = %e, "fault rules could not be read again");
        }
        (injection.delay > Duration::ZERO || injection.action.is_some()).then_some(injection)
    }

    /// Whether `rule`'s trigger fires for the request at hand, and if so its hit, counted.
    async fn try_fault(&self, rule: &Compiled) -> StoreResult<Option<FaultHit>> {
        let t = &rule.spec.trigger;
        let probability = t.probability.filter(|p| *p < 1.0);
        if t.every_nth.is_some() || probability.is_some() {
            let Some(k) = self.store.count_fault_match(rule.id).await? else {
                return Ok(None);
            };
            if t.every_nth.is_some_and(|n| k % n != 0) {
                return Ok(None);
            }
            if let Some(p) = probability
                && !chance(t.seed.unwrap_or(0), k, p)
            {
                return Ok(None);
            }
        }
        if let Some(rate) = t.rate_per_second
            && self.faults.within_rate(rule.id, rate, self.clock.now())
        {
            return Ok(None);
        }
        self.store.record_fault_hit(rule.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FaultSpec {
        FaultSpec {
            matches: FaultMatch::default(),
            trigger: FaultTrigger::default(),
            action: FaultAction::Empty,
        }
    }

    #[test]
    fn seeded_chance_is_reproducible_and_near_its_probability() {
        let a: Vec<bool> = (1..=1000).map(|k| chance(42, k, 0.3)).collect();
        let b: Vec<bool> = (1..=1000).map(|k| chance(42, k, 0.3)).collect();
        let c: Vec<bool> = (1..=1000).map(|k| chance(43, k, 0.3)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let hits = a.iter().filter(|h| **h).count();
        assert!((200..400).contains(&hits), "{hits}");
        assert!((1..100).all(|k| !chance(7, k, 0.0)));
        assert!((1..100).all(|k| chance(7, k, 1.0)));
    }

    #[test]
    fn random_latency_stays_in_range() {
        for hit in 1..500 {
            let d = latency(9, hit, None, Some(10), Some(20));
            assert!((10..=20).contains(&(d.as_millis() as u64)));
        }
        assert_eq!(latency(9, 1, Some(5), None, None), Duration::from_millis(5));
    }

    #[test]
    fn check_completes_and_refuses() {
        let s = check(base()).unwrap();
        assert!(s.trigger.seed.is_some());
        let bad = |f: fn(&mut FaultSpec)| {
            let mut s = base();
            f(&mut s);
            check(s).unwrap_err()
        };
        assert!(bad(|s| s.matches.message_type = Some("Nope".into())).contains("messageType"));
        assert!(bad(|s| s.trigger.probability = Some(1.5)).contains("probability"));
        assert!(bad(|s| s.trigger.every_nth = Some(0)).contains("everyNth"));
        assert!(bad(|s| s.trigger.count = Some(0)).contains("count"));
        assert!(bad(|s| s.trigger.rate_per_second = Some(0.0)).contains("ratePerSecond"));
        assert!(bad(|s| s.action = FaultAction::HttpStatus { status: 500 }).contains("status"));
        assert!(
            bad(|s| s.action = FaultAction::Latency {
                ms: None,
                min_ms: Some(5),
                max_ms: Some(1)
            })
            .contains("latency")
        );
        let mut s = base();
        s.matches.practice = Some(" y99001 ".into());
        s.action = FaultAction::Error {
            error_code: "9010".into(),
            user_friendly_message: None,
            technical_message: None,
        };
        let s = check(s).unwrap();
        assert_eq!(s.matches.practice.as_deref(), Some("Y99001"));
        assert!(matches!(
            s.action,
            FaultAction::Error {
                user_friendly_message: Some(_),
                technical_message: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn the_index_finds_only_matching_rules_in_order() {
        let rule = |id: u64, m: FaultMatch| FaultRule {
            id,
            created_at: Utc::now(),
            spec: FaultSpec {
                matches: m,
                trigger: FaultTrigger::default(),
                action: FaultAction::Empty,
            },
            matched: 0,
            hits: 0,
            remaining: None,
        };
        let mut rules = vec![
            rule(
                1,
                FaultMatch {
                    patient_id: Some("1".into()),
                    message_type: Some("ViewAppointments".into()),
                    ..FaultMatch::default()
                },
            ),
            rule(
                2,
                FaultMatch {
                    practice: Some("Y1".into()),
                    ..FaultMatch::default()
                },
            ),
            rule(3, FaultMatch::default()),
            rule(
                4,
                FaultMatch {
                    provider: Some("p".into()),
                    ..FaultMatch::default()
                },
            ),
            rule(
                5,
                FaultMatch {
                    provider: Some("unknown".into()),
                    ..FaultMatch::default()
                },
            ),
        ];
        let mut spent = rule(6, FaultMatch::default());
        spent.remaining = Some(0);
        rules.push(spent);
        let fps = HashMap::from([("p".to_owned(), "fp".to_owned())]);
        let s = Snapshot::build(1, rules, &fps);
        assert_eq!(s.len(), 4);
        let ids = |p: Probe<'_>| s.matching(&p).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(Probe {
                message_type: Some("ViewAppointments"),
                practice: Some("Y1"),
                patient: Some("1"),
                fingerprint: Some("fp"),
            }),
            vec![1, 2, 3, 4]
        );
        assert_eq!(
            ids(Probe {
                message_type: Some("BookAppointment"),
                patient: Some("1"),
                ..Probe::default()
            }),
            vec![3]
        );
    }
}
