//! Online accounts, linkage keys, provider links and link throttles: [`AccountStore`] and
//! their row mappers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    LinkAttempt, LinkBackoff, LinkThrottle, LinkageKeyRecord, OnlineAccount, ProviderLink,
};
use pfs_core::store::{AccountStore, StoreResult};
use rusqlite::{Row, params};

use super::SqliteStore;
use super::sql::{Cols, end_with_sessions, execute, ms, opt_ms, query_opt};

fn account_row(row: &Row<'_>) -> StoreResult<OnlineAccount> {
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

fn linkage_key_row(row: &Row<'_>) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get(0, "account_id")?,
        key_hash: c.get(1, "key_hash")?,
        issued_at: c.instant(2, "issued_at")?,
        expires_at: c.instant(3, "expires_at")?,
    })
}

fn provider_link_row(row: &Row<'_>) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get(0, "account_id")?,
        provider_id: c.get(1, "provider_id")?,
        passphrase_hash: c.get(2, "passphrase_hash")?,
        linked_at: c.instant(3, "linked_at")?,
    })
}

fn throttle_row(row: &Row<'_>) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get(0, "failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant(1, "locked_until")?,
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "online_accounts",
                "INSERT INTO online_accounts (id, patient_id, email, mobile, created_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    account.id,
                    account.patient_id,
                    account.email,
                    account.mobile,
                    ms(account.created_at),
                    opt_ms(account.ended_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        self.read(|c| {
            query_opt(
                c,
                "online_accounts",
                "SELECT id, patient_id, email, mobile, created_at, ended_at
                 FROM online_accounts WHERE id = ?1",
                [id],
                account_row,
            )
        })
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        self.read(|c| {
            query_opt(
                c,
                "online_accounts",
                "SELECT id, patient_id, email, mobile, created_at, ended_at
                 FROM online_accounts WHERE patient_id = ?1",
                [patient_id],
                account_row,
            )
        })
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|c| {
            end_with_sessions(
                c,
                "online_accounts",
                "UPDATE online_accounts SET ended_at = COALESCE(ended_at, ?2) WHERE id = ?1",
                "UPDATE sessions SET ended_at = ?2 WHERE account_id = ?1 AND ended_at IS NULL",
                id,
                at,
            )
        })
        .await
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "linkage_keys",
                "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id) DO UPDATE SET
                     key_hash = excluded.key_hash,
                     issued_at = excluded.issued_at,
                     expires_at = excluded.expires_at",
                params![
                    key.account_id,
                    key.key_hash,
                    ms(key.issued_at),
                    ms(key.expires_at)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        self.read(|c| {
            query_opt(
                c,
                "linkage_keys",
                "SELECT account_id, key_hash, issued_at, expires_at
                 FROM linkage_keys WHERE account_id = ?1",
                [account_id],
                linkage_key_row,
            )
        })
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "provider_links",
                "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, provider_id) DO UPDATE SET
                     passphrase_hash = excluded.passphrase_hash,
                     linked_at = excluded.linked_at",
                params![
                    link.account_id,
                    link.provider_id,
                    link.passphrase_hash,
                    ms(link.linked_at)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        self.read(|c| {
            query_opt(
                c,
                "provider_links",
                "SELECT account_id, provider_id, passphrase_hash, linked_at
                 FROM provider_links WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
                provider_link_row,
            )
        })
    }

    async fn reserve_link_attempt(
        &self,
        account_id: &str,
        provider_id: &str,
        now: DateTime<Utc>,
        backoff: &LinkBackoff,
    ) -> StoreResult<LinkAttempt> {
        let (now_ms, threshold, base_ms, max_ms) = backoff_params(now, backoff);
        self.write(|c| {
            let counted = query_opt(
                c,
                "link_throttles",
                RESERVE_LINK_ATTEMPT,
                params![account_id, provider_id, now_ms, threshold, base_ms, max_ms],
                throttle_row,
            )?;
            if let Some(state) = counted {
                return Ok(LinkAttempt::Admitted(state));
            }
            // Refused: the row is locked. The writer is ours until we return, so it is still
            // there as the statement found it.
            let found = query_opt(
                c,
                "link_throttles",
                "SELECT failures, locked_until
                 FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
                throttle_row,
            )?;
            Ok(LinkAttempt::Refused {
                locked_until: found.and_then(|t| t.locked_until).unwrap_or(now),
            })
        })
        .await
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "link_throttles",
                "DELETE FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2",
                [account_id, provider_id],
            )
        })
        .await?;
        Ok(())
    }

    async fn purge_link_throttles(
        &self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let deleted = self
            .write(|c| {
                execute(
                    c,
                    "link_throttles",
                    "DELETE FROM link_throttles
                     WHERE (locked_until IS NULL OR locked_until <= ?1) AND last_failure_at < ?2",
                    [ms(now), ms(before)],
                )
            })
            .await?;
        Ok(deleted as u64)
    }
}

/// `reserve_link_attempt`'s one statement: `?1` account id, `?2` provider id, `?3` now, `?4`
/// the failure that starts the first lock, `?5` the first lock and `?6` the longest (ms). It
/// counts the attempt and returns the new state unless the row is locked, in which case it
/// changes nothing and returns no row. The lock is [`LinkBackoff::lock_after`] in SQL.
const RESERVE_LINK_ATTEMPT: &str = "
    INSERT INTO link_throttles (account_id, provider_id, failures, locked_until, last_failure_at)
    VALUES (?1, ?2, 1, CASE WHEN ?4 <= 1 THEN ?3 + min(?5, ?6) END, ?3)
    ON CONFLICT (account_id, provider_id) DO UPDATE SET
        failures = link_throttles.failures + 1,
        locked_until = CASE WHEN link_throttles.failures + 1 >= ?4
            THEN ?3 + min(?5 << min(link_throttles.failures + 1 - ?4, 20), ?6) END,
        last_failure_at = ?3
    WHERE link_throttles.locked_until IS NULL OR link_throttles.locked_until <= ?3
    RETURNING failures, locked_until";

/// The parameters of the back-off rule in milliseconds: (now, threshold, base, max).
fn backoff_params(now: DateTime<Utc>, b: &LinkBackoff) -> (i64, i64, i64, i64) {
    (
        ms(now),
        i64::from(b.first_locking_failure()),
        b.base.num_milliseconds(),
        b.max.num_milliseconds(),
    )
}
