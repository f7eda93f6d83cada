//! Online accounts, their linkage keys, provider links and link throttles: [`AccountStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    LinkAttempt, LinkBackoff, LinkThrottle, LinkageKeyRecord, OnlineAccount, ProviderLink,
};
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{Cols, ended, execute, ms, opt_ms, query_opt};

fn account_row(row: &Row) -> StoreResult<OnlineAccount> {
    let c = Cols::new(row, "online_accounts");
    Ok(OnlineAccount {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        email: c.get(2, "email")?,
        mobile: c.get(3, "mobile")?,
        created_at: c.instant(4, "created_at")?,
        ended_at: c.opt_instant(5, "ended_at")?,
    })
}

fn linkage_key_row(row: &Row) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get(0, "account_id")?,
        key_hash: c.get(1, "key_hash")?,
        issued_at: c.instant(2, "issued_at")?,
        expires_at: c.instant(3, "expires_at")?,
    })
}

fn provider_link_row(row: &Row) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get(0, "account_id")?,
        provider_id: c.get(1, "provider_id")?,
        passphrase_hash: c.get(2, "passphrase_hash")?,
        linked_at: c.instant(3, "linked_at")?,
    })
}

fn throttle_row(row: &Row) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get(0, "failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant(1, "locked_until")?,
    })
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        execute(
            &self.db,
            "online_accounts",
            "INSERT INTO online_accounts
                 (id, patient_id, email, mobile, created_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &account.id,
                &account.patient_id,
                &account.email,
                &account.mobile,
                &ms(account.created_at),
                &opt_ms(account.ended_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        query_opt(
            &self.db,
            "online_accounts",
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE id = $1",
            &[&id],
            account_row,
        )
        .await
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        query_opt(
            &self.db,
            "online_accounts",
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE patient_id = $1",
            &[&patient_id],
            account_row,
        )
        .await
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        // One statement, so the account and its open sessions end together.
        let sql = "WITH ended AS (
                 UPDATE online_accounts SET ended_at = COALESCE(ended_at, $2) WHERE id = $1
                 RETURNING id
             ), closed AS (
                 UPDATE sessions SET ended_at = $2
                 WHERE account_id IN (SELECT id FROM ended) AND ended_at IS NULL
             )
             SELECT 1 FROM ended";
        ended(&self.db, "online_accounts", sql, id, at).await
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        execute(
            &self.db,
            "linkage_keys",
            "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id) DO UPDATE SET
                 key_hash = excluded.key_hash,
                 issued_at = excluded.issued_at,
                 expires_at = excluded.expires_at",
            &[
                &key.account_id,
                &key.key_hash,
                &ms(key.issued_at),
                &ms(key.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        query_opt(
            &self.db,
            "linkage_keys",
            "SELECT account_id, key_hash, issued_at, expires_at
             FROM linkage_keys WHERE account_id = $1",
            &[&account_id],
            linkage_key_row,
        )
        .await
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        execute(
            &self.db,
            "provider_links",
            "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 passphrase_hash = excluded.passphrase_hash,
                 linked_at = excluded.linked_at",
            &[
                &link.account_id,
                &link.provider_id,
                &link.passphrase_hash,
                &ms(link.linked_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        query_opt(
            &self.db,
            "provider_links",
            "SELECT account_id, provider_id, passphrase_hash, linked_at
             FROM provider_links WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
            provider_link_row,
        )
        .await
    }

    async fn reserve_link_attempt(
        &self,
        account_id: &str,
        provider_id: &str,
        now: DateTime<Utc>,
        backoff: &LinkBackoff,
    ) -> StoreResult<LinkAttempt> {
        let now_ms = ms(now);
        let threshold = i64::from(backoff.first_locking_failure());
        let (base_ms, max_ms) = (
            backoff.base.num_milliseconds(),
            backoff.max.num_milliseconds(),
        );
        let counted = self
            .db
            .write("link_throttles", async |c| {
                let st = c.statement(RESERVE_LINK_ATTEMPT).await?;
                c.client
                    .query_opt(
                        &st,
                        &[
                            &account_id,
                            &provider_id,
                            &now_ms,
                            &threshold,
                            &base_ms,
                            &max_ms,
                        ],
                    )
                    .await
            })
            .await?;
        if let Some(row) = &counted {
            let c = Cols::new(row, "link_throttles");
            let state = LinkThrottle {
                failures: c.get::<i64>(1, "failures").and_then(|f| {
                    u32::try_from(f).map_err(|_| c.corrupt("failures", "out of range"))
                })?,
                locked_until: c.opt_instant(2, "locked_until")?,
            };
            if c.get(0, "admitted")? {
                return Ok(LinkAttempt::Admitted(state));
            }
            if let Some(locked_until) = state.locked_until.filter(|u| *u > now) {
                return Ok(LinkAttempt::Refused { locked_until });
            }
        }
        // Refused by a lock committed after the statement's snapshot was taken (a concurrent
        // attempt's), which the snapshot's copy of the row does not show yet: a later statement
        // sees it (or the row cleared by a correct key meanwhile: then try again soon).
        let found = query_opt(
            &self.db,
            "link_throttles",
            "SELECT failures, locked_until
             FROM link_throttles WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
            throttle_row,
        )
        .await?;
        Ok(LinkAttempt::Refused {
            locked_until: found.and_then(|t| t.locked_until).unwrap_or(now),
        })
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        execute(
            &self.db,
            "link_throttles",
            "DELETE FROM link_throttles WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id],
        )
        .await?;
        Ok(())
    }

    async fn purge_link_throttles(
        &self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        execute(
            &self.db,
            "link_throttles",
            "DELETE FROM link_throttles
             WHERE (locked_until IS NULL OR locked_until <= $1) AND last_failure_at < $2",
            &[&ms(now), &ms(before)],
        )
        .await
    }
}

/// `reserve_link_attempt`'s one statement: `$1` account id, `$2` provider id, `$3` now, `$4`
/// the failure that starts the first lock, `$5` the first lock and `$6` the longest (ms). The
/// `INSERT … ON CONFLICT … DO UPDATE … RETURNING` counts the attempt unless the row is locked,
/// in which case it changes nothing and returns no row. The lock is [`LinkBackoff::lock_after`]
/// in SQL. One row comes back: `(true, new state)` when counted, else `(false, the row as the
/// statement's snapshot shows it)`, whose lock is the one that refused the attempt unless a
/// concurrent attempt committed it after the snapshot was taken.
///
/// Concurrent attempts on one pair queue on the row's lock; each then sees the row as the one
/// before it left it (`ON CONFLICT` reads the latest committed version, not the statement's
/// snapshot), so no two count from the same state.
const RESERVE_LINK_ATTEMPT: &str = "
    WITH counted AS (
        INSERT INTO link_throttles AS t
            (account_id, provider_id, failures, locked_until, last_failure_at)
        VALUES (
            $1, $2, 1,
            CASE WHEN $4::bigint <= 1 THEN $3::bigint + LEAST($5::bigint, $6::bigint) END,
            $3
        )
        ON CONFLICT (account_id, provider_id) DO UPDATE SET
            failures = t.failures + 1,
            locked_until = CASE WHEN t.failures + 1 >= $4
                THEN $3 + LEAST($5 << LEAST(t.failures + 1 - $4, 20)::integer, $6) END,
            last_failure_at = $3
        WHERE t.locked_until IS NULL OR t.locked_until <= $3
        RETURNING failures, locked_until
    )
    SELECT true AS admitted, failures, locked_until FROM counted
    UNION ALL
    SELECT false, failures, locked_until FROM link_throttles
    WHERE account_id = $1 AND provider_id = $2 AND NOT EXISTS (SELECT 1 FROM counted)";
