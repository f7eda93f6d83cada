//! Sessions and the session-context row (read in batches by `batch.rs`): [`SessionStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{PatientContext, Prefetch, ServiceSwitch, SessionContext, SessionRecord};
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::patient::patient_at;
use super::practice::practice_at;
use super::provider::provider_at;
use super::sql::{Cols, execute, ms, opt_ms, query_opt};

/// A row of the session-context statement (see `session_contexts_sql!`), without the named
/// patient's context (read apart, see [`patient_context_row`]) or anything prefetched.
pub(super) fn session_context_row(row: &Row) -> StoreResult<SessionContext> {
    let c = Cols {
        offset: 1,
        ..Cols::new(row, "sessions")
    };
    Ok(SessionContext {
        session: session_at(row, 1)?,
        provider: provider_at(row, 9)?,
        patient: None,
        proxy_grant: c.get(14, "proxy grant")?,
        appointments: None,
        medication: None,
    })
}

/// A patient's context from a row holding `patient_context_sql!`'s columns (`batch.rs`) from
/// `offset` on: the patient (9 columns, all NULL when there is no such patient or the context
/// was not asked for), their practice (4) and the two switch lists.
pub(super) fn patient_context_row(row: &Row, offset: usize) -> StoreResult<Option<PatientContext>> {
    let c = Cols {
        offset,
        ..Cols::new(row, "patients")
    };
    let found: Option<String> = c.get(0, "patient id")?;
    if found.is_none() {
        return Ok(None);
    }
    Ok(Some(PatientContext {
        patient: patient_at(row, offset)?,
        practice: practice_at(row, offset + 9)?,
        practice_switches: switches(c.get(13, "practice switches")?)?,
        patient_switches: switches(c.get(14, "patient switches")?)?,
    }))
}

/// Switches aggregated as `+service` (on) or `-service` (off), returned by service. (Sorting
/// here is cheaper than an ORDER BY in each array's subquery, which cost the database a fifth
/// of its time on this query.)
fn switches(flagged: Vec<String>) -> StoreResult<Vec<ServiceSwitch>> {
    let switch = |f: String| {
        let enabled = match f.as_bytes().first() {
            Some(b'+') => true,
            Some(b'-') => false,
            _ => return Err(StoreError::Other("service switch: unexpected form".into())),
        };
        Ok(ServiceSwitch {
            service: f[1..].to_owned(),
            enabled,
        })
    };
    let mut all = flagged
        .into_iter()
        .map(switch)
        .collect::<StoreResult<Vec<_>>>()?;
    all.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(all)
}

fn session_row(row: &Row) -> StoreResult<SessionRecord> {
    session_at(row, 0)
}

/// A session whose columns start at `offset`.
fn session_at(row: &Row, offset: usize) -> StoreResult<SessionRecord> {
    let c = Cols {
        offset,
        ..Cols::new(row, "sessions")
    };
    Ok(SessionRecord {
        suid_hash: c.get(0, "suid_hash")?,
        provider_id: c.get(1, "provider_id")?,
        account_id: c.get(2, "account_id")?,
        online_user_id: c.get(3, "online_user_id")?,
        selected_patient_id: c.get(4, "selected_patient_id")?,
        created_at: c.instant(5, "created_at")?,
        last_seen_at: c.instant(6, "last_seen_at")?,
        ended_at: c.opt_instant(7, "ended_at")?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        execute(
            &self.db,
            "sessions",
            "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                   selected_patient_id, created_at, last_seen_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &session.suid_hash,
                &session.provider_id,
                &session.account_id,
                &session.online_user_id,
                &session.selected_patient_id,
                &ms(session.created_at),
                &ms(session.last_seen_at),
                &opt_ms(session.ended_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        query_opt(
            &self.db,
            "sessions",
            "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                    created_at, last_seen_at, ended_at
             FROM sessions WHERE suid_hash = $1",
            &[&suid_hash],
            session_row,
        )
        .await
    }

    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>> {
        // Read together with whatever other requests are waiting (see `batch`).
        self.contexts.read(suid_hash, patient_id, prefetch).await
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        execute(
            &self.db,
            "sessions",
            "UPDATE sessions
             SET last_seen_at = $2, selected_patient_id = COALESCE($3, selected_patient_id)
             WHERE suid_hash = $1",
            &[&suid_hash, &ms(at), &selected_patient_id],
        )
        .await?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "sessions",
            "UPDATE sessions SET ended_at = $2 WHERE suid_hash = $1 AND ended_at IS NULL",
            &[&suid_hash, &ms(at)],
        )
        .await?
            > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        execute(
            &self.db,
            "sessions",
            "DELETE FROM sessions WHERE ended_at < $1 OR last_seen_at < $1",
            &[&ms(before)],
        )
        .await
    }

    async fn count_live_sessions(
        &self,
        seen_after: DateTime<Utc>,
        created_after: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let count = query_opt(
            &self.db,
            "sessions",
            "SELECT count(*) FROM sessions \
             WHERE ended_at IS NULL AND last_seen_at > $1 AND created_at > $2",
            &[&ms(seen_after), &ms(created_after)],
            |row| Cols::new(row, "sessions").get::<i64>(0, "count"),
        )
        .await?;
        Ok(count.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}
