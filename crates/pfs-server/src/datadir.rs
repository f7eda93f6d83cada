//! The data directory: what lives where, created on first start and kept across restarts.
//!
//! ```text
//! DATA_DIR/
//!   pfs.db            SQLite database (with -wal/-shm beside it); absent with PostgreSQL
//!   ca.pem            provider CA certificate (clients trust the server through it too)
//!   ca-key.pem        provider CA key                                (0600)
//!   server.pem        server certificate (SAN localhost, 127.0.0.1)
//!   server-key.pem    server key                                     (0600)
//!   pepper            key for passphrase hashes, hex                 (0600)
//!   admin-token       bearer token of the admin API                  (0600)
//!   admin-url         where the running server's admin API listens (for `pfs admin`)
//!   demo/             demo credentials, written once (see README)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pfs_core::Pepper;
use pfs_core::secrets::random_bytes;

use crate::pki::{self, PemPair};

/// The files of a data directory that only its owner may read.
const SECRET_FILES: &[&str] = &[
    "ca-key.pem",
    "server-key.pem",
    "pepper",
    "admin-token",
    "demo/client-key.pem",
];

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) a data directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.exists() {
            // The directory holds patient data and keys: only its owner may enter it.
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder
                .create(&root)
                .with_context(|| format!("cannot create the data directory {}", root.display()))?;
        }
        let dir = DataDir { root };
        dir.check_permissions()?;
        Ok(dir)
    }

    /// Refuses a data directory, or a key or secret in it, that users other than its owner may
    /// read: checked at every start, since a directory copied or restored by hand can lose its
    /// modes.
    fn check_permissions(&self) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open_to_others = |path: &Path| -> Result<Option<u32>> {
                match fs::metadata(path) {
                    Ok(m) => {
                        Ok(Some(m.permissions().mode() & 0o777).filter(|mode| mode & 0o077 != 0))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
                }
            };
            if let Some(mode) = open_to_others(&self.root)? {
                anyhow::bail!(
                    "the data directory {} may be entered by other users (mode {mode:o}); it holds keys and patient data: run `chmod 700 {}`",
                    self.root.display(),
                    self.root.display()
                );
            }
            for name in SECRET_FILES {
                let path = self.path(name);
                if let Some(mode) = open_to_others(&path)? {
                    anyhow::bail!(
                        "{} may be read by other users (mode {mode:o}): run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    );
                }
            }
        }
        Ok(())
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.path("pfs.db")
    }

    /// The provider CA, created on first use.
    pub fn ca(&self) -> Result<PemPair> {
        self.pair("ca.pem", "ca-key.pem", || {
            pki::new_ca("openpfs provider CA")
        })
    }

    /// The server certificate, created on first use (signed by the CA).
    pub fn server_cert(&self, ca: &PemPair) -> Result<PemPair> {
        self.pair("server.pem", "server-key.pem", || {
            pki::new_server_cert(ca, &["localhost", "127.0.0.1", "::1"])
        })
    }

    /// The passphrase pepper, created on first use.
    pub fn pepper(&self) -> Result<Pepper> {
        let text = self.secret_file("pepper", || hex::encode(random_bytes::<32>()))?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("DATA_DIR/pepper must hold 64 hex characters")?;
        Ok(Pepper::new(bytes))
    }

    /// The admin API token, created on first use.
    pub fn admin_token(&self) -> Result<String> {
        Ok(self
            .secret_file("admin-token", || hex::encode(random_bytes::<24>()))?
            .trim()
            .to_owned())
    }

    fn pair(
        &self,
        cert: &str,
        key: &str,
        make: impl FnOnce() -> Result<PemPair, pki::PkiError>,
    ) -> Result<PemPair> {
        let (cert_path, key_path) = (self.path(cert), self.path(key));
        if cert_path.exists() && key_path.exists() {
            return Ok(PemPair {
                cert_pem: read(&cert_path)?,
                key_pem: read(&key_path)?,
            });
        }
        let pair = make()?;
        write_secret(&key_path, &pair.key_pem)?;
        write_public(&cert_path, &pair.cert_pem)?;
        Ok(pair)
    }

    fn secret_file(&self, name: &str, make: impl FnOnce() -> String) -> Result<String> {
        let path = self.path(name);
        if path.exists() {
            return read(&path);
        }
        let value = make();
        write_secret(&path, &value)?;
        Ok(value)
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file readable by everyone (certificates, demo data).
pub fn write_public(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a file only the owner may read (keys, tokens), never leaving a readable copy behind.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
