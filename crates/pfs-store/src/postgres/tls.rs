//! TLS to PostgreSQL on rustls: `sslmode` and `sslrootcert` read from the database URL as libpq
//! reads them, or the CA given as an option (`--database-ca`).
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | no | – |
//! | `prefer` (the default) | when the server offers TLS | as `require` |
//! | `require` | yes | against the CA when one is given (chain only), otherwise not at all |
//! | `verify-ca` | yes | chain to the CA (a CA is required) |
//! | `verify-full` | yes | chain to the CA and the host name (a CA is required) |
//!
//! tokio-postgres itself knows only `disable`/`prefer`/`require` and no `sslrootcert`, so both
//! are taken out of the URL here and turned into a rustls configuration; the migrations'
//! driver (sqlx) reads the same parameters itself.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pfs_core::{StoreError, StoreResult};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::INVALID_URL;

/// How much TLS a database URL asks for (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it.
    Prefer,
    /// Always encrypt; check the chain when a CA is given.
    Require,
    /// Always encrypt and check the chain to the CA.
    VerifyCa,
    /// Always encrypt and check the chain and the host name.
    VerifyFull,
}

impl FromStr for TlsMode {
    type Err = StoreError;

    fn from_str(s: &str) -> StoreResult<TlsMode> {
        Ok(match s {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => {
                return Err(StoreError::Other(
                    "database: sslmode must be disable, prefer, require, verify-ca or verify-full"
                        .into(),
                ));
            }
        })
    }
}

/// A database URL read for tokio-postgres: its settings without the TLS parameters, and how to
/// make TLS connections (`None` for `sslmode=disable`).
pub struct Target {
    /// The driver's settings.
    pub config: tokio_postgres::Config,
    /// The TLS connector.
    pub tls: Option<MakeRustlsConnect>,
}

/// Reads `url`; `ca_file` is the CA to use when the URL names none (`sslrootcert`).
pub fn target(url: &str, ca_file: Option<&Path>) -> StoreResult<Target> {
    // The URL may carry a password: errors never echo it. Parameters other than the TLS ones
    // are passed on exactly as written (percent-encoded, as libpq reads them).
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = TlsMode::Prefer;
    let mut root_cert: Option<PathBuf> = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| StoreError::Other(INVALID_URL.into()))
        };
        match key {
            "sslmode" | "ssl-mode" => mode = decoded()?.parse()?,
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => root_cert = Some(decoded()?.into()),
            _ => rest.push(pair),
        }
    }
    let url = match rest.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", rest.join("&")),
    };
    let mut config = tokio_postgres::Config::from_str(&url)
        .map_err(|_| StoreError::Other(INVALID_URL.into()))?;
    config.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
    });
    let ca = root_cert.as_deref().or(ca_file);
    let tls = match mode {
        TlsMode::Disable => None,
        _ => Some(MakeRustlsConnect::new(client_config(mode, ca)?)),
    };
    Ok(Target { config, tls })
}

/// The rustls configuration for `mode`, trusting the certificates in `ca` when given.
fn client_config(mode: TlsMode, ca: Option<&Path>) -> StoreResult<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, ca) {
        (TlsMode::VerifyFull, Some(ca)) => webpki(ca, &provider)?,
        (_, Some(ca)) => Arc::new(ChainOnly(webpki(ca, &provider)?)),
        (TlsMode::VerifyCa | TlsMode::VerifyFull, None) => {
            return Err(StoreError::Other(
                "database: sslmode=verify-ca and verify-full need the CA that signed the server's certificate: sslrootcert=FILE in the URL, or --database-ca FILE".into(),
            ));
        }
        (_, None) => Arc::new(Unverified(provider.clone())),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|_| StoreError::Other("database: no usable TLS versions".into()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The standard verifier (chain and host name) over the certificates in `ca`.
fn webpki(ca: &Path, provider: &Arc<CryptoProvider>) -> StoreResult<Arc<WebPkiServerVerifier>> {
    let unreadable = || {
        StoreError::Other(format!(
            "database: cannot read the TLS CA certificates in {}",
            ca.display()
        ))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|_| unreadable())? {
        roots
            .add(cert.map_err(|_| unreadable())?)
            .map_err(|_| unreadable())?;
    }
    if roots.is_empty() {
        return Err(unreadable());
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|_| unreadable())
}

/// `verify-ca`: the chain must lead to the CA; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        // webpki checks the name only after the chain has been verified.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA, as in libpq: encrypted against eavesdropping, but the
/// server is not authenticated (documented; `verify-full` is what a deployment should use).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let t = target(
            "postgres://u:p@db.example:5433/pfs?sslmode=require&application_name=x",
            None,
        )
        .unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert!(t.tls.is_some());
        let t = target("postgres://u@localhost/pfs?sslmode=disable", None).unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Disable);
        assert!(t.tls.is_none());
        let t = target("postgres://u@localhost/pfs", None).unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Prefer);
    }

    #[test]
    fn verification_needs_a_ca_and_bad_values_are_refused() {
        for url in [
            "postgres://u@h/db?sslmode=verify-full",
            "postgres://u@h/db?sslmode=verify-ca",
        ] {
            let Err(e) = target(url, None) else {
                panic!("{url} accepted")
            };
            assert!(e.to_string().contains("sslrootcert"), "{e}");
        }
        let Err(e) = target("postgres://u:secret@h/db?sslmode=maybe", None) else {
            panic!("accepted")
        };
        assert!(!e.to_string().contains("secret"));
        let Err(e) = target(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            None,
        ) else {
            panic!("accepted")
        };
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
