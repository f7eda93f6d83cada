//! transport tests.
