//! The embedded SQLite backend.
//!
//! One database file in WAL mode, shared by a small pool of connections. Instants are stored as
//! INTEGER unix milliseconds (UTC), so anything finer than a millisecond is truncated; dates as
//! `YYYY-MM-DD` text; practice settings as a JSON document. The schema lives in
//! `migrations/sqlite` and is applied by [`SqliteStore::open`].

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::{
    LinkThrottle, LinkageKeyRecord, OnlineAccount, Patient, Practice, PracticeSettings, Provider,
    ProviderLink, ServiceSwitch, SessionRecord,
};
use pfs_core::{Store, StoreError, StoreResult};
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Decode, Row, Type};

/// The schema, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Tuning for [`SqliteStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Most connections the pool opens (default 8; at least 1 is used).
    pub max_connections: u32,
    /// How long a statement waits for another connection's write lock before failing with
    /// [`StoreError::Unavailable`] (default 5 s).
    pub busy_timeout: Duration,
    /// How long a call waits for a free pooled connection before failing with
    /// [`StoreError::Unavailable`] (default 30 s).
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// A [`Store`] in one SQLite database file.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and brings its schema up to date.
    ///
    /// Connections use WAL journaling, `synchronous = NORMAL`, enforced foreign keys and the
    /// busy timeout from `opts`.
    pub async fn open(path: &Path, opts: SqliteOptions) -> StoreResult<SqliteStore> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(map_err("database"))?;
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(match e {
                sqlx::migrate::MigrateError::Execute(e) => map_err("migrations")(e),
                other => StoreError::Other(format!("migrations: {other}")),
            });
        }
        tracing::debug!(path = %path.display(), "sqlite store open");
        Ok(SqliteStore { pool })
    }

    /// Waits for in-flight calls, then closes every connection (checkpointing the WAL).
    ///
    /// Later calls on this store, or any clone of it, fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// --- conversions -------------------------------------------------------------------------------

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Typed, error-mapped column access for one row of one table.
struct Cols<'r> {
    row: &'r SqliteRow,
    table: &'static str,
}

impl<'r> Cols<'r> {
    fn new(row: &'r SqliteRow, table: &'static str) -> Self {
        Cols { row, table }
    }

    fn corrupt(&self, column: &str, what: &str) -> StoreError {
        StoreError::Other(format!("{}.{column}: {what}", self.table))
    }

    fn get<T>(&self, column: &'static str) -> StoreResult<T>
    where
        T: Decode<'r, Sqlite> + Type<Sqlite>,
    {
        self.row
            .try_get(column)
            .map_err(|_| self.corrupt(column, "cannot decode"))
    }

    fn instant(&self, column: &'static str) -> StoreResult<DateTime<Utc>> {
        let v: i64 = self.get(column)?;
        DateTime::from_timestamp_millis(v)
            .ok_or_else(|| self.corrupt(column, "instant out of range"))
    }

    fn opt_instant(&self, column: &'static str) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = self.get(column)?;
        v.map(|v| {
            DateTime::from_timestamp_millis(v)
                .ok_or_else(|| self.corrupt(column, "instant out of range"))
        })
        .transpose()
    }

    fn date(&self, column: &'static str) -> StoreResult<NaiveDate> {
        let v: &str = self.get(column)?;
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| self.corrupt(column, "not a date"))
    }
}

fn provider_row(row: &SqliteRow) -> StoreResult<Provider> {
    let c = Cols::new(row, "providers");
    Ok(Provider {
        id: c.get("id")?,
        name: c.get("name")?,
        fingerprint: c.get("fingerprint")?,
        trusted_identity: c.get("trusted_identity")?,
        created_at: c.instant("created_at")?,
        revoked_at: c.opt_instant("revoked_at")?,
    })
}

fn practice_row(row: &SqliteRow) -> StoreResult<Practice> {
    let c = Cols::new(row, "practices");
    let settings: &str = c.get("settings")?;
    Ok(Practice {
        ods: c.get("ods")?,
        name: c.get("name")?,
        address: c.get("address")?,
        settings: serde_json::from_str(settings)
            .map_err(|_| c.corrupt("settings", "not valid settings JSON"))?,
    })
}

fn settings_json(settings: &PracticeSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|_| StoreError::Other("practices.settings: cannot encode".into()))
}

fn patient_row(row: &SqliteRow) -> StoreResult<Patient> {
    let c = Cols::new(row, "patients");
    Ok(Patient {
        id: c.get("id")?,
        ods: c.get("ods")?,
        nhs_number: c.get("nhs_number")?,
        title: c.get("title")?,
        first_name: c.get("first_name")?,
        last_name: c.get("last_name")?,
        date_of_birth: c.date("date_of_birth")?,
        gender: c.get("gender")?,
        address: c.get("address")?,
    })
}

fn account_row(row: &SqliteRow) -> StoreResult<OnlineAccount> {
    let c = Cols::new(row, "online_accounts");
    Ok(OnlineAccount {
        id: c.get("id")?,
        patient_id: c.get("patient_id")?,
        email: c.get("email")?,
        mobile: c.get("mobile")?,
        created_at: c.instant("created_at")?,
        ended_at: c.opt_instant("ended_at")?,
    })
}

fn linkage_key_row(row: &SqliteRow) -> StoreResult<LinkageKeyRecord> {
    let c = Cols::new(row, "linkage_keys");
    Ok(LinkageKeyRecord {
        account_id: c.get("account_id")?,
        key_hash: c.get("key_hash")?,
        issued_at: c.instant("issued_at")?,
        expires_at: c.instant("expires_at")?,
    })
}

fn provider_link_row(row: &SqliteRow) -> StoreResult<ProviderLink> {
    let c = Cols::new(row, "provider_links");
    Ok(ProviderLink {
        account_id: c.get("account_id")?,
        provider_id: c.get("provider_id")?,
        passphrase_hash: c.get("passphrase_hash")?,
        linked_at: c.instant("linked_at")?,
    })
}

fn throttle_row(row: &SqliteRow) -> StoreResult<LinkThrottle> {
    let c = Cols::new(row, "link_throttles");
    let failures: i64 = c.get("failures")?;
    Ok(LinkThrottle {
        failures: u32::try_from(failures).map_err(|_| c.corrupt("failures", "out of range"))?,
        locked_until: c.opt_instant("locked_until")?,
    })
}

fn switch_row(row: &SqliteRow, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get("service")?,
        enabled: c.get("enabled")?,
    })
}

fn session_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    let c = Cols::new(row, "sessions");
    Ok(SessionRecord {
        suid_hash: c.get("suid_hash")?,
        provider_id: c.get("provider_id")?,
        account_id: c.get("account_id")?,
        online_user_id: c.get("online_user_id")?,
        selected_patient_id: c.get("selected_patient_id")?,
        created_at: c.instant("created_at")?,
        last_seen_at: c.instant("last_seen_at")?,
        ended_at: c.opt_instant("ended_at")?,
    })
}

// --- errors ------------------------------------------------------------------------------------

/// What rows of `table` refer to, for `NotFound` on a foreign key violation.
fn referenced(table: &str) -> &'static str {
    match table {
        "patients" => "practice",
        "online_accounts" => "patient",
        "linkage_keys" => "account",
        "provider_links" => "account or provider",
        "proxy_grants" => "patient",
        "practice_services" => "practice",
        "patient_services" => "patient",
        "sessions" => "provider, account or patient",
        _ => "referenced row",
    }
}

/// SQLite primary result codes after which retrying later may work.
fn transient(code: i64) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    const PROTOCOL: i64 = 15;
    matches!(
        code & 0xff,
        BUSY | LOCKED | IOERR | FULL | CANTOPEN | PROTOCOL
    )
}

/// The key named by SQLite's `UNIQUE constraint failed: t.a, t.b`, if it names only columns.
fn unique_key(message: &str) -> Option<&str> {
    let key = message.split_once("failed: ")?.1.trim();
    let identifier_only = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ',' | ' '));
    identifier_only.then_some(key)
}

/// Maps an sqlx error from a statement on `table` to a [`StoreError`].
///
/// The texts name tables, keys and error kinds only. SQLite's own messages qualify (every value
/// is a bound parameter, and its messages quote SQL, not parameters); other sqlx errors are
/// reduced to a fixed label because their texts may carry decoded data.
fn map_err(table: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => {
                StoreError::Conflict(unique_key(db.message()).unwrap_or(table).to_owned())
            }
            ErrorKind::ForeignKeyViolation => StoreError::NotFound(referenced(table).to_owned()),
            _ => {
                let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
                let text = format!("{table}: {} (code {code})", db.message());
                if transient(code) {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Other(text)
                }
            }
        },
        sqlx::Error::Io(io) => {
            StoreError::Unavailable(format!("{table}: i/o error ({})", io.kind()))
        }
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable(format!("{table}: timed out waiting for a connection"))
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable(format!("{table}: store closed")),
        sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(format!("{table}: database worker crashed"))
        }
        sqlx::Error::RowNotFound => StoreError::Other(format!("{table}: row not found")),
        sqlx::Error::ColumnNotFound(_) | sqlx::Error::ColumnIndexOutOfBounds { .. } => {
            StoreError::Other(format!("{table}: unexpected result shape"))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Other(format!("{table}: cannot decode a column"))
        }
        sqlx::Error::Encode(_) => StoreError::Other(format!("{table}: cannot encode a value")),
        _ => StoreError::Other(format!("{table}: unexpected database error")),
    }
}

// --- the store ---------------------------------------------------------------------------------

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err("database"))?;
        Ok(())
    }

    // --- providers ---

    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO providers (id, name, fingerprint, trusted_identity, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&provider.id)
        .bind(&provider.name)
        .bind(&provider.fingerprint)
        .bind(provider.trusted_identity)
        .bind(ms(provider.created_at))
        .bind(opt_ms(provider.revoked_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("providers"))?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        sqlx::query(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("providers"))?
        .as_ref()
        .map(provider_row)
        .transpose()
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        sqlx::query(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE fingerprint = ?1",
        )
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("providers"))?
        .as_ref()
        .map(provider_row)
        .transpose()
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        sqlx::query(
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("providers"))?
        .iter()
        .map(provider_row)
        .collect()
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let err = map_err("providers");
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&err)?;
        // An earlier revocation keeps its time.
        let found =
            sqlx::query("UPDATE providers SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1")
                .bind(id)
                .bind(ms(at))
                .execute(&mut *tx)
                .await
                .map_err(&err)?
                .rows_affected()
                > 0;
        if !found {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sessions SET ended_at = ?2 WHERE provider_id = ?1 AND ended_at IS NULL",
        )
        .bind(id)
        .bind(ms(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err("sessions"))?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    // --- practices ---

    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        sqlx::query("INSERT INTO practices (ods, name, address, settings) VALUES (?1, ?2, ?3, ?4)")
            .bind(&practice.ods)
            .bind(&practice.name)
            .bind(&practice.address)
            .bind(settings_json(&practice.settings)?)
            .execute(&self.pool)
            .await
            .map_err(map_err("practices"))?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        sqlx::query("SELECT ods, name, address, settings FROM practices WHERE ods = ?1")
            .bind(ods)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err("practices"))?
            .as_ref()
            .map(practice_row)
            .transpose()
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        sqlx::query("SELECT ods, name, address, settings FROM practices ORDER BY ods")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("practices"))?
            .iter()
            .map(practice_row)
            .collect()
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE practices SET settings = ?2 WHERE ods = ?1")
            .bind(ods)
            .bind(settings_json(settings)?)
            .execute(&self.pool)
            .await
            .map_err(map_err("practices"))?;
        Ok(done.rows_affected() > 0)
    }

    // --- patients ---

    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                   date_of_birth, gender, address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(&patient.id)
        .bind(&patient.ods)
        .bind(&patient.nhs_number)
        .bind(&patient.title)
        .bind(&patient.first_name)
        .bind(&patient.last_name)
        .bind(date_text(patient.date_of_birth))
        .bind(&patient.gender)
        .bind(&patient.address)
        .execute(&self.pool)
        .await
        .map_err(map_err("patients"))?;
        Ok(())
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        sqlx::query(
            "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                    address
             FROM patients WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("patients"))?
        .as_ref()
        .map(patient_row)
        .transpose()
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        sqlx::query(
            "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                    address
             FROM patients WHERE nhs_number = ?1",
        )
        .bind(nhs_number)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("patients"))?
        .as_ref()
        .map(patient_row)
        .transpose()
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        let rows = match ods {
            Some(ods) => {
                sqlx::query(
                    "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                            gender, address
                     FROM patients WHERE ods = ?1 ORDER BY id",
                )
                .bind(ods)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                            gender, address
                     FROM patients ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map_err("patients"))?;
        rows.iter().map(patient_row).collect()
    }

    // --- online accounts and linkage ---

    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO online_accounts (id, patient_id, email, mobile, created_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&account.id)
        .bind(&account.patient_id)
        .bind(&account.email)
        .bind(&account.mobile)
        .bind(ms(account.created_at))
        .bind(opt_ms(account.ended_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("online_accounts"))?;
        Ok(())
    }

    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>> {
        sqlx::query(
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("online_accounts"))?
        .as_ref()
        .map(account_row)
        .transpose()
    }

    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>> {
        sqlx::query(
            "SELECT id, patient_id, email, mobile, created_at, ended_at
             FROM online_accounts WHERE patient_id = ?1",
        )
        .bind(patient_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("online_accounts"))?
        .as_ref()
        .map(account_row)
        .transpose()
    }

    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let err = map_err("online_accounts");
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(&err)?;
        // An earlier end keeps its time.
        let found = sqlx::query(
            "UPDATE online_accounts SET ended_at = COALESCE(ended_at, ?2) WHERE id = ?1",
        )
        .bind(id)
        .bind(ms(at))
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected()
            > 0;
        if !found {
            return Ok(false);
        }
        sqlx::query("UPDATE sessions SET ended_at = ?2 WHERE account_id = ?1 AND ended_at IS NULL")
            .bind(id)
            .bind(ms(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err("sessions"))?;
        tx.commit().await.map_err(&err)?;
        Ok(true)
    }

    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO linkage_keys (account_id, key_hash, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id) DO UPDATE SET
                 key_hash = excluded.key_hash,
                 issued_at = excluded.issued_at,
                 expires_at = excluded.expires_at",
        )
        .bind(&key.account_id)
        .bind(&key.key_hash)
        .bind(ms(key.issued_at))
        .bind(ms(key.expires_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("linkage_keys"))?;
        Ok(())
    }

    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>> {
        sqlx::query(
            "SELECT account_id, key_hash, issued_at, expires_at
             FROM linkage_keys WHERE account_id = ?1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("linkage_keys"))?
        .as_ref()
        .map(linkage_key_row)
        .transpose()
    }

    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO provider_links (account_id, provider_id, passphrase_hash, linked_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 passphrase_hash = excluded.passphrase_hash,
                 linked_at = excluded.linked_at",
        )
        .bind(&link.account_id)
        .bind(&link.provider_id)
        .bind(&link.passphrase_hash)
        .bind(ms(link.linked_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("provider_links"))?;
        Ok(())
    }

    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>> {
        sqlx::query(
            "SELECT account_id, provider_id, passphrase_hash, linked_at
             FROM provider_links WHERE account_id = ?1 AND provider_id = ?2",
        )
        .bind(account_id)
        .bind(provider_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("provider_links"))?
        .as_ref()
        .map(provider_link_row)
        .transpose()
    }

    // --- linkage throttling ---

    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>> {
        sqlx::query(
            "SELECT failures, locked_until
             FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2",
        )
        .bind(account_id)
        .bind(provider_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("link_throttles"))?
        .as_ref()
        .map(throttle_row)
        .transpose()
    }

    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO link_throttles (account_id, provider_id, failures, locked_until)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id, provider_id) DO UPDATE SET
                 failures = excluded.failures,
                 locked_until = excluded.locked_until",
        )
        .bind(account_id)
        .bind(provider_id)
        .bind(i64::from(throttle.failures))
        .bind(opt_ms(throttle.locked_until))
        .execute(&self.pool)
        .await
        .map_err(map_err("link_throttles"))?;
        Ok(())
    }

    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM link_throttles WHERE account_id = ?1 AND provider_id = ?2")
            .bind(account_id)
            .bind(provider_id)
            .execute(&self.pool)
            .await
            .map_err(map_err("link_throttles"))?;
        Ok(())
    }

    // --- proxy access ---

    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        sqlx::query(
            "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (grantee_id, patient_id) DO NOTHING",
        )
        .bind(grantee_id)
        .bind(patient_id)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(map_err("proxy_grants"))?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2")
                .bind(grantee_id)
                .bind(patient_id)
                .execute(&self.pool)
                .await
                .map_err(map_err("proxy_grants"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        sqlx::query(
            "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
                    p.date_of_birth, p.gender, p.address
             FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
             WHERE g.grantee_id = ?1 AND g.patient_id <> g.grantee_id
             ORDER BY g.patient_id",
        )
        .bind(grantee_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("proxy_grants"))?
        .iter()
        .map(patient_row)
        .collect()
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let row =
            sqlx::query("SELECT 1 FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2")
                .bind(grantee_id)
                .bind(patient_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err("proxy_grants"))?;
        Ok(row.is_some())
    }

    // --- service switches ---

    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        let query = match enabled {
            Some(enabled) => sqlx::query(
                "INSERT INTO practice_services (ods, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(ods)
            .bind(service)
            .bind(enabled),
            None => sqlx::query("DELETE FROM practice_services WHERE ods = ?1 AND service = ?2")
                .bind(ods)
                .bind(service),
        };
        query
            .execute(&self.pool)
            .await
            .map_err(map_err("practice_services"))?;
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        let query = match enabled {
            Some(enabled) => sqlx::query(
                "INSERT INTO patient_services (patient_id, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(patient_id)
            .bind(service)
            .bind(enabled),
            None => {
                sqlx::query("DELETE FROM patient_services WHERE patient_id = ?1 AND service = ?2")
                    .bind(patient_id)
                    .bind(service)
            }
        };
        query
            .execute(&self.pool)
            .await
            .map_err(map_err("patient_services"))?;
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        sqlx::query(
            "SELECT service, enabled FROM practice_services WHERE ods = ?1 ORDER BY service",
        )
        .bind(ods)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("practice_services"))?
        .iter()
        .map(|row| switch_row(row, "practice_services"))
        .collect()
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        sqlx::query(
            "SELECT service, enabled FROM patient_services WHERE patient_id = ?1 ORDER BY service",
        )
        .bind(patient_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("patient_services"))?
        .iter()
        .map(|row| switch_row(row, "patient_services"))
        .collect()
    }

    // --- sessions ---

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (suid_hash, provider_id, account_id, online_user_id,
                                   selected_patient_id, created_at, last_seen_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&session.suid_hash)
        .bind(&session.provider_id)
        .bind(&session.account_id)
        .bind(&session.online_user_id)
        .bind(&session.selected_patient_id)
        .bind(ms(session.created_at))
        .bind(ms(session.last_seen_at))
        .bind(opt_ms(session.ended_at))
        .execute(&self.pool)
        .await
        .map_err(map_err("sessions"))?;
        Ok(())
    }

    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(
            "SELECT suid_hash, provider_id, account_id, online_user_id, selected_patient_id,
                    created_at, last_seen_at, ended_at
             FROM sessions WHERE suid_hash = ?1",
        )
        .bind(suid_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("sessions"))?
        .as_ref()
        .map(session_row)
        .transpose()
    }

    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions
             SET last_seen_at = ?2, selected_patient_id = COALESCE(?3, selected_patient_id)
             WHERE suid_hash = ?1",
        )
        .bind(suid_hash)
        .bind(ms(at))
        .bind(selected_patient_id)
        .execute(&self.pool)
        .await
        .map_err(map_err("sessions"))?;
        Ok(())
    }

    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = ?2 WHERE suid_hash = ?1 AND ended_at IS NULL",
        )
        .bind(suid_hash)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(map_err("sessions"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE ended_at < ?1 OR last_seen_at < ?1")
            .bind(ms(before))
            .execute(&self.pool)
            .await
            .map_err(map_err("sessions"))?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_key_names_columns_only() {
        assert_eq!(
            unique_key("UNIQUE constraint failed: providers.fingerprint"),
            Some("providers.fingerprint")
        );
        assert_eq!(
            unique_key(
                "UNIQUE constraint failed: proxy_grants.grantee_id, proxy_grants.patient_id"
            ),
            Some("proxy_grants.grantee_id, proxy_grants.patient_id")
        );
        assert_eq!(unique_key("UNIQUE constraint failed: index 'x'"), None);
        assert_eq!(unique_key("something else"), None);
    }

    #[test]
    fn transient_codes() {
        assert!(transient(5)); // SQLITE_BUSY
        assert!(transient(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(transient(266)); // SQLITE_IOERR_READ
        assert!(!transient(1)); // SQLITE_ERROR
        assert!(!transient(2067)); // SQLITE_CONSTRAINT_UNIQUE
    }

    #[test]
    fn instants_are_milliseconds() {
        let at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ms(at), 1_740_823_200_123);
        assert_eq!(
            date_text(NaiveDate::from_ymd_opt(1987, 6, 5).unwrap()),
            "1987-06-05"
        );
    }
}
