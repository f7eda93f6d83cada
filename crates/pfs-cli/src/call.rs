//! `pfs call`: send any PFS message. With no body given, the request is built from
//! `name=value` attributes plus the common ones (`apiVersion`, `uuid`) and, for the messages
//! that carry it, the `Application` element. With a profile that holds a session (`pfs
//! login`), the `suid` header and, for the messages that name a patient, `unitId`,
//! `patientId` (the selected patient) and `onlineUserId` are filled in unless given.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use pfs_client::Client;
use pfs_wire::{Application, Element, Guid, Request};

use crate::output::{self, FormatArgs, Reported};
use crate::profile::{self, ProfileArg, SavedConnection, SavedSession};

/// Options of `pfs call`.
#[derive(clap::Args)]
pub struct Args {
    /// The message type (`type` header and root element), e.g. `Authenticate`.
    message_type: String,
    /// Attributes for the request root, as name=value. They win over what the profile fills in.
    #[arg(value_name = "NAME=VALUE")]
    attrs: Vec<String>,
    /// Send this file as the body instead (`-` reads standard input).
    #[arg(long, short = 'f', conflicts_with_all = ["attrs", "attach", "message_id"])]
    file: Option<PathBuf>,
    /// Add this file as an `Attachment` child (`MessageCreate`): its name, its extension as
    /// `fileType`, its bytes as base64. May be repeated.
    #[arg(long, value_name = "PATH")]
    attach: Vec<PathBuf>,
    /// Add a `Message messageId="ID"` child (`MessageMarkAsRead`, `MessageDelete`). May be
    /// repeated.
    #[arg(long, value_name = "ID")]
    message_id: Vec<String>,
    /// The session id for the `suid` header. Given, the profile's session is not used (its
    /// connection still is). A `suid` is URL-safe base64, so it may begin with `-`.
    #[arg(
        long,
        env = "PFS_SUID",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    suid: Option<String>,
    #[command(flatten)]
    profile: ProfileArg,
    /// Use no profile (whatever --profile or PFS_PROFILE says): send exactly what is given, as
    /// if `pfs login` had never run.
    #[arg(long)]
    no_profile: bool,
    #[command(flatten)]
    format: FormatArgs,
    #[command(flatten)]
    conn: Connection,
}

/// The endpoint when neither an option, the environment nor a profile names one.
pub const DEFAULT_ENDPOINT: &str = "https://localhost:8443/tpp/";
/// The credentials directory when neither an option, the environment nor a profile names one.
pub const DEFAULT_CREDENTIALS: &str = "pfs-data/demo";

/// Where and how to connect; defaults use a local server's demo credentials. What is given
/// (option or environment) wins over what a profile remembers, which wins over the defaults.
#[derive(clap::Args, Clone, Default)]
pub struct Connection {
    /// The PFS endpoint URL [default: https://localhost:8443/tpp/].
    #[arg(long, env = "PFS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Directory with the demo credentials (`ca.pem`, `client.pem`, `client-key.pem`,
    /// `provider-id`, `accounts.json`) [default: pfs-data/demo].
    #[arg(long, env = "PFS_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// Client certificate (PEM); default CREDENTIALS/client.pem.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client key (PEM); default CREDENTIALS/client-key.pem.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// CA that signed the server certificate; default CREDENTIALS/ca.pem.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Provider id; default the contents of CREDENTIALS/provider-id.
    #[arg(long, env = "PFS_PROVIDER_ID", hide_env_values = true)]
    pub provider_id: Option<String>,
}

impl Connection {
    /// These options, each one not given taken from `saved` (a profile's).
    pub fn or_saved(&self, saved: &SavedConnection) -> Connection {
        Connection {
            endpoint: self.endpoint.clone().or_else(|| saved.endpoint.clone()),
            credentials: self
                .credentials
                .clone()
                .or_else(|| saved.credentials.clone()),
            cert: self.cert.clone().or_else(|| saved.cert.clone()),
            key: self.key.clone().or_else(|| saved.key.clone()),
            ca: self.ca.clone().or_else(|| saved.ca.clone()),
            provider_id: self
                .provider_id
                .clone()
                .or_else(|| saved.provider_id.clone()),
        }
    }

    /// What a profile keeps: the endpoint and credentials directory (defaults included) and
    /// the other options given, paths made absolute so the profile works from any directory.
    pub fn to_saved(&self) -> Result<SavedConnection> {
        let absolute = |p: &Option<PathBuf>| -> Result<Option<PathBuf>> {
            p.as_deref()
                .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
                .transpose()
        };
        Ok(SavedConnection {
            endpoint: Some(self.endpoint().to_owned()),
            credentials: Some(std::path::absolute(self.credentials_dir())?),
            cert: absolute(&self.cert)?,
            key: absolute(&self.key)?,
            ca: absolute(&self.ca)?,
            provider_id: self.provider_id.clone(),
        })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT)
    }

    /// The credentials directory.
    pub fn credentials_dir(&self) -> PathBuf {
        self.credentials
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CREDENTIALS))
    }

    fn file(&self, given: &Option<PathBuf>, name: &str) -> Result<Vec<u8>> {
        let path = given
            .clone()
            .unwrap_or_else(|| self.credentials_dir().join(name));
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// The provider id to put in `Application`.
    pub fn provider_id(&self) -> Result<String> {
        match &self.provider_id {
            Some(p) => Ok(p.clone()),
            None => Ok(String::from_utf8(self.file(&None, "provider-id")?)?
                .trim()
                .to_owned()),
        }
    }

    /// A client for these settings.
    pub fn client(&self) -> Result<Client> {
        Ok(self.client_builder()?.build()?)
    }

    /// A client builder for these settings, for a caller that adds to them.
    pub fn client_builder(&self) -> Result<pfs_client::ClientBuilder> {
        let application = Application {
            name: "pfs-cli".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider_id: self.provider_id()?,
            device_type: "pfs-cli".into(),
        };
        Ok(Client::builder(self.endpoint())
            .identity_pem(
                &self.file(&self.cert, "client.pem")?,
                &self.file(&self.key, "client-key.pem")?,
            )
            .ca_pem(&self.file(&self.ca, "ca.pem")?)
            .application(application))
    }
}

pub async fn run(a: Args) -> Result<()> {
    let name = a.profile.name()?.to_owned();
    let mut profile = if a.no_profile {
        None
    } else {
        match profile::load(&name)? {
            Some(p) => Some(p),
            None if a.profile.explicit() => bail!(
                "there is no profile `{name}` ({}): run `pfs login --profile {name} …` first",
                profile::path(&name)?.display()
            ),
            None => None,
        }
    };
    let conn = match &profile {
        Some(p) => a.conn.or_saved(&p.connection),
        None => a.conn.clone(),
    };
    // An explicit session id is another session: the profile's ids would not belong to it.
    let session = match (&a.suid, &profile) {
        (None, Some(p)) => p.session.clone(),
        _ => None,
    };
    let body = match &a.file {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        None => build_body(
            &a.message_type,
            &a.attrs,
            &conn,
            &a.attach,
            &a.message_id,
            session.as_ref(),
        )?,
    };
    // The profile's session id goes only with the messages that take one.
    let suid = a.suid.clone().or_else(|| {
        session
            .as_ref()
            .filter(|_| Request::type_needs_session(&a.message_type) != Some(false))
            .map(|s| s.suid.clone())
    });
    let client = conn.client()?;
    let reply = client.raw(&a.message_type, suid.as_deref(), body).await?;
    // A new session's id (an `Authenticate` sent by hand), for the calls that follow; never
    // the echo of the one sent.
    if let Some(new) = &reply.suid
        && suid.is_none()
    {
        eprintln!("suid: {new}");
    }
    let Err(refusal) = output::show(&reply, a.format.format()) else {
        // `Logoff` by hand ends the profile's session as `pfs logoff` does.
        if let (Some(p), Some(_), "Logoff") = (profile.as_mut(), &session, a.message_type.as_str())
        {
            p.session = None;
            profile::save(&name, p)?;
            eprintln!("Profile `{name}` has no session now; it keeps the linkage.");
        }
        return Ok(());
    };
    let needs_session = Request::type_needs_session(&a.message_type) != Some(false);
    if let Some(p) = profile.as_mut()
        && needs_session
    {
        let ended = refusal.code.as_deref() == Some(pfs_wire::codes::NOT_AUTHENTICATED.code);
        if session.is_some() && ended {
            // The server no longer knows the session: forget it, keep the linkage.
            p.session = None;
            profile::save(&name, p)?;
            eprintln!(
                "The session of profile `{name}` has ended (it expired, or was logged off \
                 elsewhere): run `{}` to open a new one.",
                login_command(&name)
            );
        } else if a.suid.is_none() && p.session.is_none() {
            // Sent without a session or ids: that is likely what the server refused.
            eprintln!(
                "Profile `{name}` has no session, so nothing was filled in: run `{}` first.",
                login_command(&name)
            );
        }
    }
    Err(Reported.into())
}

/// The command that opens a session for profile `name`.
pub fn login_command(name: &str) -> String {
    if name == profile::DEFAULT_PROFILE {
        "pfs login".into()
    } else {
        format!("pfs login --profile {name}")
    }
}

fn build_body(
    message_type: &str,
    attrs: &[String],
    conn: &Connection,
    attach: &[PathBuf],
    message_ids: &[String],
    session: Option<&SavedSession>,
) -> Result<String> {
    let mut el = Element::new(message_type)
        .attr("apiVersion", "1")
        .attr("uuid", Guid::new_v4().to_string());
    for a in attrs {
        let (k, v) = a
            .split_once('=')
            .with_context(|| format!("attribute `{a}` is not NAME=VALUE"))?;
        el.attrs.retain(|(name, _)| name != k);
        el = el.attr(k, v);
    }
    // From the profile's session, what the message takes and was not given.
    if let Some(s) = session
        && Request::is_per_patient(message_type) == Some(true)
    {
        for (k, v) in [
            ("unitId", &s.unit_id),
            ("patientId", &s.selected_patient_id),
            ("onlineUserId", &s.online_user_id),
        ] {
            if el.get(k).is_none() {
                el = el.attr(k, v.clone());
            }
        }
        // `ListSlots` needs a start; a past one reads as now, and UTC is never ahead of the UK
        // wall clock, so the present in UTC asks for slots from now.
        if message_type == "ListSlots" && el.get("startDate").is_none() {
            let now = chrono::Utc::now().naive_utc();
            el = el.attr("startDate", pfs_wire::scalar::format_request_time(now));
        }
    }
    if Request::sends_application(message_type) == Some(true) {
        let provider_id = conn.provider_id()?;
        if message_type == "Authenticate" && el.get("providerId").is_none() {
            el = el.attr("providerId", provider_id.clone());
        }
        el = el.child(
            Element::new("Application")
                .attr("name", "pfs-cli")
                .attr("version", env!("CARGO_PKG_VERSION"))
                .attr("providerId", provider_id)
                .attr("deviceType", "pfs-cli"),
        );
    }
    for id in message_ids {
        el = el.child(Element::new("Message").attr("messageId", id.clone()));
    }
    for path in attach {
        let (name, file_type) = pfs_client::file_name_and_type(path)?;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let a = pfs_wire::MessageAttachment::from_bytes(name, file_type, &bytes);
        el = el.child(
            Element::new("Attachment")
                .attr("fileName", a.file_name)
                .attr("fileType", a.file_type)
                .text(a.content),
        );
    }
    Ok(el.to_document())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Args;

    #[derive(Parser)]
    struct Call {
        #[command(flatten)]
        args: Args,
    }

    /// One `suid` in 64 begins with `-` (URL-safe base64): it must still be taken as the value.
    #[test]
    fn a_suid_beginning_with_a_hyphen_is_a_value() {
        let call = Call::try_parse_from(["call", "Logoff", "--suid", "-iyw-6jH1"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.args.suid.as_deref(), Some("-iyw-6jH1"));
        assert_eq!(call.args.message_type, "Logoff");
    }
}
