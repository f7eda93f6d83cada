//! The patient's record: [`RecordStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    DocumentItem, NewBinaryData, RecordAccess, RecordEvent, RecordGrant, RecordItem, RecordLevel,
    TestResult,
};
use pfs_core::store::{RecordStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::binary_data::insert_binary_data;
use super::sql::{Cols, execute, map_err, ms, query_all, query_opt};

const ITEM_COLUMNS: &str =
    "i.id, i.item_type, i.details, i.snomed_code, i.binary_data_id, i.visible";

/// A patient's items with their event, in key order.
const ITEMS_OF_PATIENT: &str = "SELECT i.event_id, i.id, i.item_type, i.details, i.snomed_code,
                                       i.binary_data_id, i.visible
                                FROM record_items i WHERE i.patient_id = ?1
                                ORDER BY i.event_id, i.seq";

/// An item from [`ITEM_COLUMNS`], starting at column `offset`.
fn item_at(row: &Row<'_>, offset: usize) -> StoreResult<RecordItem> {
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

fn insert_item(
    c: &Connection,
    patient_id: &str,
    event_id: &str,
    seq: i64,
    item: &RecordItem,
) -> StoreResult<()> {
    execute(
        c,
        "record_items",
        "INSERT INTO record_items (id, event_id, patient_id, seq, item_type, details, snomed_code,
                                   binary_data_id, visible)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            item.id,
            event_id,
            patient_id,
            seq,
            item.item_type,
            item.details,
            item.snomed_code,
            item.binary_data_id,
            item.visible,
        ],
    )?;
    Ok(())
}

fn test_result_row(row: &Row<'_>) -> StoreResult<TestResult> {
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

const TEST_RESULT_COLUMNS: &str = "id, patient_id, at_ms, category, name, vals, comment, visible";

/// The patient's record token (migration 0011); 0 for an unknown patient.
fn read_token(c: &Connection, patient_id: &str) -> StoreResult<i64> {
    Ok(query_opt(
        c,
        "patients",
        "SELECT record_token FROM patients WHERE id = ?1",
        [patient_id],
        |row| Cols::new(row, "patients").get(0, "record_token"),
    )?
    .unwrap_or(0))
}

/// A patient's events with their items, newest first: two range scans of the patient's rows in
/// key order (see migration 0007), events newest first, then every item by event and order
/// entered.
fn read_events(c: &Connection, patient_id: &str) -> StoreResult<Vec<RecordEvent>> {
    let mut events = query_all(
        c,
        "record_events",
        "SELECT id, at_ms, done_by, location FROM record_events
         WHERE patient_id = ?1
         ORDER BY at_ms DESC, id DESC",
        [patient_id],
        |row| {
            let c = Cols::new(row, "record_events");
            Ok(RecordEvent {
                id: c.get(0, "id")?,
                patient_id: String::new(),
                at: c.instant(1, "at_ms")?,
                done_by: c.get(2, "done_by")?,
                location: c.get(3, "location")?,
                items: Vec::new(),
            })
        },
    )?;
    let items = query_all(c, "record_items", ITEMS_OF_PATIENT, [patient_id], |row| {
        Ok((
            Cols::new(row, "record_items").get::<String>(0, "event_id")?,
            item_at(row, 1)?,
        ))
    })?;
    // Items come grouped by event id, in id order: find each event's group by halving.
    let mut groups: Vec<(String, Vec<RecordItem>)> = Vec::new();
    for (event_id, item) in items {
        match groups.last_mut() {
            Some((id, group)) if *id == event_id => group.push(item),
            _ => groups.push((event_id, vec![item])),
        }
    }
    for event in &mut events {
        event.patient_id = patient_id.to_owned();
        if let Ok(i) = groups.binary_search_by(|(id, _)| id.as_str().cmp(&event.id)) {
            event.items = std::mem::take(&mut groups[i].1);
        }
    }
    Ok(events)
}

impl SqliteStore {
    /// Runs `f` in an immediate transaction and commits it.
    async fn in_transaction<T>(
        &self,
        table: &'static str,
        f: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err(table))?;
            let value = f(&tx)?;
            tx.commit().map_err(map_err(table))?;
            Ok(value)
        })
        .await
    }
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn insert_record_event(
        &self,
        event: &RecordEvent,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.in_transaction("record_events", |c| {
            if let Some(file) = file {
                insert_binary_data(c, file)?;
            }
            execute(
                c,
                "record_events",
                "INSERT INTO record_events (id, patient_id, at_ms, done_by, location)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    event.id,
                    event.patient_id,
                    ms(event.at),
                    event.done_by,
                    event.location
                ],
            )?;
            for (seq, item) in (1i64..).zip(&event.items) {
                insert_item(c, &event.patient_id, &event.id, seq, item)?;
            }
            insert_record_access(c, log)
        })
        .await
    }

    async fn insert_record_item(
        &self,
        patient_id: &str,
        event_id: &str,
        item: &RecordItem,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.in_transaction("record_items", |c| {
            let seq: Option<i64> = query_opt(
                c,
                "record_events",
                "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM record_items
                         WHERE patient_id = e.patient_id AND event_id = e.id)
                 FROM record_events e WHERE e.id = ?1 AND e.patient_id = ?2",
                params![event_id, patient_id],
                |row| Cols::new(row, "record_events").get(0, "seq"),
            )?;
            let Some(seq) = seq else {
                return Ok(false);
            };
            if let Some(file) = file {
                insert_binary_data(c, file)?;
            }
            insert_item(c, patient_id, event_id, seq, item)?;
            insert_record_access(c, log)?;
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
        self.in_transaction("record_items", |c| {
            let changed = execute(
                c,
                "record_items",
                "UPDATE record_items SET visible = ?3 WHERE id = ?1 AND patient_id = ?2",
                params![item_id, log.patient_id, visible],
            )?;
            if changed == 1 {
                insert_record_access(c, log)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn record_events(&self, patient_id: &str) -> StoreResult<Vec<RecordEvent>> {
        self.read(|c| read_events(c, patient_id))
    }

    async fn record_token(&self, patient_id: &str) -> StoreResult<i64> {
        self.read(|c| read_token(c, patient_id))
    }

    async fn record_events_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<RecordEvent>)> {
        // The token and the rows from the same snapshot.
        self.snapshot("record_events", |c| {
            let token = read_token(c, patient_id)?;
            let events = read_events(c, patient_id)?;
            Ok((Some(token), events))
        })
    }

    async fn record_items_of_types(
        &self,
        patient_id: &str,
        types: &[&str],
    ) -> StoreResult<Vec<(DateTime<Utc>, RecordItem)>> {
        let types = serde_json::to_string(types)
            .map_err(|_| StoreError::Other("record_items: types not encodable".into()))?;
        let sql = format!(
            "SELECT e.at_ms, {ITEM_COLUMNS}
             FROM record_items i JOIN record_events e ON e.id = i.event_id
             WHERE i.patient_id = ?1 AND i.item_type IN (SELECT value FROM json_each(?2))
             ORDER BY e.at_ms DESC, i.id"
        );
        self.read(|c| {
            query_all(c, "record_items", &sql, params![patient_id, types], |row| {
                Ok((
                    Cols::new(row, "record_events").instant(0, "at_ms")?,
                    item_at(row, 1)?,
                ))
            })
        })
    }

    async fn document_item(&self, binary_data_id: &str) -> StoreResult<Option<DocumentItem>> {
        let sql = format!(
            "SELECT i.patient_id, i.event_id, {ITEM_COLUMNS} FROM record_items i
             WHERE i.binary_data_id = ?1"
        );
        self.read(|c| {
            query_opt(c, "record_items", &sql, [binary_data_id], |row| {
                let c = Cols::new(row, "record_items");
                Ok(DocumentItem {
                    patient_id: c.get(0, "patient_id")?,
                    event_id: c.get(1, "event_id")?,
                    item: item_at(row, 2)?,
                })
            })
        })
    }

    async fn insert_test_result(&self, r: &TestResult, log: &RecordAccess) -> StoreResult<()> {
        let vals = serde_json::to_string(&r.values)
            .map_err(|_| StoreError::Other("test_results: values not encodable".into()))?;
        self.in_transaction("test_results", |c| {
            execute(
                c,
                "test_results",
                "INSERT INTO test_results (id, patient_id, at_ms, category, name, vals, comment,
                                           visible)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.id,
                    r.patient_id,
                    ms(r.at),
                    r.category,
                    r.name,
                    vals,
                    r.comment,
                    r.visible
                ],
            )?;
            insert_record_access(c, log)
        })
        .await
    }

    async fn test_results(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<TestResult>> {
        let sql = format!(
            "SELECT {TEST_RESULT_COLUMNS} FROM test_results
             WHERE patient_id = ?1 AND at_ms >= ?2 AND at_ms < ?3
             ORDER BY at_ms DESC, id"
        );
        self.read(|c| {
            query_all(
                c,
                "test_results",
                &sql,
                params![patient_id, ms(from), ms(to)],
                test_result_row,
            )
        })
    }

    async fn test_result(&self, id: &str) -> StoreResult<Option<TestResult>> {
        let sql = format!("SELECT {TEST_RESULT_COLUMNS} FROM test_results WHERE id = ?1");
        self.read(|c| query_opt(c, "test_results", &sql, [id], test_result_row))
    }

    async fn set_test_result_visible(
        &self,
        id: &str,
        visible: bool,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.in_transaction("test_results", |c| {
            let changed = execute(
                c,
                "test_results",
                "UPDATE test_results SET visible = ?3 WHERE id = ?1 AND patient_id = ?2",
                params![id, log.patient_id, visible],
            )?;
            if changed == 1 {
                insert_record_access(c, log)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
    ) -> StoreResult<Option<RecordGrant>> {
        self.read(|c| {
            query_opt(
                c,
                "record_grants",
                "SELECT level, documents, test_results FROM record_grants
                 WHERE patient_id = ?1 AND grantee_id = ?2",
                params![patient_id, grantee_id],
                |row| {
                    let c = Cols::new(row, "record_grants");
                    Ok(RecordGrant {
                        level: RecordLevel::parse(c.text(0, "level")?)
                            .ok_or_else(|| c.corrupt("level", "unknown level"))?,
                        documents: c.get(1, "documents")?,
                        test_results: c.get(2, "test_results")?,
                    })
                },
            )
        })
    }

    async fn set_record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
        grant: Option<RecordGrant>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.in_transaction("record_grants", |c| {
            match grant {
                Some(g) => execute(
                    c,
                    "record_grants",
                    "INSERT INTO record_grants (patient_id, grantee_id, level, documents,
                                                test_results)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (patient_id, grantee_id) DO UPDATE
                     SET level = excluded.level, documents = excluded.documents,
                         test_results = excluded.test_results",
                    params![
                        patient_id,
                        grantee_id,
                        g.level.as_str(),
                        g.documents,
                        g.test_results
                    ],
                )?,
                None => execute(
                    c,
                    "record_grants",
                    "DELETE FROM record_grants WHERE patient_id = ?1 AND grantee_id = ?2",
                    params![patient_id, grantee_id],
                )?,
            };
            insert_record_access(c, log)
        })
        .await
    }
}
