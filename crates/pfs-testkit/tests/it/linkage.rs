//! linkage tests.
