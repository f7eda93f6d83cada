//! Stored files: [`BinaryDataStore`], and the insert that areas storing a file with something
//! else (a record document, a message's attachments) run inside their own transaction
//! ([`Db::transaction`]).
//!
//! [`Db::transaction`]: super::Db::transaction

use async_trait::async_trait;
use pfs_core::model::{BinaryDataInfo, BinaryKind, NewBinaryData};
use pfs_core::store::{BinaryDataStore, StoreResult};
use tokio_postgres::Row;

use super::sql::{Cols, execute, ms, query_opt};
use super::{Conn, Params, PostgresStore};

const TABLE: &str = "binary_data";

/// Files larger than this retire the connection that wrote them (see `Conn::retired`).
const RETIRE_AFTER_BYTES: u64 = 256 * 1024;

/// Stores a file and its pages on `c`, inside the caller's transaction.
pub(super) async fn insert_binary_data(
    c: &Conn,
    data: &NewBinaryData,
) -> Result<(), tokio_postgres::Error> {
    let file = c
        .statement(
            "INSERT INTO binary_data (id, patient_id, kind, file_name, file_type, size, pages,
                                      uploading, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    if data.size() > RETIRE_AFTER_BYTES {
        c.retire();
    }
    let size = i64::try_from(data.size()).unwrap_or(i64::MAX);
    let pages = i32::try_from(data.pages.len()).unwrap_or(i32::MAX);
    let created_at = ms(data.created_at);
    let params: Params = &[
        &data.id,
        &data.patient_id,
        &data.kind.as_str(),
        &data.file_name,
        &data.file_type,
        &size,
        &pages,
        &data.uploading,
        &created_at,
    ];
    c.client.execute(&file, params).await?;
    let page = c
        .statement("INSERT INTO binary_data_pages (binary_id, page, bytes) VALUES ($1, $2, $3)")
        .await?;
    for (n, bytes) in (1i32..).zip(&data.pages) {
        c.client
            .execute(&page, &[&data.id, &n, &bytes.as_slice()])
            .await?;
    }
    Ok(())
}

fn info_row(row: &Row) -> StoreResult<BinaryDataInfo> {
    let c = Cols::new(row, TABLE);
    let kind: String = c.get(2, "kind")?;
    let size: i64 = c.get(5, "size")?;
    let pages: i32 = c.get(6, "pages")?;
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
impl BinaryDataStore for PostgresStore {
    async fn insert_binary_data(&self, data: &NewBinaryData) -> StoreResult<()> {
        self.db
            .transaction(TABLE, async |c| insert_binary_data(c, data).await)
            .await
    }

    async fn binary_data_info(&self, id: &str) -> StoreResult<Option<BinaryDataInfo>> {
        let sql = "SELECT id, patient_id, kind, file_name, file_type, size, pages, uploading,
                    created_at
             FROM binary_data WHERE id = $1";
        query_opt(&self.db, TABLE, sql, &[&id], info_row).await
    }

    async fn binary_data_page(&self, id: &str, page: u32) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT bytes FROM binary_data_pages WHERE binary_id = $1 AND page = $2";
        let page = i32::try_from(page).unwrap_or(i32::MAX);
        query_opt(&self.db, "binary_data_pages", sql, &[&id, &page], |row| {
            Cols::new(row, "binary_data_pages").get(0, "bytes")
        })
        .await
    }

    async fn append_binary_page(&self, id: &str, page: &[u8]) -> StoreResult<bool> {
        // One statement: the row lock taken by the UPDATE numbers the page.
        let sql = "WITH file AS (
                 UPDATE binary_data SET pages = pages + 1, size = size + $3
                 WHERE id = $1 AND uploading
                 RETURNING pages)
             INSERT INTO binary_data_pages (binary_id, page, bytes)
             SELECT $1, pages, $2 FROM file";
        let size = i64::try_from(page.len()).unwrap_or(i64::MAX);
        let params: Params = &[&id, &page, &size];
        let appended = self
            .db
            .write("binary_data_pages", async |c| {
                if page.len() as u64 > RETIRE_AFTER_BYTES {
                    c.retire();
                }
                let st = c.statement(sql).await?;
                c.client.execute(&st, params).await
            })
            .await?;
        Ok(appended == 1)
    }

    async fn complete_binary_data(&self, id: &str) -> StoreResult<bool> {
        let sql = "UPDATE binary_data SET uploading = false WHERE id = $1";
        Ok(execute(&self.db, TABLE, sql, &[&id]).await? == 1)
    }
}
