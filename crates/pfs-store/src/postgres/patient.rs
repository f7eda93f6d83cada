//! Patients: [`PatientStore`].

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use pfs_core::model::Patient;
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{Cols, date_text, execute, query_all, query_opt};

pub(super) fn patient_row(row: &Row) -> StoreResult<Patient> {
    patient_at(row, 0)
}

pub(super) fn patient_at(row: &Row, offset: usize) -> StoreResult<Patient> {
    let c = Cols {
        offset,
        ..Cols::new(row, "patients")
    };
    Ok(Patient {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        nhs_number: c.get(2, "nhs_number")?,
        title: c.get(3, "title")?,
        first_name: c.get(4, "first_name")?,
        last_name: c.get(5, "last_name")?,
        date_of_birth: c.date(6, "date_of_birth")?,
        gender: c.get(7, "gender")?,
        address: c.get(8, "address")?,
    })
}

#[async_trait]
impl PatientStore for PostgresStore {
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        execute(
            &self.db,
            "patients",
            "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                   date_of_birth, gender, address)
             VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9)",
            &[
                &patient.id,
                &patient.ods,
                &patient.nhs_number,
                &patient.title,
                &patient.first_name,
                &patient.last_name,
                &date_text(patient.date_of_birth),
                &patient.gender,
                &patient.address,
            ],
        )
        .await?;
        Ok(())
    }

    async fn insert_patients(&self, patients: &[Patient]) -> StoreResult<()> {
        // One statement over arrays, one per column: a single round trip for the batch.
        let column = |f: fn(&Patient) -> &str| patients.iter().map(f).collect::<Vec<_>>();
        let titles: Vec<Option<&str>> = patients.iter().map(|p| p.title.as_deref()).collect();
        let dates: Vec<String> = patients
            .iter()
            .map(|p| date_text(p.date_of_birth))
            .collect();
        execute(
            &self.db,
            "patients",
            "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                                   date_of_birth, gender, address)
             SELECT id, ods, nhs, title, first, last, born::date, gender, address
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[])
                  AS p (id, ods, nhs, title, first, last, born, gender, address)",
            &[
                &column(|p| &p.id),
                &column(|p| &p.ods),
                &column(|p| &p.nhs_number),
                &titles,
                &column(|p| &p.first_name),
                &column(|p| &p.last_name),
                &dates,
                &column(|p| &p.gender),
                &column(|p| &p.address),
            ],
        )
        .await?;
        self.refresh_patient_statistics(patients.len()).await
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        query_opt(
            &self.db,
            "patients",
            "SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE id = $1",
            &[&id],
            patient_row,
        )
        .await
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        query_opt(
            &self.db,
            "patients",
            "SELECT id, ods, nhs_number, title, first_name, last_name,
                    to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
             FROM patients WHERE nhs_number = $1",
            &[&nhs_number],
            patient_row,
        )
        .await
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        match ods {
            Some(ods) => {
                let sql = "SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients WHERE ods = $1 ORDER BY id";
                query_all(&self.db, "patients", sql, &[&ods], patient_row).await
            }
            None => {
                let sql = "SELECT id, ods, nhs_number, title, first_name, last_name,
                        to_char(date_of_birth, 'YYYY-MM-DD'), gender, address
                 FROM patients ORDER BY id";
                query_all(&self.db, "patients", sql, &[], patient_row).await
            }
        }
    }
}

impl PostgresStore {
    /// After bulk inserts that have at least doubled the patients table since this instance
    /// last looked, refreshes its statistics with `ANALYZE`. Statements are prepared once per
    /// connection with generic plans, planned for the table as it was: after a million seeded
    /// patients, a plan made for ten picked a sequential scan and `ViewAppointments` fell from
    /// thousands of replies a second to ten, until autovacuum got round to the table. `ANALYZE`
    /// also makes every connection plan those statements again. Doubling keeps it to a few
    /// dozen runs for any size, each sampling at most 30,000 rows.
    async fn refresh_patient_statistics(&self, inserted: usize) -> StoreResult<()> {
        let inserted = u64::try_from(inserted).unwrap_or(u64::MAX);
        let since = self
            .patients_since_analyze
            .fetch_add(inserted, Ordering::Relaxed)
            .saturating_add(inserted);
        let estimate: f32 = query_opt(
            &self.db,
            "patients",
            "SELECT reltuples FROM pg_class WHERE oid = 'patients'::regclass",
            &[],
            |r| Cols::new(r, "patients").get(0, "reltuples"),
        )
        .await?
        .unwrap_or(0.0);
        // At least a thousand rows before the first refresh: the demo's few writes never run one.
        if (since as f64) < f64::from(estimate).max(1_000.0) {
            return Ok(());
        }
        self.patients_since_analyze.store(0, Ordering::Relaxed);
        self.db
            .write("patients", async |c| {
                c.client.batch_execute("ANALYZE patients").await
            })
            .await
    }
}
