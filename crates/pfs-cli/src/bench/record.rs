//! `pfs bench patient-record`: `RequestPatientRecord` of a patient given a large record (300
//! events and 1,000 items by default) through the admin API; `pfs bench binary-data`:
//! `RequestBinaryData` of one document (1 MiB by default) uploaded through the admin API.

use anyhow::{Context, Result};
use serde_json::json;

use super::{Args, Job, set};

/// Adds `events` events holding `items` items between them to the job's patient.
pub(super) async fn give_record(a: &Args, job: &Job) -> Result<()> {
    let patient = job
        .template
        .get("patientId")
        .context("no patient")?
        .to_owned();
    let events = a.record_events.max(1);
    eprintln!(
        "adding {events} events with {} items to the bench patient's record",
        a.record_items
    );
    for e in 0..events {
        // Items spread evenly; the first events take the remainder.
        let n = a.record_items / events + usize::from(e < a.record_items % events);
        let items: Vec<_> = (0..n.max(1))
            .map(|i| {
                let kind = ["Consultation", "Problem", "Medication", "Note"][i % 4];
                json!({
                    "type": kind,
                    "details": format!("Bench entry {e}.{i}: reviewed, plan unchanged.\nFollow up as needed."),
                    "snomedCode": (i % 2 == 1).then_some("38341003"),
                })
            })
            .collect();
        crate::admin::request(
            &a.data_dir,
            "POST",
            &format!("/api/patients/{patient}/record/events"),
            Some(json!({
                "at": "2025-01-01T09:00:00Z",
                "doneBy": "Dr Bench",
                "location": "Bench Surgery",
                "items": items,
            })),
        )
        .await
        .context("adding a bench record event")?;
    }
    Ok(())
}

/// Uploads a document of `--document-bytes` bytes for the jobs' patient; every job fetches it.
pub(super) async fn give_document(a: &Args, jobs: &mut [Job]) -> Result<()> {
    let first = jobs.first().context("no job")?;
    let patient = first
        .template
        .get("patientId")
        .context("no patient")?
        .to_owned();
    // Bytes that do not compress, as a scan's would not.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..a.document_bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let doc = crate::admin::request_bytes(
        &a.data_dir,
        "POST",
        &format!(
            "/api/patients/{patient}/documents?fileName=bench-scan.pdf&doneBy=Dr%20Bench&location=Bench%20Surgery"
        ),
        bytes,
    )
    .await
    .context("uploading the bench document")?;
    let id = doc["binaryDataId"]
        .as_str()
        .context("the upload returned no binaryDataId")?
        .to_owned();
    eprintln!("document of {} bytes uploaded", a.document_bytes);
    for job in jobs {
        set(&mut job.template, "binaryDataId", id.clone());
    }
    Ok(())
}
