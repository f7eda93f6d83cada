//! TLS to PostgreSQL: every `sslmode`, the CA from the URL or the option, and a wrong CA
//! refused. Needs `PFS_TEST_POSTGRES_URL` and `PFS_TEST_POSTGRES_CA` (a CA that signed the
//! server's certificate for 127.0.0.1; `.ci/run` sets the database up so).

use std::path::Path;
use std::time::Duration;

use pfs_core::store::*;
use pfs_store::pg_testing::{TestSchema, required_test_ca, required_test_url};
use pfs_store::postgres::tls::target;
use pfs_store::{PostgresOptions, postgres};
use sqlx_core::connection::Connection;
use sqlx_postgres::PgConnection;

/// `url` with more query parameters.
fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// How many connections named `application_name` are open, and how many of them use TLS.
async fn connections_named(application_name: &str) -> (i64, i64) {
    let mut c = PgConnection::connect(&required_test_url()).await.unwrap();
    let row: (i64, i64) = sqlx_core::query_as::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
    )
    .bind(application_name)
    .fetch_one(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
    row
}

/// A CA that signed nothing the server holds.
fn stranger_ca(dir: &Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join("stranger-ca.pem");
    std::fs::write(&path, cert.pem()).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn verify_full_store_connections_are_encrypted() {
    let ca = required_test_ca();
    let schema = TestSchema::create(&required_test_url()).await;
    let name = format!("pfs_tls_{}", std::process::id());
    let url = with(
        schema.url(),
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name={name}"),
    );
    let store = postgres::connect(&url, PostgresOptions::default())
        .await
        .expect("connects with verify-full");
    store.ping().await.unwrap();
    store.list_practices().await.unwrap();
    let (open, encrypted) = connections_named(&name).await;
    assert!(open >= 1, "no connection named {name}");
    assert_eq!(open, encrypted, "every store connection uses TLS");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn the_ca_option_serves_urls_that_name_none() {
    let schema = TestSchema::create(&required_test_url()).await;
    let opts = PostgresOptions {
        ca_file: Some(required_test_ca().into()),
        ..PostgresOptions::default()
    };
    let store = postgres::connect(&with(schema.url(), "sslmode=verify-full"), opts)
        .await
        .expect("connects with verify-full and the CA option");
    store.ping().await.unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn every_sslmode_connects_as_it_says() {
    let ca = required_test_ca();
    let base = required_test_url();
    for (params, encrypted) in [
        ("sslmode=disable".to_owned(), false),
        ("sslmode=prefer".to_owned(), true),
        ("sslmode=require".to_owned(), true),
        (format!("sslmode=require&sslrootcert={ca}"), true),
        (format!("sslmode=verify-ca&sslrootcert={ca}"), true),
        (format!("sslmode=verify-full&sslrootcert={ca}"), true),
    ] {
        let t = target(&with(&base, &params), None).unwrap();
        let client = match t.tls {
            None => {
                let (client, conn) = t.config.connect(tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client
            }
            Some(tls) => {
                let (client, conn) = t
                    .config
                    .connect(tls)
                    .await
                    .unwrap_or_else(|e| panic!("{params}: {e}"));
                tokio::spawn(conn);
                client
            }
        };
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, bool>(0), encrypted, "{params}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn a_server_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stranger = stranger_ca(dir.path());
    let base = required_test_url();
    for mode in ["verify-full", "verify-ca", "require"] {
        let t = target(
            &with(&base, &format!("sslmode={mode}&sslrootcert={stranger}")),
            None,
        )
        .unwrap();
        let refused = tokio::time::timeout(
            Duration::from_secs(10),
            t.config.connect(t.tls.expect("TLS")),
        )
        .await
        .expect("answered at once");
        let Err(e) = refused else {
            panic!("{mode} accepted a certificate from another CA")
        };
        assert!(
            format!("{e:?}").to_lowercase().contains("certificate"),
            "{mode}: {e:?}"
        );
    }
    // The whole store refuses it too, with an error, not a hang.
    let schema = TestSchema::create(&base).await;
    let url = with(
        schema.url(),
        &format!("sslmode=verify-full&sslrootcert={stranger}"),
    );
    let opts = PostgresOptions {
        acquire_timeout: Duration::from_secs(3),
        ..PostgresOptions::default()
    };
    assert!(postgres::connect(&url, opts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn the_name_is_checked_by_verify_full_only() {
    // Reach the server at 127.0.0.1 under a name its certificate does not hold.
    let ca = required_test_ca();
    let base = required_test_url();
    assert!(
        base.contains("@127.0.0.1:"),
        "the test database URL names 127.0.0.1"
    );
    let renamed = with(
        &base.replace("@127.0.0.1:", "@db.invalid:"),
        "hostaddr=127.0.0.1",
    );
    let full = target(
        &with(&renamed, &format!("sslmode=verify-full&sslrootcert={ca}")),
        None,
    )
    .unwrap();
    assert!(full.config.connect(full.tls.unwrap()).await.is_err());
    let chain = target(
        &with(&renamed, &format!("sslmode=verify-ca&sslrootcert={ca}")),
        None,
    )
    .unwrap();
    let (client, conn) = chain
        .config
        .connect(chain.tls.unwrap())
        .await
        .expect("verify-ca does not check the name");
    tokio::spawn(conn);
    client.query_one("SELECT 1", &[]).await.unwrap();
}
