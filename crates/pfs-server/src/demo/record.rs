//! The demo patients' records: a few events (consultations, a problem, an immunisation, an
//! allergy and a drug sensitivity), a hidden note, test results over the last months with one
//! in the last 60 days, and two documents whose bytes are real files (a clinic letter as a
//! PDF, a scan as a PNG). All synthetic.

use anyhow::{Context, Result};
use chrono::Duration;
use pfs_core::Pfs;
use pfs_core::admin::{GrantChange, NewDocument, NewRecordEvent, NewRecordItem, NewTestResult};
use pfs_core::model::TestValue;

use super::files::{pdf, png};

/// Long-term problems, one per patient in turn: (details, SNOMED CT).
const PROBLEMS: &[(&str, &str)] = &[
    ("Essential hypertension", "59621000"),
    ("Asthma", "195967001"),
    ("Type 2 diabetes mellitus", "44054006"),
    ("Hypothyroidism", "40930008"),
    ("Osteoarthritis of knee", "239873007"),
];

fn item(item_type: &str, details: &str, snomed: Option<&str>) -> NewRecordItem {
    NewRecordItem {
        item_type: item_type.into(),
        details: details.into(),
        snomed_code: snomed.map(Into::into),
        visible: true,
    }
}

fn value(name: &str, value: &str, units: &str, range: &str, abnormal: bool) -> TestValue {
    TestValue {
        name: name.into(),
        value: value.into(),
        units: Some(units.into()),
        reference_range: Some(range.into()),
        abnormal,
    }
}

/// Seeds the record of patient `patient_id` (`first` and `last` name it in the letter);
/// `person` varies the problem.
pub async fn seed_record(
    pfs: &Pfs,
    patient_id: &str,
    person: usize,
    practice: &str,
    name: &str,
) -> Result<()> {
    let now = pfs.clock().now();
    let days = Duration::days;
    let (problem, code) = PROBLEMS[person % PROBLEMS.len()];
    let events = [
        NewRecordEvent {
            at: Some(now - days(400)),
            done_by: "Dr A Jones".into(),
            location: practice.into(),
            items: vec![
                item(
                    "Consultation",
                    "Seen for review. Feeling well, no new symptoms.\nPlan: continue current treatment, review in 12 months.",
                    None,
                ),
                item("Problem", problem, Some(code)),
                NewRecordItem {
                    visible: false,
                    ..item(
                        "Note",
                        "Third-party information: not for online access.",
                        None,
                    )
                },
            ],
        },
        NewRecordEvent {
            at: Some(now - days(250)),
            done_by: "Nurse B Patel".into(),
            location: practice.into(),
            items: vec![
                item("Allergy", "Penicillin - rash", Some("91936005")),
                item(
                    "Drug sensitivity",
                    "Ibuprofen - indigestion",
                    Some("293619005"),
                ),
            ],
        },
        NewRecordEvent {
            at: Some(now - days(90)),
            done_by: "Nurse B Patel".into(),
            location: practice.into(),
            items: vec![item(
                "Immunisation",
                "Seasonal influenza vaccination - left deltoid",
                Some("1037311000000106"),
            )],
        },
        NewRecordEvent {
            at: Some(now - days(30)),
            done_by: "Dr A Jones".into(),
            location: practice.into(),
            items: vec![
                item(
                    "Consultation",
                    "Telephone consultation: blood test results discussed.",
                    None,
                ),
                item("Test request", "Full blood count", Some("26604007")),
            ],
        },
    ];
    for event in events {
        pfs.add_record_event(patient_id, event)
            .await
            .context("seeding a demo record event")?;
    }

    let letter = pdf(&[
        "Leeds Teaching Hospitals - Outpatients (synthetic demo letter)",
        "",
        &format!("Re: {name}"),
        "",
        "Dear Dr Jones,",
        "I reviewed your patient in clinic today. Examination was normal.",
        "No change to treatment is needed. I have not arranged follow-up.",
        "",
        "Yours sincerely,",
        "Dr C Okafor, Consultant",
    ]);
    pfs.add_document(
        patient_id,
        NewDocument {
            file_name: "clinic-letter.pdf".into(),
            kind: Some("Letter".into()),
            comments: Some("Outpatient clinic letter".into()),
            event_id: None,
            done_by: Some("Dr C Okafor".into()),
            location: Some("Leeds General Infirmary".into()),
            at: Some(now - days(45)),
            uploading: false,
            visible: true,
        },
        letter,
    )
    .await
    .context("seeding a demo letter")?;
    // A greyscale "scan": soft bands over a gradient.
    let scan = png(160, 120, |x, y| {
        let shade = (40 + (x + y) / 2 + if (x / 20) % 2 == 0 { 30 } else { 0 }).min(255) as u8;
        [shade, shade, shade]
    });
    pfs.add_document(
        patient_id,
        NewDocument {
            file_name: "wrist-xray.png".into(),
            kind: Some("Attachment".into()),
            comments: Some("left wrist".into()),
            event_id: None,
            done_by: Some("Radiology".into()),
            location: Some("Leeds General Infirmary".into()),
            at: Some(now - days(120)),
            uploading: false,
            visible: true,
        },
        scan,
    )
    .await
    .context("seeding a demo scan")?;

    let results = [
        NewTestResult {
            at: Some(now - days(28)),
            category: Some("Pathology".into()),
            name: "Full blood count".into(),
            values: vec![
                value("Haemoglobin", "131", "g/L", "115 - 165", false),
                value("White cell count", "11.8", "10*9/L", "4.0 - 11.0", true),
                value("Platelets", "250", "10*9/L", "150 - 400", false),
            ],
            comment: Some("White cell count slightly raised; repeat in 3 months.".into()),
            visible: true,
        },
        NewTestResult {
            at: Some(now - days(100)),
            category: Some("Pathology".into()),
            name: "Urea and electrolytes".into(),
            values: vec![
                value("Sodium", "139", "mmol/L", "133 - 146", false),
                value("Potassium", "4.2", "mmol/L", "3.5 - 5.3", false),
                value("Creatinine", "78", "umol/L", "45 - 84", false),
            ],
            comment: None,
            visible: true,
        },
        NewTestResult {
            at: Some(now - days(150)),
            category: Some("Pathology".into()),
            name: "HbA1c".into(),
            values: vec![value("HbA1c", "41", "mmol/mol", "20 - 41", false)],
            comment: Some("Normal.".into()),
            visible: true,
        },
    ];
    for r in results {
        pfs.add_test_result(patient_id, r)
            .await
            .context("seeding a demo test result")?;
    }
    Ok(())
}

/// What a carer sees of the record of the person they act for: the coded record and test
/// results, no documents (Ada for her son Ben; Hana for her father keeps the default, the
/// overview only).
pub async fn seed_proxy_grant(pfs: &Pfs, patient_id: &str, carer_id: &str) -> Result<()> {
    pfs.set_record_grant(
        patient_id,
        carer_id,
        Some(GrantChange {
            level: "Coded".into(),
            documents: false,
            test_results: true,
        }),
    )
    .await
    .context("seeding a demo record grant")?;
    Ok(())
}
