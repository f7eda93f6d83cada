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

use std::sync::Arc;

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
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC accepts keys of any length");
        mac.update(passphrase.as_bytes());
        mac
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

/// Hashes and checks linkage keys with argon2id on a fixed pool of `concurrency` threads.
///
/// A fixed pool (rather than tokio's blocking pool) bounds both the cores and the memory that
/// hashing can take: each thread keeps one argon2 buffer (19 MiB by default) and reuses it, so a
/// burst of linkage attempts cannot leave freed buffers behind in the allocator.
#[derive(Clone)]
pub struct Kdf {
    argon2: Argon2<'static>,
    jobs: std::sync::mpsc::Sender<KdfJob>,
    /// A hash of a random key, checked when an account has no key so that an unknown account
    /// costs the same time as a wrong key.
    decoy: Arc<str>,
}

impl Kdf {
    /// A KDF with these parameters and at most `concurrency` hashes at once.
    pub fn new(params: KdfParams, concurrency: usize) -> Result<Self, String> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let (jobs, queue) = std::sync::mpsc::channel::<KdfJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("pfs-kdf-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return, // every Kdf was dropped
                        }
                    }
                })
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        // The decoy is made on the pool too, so no thread but the pool's ever holds a buffer.
        let (tx, rx) = std::sync::mpsc::channel();
        let maker = argon2.clone();
        jobs.send(Box::new(move |memory: &mut Vec<Block>| {
            let _ = tx.send(hash_with(&maker, new_linkage_key().expose_secret(), memory));
        }))
        .map_err(|_| "the hashing pool did not start".to_owned())?;
        let decoy = rx
            .recv()
            .map_err(|_| "the hashing pool did not start".to_owned())??;
        Ok(Kdf {
            argon2,
            jobs,
            decoy: decoy.into(),
        })
    }

    /// The argon2id PHC string of a linkage key (normalised first).
    pub async fn hash(&self, key: &SecretString) -> Result<String, String> {
        let key = normalise_linkage_key(key.expose_secret());
        let argon2 = self.argon2.clone();
        self.run(move |memory| hash_with(&argon2, &key, memory))
            .await?
    }

    /// Whether `key` matches `stored` (a PHC string); with `None`, checks against a decoy so the
    /// time taken does not reveal that there was nothing to check.
    pub async fn verify(&self, key: &SecretString, stored: Option<&str>) -> Result<bool, String> {
        let real = stored.is_some();
        let stored = stored.map_or_else(|| self.decoy.to_string(), str::to_owned);
        let key = normalise_linkage_key(key.expose_secret());
        let matched = self
            .run(move |memory| verify_with(&key, &stored, memory).unwrap_or(false))
            .await?;
        Ok(real && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |memory: &mut Vec<Block>| {
                let _ = tx.send(f(memory));
            }))
            .map_err(|_| "the hashing pool is closed".to_owned())?;
        rx.await.map_err(|_| "a hashing task failed".to_owned())
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

    #[tokio::test]
    async fn linkage_keys_verify_after_normalising() {
        let kdf = Kdf::new(
            KdfParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            1,
        )
        .unwrap();
        let key = SecretString::from("abcde-12345-fghjk");
        let stored = kdf.hash(&key).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        let typed = SecretString::from(" ABCDE-12345-FGHJK ");
        assert!(kdf.verify(&typed, Some(&stored)).await.unwrap());
        let run_together = SecretString::from("abcde12345fghjk");
        assert!(kdf.verify(&run_together, Some(&stored)).await.unwrap());
        assert!(
            !kdf.verify(&SecretString::from("wrong"), Some(&stored))
                .await
                .unwrap()
        );
        assert!(!kdf.verify(&key, None).await.unwrap());
        // Parameters travel in the PHC string: a KDF with other settings still verifies.
        let other = Kdf::new(
            KdfParams {
                memory_kib: 128,
                iterations: 2,
                parallelism: 1,
            },
            2,
        )
        .unwrap();
        assert!(other.verify(&key, Some(&stored)).await.unwrap());
        assert!(
            !other
                .verify(&key, Some("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"))
                .await
                .unwrap()
        );
    }
}
