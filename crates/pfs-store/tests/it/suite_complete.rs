//! Every case of `pfs_store::suite` runs on every backend: each `pub async fn` in
//! `src/suite/*.rs` must be named by `store_suite_cases!` (which the backends' tests expand into
//! one test per case), except the durability pair the backends run around re-opening their
//! database; and every name the macro lists must be defined there.

use std::collections::BTreeSet;
use std::path::Path;

/// Not in `store_suite_cases!`: each backend runs them itself, around closing and re-opening.
const NOT_LISTED: &[&str] = &["durable_write", "durable_check"];

macro_rules! case_names {
    ($($case:ident),* $(,)?) => {
        &[$(stringify!($case)),*]
    };
}

const LISTED: &[&str] = pfs_store::store_suite_cases!(case_names);

/// The names of the `pub async fn`s in every `.rs` file of `dir`, with the file of each.
fn defined_cases(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub async fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                rest[name.len()..].starts_with('('),
                "{file}: cannot read the case name in {line:?}"
            );
            found.push((name, file.clone()));
        }
    }
    found
}

#[test]
fn every_suite_case_is_listed_in_store_suite_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/suite");
    let defined = defined_cases(&dir);

    let listed: BTreeSet<&str> = LISTED.iter().copied().collect();
    let mut problems = Vec::new();
    if listed.len() != LISTED.len() {
        let mut seen = BTreeSet::new();
        let twice: Vec<&str> = LISTED
            .iter()
            .copied()
            .filter(|n| !seen.insert(*n))
            .collect();
        problems.push(format!(
            "store_suite_cases! lists these more than once: {twice:?}"
        ));
    }

    let mut names = BTreeSet::new();
    let mut unlisted = Vec::new();
    for (name, file) in &defined {
        if !names.insert(name.as_str()) {
            problems.push(format!(
                "`{name}` is defined more than once (again in suite/{file})"
            ));
        }
        if !listed.contains(name.as_str()) && !NOT_LISTED.contains(&name.as_str()) {
            unlisted.push(format!("{name} (suite/{file})"));
        }
    }
    if !unlisted.is_empty() {
        problems.push(format!(
            "these suite cases are missing from store_suite_cases!, so no backend runs them: {}",
            unlisted.join(", ")
        ));
    }

    let undefined: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|n| !names.contains(n))
        .collect();
    if !undefined.is_empty() {
        problems.push(format!(
            "store_suite_cases! lists names no `pub async fn` in suite/ defines: {}",
            undefined.join(", ")
        ));
    }
    for name in NOT_LISTED {
        if listed.contains(name) {
            problems.push(format!(
                "`{name}` is run by each backend itself; do not list it"
            ));
        }
        if !names.contains(name) {
            problems.push(format!(
                "the documented exception `{name}` is not defined in suite/"
            ));
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
