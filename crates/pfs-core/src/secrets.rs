//! Generating and checking secrets: `suid`s, long-term passphrases, linkage keys.
//!
//! - `suid`: 192 random bits; stored only as SHA-256 (a high-entropy value needs no slow hash).
//! - passphrase: 256 random bits; stored as HMAC-SHA-256 under the server's pepper, so a copy
//!   of the database alone cannot be used to test guesses.
//! - linkage key: typed by people, so argon2id, on a bounded blocking pool so that hashing can
//!   never starve the request path.
//!
//! Every generated secret uses an alphabet that HTML decoding leaves unchanged (clients
//! HTML-decode `passphraseToLink`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// Random bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS generator failing is not recoverable and not caused by input.
    #[allow(
        clippy::expect_used,
        reason = "no secret can be made without the OS generator"
    )]
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// `n` random decimal digits, the first not zero.
pub fn random_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<16>() {
            // Rejecting 250..=255 keeps the digits uniform.
            if b >= 250 || out.len() == n || (out.is_empty() && b % 10 == 0) {
                continue;
            }
            out.push(char::from(b'0' + b % 10));
        }
    }
    out
}

/// One try at storing a row under a fresh random id (see [`with_fresh_id`]).
pub(crate) enum Attempt<T> {
    /// Stored (or otherwise settled): the outcome.
    Done(T),
    /// The id was taken: try another.
    IdTaken,
}

/// How many random ids [`with_fresh_id`] tries; with eight or more digits even a second try is
/// rare.
const FRESH_ID_TRIES: usize = 8;

/// Stores a row under a fresh random id of `digits` digits: calls `attempt` with new ids while it
/// answers [`Attempt::IdTaken`]. `None` if every try found its id taken.
pub(crate) async fn with_fresh_id<T, E, F>(
    digits: usize,
    mut attempt: impl FnMut(String) -> F,
) -> Result<Option<T>, E>
where
    F: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..FRESH_ID_TRIES {
        if let Attempt::Done(outcome) = attempt(random_digits(digits)).await? {
            return Ok(Some(outcome));
        }
    }
    Ok(None)
}

/// A new `suid` (192 bits, URL-safe base64).
pub fn new_suid() -> SecretString {
    SecretString::from(URL_SAFE_NO_PAD.encode(random_bytes::<24>()))
}

/// A new long-term passphrase (256 bits, URL-safe base64).
pub fn new_passphrase() -> SecretString {
    SecretString::from(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The linkage-key alphabet: Crockford's base 32 (no I, L, O, U), easy to read aloud.
const KEY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new linkage key: 15 characters (75 bits) in three groups, e.g. `7QX2K-9HTRM-4BC8P`.
pub fn new_linkage_key() -> SecretString {
    let bytes = random_bytes::<15>();
    let mut key = String::with_capacity(17);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            key.push('-');
        }
        #[allow(
            clippy::indexing_slicing,
            reason = "b & 31 indexes a 32-entry alphabet"
        )]
        key.push(KEY_ALPHABET[usize::from(b & 31)] as char);
    }
    SecretString::from(key)
}

/// The form a typed linkage key is hashed in: upper case, without spaces or hyphens (people
/// type the groups either way).
pub fn normalise_linkage_key(key: &str) -> String {
    key.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// SHA-256 of a `suid`, lower-case hex: the session's key in the store.
pub fn suid_hash(suid: &str) -> String {
    hex::encode(Sha256::digest(suid.as_bytes()))
}

/// SHA-256 of a DER certificate, lower-case hex: the provider's identity.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The server's secret key for passphrase hashes.
pub struct Pepper(SecretBox<[u8; 32]>);

impl Pepper {
    /// A pepper from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Pepper(SecretBox::new(Box::new(bytes)))
    }

    /// A fresh random pepper.
    pub fn generate() -> Self {
        Pepper::new(random_bytes::<32>())
    }

    /// The raw bytes, for writing to the data directory.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    fn mac(&self, passphrase: &str) -> Hmac<Sha256> {
        #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC accepts keys of any length");
        mac.update(passphrase.as_bytes());
        mac
    }

    /// The reference by which `RequestAccountInformation` names another provider's linked
    /// application: 16 hex characters of a keyed hash of its provider id, so that one app never
    /// learns another's provider id. The input's prefix has a `:`, which no passphrase (URL-safe
    /// base64) contains, so it can never equal a passphrase's hash.
    pub fn application_ref(&self, provider_id: &str) -> String {
        let full = hex::encode(
            self.mac(&format!("linked-application:{provider_id}"))
                .finalize()
                .into_bytes(),
        );
        full.chars().take(16).collect()
    }

    /// The stored form of a passphrase.
    pub fn hash_passphrase(&self, passphrase: &SecretString) -> String {
        hex::encode(self.mac(passphrase.expose_secret()).finalize().into_bytes())
    }

    /// Checks a passphrase against its stored form in constant time.
    pub fn verify_passphrase(&self, passphrase: &SecretString, stored_hex: &str) -> bool {
        match hex::decode(stored_hex) {
            Ok(stored) => self
                .mac(passphrase.expose_secret())
                .verify_slice(&stored)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Work for a hashing thread; it gets the thread's reusable argon2 memory.
type KdfJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// How many linkage-key checks may be admitted to the hashing threads at once (see
/// [`Kdf::admit`]): waiting or running, for all providers together and for one provider. The
/// defaults are in [`crate::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfQueue {
    /// For all providers together.
    pub total: usize,
    /// For one provider, so that one provider can never take the whole queue.
    pub per_provider: usize,
}

/// The hashing queue is full, for everyone or for this provider: answer at once instead of
/// waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfBusy;

/// The lane of the practice side's hashes (keys issued through the admin API, the decoy): not
/// admitted, so never refused, and never counted against a provider. Provider ids are never
/// empty.
const PRACTICE_LANE: &str = "";

/// Hashes and checks linkage keys with argon2id on a fixed pool of `concurrency` threads, fed
/// by a bounded queue that is fair across providers.
///
/// A fixed pool (rather than tokio's blocking pool) bounds both the cores and the memory that
/// hashing can take: each thread keeps one argon2 buffer (19 MiB by default) and reuses it, so a
/// burst of linkage attempts cannot leave freed buffers behind in the allocator.
///
/// Each provider's work is a lane of its own. A provider's attempt first takes a place
/// ([`Kdf::admit`]); there are at most [`KdfQueue::total`] places, at most
/// [`KdfQueue::per_provider`] of them for one provider, and when there is none the attempt is
/// refused at once ([`KdfBusy`]) instead of waiting behind everyone else's. The place is held
/// until its hash is done. The threads take the lanes' work in turn (round robin), so a
/// provider's hash waits behind at most one hash of each other busy provider, however much work
/// that provider has queued.
#[derive(Clone)]
pub struct Kdf {
    argon2: Argon2<'static>,
    pool: Arc<Pool>,
    /// Closes the pool when the last clone is gone (the threads and tickets hold only `pool`).
    _open: Arc<OpenPool>,
    /// A hash of a random key, checked when an account has no key so that an unknown account
    /// costs the same time as a wrong key.
    decoy: Arc<str>,
}

/// A place in the hashing queue for one of a provider's hashes, from [`Kdf::admit`]; given back
/// when its hash is done, or when it is dropped unused.
#[must_use = "dropping the ticket gives the place back"]
pub struct KdfTicket {
    pool: Arc<Pool>,
    lane: Arc<str>,
}

impl std::fmt::Debug for KdfTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The lane is a provider id, which is a credential.
        f.write_str("KdfTicket")
    }
}

impl Drop for KdfTicket {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        state.admitted -= 1;
        if let Some(lane) = state.lanes.get_mut(&self.lane) {
            lane.admitted -= 1;
            if lane.admitted == 0 && lane.jobs.is_empty() {
                state.lanes.remove(&self.lane);
            }
        }
    }
}

/// Keeps the hashing threads from starting another hash while it lives; see [`Kdf::hold`].
#[must_use = "the threads resume when the hold is dropped"]
pub struct KdfHold {
    pool: Arc<Pool>,
}

impl Drop for KdfHold {
    fn drop(&mut self) {
        self.pool.lock().holds -= 1;
        self.pool.ready.notify_all();
    }
}

/// The queue the hashing threads take their work from.
struct Pool {
    state: std::sync::Mutex<PoolState>,
    /// Signalled when work arrives, a hold ends or the pool closes.
    ready: std::sync::Condvar,
    limits: KdfQueue,
    /// Hashes computed so far.
    computed: AtomicU64,
}

#[derive(Default)]
struct PoolState {
    lanes: HashMap<Arc<str>, Lane>,
    /// The lanes that have work waiting, in the order they get their next turn.
    turns: VecDeque<Arc<str>>,
    /// Tickets out, all lanes together.
    admitted: usize,
    /// [`KdfHold`]s alive.
    holds: usize,
    closed: bool,
}

/// One provider's (or the practice side's) work.
#[derive(Default)]
struct Lane {
    /// Tickets out.
    admitted: usize,
    /// Work waiting for a thread, oldest first.
    jobs: VecDeque<KdfJob>,
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // The state stays consistent even if a holder panicked: every change is a few plain
        // writes with nothing in between that can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` in `lane`. On a closed pool the job is dropped (its caller then hears that
    /// the pool is closed).
    fn submit(&self, lane: &Arc<str>, job: KdfJob) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            drop(job); // outside the lock: dropping a job gives back its ticket
            return;
        }
        let entry = state.lanes.entry(lane.clone()).or_default();
        entry.jobs.push_back(job);
        if entry.jobs.len() == 1 {
            state.turns.push_back(lane.clone());
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The next job, in turn; `None` once the pool is closed.
    fn next_job(&self) -> Option<KdfJob> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if state.holds == 0
                && let Some(job) = state.take_turn()
            {
                return Some(job);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl PoolState {
    /// The oldest job of the lane whose turn it is; the lane goes to the back of the line if it
    /// has more.
    fn take_turn(&mut self) -> Option<KdfJob> {
        while let Some(id) = self.turns.pop_front() {
            let Some(lane) = self.lanes.get_mut(&id) else {
                continue;
            };
            let job = lane.jobs.pop_front();
            if !lane.jobs.is_empty() {
                self.turns.push_back(id);
            } else if lane.admitted == 0 {
                self.lanes.remove(&id);
            }
            if job.is_some() {
                return job;
            }
        }
        None
    }
}

/// Closes the pool when dropped: the threads stop and queued work is dropped (its callers hear
/// that the pool is closed).
struct OpenPool(Arc<Pool>);

impl Drop for OpenPool {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        state.turns.clear();
        let queued: Vec<KdfJob> = state
            .lanes
            .values_mut()
            .flat_map(|lane| lane.jobs.drain(..))
            .collect();
        drop(state);
        // Outside the lock: dropping a job gives back its ticket, which takes the lock.
        drop(queued);
        self.0.ready.notify_all();
    }
}

impl Kdf {
    /// A KDF with these parameters, at most `concurrency` hashes at once, and at most `queue`
    /// hashes admitted.
    pub fn new(params: KdfParams, concurrency: usize, queue: KdfQueue) -> Result<Self, String> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let pool = Arc::new(Pool {
            state: std::sync::Mutex::new(PoolState::default()),
            ready: std::sync::Condvar::new(),
            limits: KdfQueue {
                total: queue.total.max(1),
                per_provider: queue.per_provider.max(1),
            },
            computed: AtomicU64::new(0),
        });
        let open = Arc::new(OpenPool(pool.clone()));
        for i in 0..concurrency.max(1) {
            let pool = pool.clone();
            std::thread::Builder::new()
                .name(format!("pfs-kdf-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    while let Some(job) = pool.next_job() {
                        job(&mut memory);
                    }
                })
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        // The decoy is made on the pool too, so no thread but the pool's ever holds a buffer.
        let (tx, rx) = std::sync::mpsc::channel();
        let maker = argon2.clone();
        pool.submit(
            &Arc::from(PRACTICE_LANE),
            Box::new(move |memory: &mut Vec<Block>| {
                let _ = tx.send(hash_with(&maker, new_linkage_key().expose_secret(), memory));
            }),
        );
        let decoy = rx
            .recv()
            .map_err(|_| "the hashing pool did not start".to_owned())??;
        Ok(Kdf {
            argon2,
            pool,
            _open: open,
            decoy: decoy.into(),
        })
    }

    /// A place in the queue for one hash of `provider_id`'s, or [`KdfBusy`] at once when the
    /// queue is full for everyone or for this provider. Take it before doing any other work for
    /// the hash, and hand it to [`Kdf::verify`] or [`Kdf::hash`].
    pub fn admit(&self, provider_id: &str) -> Result<KdfTicket, KdfBusy> {
        let limits = self.pool.limits;
        let mut state = self.pool.lock();
        if state.admitted >= limits.total {
            return Err(KdfBusy);
        }
        let lane = match state.lanes.get_key_value(provider_id) {
            Some((_, lane)) if lane.admitted >= limits.per_provider => return Err(KdfBusy),
            Some((id, _)) => id.clone(),
            None => Arc::from(provider_id),
        };
        state.lanes.entry(lane.clone()).or_default().admitted += 1;
        state.admitted += 1;
        Ok(KdfTicket {
            pool: self.pool.clone(),
            lane,
        })
    }

    /// The argon2id PHC string of a linkage key (normalised first). With a ticket the hash is
    /// that provider's work; without, the practice side's (never refused, counted against no
    /// provider).
    pub async fn hash(
        &self,
        ticket: Option<KdfTicket>,
        key: &SecretString,
    ) -> Result<String, String> {
        let key = normalise_linkage_key(key.expose_secret());
        let argon2 = self.argon2.clone();
        self.run(ticket, move |memory| hash_with(&argon2, &key, memory))
            .await?
    }

    /// Whether `key` matches `stored` (a PHC string); with `None`, checks against a decoy so the
    /// time taken does not reveal that there was nothing to check.
    pub async fn verify(
        &self,
        ticket: KdfTicket,
        key: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, String> {
        let real = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.to_string(), str::to_owned);
        let key = normalise_linkage_key(key.expose_secret());
        let matched = self
            .run(Some(ticket), move |memory| {
                verify_with(&key, &stored, memory).unwrap_or(false)
            })
            .await?;
        Ok(real && matched)
    }

    /// How many hashes and checks the threads have computed since start (not counting the
    /// decoy made at start): for tests and metrics.
    pub fn computed(&self) -> u64 {
        self.pool.computed.load(Ordering::Relaxed)
    }

    /// How many places of the queue are taken (hashes admitted, waiting or running): for tests
    /// and metrics.
    pub fn admitted(&self) -> usize {
        self.pool.lock().admitted
    }

    /// Keeps the threads from starting another hash until the returned hold is dropped (a hash
    /// already started finishes). For tests that need a full queue without racing the threads.
    pub fn hold(&self) -> KdfHold {
        self.pool.lock().holds += 1;
        KdfHold {
            pool: self.pool.clone(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        ticket: Option<KdfTicket>,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, String> {
        self.start(ticket, f)
            .await
            .map_err(|_| "the hashing pool is closed".to_owned())
    }

    /// Queues `f` in the ticket's lane (the practice lane without one); its answer arrives on
    /// the receiver. The ticket is given back when `f` is done, skipped or dropped unrun; `f`
    /// is skipped if nobody waits for its answer any more.
    fn start<T: Send + 'static>(
        &self,
        ticket: Option<KdfTicket>,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let lane = ticket
            .as_ref()
            .map_or_else(|| Arc::from(PRACTICE_LANE), |t| t.lane.clone());
        let pool = Arc::downgrade(&self.pool);
        self.pool.submit(
            &lane,
            Box::new(move |memory: &mut Vec<Block>| {
                if tx.is_closed() {
                    return; // the request was abandoned: nothing to compute for
                }
                let answer = f(memory);
                if let Some(pool) = pool.upgrade() {
                    pool.computed.fetch_add(1, Ordering::Relaxed);
                }
                // The place is free before the answer arrives.
                drop(ticket);
                let _ = tx.send(answer);
            }),
        );
        rx
    }
}

/// Runs argon2 into a 32-byte output, reusing `memory`.
fn compute(
    argon2: &Argon2<'_>,
    key: &str,
    salt: &[u8],
    memory: &mut Vec<Block>,
) -> Result<[u8; 32], String> {
    memory.resize(argon2.params().block_count(), Block::default());
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(key.as_bytes(), salt, &mut out, &mut memory[..])
        .map_err(|e| format!("argon2 failed: {e}"))?;
    Ok(out)
}

fn hash_with(argon2: &Argon2<'_>, key: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let salt_bytes = random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    let out = compute(argon2, key, &salt_bytes, memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Checks a key against a PHC string with the parameters stored in it.
fn verify_with(key: &str, stored: &str, memory: &mut Vec<Block>) -> Result<bool, String> {
    let phc = PasswordHash::new(stored).map_err(|e| e.to_string())?;
    if phc.algorithm != Algorithm::Argon2id.ident() {
        return Err("not an argon2id hash".into());
    }
    let params = Params::try_from(&phc).map_err(|e| e.to_string())?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err("hash without salt or output".into());
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let out = compute(&argon2, key, salt, memory)?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_shape() {
        for _ in 0..50 {
            let d = random_digits(9);
            assert_eq!(d.len(), 9);
            assert!(d.chars().all(|c| c.is_ascii_digit()));
            assert!(!d.starts_with('0'));
        }
    }

    #[test]
    fn generated_secrets_have_the_promised_shape() {
        let suid = new_suid();
        assert_eq!(suid.expose_secret().len(), 32);
        let p = new_passphrase();
        assert_eq!(p.expose_secret().len(), 43);
        assert!(!p.expose_secret().contains('&'));
        let k = new_linkage_key();
        let k = k.expose_secret();
        assert_eq!(k.len(), 17);
        assert!(
            k.chars()
                .all(|c| c == '-' || KEY_ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(new_suid().expose_secret(), new_suid().expose_secret());
    }

    #[test]
    fn passphrase_hashes_depend_on_the_pepper() {
        let p = new_passphrase();
        let a = Pepper::generate();
        let b = Pepper::generate();
        let h = a.hash_passphrase(&p);
        assert!(a.verify_passphrase(&p, &h));
        assert!(!b.verify_passphrase(&p, &h));
        assert!(!a.verify_passphrase(&new_passphrase(), &h));
        assert!(!a.verify_passphrase(&p, "not hex"));
    }

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn queue(total: usize, per_provider: usize) -> KdfQueue {
        KdfQueue {
            total,
            per_provider,
        }
    }

    #[tokio::test]
    async fn linkage_keys_verify_after_normalising() {
        let kdf = Kdf::new(cheap(), 1, queue(4, 2)).unwrap();
        let key = SecretString::from("abcde-12345-fghjk");
        let stored = kdf.hash(None, &key).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        let check = |key: &'static str, stored: Option<&str>| {
            let stored = stored.map(str::to_owned);
            let kdf = kdf.clone();
            async move {
                let ticket = kdf.admit("p").unwrap();
                kdf.verify(ticket, &SecretString::from(key), stored.as_deref())
                    .await
                    .unwrap()
            }
        };
        assert!(check(" ABCDE-12345-FGHJK ", Some(&stored)).await);
        assert!(check("abcde12345fghjk", Some(&stored)).await);
        assert!(!check("wrong", Some(&stored)).await);
        assert!(!check("abcde-12345-fghjk", None).await);
        // Parameters travel in the PHC string: a KDF with other settings still verifies.
        let other = Kdf::new(
            KdfParams {
                memory_kib: 128,
                iterations: 2,
                parallelism: 1,
            },
            2,
            queue(4, 2),
        )
        .unwrap();
        let ticket = other.admit("p").unwrap();
        assert!(other.verify(ticket, &key, Some(&stored)).await.unwrap());
        let ticket = other.admit("p").unwrap();
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA";
        assert!(!other.verify(ticket, &key, Some(argon2i)).await.unwrap());
        // A ticketed hash is the provider's work; each check and hash is counted.
        let ticket = other.admit("p").unwrap();
        other.hash(Some(ticket), &key).await.unwrap();
        assert_eq!(other.computed(), 3, "two checks and a hash");
        assert_eq!(other.admitted(), 0, "every place was given back");
    }

    #[tokio::test]
    async fn the_queue_is_bounded_per_provider_and_in_all() {
        let kdf = Kdf::new(cheap(), 1, queue(3, 2)).unwrap();
        let a1 = kdf.admit("a").unwrap();
        let a2 = kdf.admit("a").unwrap();
        assert_eq!(kdf.admit("a").unwrap_err(), KdfBusy, "a's share is taken");
        let b1 = kdf.admit("b").expect("another provider still gets a place");
        assert_eq!(kdf.admit("c").unwrap_err(), KdfBusy, "the queue is full");
        assert_eq!(kdf.admitted(), 3);
        // A ticket dropped unused gives its place back; a used one once its hash is done.
        drop(a1);
        let c1 = kdf.admit("c").unwrap();
        assert!(
            !kdf.verify(a2, &SecretString::from("x"), None)
                .await
                .unwrap()
        );
        let a3 = kdf.admit("a").unwrap();
        assert_eq!(kdf.admitted(), 3);
        drop((b1, c1, a3));
        assert_eq!(kdf.admitted(), 0);
        // The practice side's hashes need no place and are never refused.
        let held = [kdf.admit("a").unwrap(), kdf.admit("b").unwrap()];
        let _c = kdf.admit("c").unwrap();
        kdf.hash(None, &SecretString::from("y")).await.unwrap();
        drop(held);
    }

    #[tokio::test]
    async fn providers_take_turns() {
        let kdf = Kdf::new(cheap(), 1, queue(8, 4)).unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let hold = kdf.hold();
        let mut answers = Vec::new();
        for name in ["a1", "a2", "a3", "b1", "a4", "b2", "c1"] {
            let ticket = kdf.admit(&name[..1]).unwrap();
            let order = order.clone();
            answers.push(kdf.start(Some(ticket), move |_| {
                order.lock().unwrap().push(name);
            }));
        }
        assert!(order.lock().unwrap().is_empty(), "held");
        drop(hold);
        for answer in answers {
            answer.await.unwrap();
        }
        // Each provider's work in its own order, the providers in turn.
        assert_eq!(
            *order.lock().unwrap(),
            ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]
        );
    }

    #[tokio::test]
    async fn abandoned_checks_are_skipped_and_give_their_place_back() {
        let kdf = Kdf::new(cheap(), 1, queue(2, 2)).unwrap();
        let before = kdf.computed();
        let hold = kdf.hold();
        let ticket = kdf.admit("a").unwrap();
        let answer = kdf.start(Some(ticket), |_| ());
        drop(answer); // the request went away
        let kept = kdf.admit("a").unwrap();
        let done = kdf.start(Some(kept), |_| ());
        drop(hold);
        done.await.unwrap();
        assert_eq!(kdf.computed(), before + 1, "only the awaited job ran");
        assert_eq!(kdf.admitted(), 0);
    }

    #[tokio::test]
    async fn a_dropped_kdf_closes_its_queue() {
        let kdf = Kdf::new(cheap(), 1, queue(2, 2)).unwrap();
        let hold = kdf.hold();
        let ticket = kdf.admit("a").unwrap();
        let answer = kdf.start(Some(ticket), |_| ());
        let pool = kdf.pool.clone();
        drop(kdf);
        assert!(answer.await.is_err(), "queued work is dropped");
        drop(hold);
        assert_eq!(pool.lock().admitted, 0, "and its place given back");
    }
}
