//! Sandbox namespaces: [`NamespaceStore`]. A deletion follows the schema's foreign keys, read
//! from `pg_constraint` (see `cascade.rs`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Practice;
use pfs_core::store::{NamespaceRecord, NamespaceStore, StoreError, StoreResult};
use tokio_postgres::{Client, Row};

use super::PostgresStore;
use super::practice::settings_json;
use super::sql::{Cols, ms, query_all};
use crate::cascade::{Reference, Root, cascade_deletes, with_soft_references};

const TABLE: &str = "sandbox_namespaces";

fn namespace_row(row: &Row) -> StoreResult<NamespaceRecord> {
    let c = Cols::new(row, TABLE);
    let number: i32 = c.get(1, "number")?;
    Ok(NamespaceRecord {
        name: c.get(0, "name")?,
        number: u32::try_from(number).map_err(|_| c.corrupt("number", "out of range"))?,
        ods: c.get(2, "ods")?,
        provider_id: c.get(3, "provider_id")?,
        created_at: c.instant(4, "created_at")?,
    })
}

/// Every single-column foreign key of the live schema, and the soft references.
async fn references(c: &Client) -> Result<Vec<Reference>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT child.relname::text, ca.attname::text, parent.relname::text, pa.attname::text
             FROM pg_constraint k
             JOIN pg_class child ON child.oid = k.conrelid
             JOIN pg_class parent ON parent.oid = k.confrelid
             JOIN pg_namespace n ON n.oid = child.relnamespace
             JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
             JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
             WHERE k.contype = 'f' AND n.nspname = current_schema()
               AND cardinality(k.conkey) = 1",
            &[],
        )
        .await?;
    let keys = rows
        .iter()
        .map(|r| Reference {
            child: r.get(0),
            column: r.get(1),
            parent: r.get(2),
            parent_column: r.get(3),
        })
        .collect();
    Ok(with_soft_references(keys))
}

/// The namespace deletion, for the namespace marked `deleting` (in this transaction only).
const ROOTS: &[Root<'static>] = &[
    Root {
        table: "practices",
        column: "ods",
        values: "SELECT ods FROM sandbox_namespaces WHERE deleting",
    },
    Root {
        table: "providers",
        column: "id",
        values: "SELECT provider_id FROM sandbox_namespaces WHERE deleting",
    },
];

enum Created {
    Done(NamespaceRecord),
    NameTaken,
    NoNumberFree,
}

#[async_trait]
impl NamespaceStore for PostgresStore {
    async fn create_namespace(
        &self,
        name: &str,
        created_at: DateTime<Utc>,
        practice: &Practice,
        ods_of: fn(u32) -> String,
        max: u32,
    ) -> StoreResult<NamespaceRecord> {
        let settings = settings_json(&practice.settings)?;
        let created = self
            .db
            .transaction(TABLE, async |c| {
                let c = &c.client;
                // Namespaces are made rarely: one at a time, so that two never pick one number.
                c.batch_execute("LOCK TABLE sandbox_namespaces IN EXCLUSIVE MODE")
                    .await?;
                let taken = c
                    .query_opt("SELECT 1 FROM sandbox_namespaces WHERE name = $1", &[&name])
                    .await?
                    .is_some();
                if taken {
                    return Ok(Created::NameTaken);
                }
                let numbers: BTreeSet<i32> = c
                    .query("SELECT number FROM sandbox_namespaces", &[])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let practices: BTreeSet<String> = c
                    .query("SELECT ods FROM practices", &[])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let Some(number) = (1..=max).find(|n| {
                    !numbers.contains(&i32::try_from(*n).unwrap_or(-1))
                        && !practices.contains(&ods_of(*n))
                }) else {
                    return Ok(Created::NoNumberFree);
                };
                let record = NamespaceRecord {
                    name: name.to_owned(),
                    number,
                    ods: ods_of(number),
                    provider_id: None,
                    created_at,
                };
                let sql_number = i32::try_from(number).unwrap_or(i32::MAX);
                c.execute(
                    "INSERT INTO sandbox_namespaces (name, number, ods, created_at)
                     VALUES ($1, $2, $3, $4)",
                    &[&record.name, &sql_number, &record.ods, &ms(created_at)],
                )
                .await?;
                c.execute(
                    "INSERT INTO practices (ods, name, address, settings)
                     VALUES ($1, $2, $3, $4::text::jsonb)",
                    &[&record.ods, &practice.name, &practice.address, &settings],
                )
                .await?;
                Ok(Created::Done(record))
            })
            .await?;
        match created {
            Created::Done(record) => Ok(record),
            Created::NameTaken => Err(StoreError::Conflict("the name is taken".into())),
            Created::NoNumberFree => {
                Err(StoreError::Conflict("no namespace number is free".into()))
            }
        }
    }

    async fn set_namespace_provider(&self, name: &str, provider_id: &str) -> StoreResult<()> {
        let changed = super::sql::execute(
            &self.db,
            TABLE,
            "UPDATE sandbox_namespaces SET provider_id = $2 WHERE name = $1",
            &[&name, &provider_id],
        )
        .await?;
        if changed == 0 {
            return Err(StoreError::NotFound("namespace".into()));
        }
        Ok(())
    }

    async fn namespaces(&self) -> StoreResult<Vec<NamespaceRecord>> {
        query_all(
            &self.db,
            TABLE,
            "SELECT name, number, ods, provider_id, created_at FROM sandbox_namespaces
             ORDER BY name",
            &[],
            namespace_row,
        )
        .await
    }

    async fn delete_namespace(&self, name: &str) -> StoreResult<()> {
        let found = self
            .db
            .transaction(TABLE, async |c| {
                let c = &c.client;
                let marked = c
                    .execute(
                        "UPDATE sandbox_namespaces SET deleting = true WHERE name = $1",
                        &[&name],
                    )
                    .await?;
                if marked == 0 {
                    return Ok(false);
                }
                // The access log has no foreign key (migration 0015): this waits for the
                // inserts under way, which the plan then deletes, and makes later ones wait
                // until the patients are gone, so that their check that the patient exists
                // sees it. Without it an entry could outlive its patient.
                c.batch_execute("LOCK TABLE record_accesses IN SHARE ROW EXCLUSIVE MODE")
                    .await?;
                let plan = cascade_deletes(&references(c).await?, ROOTS);
                c.batch_execute(&plan.join(";\n")).await?;
                c.execute("DELETE FROM sandbox_namespaces WHERE name = $1", &[&name])
                    .await?;
                Ok(true)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(StoreError::NotFound("namespace".into()))
        }
    }
}
