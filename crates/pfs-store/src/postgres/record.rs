//! The patient's record: [`RecordStore`]. Each write is one statement with its access-log
//! entry (data-modifying CTEs), except adding a document, whose file is written in the same
//! transaction ([`Db::transaction`](super::Db::transaction)).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    DocumentItem, NewBinaryData, RecordAccess, RecordEvent, RecordGrant, RecordItem, RecordLevel,
    TestResult,
};
use pfs_core::store::{RecordStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::binary_data::insert_binary_data;
use super::sql::{AccessParams, Cols, execute, ms, query_all, query_opt};
use super::{Params, PostgresStore};

/// The columns [`item_at`] reads, from table alias `i`.
macro_rules! item_columns {
    () => {
        "i.id, i.item_type, i.details, i.snomed_code, i.binary_data_id, i.visible"
    };
}

/// The columns [`test_result_row`] reads.
macro_rules! test_result_columns {
    () => {
        "id, patient_id, at_ms, category, name, vals, comment, visible"
    };
}

/// The access-log insert every write makes: its six parameters (`$params`, in
/// [`AccessParams`] order), then an optional condition.
macro_rules! log_insert {
    ($params:literal, $condition:literal) => {
        concat!(
            "INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT ",
            $params,
            $condition
        )
    };
}

fn item_at(row: &Row, offset: usize) -> StoreResult<RecordItem> {
    let c = Cols {
        offset,
        ..Cols::new(row, "record_items")
    };
    Ok(RecordItem {
        id: c.get(0, "id")?,
        item_type: c.get(1, "item_type")?,
        details: c.get(2, "details")?,
        snomed_code: c.get(3, "snomed_code")?,
        binary_data_id: c.get(4, "binary_data_id")?,
        visible: c.get(5, "visible")?,
    })
}

fn test_result_row(row: &Row) -> StoreResult<TestResult> {
    let c = Cols::new(row, "test_results");
    let vals: String = c.get(5, "vals")?;
    Ok(TestResult {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        at: c.instant(2, "at_ms")?,
        category: c.get(3, "category")?,
        name: c.get(4, "name")?,
        values: serde_json::from_str(&vals)
            .map_err(|_| c.corrupt("vals", "not a list of values"))?,
        comment: c.get(6, "comment")?,
        visible: c.get(7, "visible")?,
    })
}

/// Runs a statement whose `$1`, `$2` are `a`, `b` and `$3`…`$8` the access-log entry (`$3`
/// being its patient); whether it returned a row.
async fn changed_with_log(
    store: &PostgresStore,
    table: &'static str,
    sql: &'static str,
    a: &str,
    b: &(dyn tokio_postgres::types::ToSql + Sync),
    log: &RecordAccess,
) -> StoreResult<bool> {
    let access = AccessParams::new(log);
    let [a1, a2, a3, a4, a5, a6] = access.params();
    let params: Params = &[&a, b, a1, a2, a3, a4, a5, a6];
    let rows = store
        .db
        .write(table, async |c| {
            let st = c.statement(sql).await?;
            c.client.query(&st, params).await
        })
        .await?;
    Ok(!rows.is_empty())
}

#[async_trait]
impl RecordStore for PostgresStore {
    async fn insert_record_event(
        &self,
        event: &RecordEvent,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let sql = concat!(
            "WITH event AS (
                 INSERT INTO record_events (id, patient_id, at_ms, done_by, location)
                 VALUES ($7, $8, $9, $10, $11)),
             items AS (
                 INSERT INTO record_items (id, event_id, patient_id, seq, item_type, details,
                                           snomed_code, binary_data_id, visible)
                 SELECT i.id, $7, $8, i.seq, i.item_type, i.details, i.snomed_code,
                        i.binary_data_id, i.visible
                 FROM unnest($12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                             $17::bool[])
                      WITH ORDINALITY
                      AS i(id, item_type, details, snomed_code, binary_data_id, visible, seq))
             ",
            log_insert!("$1, $2, $3, $4, $5, $6", "")
        );
        let column = |f: fn(&RecordItem) -> Option<&str>| -> Vec<Option<&str>> {
            event.items.iter().map(f).collect()
        };
        let (ids, types, details, codes, files) = (
            column(|i| Some(&i.id)),
            column(|i| Some(&i.item_type)),
            column(|i| Some(&i.details)),
            column(|i| i.snomed_code.as_deref()),
            column(|i| i.binary_data_id.as_deref()),
        );
        let visible: Vec<bool> = event.items.iter().map(|i| i.visible).collect();
        let at = ms(event.at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            &event.id,
            &event.patient_id,
            &at,
            &event.done_by,
            &event.location,
            &ids,
            &types,
            &details,
            &codes,
            &files,
            &visible,
        ];
        match file {
            None => {
                execute(&self.db, "record_events", sql, params).await?;
            }
            // A document's event: its file first, in the same transaction.
            Some(file) => {
                self.db
                    .transaction("record_events", async |c| {
                        insert_binary_data(c, file).await?;
                        let st = c.statement(sql).await?;
                        c.client.execute(&st, params).await
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn insert_record_item(
        &self,
        patient_id: &str,
        event_id: &str,
        item: &RecordItem,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        let lock =
            "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM record_items WHERE event_id = e.id)
             FROM record_events e WHERE e.id = $1 AND e.patient_id = $2 FOR UPDATE";
        let insert = "INSERT INTO record_items (id, event_id, patient_id, seq, item_type, details,
                                       snomed_code, binary_data_id, visible)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let log_sql = log_insert!("$1, $2, $3, $4, $5, $6", "");
        let access = AccessParams::new(log);
        self.db
            .transaction("record_items", async |c| {
                let st = c.statement(lock).await?;
                let Some(row) = c.client.query_opt(&st, &[&event_id, &patient_id]).await? else {
                    return Ok(false);
                };
                let seq: i32 = row.try_get(0)?;
                if let Some(file) = file {
                    insert_binary_data(c, file).await?;
                }
                let st = c.statement(insert).await?;
                c.client
                    .execute(
                        &st,
                        &[
                            &item.id,
                            &event_id,
                            &patient_id,
                            &seq,
                            &item.item_type,
                            &item.details,
                            &item.snomed_code,
                            &item.binary_data_id,
                            &item.visible,
                        ],
                    )
                    .await?;
                let [a1, a2, a3, a4, a5, a6] = access.params();
                let st = c.statement(log_sql).await?;
                c.client.execute(&st, &[a1, a2, a3, a4, a5, a6]).await?;
                Ok(true)
            })
            .await
    }

    async fn set_record_item_visible(
        &self,
        item_id: &str,
        visible: bool,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        let sql = concat!(
            "WITH item AS (
                 UPDATE record_items SET visible = $2 WHERE id = $1 AND patient_id = $3
                 RETURNING id),
             log AS (",
            log_insert!(
                "$3, $4, $5, $6, $7, $8",
                " WHERE EXISTS (SELECT 1 FROM item)"
            ),
            ")
             SELECT id FROM item"
        );
        changed_with_log(self, "record_items", sql, item_id, &visible, log).await
    }

    async fn record_events(&self, patient_id: &str) -> StoreResult<Vec<RecordEvent>> {
        Ok(self.record_events_with_token(patient_id).await?.1)
    }

    async fn record_token(&self, patient_id: &str) -> StoreResult<i64> {
        let token = query_opt(
            &self.db,
            "patients",
            "SELECT record_token FROM patients WHERE id = $1",
            &[&patient_id],
            |row| Cols::new(row, "patients").get(0, "record_token"),
        )
        .await?;
        Ok(token.unwrap_or(0))
    }

    async fn record_events_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<RecordEvent>)> {
        // One statement, so one snapshot: the token (evaluated once) beside every row. In key
        // order, as SQLite's clustered tables give it: the events newest first from
        // record_events_patient_idx scanned backwards (migration 0012), each event's items
        // looked up by record_items_event_idx and ordered there (a lateral subquery with its
        // own ORDER BY, which the planner does not flatten into a hash join however its
        // statistics look), so the final sort is incremental: one event's items at a time.
        let sql = concat!(
            "SELECT (SELECT record_token FROM patients WHERE id = $1),
                    e.id, e.at_ms, e.done_by, e.location, ",
            item_columns!(),
            " FROM record_events e
             CROSS JOIN LATERAL (SELECT * FROM record_items i WHERE i.event_id = e.id
                                 ORDER BY i.seq) i
             WHERE e.patient_id = $1
             ORDER BY e.at_ms DESC, e.id DESC, i.seq"
        );
        let rows = self.db.read("record_events", sql, &[&patient_id]).await?;
        let mut token = None;
        let mut events: Vec<RecordEvent> = Vec::new();
        for row in &rows {
            let e = Cols::new(row, "record_events");
            token = e.get::<Option<i64>>(0, "record_token")?;
            let id: String = e.get(1, "id")?;
            let item = item_at(row, 5)?;
            match events.last_mut() {
                Some(last) if last.id == id => last.items.push(item),
                _ => events.push(RecordEvent {
                    id,
                    patient_id: patient_id.to_owned(),
                    at: e.instant(2, "at_ms")?,
                    done_by: e.get(3, "done_by")?,
                    location: e.get(4, "location")?,
                    items: vec![item],
                }),
            }
        }
        // No row, no token: an empty record is not worth a second read.
        Ok((token, events))
    }

    async fn record_items_of_types(
        &self,
        patient_id: &str,
        types: &[&str],
    ) -> StoreResult<Vec<(DateTime<Utc>, RecordItem)>> {
        let sql = concat!(
            "SELECT e.at_ms, ",
            item_columns!(),
            " FROM record_items i JOIN record_events e ON e.id = i.event_id
             WHERE i.patient_id = $1 AND i.item_type = ANY($2::text[])
             ORDER BY e.at_ms DESC, i.id"
        );
        let types: Vec<&str> = types.to_vec();
        let params: Params = &[&patient_id, &types];
        query_all(&self.db, "record_items", sql, params, |row| {
            Ok((
                Cols::new(row, "record_events").instant(0, "at_ms")?,
                item_at(row, 1)?,
            ))
        })
        .await
    }

    async fn document_item(&self, binary_data_id: &str) -> StoreResult<Option<DocumentItem>> {
        let sql = concat!(
            "SELECT i.patient_id, i.event_id, ",
            item_columns!(),
            " FROM record_items i WHERE i.binary_data_id = $1"
        );
        query_opt(&self.db, "record_items", sql, &[&binary_data_id], |row| {
            let c = Cols::new(row, "record_items");
            Ok(DocumentItem {
                patient_id: c.get(0, "patient_id")?,
                event_id: c.get(1, "event_id")?,
                item: item_at(row, 2)?,
            })
        })
        .await
    }

    async fn insert_test_result(&self, r: &TestResult, log: &RecordAccess) -> StoreResult<()> {
        let vals = serde_json::to_string(&r.values)
            .map_err(|_| StoreError::Other("test_results: values not encodable".into()))?;
        let sql = concat!(
            "WITH result AS (
                 INSERT INTO test_results (id, patient_id, at_ms, category, name, vals, comment,
                                           visible)
                 VALUES ($1, $3, $2, $9, $10, $11, $12, $13))
             ",
            log_insert!("$3, $4, $5, $6, $7, $8", "")
        );
        let at = ms(r.at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[
            &r.id,
            &at,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            &r.category,
            &r.name,
            &vals,
            &r.comment,
            &r.visible,
        ];
        execute(&self.db, "test_results", sql, params).await?;
        Ok(())
    }

    async fn test_results(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<TestResult>> {
        let sql = concat!(
            "SELECT ",
            test_result_columns!(),
            " FROM test_results
             WHERE patient_id = $1 AND at_ms >= $2 AND at_ms < $3
             ORDER BY at_ms DESC, id"
        );
        let params: Params = &[&patient_id, &ms(from), &ms(to)];
        query_all(&self.db, "test_results", sql, params, test_result_row).await
    }

    async fn test_result(&self, id: &str) -> StoreResult<Option<TestResult>> {
        let sql = concat!(
            "SELECT ",
            test_result_columns!(),
            " FROM test_results WHERE id = $1"
        );
        query_opt(&self.db, "test_results", sql, &[&id], test_result_row).await
    }

    async fn set_test_result_visible(
        &self,
        id: &str,
        visible: bool,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        let sql = concat!(
            "WITH result AS (
                 UPDATE test_results SET visible = $2 WHERE id = $1 AND patient_id = $3
                 RETURNING id),
             log AS (",
            log_insert!(
                "$3, $4, $5, $6, $7, $8",
                " WHERE EXISTS (SELECT 1 FROM result)"
            ),
            ")
             SELECT id FROM result"
        );
        changed_with_log(self, "test_results", sql, id, &visible, log).await
    }

    async fn record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
    ) -> StoreResult<Option<RecordGrant>> {
        let sql = "SELECT level, documents, test_results FROM record_grants
             WHERE patient_id = $1 AND grantee_id = $2";
        query_opt(
            &self.db,
            "record_grants",
            sql,
            &[&patient_id, &grantee_id],
            |row| {
                let c = Cols::new(row, "record_grants");
                let level: String = c.get(0, "level")?;
                Ok(RecordGrant {
                    level: RecordLevel::parse(&level)
                        .ok_or_else(|| c.corrupt("level", "unknown level"))?,
                    documents: c.get(1, "documents")?,
                    test_results: c.get(2, "test_results")?,
                })
            },
        )
        .await
    }

    async fn set_record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
        grant: Option<RecordGrant>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        // $9 null clears the grant; otherwise it is written.
        let sql = concat!(
            "WITH cleared AS (
                 DELETE FROM record_grants
                 WHERE $9::text IS NULL AND patient_id = $1 AND grantee_id = $2),
             set AS (
                 INSERT INTO record_grants (patient_id, grantee_id, level, documents,
                                            test_results)
                 SELECT $1, $2, $9, $10, $11 WHERE $9::text IS NOT NULL
                 ON CONFLICT (patient_id, grantee_id) DO UPDATE
                 SET level = EXCLUDED.level, documents = EXCLUDED.documents,
                     test_results = EXCLUDED.test_results)
             ",
            log_insert!("$3, $4, $5, $6, $7, $8", "")
        );
        let level = grant.map(|g| g.level.as_str());
        let documents = grant.is_some_and(|g| g.documents);
        let test_results = grant.is_some_and(|g| g.test_results);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[
            &patient_id,
            &grantee_id,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            &level,
            &documents,
            &test_results,
        ];
        execute(&self.db, "record_grants", sql, params).await?;
        Ok(())
    }
}
