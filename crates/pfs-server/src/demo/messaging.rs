//! The demo practice's messaging: two recipients patients may write to (a doctor and the
//! reception team), and conversations for Ada and Carl in which the practice's reply carries a
//! small PDF letter, generated here.

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pfs_core::Pfs;
use pfs_core::admin::{NewMessageRecipient, PracticeReply, ReplyAttachment};

use super::DEMO_ODS;

/// (person index into `PEOPLE`, whom they write to: 0 the doctor, 1 the team, their message,
/// the reply, the attached letter's file name and its lines).
type Conversation = (
    usize,
    usize,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const CONVERSATIONS: &[Conversation] = &[
    (
        0,
        0,
        "Could I have a copy of my last blood test results, please?",
        "Your results are all within the normal range. The letter is attached.",
        "blood-test-results.pdf",
        &[
            "Riverside Surgery",
            "Blood test results",
            "Full blood count: normal",
            "Kidney function: normal",
            "No action needed.",
        ],
    ),
    (
        2,
        1,
        "Do you have a leaflet about the flu vaccination clinic?",
        "Yes, here it is. You can book a clinic slot online.",
        "flu-clinic.pdf",
        &[
            "Riverside Surgery",
            "Flu vaccination clinic",
            "Saturdays in October, 9am to 1pm.",
            "Book online or call reception.",
        ],
    ),
];

/// Seeds the recipients and the conversations (`ids` in the order of `PEOPLE`).
pub(super) async fn seed_messaging(pfs: &Pfs, ids: &[String]) -> Result<()> {
    let mut recipients = Vec::new();
    for (kind, name) in [
        ("Recipient", "Dr Amelia Jones"),
        ("UnitRecipient", "Reception team"),
    ] {
        let r = pfs
            .add_message_recipient(
                DEMO_ODS,
                NewMessageRecipient {
                    kind: kind.into(),
                    name: name.into(),
                    enabled: Some(true),
                },
            )
            .await
            .context("seeding a demo message recipient")?;
        recipients.push(r.id);
    }
    for &(person, to, question, answer, file_name, lines) in CONVERSATIONS {
        let (Some(patient), Some(recipient)) = (ids.get(person), recipients.get(to)) else {
            continue;
        };
        let first = pfs
            .add_patient_message(patient, recipient, question)
            .await
            .context("seeding a demo message")?;
        pfs.reply_to_conversation(
            DEMO_ODS,
            &first.conversation_id,
            PracticeReply {
                from_recipient_id: recipient.clone(),
                text: answer.into(),
                attachments: vec![ReplyAttachment {
                    file_name: file_name.into(),
                    file_type: "pdf".into(),
                    content: STANDARD.encode(letter_pdf(lines)),
                }],
            },
        )
        .await
        .context("seeding a demo reply")?;
    }
    Ok(())
}

/// A one-page A4 PDF with `lines` of Helvetica text, the first as a heading: written object by
/// object, with the cross-reference table's byte offsets counted as it goes.
pub fn letter_pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 18 Tf 72 770 Td 22 TL");
    for (i, line) in lines.iter().enumerate() {
        let escaped: String = line
            .chars()
            .filter(char::is_ascii)
            .flat_map(|c| match c {
                '(' | ')' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        if i == 1 {
            text.push_str(" /F1 12 Tf");
        }
        text.push_str(&format!(" ({escaped}) '"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, body) in (1..).zip(&objects) {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{n} 0 obj\n{body}\nendobj\n").as_bytes());
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        table.push_str(&format!("{o:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::letter_pdf;

    #[test]
    fn the_letter_is_a_pdf_with_a_correct_cross_reference_table() {
        let pdf = letter_pdf(&["Heading (draft)", "Line"]);
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Heading \\(draft\\)) '"));
        // Every offset in the table points at its object.
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[xref_at..].starts_with("xref\n0 6\n"));
        for (n, line) in text[xref_at..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{} 0 obj", n + 1)));
        }
    }
}
