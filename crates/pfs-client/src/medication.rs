//! Medication calls of a [`Session`]: the medication lists, ordering, the request history and
//! amending or cancelling a request.
//!
//! An order is accepted only after this session fetched the selected patient's list
//! ([`Session::list_repeat_medication`] or [`Session::list_acute_medication`]) and while the
//! practice has not changed it since; refusals are [`crate::Error::Pfs`] with the codes of
//! docs/error-codes.md (`9013`–`9018`).

use chrono::NaiveDateTime;
use pfs_wire::{
    AmendAction, AmendPrescriptionRequest, AmendPrescriptionRequestReply, CourseType,
    GetPrescriptionRequests, GetPrescriptionRequestsReply, ListAcuteMedication,
    ListAcuteMedicationReply, ListRepeatMedication, ListRepeatMedicationReply, MedicationItem,
    RequestMedication, RequestMedicationReply,
};

use crate::error::Result;
use crate::session::Session;

/// The items of an order: each `(drugId, type)` once.
fn items(courses: &[(&str, CourseType)]) -> Vec<MedicationItem> {
    courses
        .iter()
        .map(|(id, course_type)| MedicationItem {
            drug_id: (*id).to_owned(),
            course_type: *course_type,
        })
        .collect()
}

impl Session {
    /// `ListRepeatMedication`: the selected patient's current repeat courses, by drug name.
    /// Fetching it allows this session to order.
    ///
    /// Idempotent: retried after transient failures under the retry policy. (it records that this
    /// session fetched the list) Errors (besides `3` and `9010`): `6`.
    pub async fn list_repeat_medication(&self) -> Result<ListRepeatMedicationReply> {
        let req = ListRepeatMedication {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `ListAcuteMedication`: the selected patient's current acute courses. Fetching it also
    /// allows this session to order.
    ///
    /// Idempotent: retried after transient failures under the retry policy. (it records that this
    /// session fetched the list) Errors (besides `3` and `9010`): `6`.
    pub async fn list_acute_medication(&self) -> Result<ListAcuteMedicationReply> {
        let req = ListAcuteMedication {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `RequestMedication`: orders `courses` (`(drugId, type)` pairs from the last list, at
    /// least one, each once) for the selected patient, with an optional note to the practice.
    /// All or nothing. The reply's `request_id` names the new request.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9013` (list not
    /// fetched in this session), `9014` (list changed since), `9015` (unknown course), `9017`
    /// (already requested), `9016` (not requestable), `9018` (too many), `9011` (notes), `6`.
    pub async fn request_medication(
        &self,
        courses: &[(&str, CourseType)],
        notes: Option<&str>,
    ) -> Result<RequestMedicationReply> {
        let req = RequestMedication {
            header: self.header(),
            scope: self.scope(),
            notes: notes.map(str::to_owned),
            medications: items(courses),
        };
        self.request(&req).await
    }

    /// `GetPrescriptionRequests`: the selected patient's requests made between `from` and
    /// `to` (UK wall-clock times; the server's defaults are the last 180 days and now),
    /// newest first.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn get_prescription_requests(
        &self,
        from: Option<NaiveDateTime>,
        to: Option<NaiveDateTime>,
    ) -> Result<GetPrescriptionRequestsReply> {
        let req = GetPrescriptionRequests {
            header: self.header(),
            scope: self.scope(),
            start_date: from,
            end_date: to,
        };
        self.request(&req).await
    }

    /// `AmendPrescriptionRequest` with `action="Cancel"`: withdraws a request that is still
    /// `Requested`.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9019` (no such
    /// request), `9020` (already issued, rejected or cancelled), `6`.
    pub async fn cancel_prescription_request(
        &self,
        request_id: &str,
    ) -> Result<AmendPrescriptionRequestReply> {
        let req = AmendPrescriptionRequest {
            header: self.header(),
            scope: self.scope(),
            request_id: request_id.to_owned(),
            action: AmendAction::Cancel,
            notes: None,
            medications: Vec::new(),
        };
        self.request(&req).await
    }

    /// `AmendPrescriptionRequest` with `action="Amend"`: replaces a `Requested` request's
    /// courses with `courses` and its note with `notes`, under the same rules as an order.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): those of
    /// [`request_medication`](Self::request_medication), `9019`, `9020`.
    pub async fn amend_prescription_request(
        &self,
        request_id: &str,
        courses: &[(&str, CourseType)],
        notes: Option<&str>,
    ) -> Result<AmendPrescriptionRequestReply> {
        let req = AmendPrescriptionRequest {
            header: self.header(),
            scope: self.scope(),
            request_id: request_id.to_owned(),
            action: AmendAction::Amend,
            notes: notes.map(str::to_owned),
            medications: items(courses),
        };
        self.request(&req).await
    }
}
