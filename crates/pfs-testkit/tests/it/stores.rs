//! Running one test on both stores: SQLite always, PostgreSQL when its tests are included.

use pfs_store::pg_testing::{TestSchema, required_test_url};
use pfs_testkit::TestServer;

/// Which store a test runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A server on `backend` (PostgreSQL: a fresh schema of the test database, kept alive by the
/// returned guard), with `adjust` applied to its options.
pub(crate) async fn start_on(
    backend: Backend,
    adjust: impl FnOnce(&mut pfs_server::ServeOptions),
) -> (Option<TestSchema>, TestServer) {
    let schema = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TestSchema::create(&required_test_url()).await),
    };
    let url = schema.as_ref().map(|s| s.url().to_owned());
    let t = TestServer::start_with(|o| {
        o.database = url;
        adjust(o);
    })
    .await
    .unwrap();
    (schema, t)
}

/// Two instances on one fresh PostgreSQL schema: the first seeds the demo, the second finds
/// it. The schema is dropped when the returned guard is.
pub(crate) async fn two_instances() -> (Option<TestSchema>, TestServer, TestServer) {
    let (schema, a) = start_on(Backend::Postgres, |_| {}).await;
    let b = a.start_sibling().await.unwrap();
    (schema, a, b)
}
