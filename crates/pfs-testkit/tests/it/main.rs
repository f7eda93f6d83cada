//! End-to-end tests: a real server on free ports, real mutual TLS, real SQLite files.

/// Each named test as `<module>::sqlite::<name>` and `<module>::postgres::<name>` (ignored
/// unless PostgreSQL tests are included), calling `<name>(Backend)` (see `stores.rs`).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::stores::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
                async fn $name() {
                    super::$name($crate::stores::Backend::Postgres).await;
                }
            )*
        }
    };
}

mod account_info;
mod admin;
mod appointments;
mod demographics;
mod examples;
mod faults;
mod first_run;
mod hostile;
mod linkage;
mod medication;
mod medication_admin;
mod messaging;
mod metrics;
mod multi_instance;
mod pharmacy;
mod record;
mod sandbox;
mod sdk;
mod session;
mod stores;
mod transport;
