//! What the fuzz targets share.

/// Splits a fuzz input into a `type` header (up to the first newline, as text) and the body.
pub fn split_type(data: &[u8]) -> (&str, &[u8]) {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    (std::str::from_utf8(head).unwrap_or(""), body)
}

use std::sync::{Arc, OnceLock};

use pfs_core::Pfs;
use pfs_server::{RunningServer, ServeOptions};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A demo server started once per fuzzing process, with a session opened for the first demo
/// account, so that inputs can reach the in-session operations.
pub struct World {
    /// The runtime every call runs on.
    pub runtime: tokio::runtime::Runtime,
    /// The server (its listeners are up but unused: calls go straight to [`Pfs::serve`]).
    pub server: RunningServer,
    /// The demo provider's certificate fingerprint.
    pub fingerprint: String,
    /// A live session of the first demo account.
    pub suid: String,
    /// That account's patient id (also its online user id).
    pub patient_id: String,
    /// A patient the account may act for.
    pub proxy_patient_id: String,
    _dir: tempfile::TempDir,
}

impl World {
    /// The service.
    pub fn pfs(&self) -> &Arc<Pfs> {
        &self.server.pfs
    }

    /// Replaces the placeholders `$SUID`-free inputs use: `$P` (the account's patient id, also
    /// the online user id) and `$Q` (a patient it may act for), so that seeds can name real
    /// patients.
    pub fn fill(&self, body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body);
        if !text.contains('$') {
            return body.to_vec();
        }
        text.replace("$P", &self.patient_id)
            .replace("$Q", &self.proxy_patient_id)
            .into_bytes()
    }
}

/// The one [`World`] of this process.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let server = runtime.block_on(async {
            let mut opts = ServeOptions {
                data_dir: dir.path().join("data"),
                listen: "127.0.0.1:0".parse().expect("address"),
                admin_listen: "127.0.0.1:0".parse().expect("address"),
                seed_demo: true,
                ..ServeOptions::default()
            };
            // Cheap hashing: linkage attempts are fuzzed too.
            opts.core.kdf = pfs_core::KdfParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            };
            pfs_server::start(opts).await.expect("server starts")
        });
        let demo = server.data_dir.path("demo");
        let cert = CertificateDer::from_pem_file(demo.join("client.pem")).expect("demo cert");
        let fingerprint = pfs_core::secrets::fingerprint(&cert);
        let account = &server.seeded.as_ref().expect("demo seeded")[0];
        let provider_id = std::fs::read_to_string(demo.join("provider-id")).expect("provider id");
        let provider_id = provider_id.trim();
        let application = format!(
            r#"<Application name="fuzz" version="1" providerId="{provider_id}" deviceType="fuzz"/>"#
        );
        let serve = |message_type: &str, suid: Option<&str>, body: String| {
            runtime.block_on(server.pfs.serve(
                Some(&fingerprint),
                Some(message_type),
                suid,
                body.as_bytes(),
            ))
        };
        let linked = serve(
            "LinkAccount",
            None,
            format!(
                r#"<LinkAccount apiVersion="1" organisationCode="{}" lastName="{}" dateOfBirth="{}T00:00:00" accountId="{}" passphrase="{}">{application}</LinkAccount>"#,
                account.organisation_code,
                account.last_name,
                account.date_of_birth,
                account.account_id,
                account.linkage_key
            ),
        );
        let linked = linked.result.expect("demo account links").body;
        let passphrase = linked.get("passphrase").expect("passphrase").to_owned();
        let opened = serve(
            "Authenticate",
            None,
            format!(
                r#"<Authenticate apiVersion="1" unitId="{}" accountId="{}" passphrase="{passphrase}" providerId="{provider_id}">{application}</Authenticate>"#,
                account.organisation_code, account.account_id
            ),
        );
        let reply = opened.result.expect("demo account authenticates");
        let suid = secrecy::ExposeSecret::expose_secret(reply.suid.as_ref().expect("suid"))
            .to_owned();
        let patient_id = reply.body.get("onlineUserId").expect("user").to_owned();
        let proxy_patient_id = reply
            .body
            .all("Person")
            .filter_map(|p| p.get("patientId"))
            .find(|id| *id != patient_id)
            .unwrap_or(&patient_id)
            .to_owned();
        World {
            runtime,
            server,
            fingerprint,
            suid,
            patient_id,
            proxy_patient_id,
            _dir: dir,
        }
    })
}

/// The admin API's router over the [`world`]'s service, as the admin listener serves it.
pub fn admin_router() -> axum::Router {
    let world = world();
    let ca = pfs_server::pki::PemPair {
        cert_pem: std::fs::read_to_string(world.server.data_dir.path("ca.pem")).expect("ca"),
        key_pem: std::fs::read_to_string(world.server.data_dir.path("ca-key.pem")).expect("ca key"),
    };
    pfs_server::admin::router(Arc::new(pfs_server::admin::AdminState {
        pfs: world.server.pfs.clone(),
        token: world.server.admin_token.clone(),
        ca,
        counters: world.server.counters.clone(),
        metrics: world.server.metrics.clone(),
        clock_offset: world.server.clock_offset.clone(),
    }))
}
