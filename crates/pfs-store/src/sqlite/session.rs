//! PFS sessions and the one-read session context: [`SessionStore`] and the session row mappers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{MedicationList, Prefetch, Provider, SessionContext, SessionRecord};
use pfs_core::store::{SessionStore, StoreResult};
use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use super::hot::{HotRows, ReadMark};
use super::provider::provider_at;
use super::sql::{Cols, execute, ms, opt_ms, query_opt};

fn session_with_provider_row(row: &Row<'_>) -> StoreResult<(SessionRecord, Provider)> {
    Ok((session_row(row)?, provider_at(row, 8)?))
}

fn session_row(row: &Row<'_>) -> StoreResult<SessionRecord> {
    let c = Cols::new(row, "sessions");
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

impl SqliteStore {
    /// The session context from the copies in [`super::hot`] alone, when every part of it is
    /// there under one generation.
    fn hot_session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
        mark: ReadMark,
    ) -> Option<SessionContext> {
        let hot = &self.inner.hot;
        let at = mark.generation;
        let (session, provider) = hot.session(suid_hash, at)?;
        let (patient, proxy_grant) = match patient_id {
            None => (None, false),
            Some(id) if id == session.online_user_id => (hot.patient(id, at)?, false),
            Some(id) => (
                hot.patient(id, at)?,
                hot.proxy(&session.online_user_id, id, at)?,
            ),
        };
        let (mut appointments, mut medication) = (None, None);
        if let Some(p) = &patient {
            let id = &p.patient.id;
            match prefetch {
                Prefetch::Nothing => {}
                Prefetch::Appointments => appointments = Some(hot.appointments(id, at)?),
                Prefetch::Medication => {
                    let (version, courses) = hot.courses(id, at)?;
                    medication = Some(MedicationList {
                        version,
                        courses,
                        seen_version: hot.seen_version(suid_hash, id, at)?,
                    });
                }
            }
        }
        Some(SessionContext {
            session,
            provider,
            patient,
            proxy_grant,
            appointments,
            medication,
        })
    }

    /// Session bookkeeping on the session with this suid hash (see
    /// [`SqliteStore::write_bookkeeping`]); when it is over, however it ended, that session's
    /// copy is gone.
    async fn write_session<T>(
        &self,
        suid_hash: &str,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        struct Written<'a>(&'a HotRows, &'a str);
        impl Drop for Written<'_> {
            fn drop(&mut self) {
                self.0.session_written(self.1);
            }
        }
        let _written = Written(&self.inner.hot, suid_hash);
        self.write_bookkeeping(f).await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.write_session(&session.suid_hash, |c| {
            execute(
                c,
                "sessions",
                "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                       selected_patient_id, created_at, last_seen_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    session.suid_hash,
                    session.provider_id,
                    session.account_id,
                    session.online_user_id,
                    session.selected_patient_id,
                    ms(session.created_at),
                    ms(session.last_seen_at),
                    opt_ms(session.ended_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            query_opt(
                c,
                "sessions",
                "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                        created_at, last_seen_at, ended_at
                 FROM sessions WHERE suid_hash = ?1",
                [suid_hash],
                session_row,
            )
        })
    }

    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>> {
        let mark = self.inner.hot.mark();
        if let Some(context) = self.hot_session_context(suid_hash, patient_id, prefetch, mark) {
            return Ok(Some(context));
        }
        self.snapshot("sessions", |c| {
            let Some((session, provider)) = query_opt(
                c,
                "sessions",
                "SELECT s.suid_hash, s.provider_id, s.account_id, s.online_user_id,
                        s.selected_patient_id, s.created_at, s.last_seen_at, s.ended_at,
                        p.id, p.name, p.fingerprint, p.trusted_identity, p.created_at, p.revoked_at
                 FROM sessions s JOIN providers p ON p.id = s.provider_id
                 WHERE s.suid_hash = ?1",
                [suid_hash],
                session_with_provider_row,
            )?
            else {
                return Ok(None);
            };
            let read_at = mark.generation;
            let (patient, proxy_grant) = match patient_id {
                None => (None, false),
                Some(id) => (
                    self.patient_context_in(c, id, read_at)?,
                    self.proxy_in(c, &session.online_user_id, id, read_at)?,
                ),
            };
            let appointments = match (&patient, prefetch) {
                (Some(p), Prefetch::Appointments) => {
                    Some(self.appointments_in(c, &p.patient.id, read_at)?)
                }
                _ => None,
            };
            let medication = match (&patient, prefetch) {
                (Some(p), Prefetch::Medication) => {
                    Some(self.medication_in(c, &p.patient.id, Some(suid_hash), read_at)?)
                }
                _ => None,
            };
            let session = (session, provider);
            self.inner.hot.keep_session(mark, &session);
            let (session, provider) = session;
            Ok(Some(SessionContext {
                session,
                provider,
                patient,
                proxy_grant,
                appointments,
                medication,
            }))
        })
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write_session(suid_hash, |c| {
            execute(
                c,
                "sessions",
                "UPDATE sessions
                 SET last_seen_at = ?2, selected_patient_id = COALESCE(?3, selected_patient_id)
                 WHERE suid_hash = ?1",
                params![suid_hash, ms(at), selected_patient_id],
            )
        })
        .await?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .write_session(suid_hash, |c| {
                execute(
                    c,
                    "sessions",
                    "UPDATE sessions SET ended_at = ?2 WHERE suid_hash = ?1 AND ended_at IS NULL",
                    params![suid_hash, ms(at)],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let deleted = self
            .write(|c| {
                execute(
                    c,
                    "sessions",
                    "DELETE FROM sessions WHERE ended_at < ?1 OR last_seen_at < ?1",
                    [ms(before)],
                )
            })
            .await?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    async fn count_live_sessions(
        &self,
        seen_after: DateTime<Utc>,
        created_after: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let count = self.read(|c| {
            query_opt(
                c,
                "sessions",
                "SELECT count(*) FROM sessions \
                 WHERE ended_at IS NULL AND last_seen_at > ?1 AND created_at > ?2",
                params![ms(seen_after), ms(created_after)],
                |row| Cols::new(row, "sessions").get::<i64>(0, "count"),
            )
        })?;
        Ok(count.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}
