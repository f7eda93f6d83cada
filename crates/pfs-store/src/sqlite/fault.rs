//! Fault injection rules: [`FaultStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::fault::{FaultHit, FaultRule, FaultSpec};
use pfs_core::store::{FaultStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{Cols, execute, map_err, ms, query_all, query_opt};

const COLUMNS: &str = "id, created_at, spec, matched, hits, remaining";

fn count(c: &Cols<'_, '_>, idx: usize, column: &'static str) -> StoreResult<u64> {
    let v: i64 = c.get(idx, column)?;
    u64::try_from(v).map_err(|_| c.corrupt(column, "negative"))
}

fn rule_row(row: &Row<'_>) -> StoreResult<FaultRule> {
    let c = Cols::new(row, "fault_rules");
    let remaining: Option<i64> = c.get(5, "remaining")?;
    Ok(FaultRule {
        id: count(&c, 0, "id")?,
        created_at: c.instant(1, "created_at")?,
        spec: serde_json::from_str(c.text(2, "spec")?)
            .map_err(|_| c.corrupt("spec", "not a valid rule"))?,
        matched: count(&c, 3, "matched")?,
        hits: count(&c, 4, "hits")?,
        remaining: remaining
            .map(u64::try_from)
            .transpose()
            .map_err(|_| c.corrupt("remaining", "negative"))?,
    })
}

fn spec_json(spec: &FaultSpec) -> StoreResult<String> {
    serde_json::to_string(spec)
        .map_err(|_| StoreError::Other("fault_rules.spec: cannot encode".into()))
}

fn sql_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

fn bump(c: &Connection) -> StoreResult<usize> {
    execute(
        c,
        "fault_rules_version",
        "UPDATE fault_rules_version SET version = version + 1 WHERE id = 1",
        [],
    )
}

/// Runs `f` in an immediate transaction on the writer.
fn in_transaction<T>(
    c: &mut Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let err = map_err("fault_rules");
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let value = f(&tx)?;
    tx.commit().map_err(&err)?;
    Ok(value)
}

#[async_trait]
impl FaultStore for SqliteStore {
    async fn insert_fault_rule(
        &self,
        spec: &FaultSpec,
        at: DateTime<Utc>,
    ) -> StoreResult<FaultRule> {
        let json = spec_json(spec)?;
        let remaining = spec
            .trigger
            .count
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let rule = self
            .write(|c| {
                in_transaction(c, |tx| {
                    let rule = query_opt(
                        tx,
                        "fault_rules",
                        "INSERT INTO fault_rules (created_at, spec, remaining) VALUES (?1, ?2, ?3)
                         RETURNING id, created_at, spec, matched, hits, remaining",
                        params![ms(at), json, remaining],
                        rule_row,
                    )?;
                    bump(tx)?;
                    Ok(rule)
                })
            })
            .await?;
        rule.ok_or_else(|| StoreError::Other("fault_rules: insert returned nothing".into()))
    }

    async fn fault_rule(&self, id: u64) -> StoreResult<Option<FaultRule>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        self.read(|c| {
            query_opt(
                c,
                "fault_rules",
                &format!("SELECT {COLUMNS} FROM fault_rules WHERE id = ?1"),
                [id],
                rule_row,
            )
        })
    }

    async fn list_fault_rules(&self) -> StoreResult<Vec<FaultRule>> {
        self.read(|c| {
            query_all(
                c,
                "fault_rules",
                &format!("SELECT {COLUMNS} FROM fault_rules ORDER BY id"),
                [],
                rule_row,
            )
        })
    }

    async fn delete_fault_rule(&self, id: u64) -> StoreResult<bool> {
        let Some(id) = sql_id(id) else {
            return Ok(false);
        };
        self.write(|c| {
            in_transaction(c, |tx| {
                let n = execute(
                    tx,
                    "fault_rules",
                    "DELETE FROM fault_rules WHERE id = ?1",
                    [id],
                )?;
                if n > 0 {
                    bump(tx)?;
                }
                Ok(n > 0)
            })
        })
        .await
    }

    async fn delete_fault_rules(&self) -> StoreResult<u64> {
        self.write(|c| {
            in_transaction(c, |tx| {
                let n = execute(tx, "fault_rules", "DELETE FROM fault_rules", [])?;
                bump(tx)?;
                Ok(n as u64)
            })
        })
        .await
    }

    async fn fault_rules_version(&self) -> StoreResult<u64> {
        let v = self.read(|c| {
            query_opt(
                c,
                "fault_rules_version",
                "SELECT version FROM fault_rules_version WHERE id = 1",
                [],
                |r| Cols::new(r, "fault_rules_version").get::<i64>(0, "version"),
            )
        })?;
        u64::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::Other("fault_rules_version: negative".into()))
    }

    async fn count_fault_match(&self, id: u64) -> StoreResult<Option<u64>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        let k = self
            .write(|c| {
                query_opt(
                    c,
                    "fault_rules",
                    "UPDATE fault_rules SET matched = matched + 1 WHERE id = ?1
                     RETURNING matched",
                    [id],
                    |r| Cols::new(r, "fault_rules").get::<i64>(0, "matched"),
                )
            })
            .await?;
        Ok(k.and_then(|k| u64::try_from(k).ok()))
    }

    async fn record_fault_hit(&self, id: u64) -> StoreResult<Option<FaultHit>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        self.write(|c| {
            in_transaction(c, |tx| {
                let hit = query_opt(
                    tx,
                    "fault_rules",
                    "UPDATE fault_rules SET hits = hits + 1, remaining = remaining - 1
                     WHERE id = ?1 AND (remaining IS NULL OR remaining > 0)
                     RETURNING hits, remaining",
                    [id],
                    |r| {
                        let c = Cols::new(r, "fault_rules");
                        let remaining: Option<i64> = c.get(1, "remaining")?;
                        Ok(FaultHit {
                            hits: count(&c, 0, "hits")?,
                            remaining: remaining.map(|n| n.max(0) as u64),
                        })
                    },
                )?;
                if hit.is_some_and(|h| h.remaining == Some(0)) {
                    bump(tx)?;
                }
                Ok(hit)
            })
        })
        .await
    }
}
