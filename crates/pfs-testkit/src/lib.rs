//! A real openpfs server for tests: temporary data directory, free ports, a hand-driven clock,
//! the demo practice, and clients that talk to it over real mutual TLS.

use std::sync::Arc;

pub mod hostile;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use http_body_util::{BodyExt, Full};
use pfs_client::{Client, LinkRequest, Session};
use pfs_core::{KdfParams, ManualClock};
use pfs_server::{RunningServer, ServeOptions};
use pfs_wire::Application;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// One demo account, as in `DATA_DIR/demo/accounts.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoAccount {
    /// Online account id.
    pub account_id: String,
    /// Linkage key.
    pub linkage_key: String,
    /// Last name.
    pub last_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// ODS code.
    pub organisation_code: String,
    /// NHS number.
    pub nhs_number: String,
    /// NHS numbers this user may act for.
    pub proxy_for: Vec<String>,
}

/// A provider's credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Client certificate PEM.
    pub cert_pem: String,
    /// Client key PEM.
    pub key_pem: String,
    /// Provider id.
    pub provider_id: String,
}

/// A running server and what tests need to talk to it.
pub struct TestServer {
    /// The server.
    pub server: RunningServer,
    /// The clock the server tells time by.
    pub clock: Arc<ManualClock>,
    /// The server CA (trust anchor for clients).
    pub ca_pem: String,
    /// The demo provider.
    pub demo: Credentials,
    /// The demo accounts.
    pub accounts: Vec<DemoAccount>,
    /// The options the server was started with.
    pub options: ServeOptions,
    dir: tempfile::TempDir,
}

/// The data directory files every instance sharing one database must have in common.
pub const SHARED_SECRETS: &[&str] = &[
    "ca.pem",
    "ca-key.pem",
    "server.pem",
    "server-key.pem",
    "pepper",
    "admin-token",
];

/// Cheap argon2 settings so tests link quickly; the production defaults are benchmarked.
pub fn fast_kdf() -> KdfParams {
    KdfParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    }
}

impl TestServer {
    /// A server with default settings (fast argon2).
    pub async fn start() -> Result<TestServer> {
        Self::start_with(|_| {}).await
    }

    /// A server whose options `adjust` may change before it starts.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeOptions)) -> Result<TestServer> {
        let dir = tempfile::tempdir()?;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut opts = ServeOptions {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse()?,
            admin_listen: "127.0.0.1:0".parse()?,
            clock: clock.clone(),
            seed_demo: true,
            ..ServeOptions::default()
        };
        opts.core.kdf = fast_kdf();
        adjust(&mut opts);
        Self::boot(opts, clock, dir).await
    }

    /// Stops the server and starts it again on the same data directory and clock.
    pub async fn restart(self) -> Result<TestServer> {
        let TestServer {
            server,
            clock,
            options,
            dir,
            ..
        } = self;
        server.shutdown().await;
        Self::boot(options, clock, dir).await
    }

    /// Stops the server as `pfs serve` does on SIGTERM: stops accepting, lets requests in
    /// progress finish within the drain deadline, closes the rest; returns when it is done.
    pub async fn shutdown(self) {
        let TestServer { server, dir, .. } = self;
        server.shutdown().await;
        drop(dir);
    }

    /// A second instance on the same database (which must be shared, i.e. PostgreSQL): its
    /// own data directory and ports, a copy of this one's secrets (CA, server certificate,
    /// pepper, admin token) and demo credentials, and the same clock.
    pub async fn start_sibling(&self) -> Result<TestServer> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("demo"))?;
        // Only its owner may enter a data directory: the server refuses to start otherwise.
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let from = self.server.data_dir.root();
        for name in SHARED_SECRETS {
            std::fs::copy(from.join(name), data.join(name))
                .with_context(|| format!("copying {name}"))?;
        }
        // Not needed by the server: the test reads the demo credentials from there.
        for entry in std::fs::read_dir(from.join("demo"))? {
            let entry = entry?;
            std::fs::copy(entry.path(), data.join("demo").join(entry.file_name()))?;
        }
        let opts = ServeOptions {
            data_dir: data,
            listen: "127.0.0.1:0".parse()?,
            admin_listen: "127.0.0.1:0".parse()?,
            ..self.options.clone()
        };
        Self::boot(opts, self.clock.clone(), dir).await
    }

    async fn boot(
        opts: ServeOptions,
        clock: Arc<ManualClock>,
        dir: tempfile::TempDir,
    ) -> Result<TestServer> {
        let server = pfs_server::start(opts.clone()).await?;
        let demo_dir = server.data_dir.path("demo");
        let read = |name: &str| {
            std::fs::read_to_string(demo_dir.join(name)).with_context(|| format!("demo/{name}"))
        };
        let demo = Credentials {
            cert_pem: read("client.pem")?,
            key_pem: read("client-key.pem")?,
            provider_id: read("provider-id")?.trim().to_owned(),
        };
        let accounts = serde_json::from_str(&read("accounts.json")?)?;
        Ok(TestServer {
            ca_pem: read("ca.pem")?,
            demo,
            accounts,
            server,
            clock,
            options: opts,
            dir,
        })
    }

    /// The server's current time: the test's clock moved by the sandbox's offset.
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        self.server.pfs.clock().now()
    }

    /// The PFS endpoint URL (with the `/tpp/` path real clients use).
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/tpp/", self.server.pfs_addr.port())
    }

    /// A client for the demo provider.
    pub fn client(&self) -> Client {
        self.client_for(&self.demo)
    }

    /// A client for a provider.
    pub fn client_for(&self, c: &Credentials) -> Client {
        Client::builder(&self.endpoint())
            .identity_pem(c.cert_pem.as_bytes(), c.key_pem.as_bytes())
            .ca_pem(self.ca_pem.as_bytes())
            .application(Application {
                name: "testkit".into(),
                version: "1.0".into(),
                provider_id: c.provider_id.clone(),
                device_type: "testkit".into(),
            })
            .build()
            .expect("test client configuration is valid")
    }

    /// The demo account with this last name (the first one).
    pub fn account(&self, last_name: &str) -> &DemoAccount {
        self.accounts
            .iter()
            .find(|a| a.last_name == last_name)
            .unwrap_or_else(|| panic!("no demo account named {last_name}"))
    }

    /// A register `LinkAccount` request for a demo account.
    pub fn register(a: &DemoAccount) -> LinkRequest {
        LinkRequest::register(
            &a.organisation_code,
            &a.last_name,
            a.date_of_birth,
            &a.account_id,
            SecretString::from(a.linkage_key.clone()),
        )
    }

    /// Links a demo account for `client`'s provider; returns the passphrase.
    pub async fn link(&self, client: &Client, a: &DemoAccount) -> Result<SecretString> {
        client
            .link_account(Self::register(a))
            .await?
            .passphrase
            .context("LinkAccount returned no passphrase")
    }

    /// Links and authenticates a demo account with the demo provider.
    pub async fn login(&self, last_name: &str) -> Result<Session> {
        let client = self.client();
        let a = self.account(last_name).clone();
        let passphrase = self.link(&client, &a).await?;
        Ok(client
            .authenticate(&a.organisation_code, &a.account_id, &passphrase)
            .await?)
    }

    /// Calls the admin API; returns the status and the JSON body (`Null` when empty).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        self.admin_with_token(method, path, body, &self.server.admin_token)
            .await
    }

    /// Calls the admin API with a given token.
    pub async fn admin_with_token(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> Result<(u16, Value)> {
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let req = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.server.admin_addr))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))?;
        let res = http.request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, value))
    }

    /// A `POST` of `body` as it is (e.g. a CSV) to the admin API; the status and the JSON body.
    pub async fn admin_post_text(&self, path: &str, body: &str) -> Result<(u16, Value)> {
        self.admin_post_bytes(path, "text/csv", body.as_bytes().to_vec())
            .await
    }

    /// A `POST` of raw bytes (e.g. a document's page) with `content_type` to the admin API;
    /// the status and the JSON body.
    pub async fn admin_post_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Value)> {
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.server.admin_addr))
            .header(
                "authorization",
                format!("Bearer {}", self.server.admin_token),
            )
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))?;
        let res = http.request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    /// A `GET` on the admin API returning the status and the body as text (for `/metrics`),
    /// with `token` as the bearer token (none: no `Authorization` header).
    pub async fn admin_text(&self, path: &str, token: Option<&str>) -> Result<(u16, String)> {
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let mut req = http::Request::builder()
            .method("GET")
            .uri(format!("http://{}{path}", self.server.admin_addr));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let res = http.request(req.body(Full::new(Bytes::new()))?).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Registers a new provider through the admin API.
    pub async fn new_provider(&self, name: &str, trusted_identity: bool) -> Result<Credentials> {
        let (status, v) = self
            .admin(
                "POST",
                "/api/providers",
                Some(serde_json::json!({"name": name, "trustedIdentity": trusted_identity})),
            )
            .await?;
        if status != 201 {
            bail!("provider add answered {status}: {v}");
        }
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .context("provider reply field")
        };
        Ok(Credentials {
            cert_pem: field("certPem")?,
            key_pem: field("keyPem")?,
            provider_id: field("id")?,
        })
    }

    /// The patient id of the demo patient with this NHS number.
    pub async fn patient_id(&self, nhs_number: &str) -> Result<String> {
        let p = self
            .server
            .pfs
            .store()
            .patient_by_nhs_number(nhs_number)
            .await?
            .context("no such patient")?;
        Ok(p.id)
    }
}
