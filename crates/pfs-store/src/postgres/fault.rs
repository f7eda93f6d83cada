//! Fault injection rules: [`FaultStore`]. Each call is one statement; those that change the set
//! of rules that apply move the version in the same statement (a data-modifying CTE).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::fault::{FaultHit, FaultRule, FaultSpec};
use pfs_core::store::{FaultStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::sql::{Cols, ms, query_all, query_opt};
use super::{Params, PostgresStore};

fn count(c: &Cols<'_>, idx: usize, column: &'static str) -> StoreResult<u64> {
    let v: i64 = c.get(idx, column)?;
    u64::try_from(v).map_err(|_| c.corrupt(column, "negative"))
}

fn rule_row(row: &Row) -> StoreResult<FaultRule> {
    let c = Cols::new(row, "fault_rules");
    let remaining: Option<i64> = c.get(5, "remaining")?;
    let spec: String = c.get(2, "spec")?;
    Ok(FaultRule {
        id: count(&c, 0, "id")?,
        created_at: c.instant(1, "created_at")?,
        spec: serde_json::from_str(&spec).map_err(|_| c.corrupt("spec", "not a valid rule"))?,
        matched: count(&c, 3, "matched")?,
        hits: count(&c, 4, "hits")?,
        remaining: remaining
            .map(u64::try_from)
            .transpose()
            .map_err(|_| c.corrupt("remaining", "negative"))?,
    })
}

fn hit_row(row: &Row) -> StoreResult<FaultHit> {
    let c = Cols::new(row, "fault_rules");
    let remaining: Option<i64> = c.get(1, "remaining")?;
    Ok(FaultHit {
        hits: count(&c, 0, "hits")?,
        remaining: remaining.map(|n| n.max(0) as u64),
    })
}

fn sql_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

impl PostgresStore {
    /// Runs a write statement returning rows; maps each.
    async fn fault_write<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        map: fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let rows = self
            .db
            .write("fault_rules", async |c| {
                let st = c.statement(sql).await?;
                c.client.query(&st, params).await
            })
            .await?;
        rows.iter().map(map).collect()
    }
}

#[async_trait]
impl FaultStore for PostgresStore {
    async fn insert_fault_rule(
        &self,
        spec: &FaultSpec,
        at: DateTime<Utc>,
    ) -> StoreResult<FaultRule> {
        let json = serde_json::to_string(spec)
            .map_err(|_| StoreError::Other("fault_rules.spec: cannot encode".into()))?;
        let remaining = spec
            .trigger
            .count
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let at = ms(at);
        self.fault_write(
            "WITH moved AS (
                 UPDATE fault_rules_version SET version = version + 1 WHERE id = 1)
             INSERT INTO fault_rules (created_at, spec, remaining) VALUES ($1, $2, $3)
             RETURNING id, created_at, spec, matched, hits, remaining",
            &[&at, &json, &remaining],
            rule_row,
        )
        .await?
        .pop()
        .ok_or_else(|| StoreError::Other("fault_rules: insert returned nothing".into()))
    }

    async fn fault_rule(&self, id: u64) -> StoreResult<Option<FaultRule>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        query_opt(
            &self.db,
            "fault_rules",
            "SELECT id, created_at, spec, matched, hits, remaining FROM fault_rules
             WHERE id = $1",
            &[&id],
            rule_row,
        )
        .await
    }

    async fn list_fault_rules(&self) -> StoreResult<Vec<FaultRule>> {
        query_all(
            &self.db,
            "fault_rules",
            "SELECT id, created_at, spec, matched, hits, remaining FROM fault_rules ORDER BY id",
            &[],
            rule_row,
        )
        .await
    }

    async fn delete_fault_rule(&self, id: u64) -> StoreResult<bool> {
        let Some(id) = sql_id(id) else {
            return Ok(false);
        };
        let deleted = self
            .fault_write(
                "WITH gone AS (DELETE FROM fault_rules WHERE id = $1 RETURNING id),
                      moved AS (UPDATE fault_rules_version SET version = version + 1
                                WHERE id = 1 AND EXISTS (SELECT 1 FROM gone))
                 SELECT id FROM gone",
                &[&id],
                |_| Ok(()),
            )
            .await?;
        Ok(!deleted.is_empty())
    }

    async fn delete_fault_rules(&self) -> StoreResult<u64> {
        let counted = self
            .fault_write(
                "WITH gone AS (DELETE FROM fault_rules RETURNING id),
                      moved AS (UPDATE fault_rules_version SET version = version + 1 WHERE id = 1)
                 SELECT count(*) FROM gone",
                &[],
                |r| Cols::new(r, "fault_rules").get::<i64>(0, "count"),
            )
            .await?;
        Ok(counted.first().map_or(0, |n| (*n).max(0) as u64))
    }

    async fn fault_rules_version(&self) -> StoreResult<u64> {
        let v = query_opt(
            &self.db,
            "fault_rules_version",
            "SELECT version FROM fault_rules_version WHERE id = 1",
            &[],
            |r| Cols::new(r, "fault_rules_version").get::<i64>(0, "version"),
        )
        .await?;
        u64::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::Other("fault_rules_version: negative".into()))
    }

    async fn count_fault_match(&self, id: u64) -> StoreResult<Option<u64>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        let k = self
            .fault_write(
                "UPDATE fault_rules SET matched = matched + 1 WHERE id = $1 RETURNING matched",
                &[&id],
                |r| Cols::new(r, "fault_rules").get::<i64>(0, "matched"),
            )
            .await?;
        Ok(k.first().and_then(|k| u64::try_from(*k).ok()))
    }

    async fn record_fault_hit(&self, id: u64) -> StoreResult<Option<FaultHit>> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        Ok(self
            .fault_write(
                "WITH hit AS (
                     UPDATE fault_rules SET hits = hits + 1, remaining = remaining - 1
                     WHERE id = $1 AND (remaining IS NULL OR remaining > 0)
                     RETURNING hits, remaining),
                  moved AS (
                     UPDATE fault_rules_version SET version = version + 1
                     WHERE id = 1 AND EXISTS (SELECT 1 FROM hit WHERE remaining = 0))
                 SELECT hits, remaining FROM hit",
                &[&id],
                hit_row,
            )
            .await?
            .pop())
    }
}
