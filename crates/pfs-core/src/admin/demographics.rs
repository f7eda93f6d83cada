//! Patients' contact details on the practice side: reading and setting them, and approving or
//! rejecting the changes patients ask for online when the practice's `demographicsApproval`
//! setting holds them back.

use serde::{Deserialize, Serialize};

use super::{AdminError, ods_code, xml_safe};
use crate::Pfs;
use crate::demographics::{check_address, check_email, check_telephones, contact_write};
use crate::model::*;

/// Longest practice comment on a decision, in characters.
pub const MAX_DECISION_COMMENT_CHARS: usize = 1000;

/// Contact details as the practice sends them: the same fields as stored, checked by the same
/// rules as a patient's change (postcode, UK numbers, e-mail syntax, lengths).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewContactDetails {
    /// The structured address (absent: the patient keeps a one-line address only).
    pub address: Option<PostalAddress>,
    /// Telephone numbers, each with its type `Home`, `Mobile` or `Work`.
    pub telephones: Vec<Telephone>,
    /// E-mail address.
    pub email: Option<String>,
}

impl std::fmt::Debug for NewContactDetails {
    // Contact details identify a person: print their shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewContactDetails")
            .field("has_address", &self.address.is_some())
            .field("telephones", &self.telephones.len())
            .field("has_email", &self.email.is_some())
            .finish()
    }
}

/// A patient's demographics as the practice sees them.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemographicsView {
    /// The patient id.
    pub patient_id: String,
    /// The one-line address.
    pub address: String,
    /// The contact details held.
    pub details: ContactDetails,
    /// The patient's recent changes, newest first.
    pub changes: Vec<DemographicsChangeRecord>,
}

impl std::fmt::Debug for DemographicsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemographicsView")
            .field("patient_id", &self.patient_id)
            .field("details", &self.details)
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

impl Pfs {
    async fn demographics_patient(&self, id: &str) -> Result<Patient, AdminError> {
        self.store
            .patient(id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))
    }

    /// A patient's contact details and recent changes.
    pub async fn patient_demographics(&self, id: &str) -> Result<DemographicsView, AdminError> {
        let patient = self.demographics_patient(id).await?;
        Ok(DemographicsView {
            details: self
                .store
                .contact_details(&patient.id)
                .await?
                .unwrap_or_default(),
            changes: self
                .store
                .demographics_changes(&patient.id, crate::demographics::LISTED_CHANGES)
                .await?,
            address: patient.address,
            patient_id: patient.id,
        })
    }

    /// Replaces a patient's contact details (the one-line address follows the structured one).
    pub async fn set_patient_demographics(
        &self,
        id: &str,
        input: NewContactDetails,
    ) -> Result<DemographicsView, AdminError> {
        let patient = self.demographics_patient(id).await?;
        let address = input
            .address
            .map(|a| {
                check_address(
                    a.house_name_flat.as_deref(),
                    a.street.as_deref(),
                    a.village.as_deref(),
                    a.town.as_deref(),
                    a.county.as_deref(),
                    Some(a.postcode.as_str()),
                )
            })
            .transpose()?;
        let telephones = check_telephones(
            input
                .telephones
                .into_iter()
                .map(|t| (t.number, t.number_type)),
        )?;
        let email = input
            .email
            .filter(|e| !e.trim().is_empty())
            .map(|e| check_email(&e))
            .transpose()?;
        let change = ContactChange {
            address,
            telephones: Some(telephones),
            email: Some(email),
        };
        let write = contact_write(
            &patient,
            &ContactDetails::default(),
            &change,
            self.clock.now(),
        );
        let log = self
            .practice_access(&patient.id, "Changed contact details")
            .await?;
        self.store.set_contact_details(&write, &log).await?;
        self.patient_demographics(&patient.id).await
    }

    /// The changes waiting for the practice's decision, oldest first.
    pub async fn list_pending_demographics_changes(
        &self,
        ods: &str,
    ) -> Result<Vec<DemographicsChangeRecord>, AdminError> {
        let ods = ods_code(ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        Ok(self.store.pending_demographics_changes(&ods).await?)
    }

    /// Approves (the change is made, on top of the details held now) or rejects a change
    /// waiting for the practice, with an optional comment the patient sees, and writes the
    /// patient's access log.
    pub async fn settle_demographics_change(
        &self,
        id: &str,
        approve: bool,
        comment: Option<String>,
    ) -> Result<DemographicsChangeRecord, AdminError> {
        let comment = comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if let Some(c) = &comment {
            xml_safe("comment", c)?;
            if c.chars().count() > MAX_DECISION_COMMENT_CHARS {
                return Err(AdminError::Invalid(format!(
                    "comment is longer than {MAX_DECISION_COMMENT_CHARS} characters"
                )));
            }
        }
        let change = self
            .store
            .demographics_change(id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("demographics change".into()))?;
        if change.status != ChangeStatus::PendingApproval {
            return Err(settled(change.status));
        }
        let patient = self.demographics_patient(&change.patient_id).await?;
        let now = self.clock.now();
        let (status, write, access_type) = if approve {
            let held = self
                .store
                .contact_details(&patient.id)
                .await?
                .unwrap_or_default();
            (
                ChangeStatus::Applied,
                Some(contact_write(&patient, &held, &change.change, now)),
                "Approved contact details change",
            )
        } else {
            (
                ChangeStatus::Rejected,
                None,
                "Rejected contact details change",
            )
        };
        let practice = self.store.practice(&patient.ods).await?;
        let name = practice.map(|p| p.name).unwrap_or_default();
        let log = RecordAccess {
            patient_id: patient.id.clone(),
            at: now,
            accessed_by: if name.is_empty() {
                "Practice staff".to_owned()
            } else {
                name.clone()
            },
            organisation: name,
            access_type: access_type.to_owned(),
            method: "Practice".to_owned(),
        };
        if !self
            .store
            .settle_demographics_change(
                &change.id,
                status,
                now,
                comment.as_deref(),
                write.as_ref(),
                &log,
            )
            .await?
        {
            let now_status = self
                .store
                .demographics_change(&change.id)
                .await?
                .map(|c| c.status)
                .unwrap_or(ChangeStatus::Superseded);
            return Err(settled(now_status));
        }
        self.store
            .demographics_change(&change.id)
            .await?
            .ok_or_else(|| AdminError::NotFound("demographics change".into()))
    }
}

/// The refusal for deciding on a change that is no longer waiting.
fn settled(status: ChangeStatus) -> AdminError {
    AdminError::Conflict(format!(
        "the demographics change is no longer waiting for approval (status {})",
        status.as_str()
    ))
}
