//! Stored files: [`BinaryDataStore`], and the insert that areas storing a file with something
//! else (a record document, a message's attachments) run inside their own transaction.

use async_trait::async_trait;
use pfs_core::model::{BinaryDataInfo, BinaryKind, NewBinaryData};
use pfs_core::store::{BinaryDataStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{Cols, execute, map_err, ms, query_opt};

const TABLE: &str = "binary_data";

/// Stores a file and its pages on `c`, which should be inside the caller's transaction.
pub(super) fn insert_binary_data(c: &Connection, data: &NewBinaryData) -> StoreResult<()> {
    execute(
        c,
        TABLE,
        "INSERT INTO binary_data (id, patient_id, kind, file_name, file_type, size, pages,
                                  uploading, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            data.id,
            data.patient_id,
            data.kind.as_str(),
            data.file_name,
            data.file_type,
            i64::try_from(data.size()).unwrap_or(i64::MAX),
            i64::try_from(data.pages.len()).unwrap_or(i64::MAX),
            data.uploading,
            ms(data.created_at),
        ],
    )?;
    for (n, bytes) in (1i64..).zip(&data.pages) {
        execute(
            c,
            "binary_data_pages",
            "INSERT INTO binary_data_pages (binary_id, page, bytes) VALUES (?1, ?2, ?3)",
            params![data.id, n, bytes],
        )?;
    }
    Ok(())
}

fn info_row(row: &Row<'_>) -> StoreResult<BinaryDataInfo> {
    let c = Cols::new(row, TABLE);
    let kind: String = c.get(2, "kind")?;
    let size: i64 = c.get(5, "size")?;
    let pages: i64 = c.get(6, "pages")?;
    Ok(BinaryDataInfo {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        kind: BinaryKind::from_stored(&kind).ok_or_else(|| c.corrupt("kind", "unknown kind"))?,
        file_name: c.get(3, "file_name")?,
        file_type: c.get(4, "file_type")?,
        size: u64::try_from(size).map_err(|_| c.corrupt("size", "negative"))?,
        pages: u32::try_from(pages).map_err(|_| c.corrupt("pages", "out of range"))?,
        uploading: c.get(7, "uploading")?,
        created_at: c.instant(8, "created_at")?,
    })
}

#[async_trait]
impl BinaryDataStore for SqliteStore {
    async fn insert_binary_data(&self, data: &NewBinaryData) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err(TABLE))?;
            insert_binary_data(&tx, data)?;
            tx.commit().map_err(map_err(TABLE))
        })
        .await
    }

    async fn binary_data_info(&self, id: &str) -> StoreResult<Option<BinaryDataInfo>> {
        self.read(|c| {
            query_opt(
                c,
                TABLE,
                "SELECT id, patient_id, kind, file_name, file_type, size, pages, uploading,
                        created_at
                 FROM binary_data WHERE id = ?1",
                [id],
                info_row,
            )
        })
    }

    async fn binary_data_page(&self, id: &str, page: u32) -> StoreResult<Option<Vec<u8>>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT bytes FROM binary_data_pages WHERE binary_id = ?1 AND page = ?2",
            )
            .and_then(|mut st| st.query_row(params![id, page], |r| r.get(0)).optional())
            .map_err(map_err("binary_data_pages"))
        })
    }

    async fn append_binary_page(&self, id: &str, page: &[u8]) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err(TABLE))?;
            let next: Option<i64> = tx
                .query_row(
                    "UPDATE binary_data SET pages = pages + 1, size = size + ?2
                     WHERE id = ?1 AND uploading = 1
                     RETURNING pages",
                    params![id, i64::try_from(page.len()).unwrap_or(i64::MAX)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err(TABLE))?;
            let Some(next) = next else {
                return Ok(false);
            };
            execute(
                &tx,
                "binary_data_pages",
                "INSERT INTO binary_data_pages (binary_id, page, bytes) VALUES (?1, ?2, ?3)",
                params![id, next, page],
            )?;
            tx.commit().map_err(map_err(TABLE))?;
            Ok(true)
        })
        .await
    }

    async fn complete_binary_data(&self, id: &str) -> StoreResult<bool> {
        self.write(|c| {
            execute(
                c,
                TABLE,
                "UPDATE binary_data SET uploading = 0 WHERE id = ?1",
                [id],
            )
            .map(|n| n == 1)
        })
        .await
    }
}
