//! The messaging scenarios of `pfs bench`: `message-create` (a message without attachment to
//! the demo practice's team, spread over many patients as bookings are),
//! `message-create-attachment` (the same with one `--attachment-bytes` PDF, 1 MiB by default)
//! and `messages-view` (one patient with `--messages` messages, 200 by default, read again
//! and again).

use anyhow::{Context, Result};
use pfs_client::Client;
use pfs_wire::{Element, Guid, MessageAttachment, MessageRecipientsReply, RecipientKind};

use super::{Booker, Job};

/// The demo practice's team recipient, as `MessageRecipients` lists it to `job`'s patient.
pub(super) async fn team(client: &Client, job: &Job) -> Result<String> {
    let attr = |name: &str| job.template.get(name).unwrap_or_default().to_owned();
    let list = Element::new("MessageRecipients")
        .attr("apiVersion", "1")
        .attr("uuid", Guid::new_v4().to_string())
        .attr("unitId", attr("unitId"))
        .attr("patientId", attr("patientId"))
        .attr("onlineUserId", attr("onlineUserId"));
    let reply: MessageRecipientsReply = client
        .raw("MessageRecipients", job.suid.as_deref(), list.to_document())
        .await?
        .decode()?;
    reply
        .items
        .into_iter()
        .find(|i| i.kind == RecipientKind::UnitRecipient)
        .map(|i| i.id)
        .context("the practice has no team recipient (is this the demo practice?)")
}

/// A PDF of `bytes` bytes (a header, then filler).
pub(super) fn bench_pdf(bytes: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(bytes.max(pdf.len()), b'x');
    pdf
}

/// Worker `i`'s job: messages to `team` from its share of the patients (`bookers`), each with
/// `attachment` when given.
pub(super) fn create_job(
    ods: &str,
    bookers: &[Booker],
    i: usize,
    connections: usize,
    team: &str,
    attachment: Option<&MessageAttachment>,
) -> Job {
    let first = &bookers[i % bookers.len()];
    let mut template = Element::new("MessageCreate")
        .attr("apiVersion", "1")
        .attr("uuid", "")
        .attr("unitId", ods)
        .attr("patientId", first.patient_id.clone())
        .attr("onlineUserId", first.patient_id.clone())
        .attr("unitRecipientId", team)
        .attr(
            "message",
            "Could you call me back about my results, please?",
        );
    if let Some(a) = attachment {
        template = template.child(
            Element::new("Attachment")
                .attr("fileName", a.file_name.clone())
                .attr("fileType", a.file_type.clone())
                .text(a.content.clone()),
        );
    }
    let mut job = Job::new("MessageCreate", Some(first.suid.clone()), template);
    job.bookers = bookers
        .iter()
        .skip(i % bookers.len())
        .step_by(connections.max(1))
        .cloned()
        .collect();
    if job.bookers.is_empty() {
        job.bookers.push(first.clone());
    }
    job
}

/// Makes sure `job`'s patient has at least `n` messages, sending the missing ones.
pub(super) async fn give_messages(client: &Client, job: &Job, n: usize, team: &str) -> Result<()> {
    let held = client
        .raw(job.message_type, job.suid.as_deref(), job.body())
        .await?
        .decode::<pfs_wire::MessagesViewReply>()?
        .messages
        .len();
    if held > n {
        eprintln!("the patient holds {held} messages, more than --messages {n}");
    } else {
        eprintln!("the patient holds {n} messages ({} sent now)", n - held);
    }
    let attr = |name: &str| job.template.get(name).unwrap_or_default().to_owned();
    for k in held..n {
        let m = Element::new("MessageCreate")
            .attr("apiVersion", "1")
            .attr("uuid", Guid::new_v4().to_string())
            .attr("unitId", attr("unitId"))
            .attr("patientId", attr("patientId"))
            .attr("onlineUserId", attr("onlineUserId"))
            .attr("unitRecipientId", team)
            .attr(
                "message",
                format!("Bench message {k}: a question for the practice."),
            );
        let reply = client
            .raw("MessageCreate", job.suid.as_deref(), m.to_document())
            .await?;
        anyhow::ensure!(
            !reply.is_error(),
            "sending a bench message failed: {}",
            reply.body
        );
    }
    Ok(())
}
