//! Integration tests: the shared suite (`pfs_store::suite`) against every backend, plus each
//! backend's own checks, one module per backend; and a check that the suite's list of cases
//! names every case (`suite_complete`).

mod fixtures;
mod postgres;
mod postgres_tls;
mod sqlite;
mod suite_complete;
