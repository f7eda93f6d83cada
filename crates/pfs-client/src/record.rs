//! Record calls of a [`Session`]: the overview, the record, test results, documents (and
//! message attachments) by `binaryDataId`, and the access log.

use chrono::NaiveDateTime;
use pfs_wire::{
    ListRecordAccesses, ListRecordAccessesReply, RequestBinaryData, RequestPatientRecord,
    RequestPatientRecordReply, TestResultsQuery, TestResultsView, TestResultsViewReply,
    ViewPatientOverview, ViewPatientOverviewReply,
};

use crate::error::{Error, Result};
use crate::session::Session;

/// A file fetched with [`Session::request_binary_data`], its pages decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct BinaryFile {
    /// `BinaryData/@fileType`, e.g. `pdf`, `png`.
    pub file_type: String,
    /// Each page's bytes; a PDF or a photo is one page.
    pub pages: Vec<Vec<u8>>,
}

impl std::fmt::Debug for BinaryFile {
    // A file is patient data: its shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryFile")
            .field("file_type", &self.file_type)
            .field(
                "pages",
                &self.pages.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Session {
    /// `ViewPatientOverview`: allergies, drug sensitivities and medication.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn view_patient_overview(&self) -> Result<ViewPatientOverviewReply> {
        let req = ViewPatientOverview {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `RequestPatientRecord`: the record's events, newest first.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn request_patient_record(&self) -> Result<RequestPatientRecordReply> {
        let req = RequestPatientRecord {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `TestResultsView`, list form: the results reported from `start` to `end` (UK wall-clock
    /// times, both included), newest first.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9033`, `6`.
    pub async fn test_results(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
    ) -> Result<TestResultsViewReply> {
        self.test_results_query(TestResultsQuery::Window { start, end })
            .await
    }

    /// `TestResultsView`, detail form: one result in full; its `Item`'s text is an HTML
    /// fragment.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9032`, `6`.
    pub async fn test_result(&self, test_result_id: &str) -> Result<TestResultsViewReply> {
        self.test_results_query(TestResultsQuery::Detail(test_result_id.to_owned()))
            .await
    }

    async fn test_results_query(&self, query: TestResultsQuery) -> Result<TestResultsViewReply> {
        let req = TestResultsView {
            header: self.header(),
            scope: self.scope(),
            query,
        };
        self.request(&req).await
    }

    /// `RequestBinaryData`: a document of the record or an attachment of a message, its pages
    /// decoded from base64.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9031`, `45`, `24`, `6`.
    pub async fn request_binary_data(&self, binary_data_id: &str) -> Result<BinaryFile> {
        let req = RequestBinaryData {
            header: self.header(),
            scope: self.scope(),
            binary_data_id: binary_data_id.to_owned(),
        };
        let reply = self.request(&req).await?;
        let pages = reply
            .page_bytes()
            .map_err(|e| Error::UnexpectedReply(e.to_string()))?;
        Ok(BinaryFile {
            file_type: reply.file_type,
            pages,
        })
    }

    /// `ListRecordAccesses`: who used the record, newest first, optionally from `start` and up
    /// to `end` (UK wall-clock times).
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9033`, `6`.
    pub async fn list_record_accesses(
        &self,
        start: Option<NaiveDateTime>,
        end: Option<NaiveDateTime>,
    ) -> Result<ListRecordAccessesReply> {
        let req = ListRecordAccesses {
            header: self.header(),
            scope: self.scope(),
            start_date: start,
            end_date: end,
        };
        self.request(&req).await
    }
}
