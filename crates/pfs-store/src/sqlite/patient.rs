//! Patients and the patient context read: [`PatientStore`] and the patient row mapper.

use async_trait::async_trait;
use pfs_core::model::{Patient, PatientContext};
use pfs_core::store::{PatientStore, StoreResult};
use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use super::practice::practice_row;
use super::service::{patient_switch_row, practice_switch_row};
use super::sql::{Cols, date_text, execute, map_err, query_all, query_opt};

pub(super) fn patient_row(row: &Row<'_>) -> StoreResult<Patient> {
    let c = Cols::new(row, "patients");
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

/// The patient, their practice and the service switches that apply to them (see
/// [`PatientContext`]).
pub(super) fn read_patient_context(
    c: &Connection,
    patient_id: &str,
) -> StoreResult<Option<PatientContext>> {
    let Some(patient) = query_opt(
        c,
        "patients",
        "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                address
         FROM patients WHERE id = ?1",
        [patient_id],
        patient_row,
    )?
    else {
        return Ok(None);
    };
    let Some(practice) = query_opt(
        c,
        "practices",
        "SELECT ods, name, address, settings FROM practices WHERE ods = ?1",
        [&patient.ods],
        practice_row,
    )?
    else {
        return Ok(None);
    };
    let practice_switches = query_all(
        c,
        "practice_services",
        "SELECT service, enabled FROM practice_services WHERE ods = ?1 ORDER BY service",
        [&practice.ods],
        practice_switch_row,
    )?;
    let patient_switches = query_all(
        c,
        "patient_services",
        "SELECT service, enabled FROM patient_services WHERE patient_id = ?1
         ORDER BY service",
        [&patient.id],
        patient_switch_row,
    )?;
    Ok(Some(PatientContext {
        patient,
        practice,
        practice_switches,
        patient_switches,
    }))
}

impl SqliteStore {
    /// A patient's context: the copy kept in [`super::hot`] when it is current, else read in
    /// `c`'s transaction and kept, tagged with `read_at` (the write generation taken before
    /// that transaction began).
    pub(super) fn patient_context_in(
        &self,
        c: &Connection,
        patient_id: &str,
        read_at: u64,
    ) -> StoreResult<Option<PatientContext>> {
        let hot = &self.inner.hot;
        if let Some(context) = hot.patient(patient_id, read_at) {
            return Ok(context);
        }
        let context = read_patient_context(c, patient_id)?;
        hot.keep_patient(patient_id, read_at, &context);
        Ok(context)
    }
}

#[async_trait]
impl PatientStore for SqliteStore {
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()> {
        self.write(|c| insert(c, patient)).await
    }

    async fn insert_patients(&self, patients: &[Patient]) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err("patients"))?;
            for patient in patients {
                insert(&tx, patient)?;
            }
            tx.commit().map_err(map_err("patients"))
        })
        .await
    }

    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>> {
        self.read(|c| {
            query_opt(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                        address
                 FROM patients WHERE id = ?1",
                [id],
                patient_row,
            )
        })
    }

    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>> {
        self.read(|c| {
            query_opt(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth, gender,
                        address
                 FROM patients WHERE nhs_number = ?1",
                [nhs_number],
                patient_row,
            )
        })
    }

    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>> {
        self.read(|c| match ods {
            Some(ods) => query_all(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                        gender, address
                 FROM patients WHERE ods = ?1 ORDER BY id",
                [ods],
                patient_row,
            ),
            None => query_all(
                c,
                "patients",
                "SELECT id, ods, nhs_number, title, first_name, last_name, date_of_birth,
                        gender, address
                 FROM patients ORDER BY id",
                [],
                patient_row,
            ),
        })
    }

    async fn patient_context(&self, patient_id: &str) -> StoreResult<Option<PatientContext>> {
        let read_at = self.inner.hot.generation();
        if let Some(context) = self.inner.hot.patient(patient_id, read_at) {
            return Ok(context);
        }
        // One snapshot for the four reads.
        let context = self.snapshot("patients", |c| read_patient_context(c, patient_id))?;
        self.inner.hot.keep_patient(patient_id, read_at, &context);
        Ok(context)
    }
}

fn insert(c: &Connection, patient: &Patient) -> StoreResult<()> {
    execute(
        c,
        "patients",
        "INSERT INTO patients (id, ods, nhs_number, title, first_name, last_name,
                               date_of_birth, gender, address)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            patient.id,
            patient.ods,
            patient.nhs_number,
            patient.title,
            patient.first_name,
            patient.last_name,
            date_text(patient.date_of_birth),
            patient.gender,
            patient.address,
        ],
    )?;
    Ok(())
}
