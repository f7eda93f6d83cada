//! Integration tests: the shared suite (`pfs_store::suite`) against every backend, plus each
//! backend's own checks, one module per backend.

mod fixtures;
mod postgres;
mod sqlite;
