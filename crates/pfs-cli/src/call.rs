//! `pfs call`: send any PFS message. With no body given, the request is built from
//! `name=value` attributes plus the common ones (`apiVersion`, `uuid`) and, for the messages
//! that carry it, the `Application` element.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use pfs_client::Client;
use pfs_wire::{Application, Element, Guid, Request};

/// Options of `pfs call`.
#[derive(clap::Args)]
pub struct Args {
    /// The message type (`type` header and root element), e.g. `Authenticate`.
    message_type: String,
    /// Attributes for the request root, as name=value.
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
    /// The session id for the `suid` header.
    #[arg(long, env = "PFS_SUID", hide_env_values = true)]
    suid: Option<String>,
    #[command(flatten)]
    conn: Connection,
}

/// Where and how to connect; defaults use a local server's demo credentials.
#[derive(clap::Args, Clone)]
pub struct Connection {
    /// The PFS endpoint URL.
    #[arg(
        long,
        env = "PFS_ENDPOINT",
        default_value = "https://localhost:8443/tpp/"
    )]
    pub endpoint: String,
    /// Directory with the demo credentials (`ca.pem`, `client.pem`, `client-key.pem`, `provider-id`).
    #[arg(long, env = "PFS_CREDENTIALS", default_value = "pfs-data/demo")]
    pub credentials: PathBuf,
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
    fn file(&self, given: &Option<PathBuf>, name: &str) -> Result<Vec<u8>> {
        let path = given.clone().unwrap_or_else(|| self.credentials.join(name));
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
        let application = Application {
            name: "pfs-cli".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider_id: self.provider_id()?,
            device_type: "pfs-cli".into(),
        };
        Ok(Client::builder(&self.endpoint)
            .identity_pem(
                &self.file(&self.cert, "client.pem")?,
                &self.file(&self.key, "client-key.pem")?,
            )
            .ca_pem(&self.file(&self.ca, "ca.pem")?)
            .application(application)
            .build()?)
    }
}

pub async fn run(a: Args) -> Result<()> {
    let body = match &a.file {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        None => build_body(&a.message_type, &a.attrs, &a.conn, &a.attach, &a.message_id)?,
    };
    let client = a.conn.client()?;
    let reply = client.raw(&a.message_type, a.suid.as_deref(), body).await?;
    if let Some(suid) = &reply.suid {
        eprintln!("suid: {suid}");
    }
    println!("{}", reply.body);
    if reply.is_error() || reply.status != 200 {
        bail!("the server answered with an error (HTTP {})", reply.status);
    }
    Ok(())
}

fn build_body(
    message_type: &str,
    attrs: &[String],
    conn: &Connection,
    attach: &[PathBuf],
    message_ids: &[String],
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
