//! The test accounts file, `accounts.json` (what `pfs serve --demo` writes beside the demo
//! credentials): read by `pfs login --account` and `pfs conformance`.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;

/// One entry of `accounts.json`: what the practice gave the patient to link their account.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestAccount {
    pub(crate) account_id: String,
    pub(crate) linkage_key: String,
    pub(crate) last_name: String,
    pub(crate) date_of_birth: NaiveDate,
    pub(crate) organisation_code: String,
    /// NHS numbers of the patients this account acts for.
    #[serde(default)]
    pub(crate) proxy_for: Vec<String>,
}

impl std::fmt::Debug for TestAccount {
    // The linkage key stays out of every report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAccount")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Every account of the file at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<TestAccount>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the test accounts {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of test accounts", path.display()))
}
