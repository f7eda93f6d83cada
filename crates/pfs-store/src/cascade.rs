//! Deleting rows together with every row that refers to them: the plan for a sandbox
//! namespace's deletion, worked out from the schema's foreign keys (read from each backend's
//! catalogue), so that a table added later is covered without being listed anywhere.
//!
//! The plan is one `DELETE` per table reached, children before parents. Each statement picks
//! its rows by what they refer to (`column IN (SELECT … FROM parent WHERE …)`), while the
//! parents are still there. A row the plan misses makes its parent's `DELETE` fail on the
//! foreign key, which rolls the whole deletion back: nothing is ever left half deleted or
//! dangling.

use std::collections::{BTreeMap, BTreeSet};

/// A column of `child` that names a row of `parent` by `parent_column`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Reference {
    pub child: String,
    pub column: String,
    pub parent: String,
    pub parent_column: String,
}

impl Reference {
    pub(crate) fn new(child: &str, column: &str, parent: &str, parent_column: &str) -> Self {
        Reference {
            child: child.to_owned(),
            column: column.to_owned(),
            parent: parent.to_owned(),
            parent_column: parent_column.to_owned(),
        }
    }
}

/// References that have no foreign key yet belong to the row they name: a linkage attempt names
/// whatever account the caller typed, whether or not it exists; PostgreSQL's record-access log
/// drops its key for speed (migration 0015). A store whose catalogue has the key as well
/// lists it once.
pub(crate) const SOFT_REFERENCES: &[(&str, &str, &str, &str)] = &[
    ("link_throttles", "account_id", "online_accounts", "id"),
    ("link_throttles", "provider_id", "providers", "id"),
    ("record_accesses", "patient_id", "patients", "id"),
];

/// The foreign keys read from a catalogue (single-column ones: the schema has no other kind)
/// with [`SOFT_REFERENCES`] added.
pub(crate) fn with_soft_references(mut keys: Vec<Reference>) -> Vec<Reference> {
    keys.extend(
        SOFT_REFERENCES
            .iter()
            .map(|&(c, col, p, pcol)| Reference::new(c, col, p, pcol)),
    );
    keys.sort();
    keys.dedup();
    keys
}

/// Where a deletion starts: the rows of `table` whose `column` is among the values the query
/// `values` returns. The plan takes no parameters (a statement may not need them all, which
/// both drivers refuse), so the values are read from the database: the namespace being
/// deleted is marked in the registry within the same transaction.
pub(crate) struct Root<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub values: &'a str,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `DELETE` statements that remove the roots' rows and every row that refers to them,
/// directly or through other rows, in an order that deletes every row before the rows it
/// refers to. A table's references to itself are left to its own statement.
pub(crate) fn cascade_deletes(refs: &[Reference], roots: &[Root<'_>]) -> Vec<String> {
    let doomed = reached(refs, roots);
    let mut memo = BTreeMap::new();
    children_first(refs, &doomed)
        .into_iter()
        .map(|table| {
            let rows = predicate(&table, refs, roots, &doomed, &mut memo, &mut Vec::new());
            format!("DELETE FROM {} WHERE {rows}", ident(&table))
        })
        .collect()
}

/// The roots' tables and every table that refers to one of them, directly or not.
fn reached(refs: &[Reference], roots: &[Root<'_>]) -> BTreeSet<String> {
    let mut doomed: BTreeSet<String> = roots.iter().map(|r| r.table.to_owned()).collect();
    loop {
        let more: Vec<String> = refs
            .iter()
            .filter(|r| doomed.contains(&r.parent) && !doomed.contains(&r.child))
            .map(|r| r.child.clone())
            .collect();
        if more.is_empty() {
            return doomed;
        }
        doomed.extend(more);
    }
}

/// The condition that picks the rows of `table` to delete: a root's own condition, or a
/// reference to a row picked in the parent. `stack` holds the tables being worked out, so that
/// a cycle of foreign keys (the schema has none) ends instead of recurring.
fn predicate(
    table: &str,
    refs: &[Reference],
    roots: &[Root<'_>],
    doomed: &BTreeSet<String>,
    memo: &mut BTreeMap<String, String>,
    stack: &mut Vec<String>,
) -> String {
    if let Some(done) = memo.get(table) {
        return done.clone();
    }
    stack.push(table.to_owned());
    let mut any: Vec<String> = roots
        .iter()
        .filter(|r| r.table == table)
        .map(|r| format!("{} IN ({})", ident(r.column), r.values))
        .collect();
    let parents: Vec<&Reference> = refs
        .iter()
        .filter(|r| {
            r.child == table
                && r.parent != table
                && doomed.contains(&r.parent)
                && !stack.contains(&r.parent)
        })
        .collect();
    for r in parents {
        let parent_rows = predicate(&r.parent, refs, roots, doomed, memo, stack);
        any.push(format!(
            "{} IN (SELECT {} FROM {} WHERE {parent_rows})",
            ident(&r.column),
            ident(&r.parent_column),
            ident(&r.parent),
        ));
    }
    stack.pop();
    let rows = if any.is_empty() {
        "FALSE".to_owned()
    } else {
        any.join(" OR ")
    };
    memo.insert(table.to_owned(), rows.clone());
    rows
}

/// The `doomed` tables, each before every table it refers to (ties in name order).
fn children_first(refs: &[Reference], doomed: &BTreeSet<String>) -> Vec<String> {
    let mut order: Vec<String> = Vec::with_capacity(doomed.len());
    let mut left: BTreeSet<&String> = doomed.iter().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|t| {
                !refs
                    .iter()
                    .any(|r| &r.parent == *t && r.child != r.parent && left.contains(&r.child))
            })
            .collect();
        // A cycle (the schema has none) would leave nothing ready: the rest go in name order,
        // and a foreign key left dangling fails the deletion.
        let ready = if ready.is_empty() {
            left.iter().copied().collect()
        } else {
            ready
        };
        for t in ready {
            left.remove(t);
            order.push(t.clone());
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<Reference> {
        vec![
            Reference::new("patients", "ods", "practices", "ods"),
            Reference::new("accounts", "patient_id", "patients", "id"),
            Reference::new("sessions", "account_id", "accounts", "id"),
            Reference::new("sessions", "provider_id", "providers", "id"),
            Reference::new("views", "session_id", "sessions", "id"),
            Reference::new("pharmacies_nominated", "pharmacy", "pharmacies", "ods"),
            Reference::new("patients", "next_of_kin", "patients", "id"),
        ]
    }

    const ROOTS: &[Root<'static>] = &[
        Root {
            table: "practices",
            column: "ods",
            values: "SELECT ods FROM doomed",
        },
        Root {
            table: "providers",
            column: "id",
            values: "SELECT provider_id FROM doomed",
        },
    ];

    #[test]
    fn children_go_before_their_parents_and_unrelated_tables_are_left() {
        let plan = cascade_deletes(&schema(), ROOTS);
        let tables: Vec<&str> = plan
            .iter()
            .map(|s| s.split('"').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            tables,
            [
                "views",
                "sessions",
                "accounts",
                "providers",
                "patients",
                "practices"
            ]
        );
    }

    #[test]
    fn a_row_is_picked_by_any_of_its_references() {
        let plan = cascade_deletes(&schema(), ROOTS);
        assert_eq!(
            plan.get(1).map(String::as_str),
            Some(
                "DELETE FROM \"sessions\" WHERE \
                 \"account_id\" IN (SELECT \"id\" FROM \"accounts\" WHERE \
                 \"patient_id\" IN (SELECT \"id\" FROM \"patients\" WHERE \
                 \"ods\" IN (SELECT \"ods\" FROM \"practices\" WHERE \"ods\" IN (SELECT ods FROM doomed)))) \
                 OR \"provider_id\" IN (SELECT \"id\" FROM \"providers\" WHERE \"id\" IN (SELECT provider_id FROM doomed))"
            )
        );
    }

    #[test]
    fn soft_references_join_the_keys() {
        let keys = with_soft_references(Vec::new());
        assert!(
            keys.iter()
                .any(|k| k.child == "link_throttles" && k.parent == "providers")
        );
    }
}
