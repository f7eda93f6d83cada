//! Patients.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{AdminError, non_empty, ods_code, supported_date, xml_safe, xml_safe_opt};
use crate::model::*;
use crate::secrets::{Attempt, with_fresh_id};
use crate::{Pfs, StoreError, nhs};

/// A new patient.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPatient {
    /// The practice.
    pub ods: String,
    /// A valid 10-digit NHS number.
    pub nhs_number: String,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Given names.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: NaiveDate,
    /// Gender text, e.g. `Female`.
    pub gender: String,
    /// One-line address.
    pub address: String,
}

impl Pfs {
    /// Adds a patient with a new patient id.
    pub async fn add_patient(&self, p: NewPatient) -> Result<Patient, AdminError> {
        let nhs_number = nhs::normalise(&p.nhs_number);
        if !nhs::is_valid(&nhs_number) {
            return Err(AdminError::Invalid(
                "nhsNumber must be ten digits with a valid check digit".into(),
            ));
        }
        non_empty("firstName", &p.first_name)?;
        non_empty("lastName", &p.last_name)?;
        non_empty("address", &p.address)?;
        xml_safe_opt("title", p.title.as_deref())?;
        xml_safe("firstName", &p.first_name)?;
        xml_safe("lastName", &p.last_name)?;
        xml_safe("gender", &p.gender)?;
        xml_safe("address", &p.address)?;
        supported_date("dateOfBirth", p.date_of_birth)?;
        if p.date_of_birth > crate::uktime::uk_date(self.clock.now()) {
            return Err(AdminError::Invalid("dateOfBirth is in the future".into()));
        }
        let ods = ods_code(&p.ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        let new = Patient {
            id: String::new(),
            ods,
            nhs_number,
            title: p.title.clone().filter(|t| !t.trim().is_empty()),
            first_name: p.first_name.trim().to_owned(),
            last_name: p.last_name.trim().to_owned(),
            date_of_birth: p.date_of_birth,
            gender: p.gender.trim().to_owned(),
            address: p.address.trim().to_owned(),
        };
        let added = with_fresh_id(10, |id| {
            let patient = Patient { id, ..new.clone() };
            async move {
                match self.store.insert_patient(&patient).await {
                    Ok(()) => Ok(Attempt::Done(patient)),
                    Err(StoreError::Conflict(k)) if k.contains("nhs") => Err(AdminError::Conflict(
                        "a patient with that NHS number".into(),
                    )),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await?;
        added.ok_or_else(|| AdminError::Store("could not allocate a patient id".into()))
    }

    /// Patients of one practice, or all.
    pub async fn list_patients(&self, ods: Option<&str>) -> Result<Vec<Patient>, AdminError> {
        let ods = ods.map(ods_code);
        Ok(self.store.list_patients(ods.as_deref()).await?)
    }
}
