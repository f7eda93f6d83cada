//! Profiles: what `pfs login` remembers for `pfs call`, `pfs select` and `pfs logoff`.
//!
//! One JSON file per profile, `DIR/profiles/NAME.json`, where DIR is `$PFS_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/openpfs`, else `~/.config/openpfs`. A file per profile keeps profiles
//! independent: logging in with one never rewrites another, and deleting a file forgets one
//! profile. The directories are created with mode 0700 and files with 0600 (written to a new
//! file and renamed over the old one); a profile that others may read is refused, because it
//! holds the session id and the account's passphrase.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The profile used when neither `--profile` nor `PFS_PROFILE` names one.
pub const DEFAULT_PROFILE: &str = "default";

/// Options naming the profile, shared by `login`, `select`, `logoff` and `call`.
#[derive(clap::Args, Clone)]
pub struct ProfileArg {
    /// The profile to use (`DIR/profiles/NAME.json`; see docs/sandbox.md).
    #[arg(long, env = "PFS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
}

impl ProfileArg {
    /// The profile's name: the one given, or [`DEFAULT_PROFILE`].
    pub fn name(&self) -> Result<&str> {
        let name = self.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && !name.starts_with('.');
        if !valid {
            bail!(
                "profile names are 1 to 64 letters, digits, `-`, `_` and `.`, not starting with `.`"
            );
        }
        Ok(name)
    }

    /// Whether a profile was named explicitly (then it must exist for `call`).
    pub fn explicit(&self) -> bool {
        self.profile.is_some()
    }
}

/// Everything a profile remembers.
#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// How to reach the server: given once at login.
    #[serde(default)]
    pub connection: SavedConnection,
    /// The linked account: what `Authenticate` needs, so a later login need not link again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// The open session, until `pfs logoff` or the server ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SavedSession>,
}

/// The connection options of `pfs login`, with paths made absolute.
#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SavedConnection {
    pub endpoint: Option<String>,
    pub credentials: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub provider_id: Option<String>,
}

/// A linked online account.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// The online account id.
    pub account_id: String,
    /// The practice's ODS code (`unitId` of `Authenticate`).
    pub ods_code: String,
    /// The long-term passphrase `LinkAccount` returned (not the linkage key). Secret.
    pub passphrase: String,
}

/// An open session.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SavedSession {
    /// The session id (`suid` header). Secret.
    pub suid: String,
    /// The practice ODS code, sent as `unitId`.
    pub unit_id: String,
    /// The account the session was opened for.
    pub account_id: String,
    /// The online user id.
    pub online_user_id: String,
    /// The user's own patient id.
    pub patient_id: String,
    /// The patient the session acts for (`patientId` of per-patient messages).
    pub selected_patient_id: String,
    /// The patients the user may act for, the user first, as `Authenticate` listed them.
    #[serde(default)]
    pub patients: Vec<Patient>,
}

/// A patient the user may act for.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub patient_id: String,
    pub name: String,
}

impl SavedSession {
    /// The display name of a patient of this session, or its id.
    pub fn name_of(&self, patient_id: &str) -> String {
        self.patients
            .iter()
            .find(|p| p.patient_id == patient_id)
            .map(|p| format!("{} (patient {})", p.name, p.patient_id))
            .unwrap_or_else(|| format!("patient {patient_id}"))
    }
}

/// Where profiles live: `$PFS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/openpfs`, else
/// `~/.config/openpfs`.
pub fn config_dir() -> Result<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("PFS_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = set("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("openpfs"));
    }
    match set("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("openpfs")),
        None => bail!("cannot find a configuration directory: set PFS_CONFIG_DIR or HOME"),
    }
}

/// The file of profile `name`.
pub fn path(name: &str) -> Result<PathBuf> {
    Ok(config_dir()?.join("profiles").join(format!("{name}.json")))
}

/// Reads profile `name`; `None` when it does not exist. A file that others may read or write
/// is refused.
pub fn load(name: &str) -> Result<Option<Profile>> {
    let path = path(name)?;
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mode = file.metadata()?.mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} can be read or written by other users (mode {:o}); it holds a session id and a \
             passphrase: `chmod 600` it, or delete it and log in again",
            path.display(),
            mode & 0o777
        );
    }
    let profile = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a profile", path.display()))?;
    Ok(Some(profile))
}

/// Writes profile `name`: the directories with mode 0700 if they are new, the file with mode
/// 0600 as a new file renamed over the old one.
pub fn save(name: &str, profile: &Profile) -> Result<PathBuf> {
    let path = path(name)?;
    let dir = path.parent().context("profile path")?;
    create_private_dir(dir)?;
    let tmp = dir.join(format!(".{name}.json.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let write = || -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(&serde_json::to_vec_pretty(profile)?)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    };
    let result = write();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

/// Creates `dir` and its missing parents with mode 0700; warns when an existing one is open to
/// other users.
fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.mode();
    if mode & 0o077 != 0 {
        eprintln!(
            "warning: {} can be entered by other users (mode {:o}); `chmod 700` it",
            dir.display(),
            mode & 0o777
        );
    }
    Ok(())
}
