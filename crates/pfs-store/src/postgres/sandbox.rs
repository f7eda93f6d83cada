//! Sandbox snapshots: [`SandboxStore`] as schemas in the same database, so that every instance
//! sees them.
//!
//! A snapshot is the schema `pfs_snapshot_<h>_<name>`, where `<h>` is 8 hex digits of the MD5
//! of the live schema's name (so that deployments, or test runs, in other schemas of the same
//! database never see each other's snapshots, and the name stays within PostgreSQL's 63
//! characters): a copy of every table of the live schema
//! (`CREATE TABLE … AS TABLE …`, all in one repeatable-read transaction, so one consistent
//! view), the identity sequences' positions, and when it was taken with which schema version.
//! A restore empties every live table with one `TRUNCATE` and copies the rows back, parents
//! before children, then puts the sequences back, in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::store::{SandboxStore, SnapshotInfo, StoreError, StoreResult};
use tokio_postgres::Client;

use super::PostgresStore;

/// The schema-name prefix of this live schema's snapshots.
const PREFIX: &str = "SELECT 'pfs_snapshot_' || left(md5(current_schema()), 8) || '_'";

/// `name` as a quoted identifier (names come from the live catalogue or are checked, but are
/// quoted all the same).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Refuses a name the caller should not have let through.
fn check(name: &str) -> StoreResult<()> {
    if !crate::snapshot_name_ok(name) {
        return Err(StoreError::Other("snapshot: invalid name".into()));
    }
    Ok(())
}

/// The schema of snapshot `name` of the live schema.
async fn schema_of(c: &Client, name: &str) -> Result<String, tokio_postgres::Error> {
    let prefix: String = c.query_one(PREFIX, &[]).await?.get(0);
    Ok(format!("{prefix}{name}"))
}

/// The live tables holding data, by name.
async fn live_tables(c: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()
             ORDER BY tablename",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|t| !crate::NOT_IN_SNAPSHOTS.contains(&t.as_str()))
        .collect())
}

/// The schema version the migrations brought the database to.
const SCHEMA_VERSION: &str = "SELECT max(version) FROM _sqlx_migrations WHERE success";

#[async_trait]
impl SandboxStore for PostgresStore {
    async fn save_snapshot(&self, name: &str, taken_at: DateTime<Utc>) -> StoreResult<()> {
        check(name)?;
        let taken_at = taken_at.timestamp_millis();
        self.db
            .transaction("snapshot", async |c| {
                let c = &c.client;
                c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                let schema = ident(&schema_of(c, name).await?);
                c.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE;
                     CREATE SCHEMA {schema};"
                ))
                .await?;
                let mut copy = String::new();
                for table in live_tables(c).await? {
                    let t = ident(&table);
                    copy.push_str(&format!("CREATE TABLE {schema}.{t} AS TABLE {t};\n"));
                }
                copy.push_str(&format!(
                    "CREATE TABLE {schema}.pfs_sequences AS
                         SELECT sequencename::text AS name, last_value
                         FROM pg_sequences WHERE schemaname = current_schema();
                     CREATE TABLE {schema}.pfs_snapshot AS
                         SELECT {taken_at}::bigint AS taken_at, ({SCHEMA_VERSION}) AS version;"
                ));
                c.batch_execute(&copy).await
            })
            .await
    }

    async fn restore_snapshot(&self, name: &str) -> StoreResult<()> {
        check(name)?;
        let found = self
            .db
            .transaction("snapshot", async |c| {
                let c = &c.client;
                let bare = schema_of(c, name).await?;
                let schema = ident(&bare);
                let exists = c
                    .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&bare])
                    .await?
                    .is_some();
                if !exists {
                    return Ok(Restored::NotFound);
                }
                let theirs: Option<i64> = c
                    .query_one(&format!("SELECT version FROM {schema}.pfs_snapshot"), &[])
                    .await?
                    .get(0);
                let ours: Option<i64> = c.query_one(SCHEMA_VERSION, &[]).await?.get(0);
                if theirs != ours {
                    return Ok(Restored::OtherSchema);
                }
                let tables = live_tables(c).await?;
                let order = parents_first(c, &tables).await?;
                let all: Vec<String> = tables.iter().map(|t| ident(t)).collect();
                let mut sql = format!("TRUNCATE {};\n", all.join(", "));
                for table in &order {
                    let t = ident(table);
                    sql.push_str(&format!(
                        "INSERT INTO {t} OVERRIDING SYSTEM VALUE SELECT * FROM {schema}.{t};\n"
                    ));
                }
                // The sequences of the tables put back; those of the tables left alone (a fault
                // rule's id never goes back) keep counting.
                let left_alone = crate::NOT_IN_SNAPSHOTS
                    .iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                sql.push_str(&format!(
                    "SELECT setval(format('%I.%I', current_schema(), s.name)::regclass,
                                   coalesce(s.last_value, 1), s.last_value IS NOT NULL)
                     FROM {schema}.pfs_sequences s
                     WHERE NOT EXISTS (
                         SELECT 1 FROM pg_depend d
                         JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
                         JOIN pg_class tab ON tab.oid = d.refobjid
                         JOIN pg_namespace n ON n.oid = seq.relnamespace
                         WHERE n.nspname = current_schema() AND seq.relname = s.name
                           AND tab.relname IN ({left_alone}));"
                ));
                c.batch_execute(&sql).await?;
                Ok(Restored::Done)
            })
            .await?;
        match found {
            Restored::Done => Ok(()),
            Restored::NotFound => Err(StoreError::NotFound("snapshot".into())),
            Restored::OtherSchema => Err(StoreError::Conflict(
                "snapshot taken by another version of the schema".into(),
            )),
        }
    }

    async fn list_snapshots(&self) -> StoreResult<Vec<SnapshotInfo>> {
        let found = self
            .db
            .write("snapshot", async |c| {
                let c = &c.client;
                let prefix: String = c.query_one(PREFIX, &[]).await?.get(0);
                let schemas = c
                    .query(
                        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)
                         ORDER BY nspname",
                        &[&prefix],
                    )
                    .await?;
                let mut found = Vec::new();
                for row in schemas {
                    let schema: String = row.get(0);
                    let sql = format!("SELECT taken_at FROM {}.pfs_snapshot", ident(&schema));
                    let taken_at: i64 = c.query_one(&sql, &[]).await?.get(0);
                    let name = schema.get(prefix.len()..).unwrap_or_default().to_owned();
                    found.push((name, taken_at));
                }
                Ok(found)
            })
            .await?;
        found
            .into_iter()
            .map(|(name, taken_at)| {
                Ok(SnapshotInfo {
                    name,
                    taken_at: DateTime::from_timestamp_millis(taken_at)
                        .ok_or_else(|| StoreError::Other("snapshot: not stamped".into()))?,
                })
            })
            .collect()
    }

    async fn delete_snapshot(&self, name: &str) -> StoreResult<()> {
        check(name)?;
        let dropped = self
            .db
            .transaction("snapshot", async |c| {
                let bare = schema_of(&c.client, name).await?;
                let schema = ident(&bare);
                let exists = c
                    .client
                    .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&bare])
                    .await?
                    .is_some();
                if exists {
                    c.client
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .await?;
                }
                Ok(exists)
            })
            .await?;
        if dropped {
            Ok(())
        } else {
            Err(StoreError::NotFound("snapshot".into()))
        }
    }
}

enum Restored {
    Done,
    NotFound,
    OtherSchema,
}

/// `tables` ordered so that every table comes after the tables its foreign keys refer to
/// (a table referring to itself is one `INSERT … SELECT`, checked at its end).
async fn parents_first(
    c: &Client,
    tables: &[String],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT child.relname::text, parent.relname::text
             FROM pg_constraint k
             JOIN pg_class child ON child.oid = k.conrelid
             JOIN pg_class parent ON parent.oid = k.confrelid
             JOIN pg_namespace n ON n.oid = child.relnamespace
             WHERE k.contype = 'f' AND n.nspname = current_schema()",
            &[],
        )
        .await?;
    let mut parents: BTreeMap<&str, BTreeSet<String>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for row in &rows {
        let (child, parent): (String, String) = (row.get(0), row.get(1));
        if child != parent
            && let Some(p) = parents.get_mut(child.as_str())
        {
            p.insert(parent);
        }
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::with_capacity(tables.len());
    while order.len() < tables.len() {
        let ready: Vec<&str> = parents
            .iter()
            .filter(|(t, ps)| !done.contains(**t) && ps.iter().all(|p| done.contains(p)))
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            // A cycle of foreign keys between tables: the schema has none; should one appear,
            // the rest go in name order and the constraint reports it.
            order.extend(
                tables
                    .iter()
                    .filter(|t| !done.contains(t.as_str()))
                    .cloned(),
            );
            break;
        }
        for t in ready {
            done.insert(t.to_owned());
            order.push(t.to_owned());
        }
    }
    Ok(order)
}
