//! End-to-end tests: a real server on free ports, real mutual TLS, real SQLite files.

mod admin;
mod appointments;
mod first_run;
mod hostile;
mod linkage;
mod medication_admin;
mod metrics;
mod multi_instance;
mod session;
mod transport;
