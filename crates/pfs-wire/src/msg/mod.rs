//! Every message, grouped by service area; requests and replies side by side.

pub mod account;
pub mod appointments;
pub mod binary_data;
pub mod common;
pub mod demographics;
pub mod error;
pub mod linkage;
pub mod medication;
pub mod messaging;
pub mod pharmacy;
pub mod record;
pub mod services;
pub mod session;
pub mod version;
