//! Sandbox namespaces: [`NamespaceStore`]. A deletion follows the schema's foreign keys, read
//! from `pragma_foreign_key_list` (see `cascade.rs`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Practice;
use pfs_core::store::{NamespaceRecord, NamespaceStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::practice::settings_json;
use super::sql::{Cols, execute, map_err, ms, query_all};
use crate::cascade::{Reference, Root, cascade_deletes, with_soft_references};

const TABLE: &str = "sandbox_namespaces";

fn namespace_row(row: &Row<'_>) -> StoreResult<NamespaceRecord> {
    let c = Cols::new(row, TABLE);
    let number: i64 = c.get(1, "number")?;
    Ok(NamespaceRecord {
        name: c.get(0, "name")?,
        number: u32::try_from(number).map_err(|_| c.corrupt("number", "out of range"))?,
        ods: c.get(2, "ods")?,
        provider_id: c.get(3, "provider_id")?,
        created_at: c.instant(4, "created_at")?,
    })
}

const COLUMNS: &str = "name, number, ods, provider_id, created_at";

/// Every single-column foreign key of the schema, and the soft references.
fn references(c: &Connection) -> StoreResult<Vec<Reference>> {
    let err = map_err(TABLE);
    let mut st = c
        .prepare(
            "SELECT m.name, k.\"from\", k.\"table\", k.\"to\"
             FROM sqlite_master m, pragma_foreign_key_list(m.name) k
             WHERE m.type = 'table'",
        )
        .map_err(&err)?;
    let keys = st
        .query_map([], |r| {
            Ok(Reference {
                child: r.get(0)?,
                column: r.get(1)?,
                parent: r.get(2)?,
                parent_column: r.get(3)?,
            })
        })
        .map_err(&err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(&err)?;
    Ok(with_soft_references(keys))
}

/// The namespace deletion, for the namespace marked `deleting`.
const ROOTS: &[Root<'static>] = &[
    Root {
        table: "practices",
        column: "ods",
        values: "SELECT ods FROM sandbox_namespaces WHERE deleting = 1",
    },
    Root {
        table: "providers",
        column: "id",
        values: "SELECT provider_id FROM sandbox_namespaces WHERE deleting = 1",
    },
];

#[async_trait]
impl NamespaceStore for SqliteStore {
    async fn create_namespace(
        &self,
        name: &str,
        created_at: DateTime<Utc>,
        practice: &Practice,
        ods_of: fn(u32) -> String,
        max: u32,
    ) -> StoreResult<NamespaceRecord> {
        let settings = settings_json(&practice.settings)?;
        self.write(|c| {
            let err = map_err(TABLE);
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let taken: BTreeSet<u32> = query_all(
                &tx,
                TABLE,
                "SELECT number FROM sandbox_namespaces",
                [],
                |r| {
                    let n: i64 = Cols::new(r, TABLE).get(0, "number")?;
                    Ok(u32::try_from(n).unwrap_or(0))
                },
            )?
            .into_iter()
            .collect();
            let practices: BTreeSet<String> =
                query_all(&tx, "practices", "SELECT ods FROM practices", [], |r| {
                    Cols::new(r, "practices").get(0, "ods")
                })?
                .into_iter()
                .collect();
            let number = (1..=max)
                .find(|n| !taken.contains(n) && !practices.contains(&ods_of(*n)))
                .ok_or_else(|| StoreError::Conflict("no namespace number is free".into()))?;
            let record = NamespaceRecord {
                name: name.to_owned(),
                number,
                ods: ods_of(number),
                provider_id: None,
                created_at,
            };
            execute(
                &tx,
                TABLE,
                "INSERT INTO sandbox_namespaces (name, number, ods, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![record.name, record.number, record.ods, ms(created_at)],
            )?;
            execute(
                &tx,
                "practices",
                "INSERT INTO practices (ods, name, address, settings) VALUES (?1, ?2, ?3, ?4)",
                params![record.ods, practice.name, practice.address, settings],
            )?;
            tx.commit().map_err(&err)?;
            Ok(record)
        })
        .await
    }

    async fn set_namespace_provider(&self, name: &str, provider_id: &str) -> StoreResult<()> {
        let changed = self
            .write(|c| {
                execute(
                    c,
                    TABLE,
                    "UPDATE sandbox_namespaces SET provider_id = ?2 WHERE name = ?1",
                    [name, provider_id],
                )
            })
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound("namespace".into()));
        }
        Ok(())
    }

    async fn namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        self.read(|c| {
            query_all(
                c,
                TABLE,
                &format!("SELECT {COLUMNS} FROM sandbox_namespaces ORDER BY name"),
                [],
                namespace_row,
            )
        })
    }

    async fn delete_namespace(&self, name: &str) -> StoreResult<()> {
        self.write(|c| {
            let err = map_err(TABLE);
            let plan = cascade_deletes(&references(c)?, ROOTS);
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let marked = execute(
                &tx,
                TABLE,
                "UPDATE sandbox_namespaces SET deleting = 1 WHERE name = ?1",
                [name],
            )?;
            if marked == 0 {
                return Err(StoreError::NotFound("namespace".into()));
            }
            for statement in &plan {
                tx.execute(statement, []).map_err(&err)?;
            }
            execute(
                &tx,
                TABLE,
                "DELETE FROM sandbox_namespaces WHERE name = ?1",
                [name],
            )?;
            tx.commit().map_err(&err)
        })
        .await
    }
}
