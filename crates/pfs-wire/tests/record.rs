//! Golden tests of the record messages (wire reference §2.13–2.16, B.9).

use chrono::NaiveDateTime;
use pfs_wire::{
    EventItem, Guid, ListRecordAccessesReply, Markup, PatientScope, RecordAccessEntry, RecordEntry,
    RecordEvent, Request, RequestPatientRecordReply, TestResultsQuery, TestResultsViewReply,
    ViewPatientOverviewReply, WireMessage,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";
const ECHO: &str =
    r#"patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93""#;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn scope() -> Option<PatientScope> {
    Some(PatientScope {
        patient_id: "9000001".into(),
        online_user_id: "9000001".into(),
    })
}

fn uuid() -> Option<Guid> {
    Some(UUID.parse().unwrap())
}

#[track_caller]
fn golden<T: WireMessage + PartialEq + std::fmt::Debug>(value: &T, expected: &str) {
    let encoded = value.encode();
    assert_eq!(encoded, format!("{DECL}{expected}"));
    assert!(!encoded.contains("errorCode"));
    assert_eq!(&T::decode(encoded.as_bytes()).unwrap(), value);
}

fn entry(id: &str, description: &str, date: &str, text: &str) -> RecordEntry {
    RecordEntry {
        id: id.into(),
        description: description.into(),
        date: t(date),
        text: text.into(),
    }
}

#[test]
fn view_patient_overview_reply_writes_all_five_sections() {
    golden(
        &ViewPatientOverviewReply {
            scope: scope(),
            uuid: uuid(),
            allergies: vec![entry("1", "Allergy", "2023-08-01 00:00:00", "Hay fever")],
            drug_sensitivities: vec![entry(
                "2",
                "Sensitivity",
                "2019-03-10 00:00:00",
                "Penicillin",
            )],
            drugs: vec![],
            current_repeats: vec![entry(
                "4",
                "Repeat",
                "2024-01-15 00:00:00",
                "Amlodipine 5mg tablets",
            )],
            past_repeats: vec![],
        },
        &format!(
            "<ViewPatientOverviewReply {ECHO}>{}{}{}{}{}</ViewPatientOverviewReply>",
            r#"<Allergies><Item id="1" description="Allergy" date="2023-08-01T00:00:00.0Z">Hay fever</Item></Allergies>"#,
            r#"<DrugSensitivities><Item id="2" description="Sensitivity" date="2019-03-10T00:00:00.0Z">Penicillin</Item></DrugSensitivities>"#,
            "<Drugs/>",
            r#"<CurrentRepeats><Item id="4" description="Repeat" date="2024-01-15T00:00:00.0Z">Amlodipine 5mg tablets</Item></CurrentRepeats>"#,
            "<PastRepeats/>",
        ),
    );
    // Sections a server leaves out read as empty.
    let bare = ViewPatientOverviewReply::decode(b"<ViewPatientOverviewReply/>").unwrap();
    assert_eq!(bare, ViewPatientOverviewReply::default());
}

fn record_events() -> Vec<RecordEvent> {
    let details = "\tBP 120/80 & <normal>\r\nReview in 6 months \u{1F600} caf\u{e9} ";
    vec![RecordEvent {
        date: t("2023-09-12 10:30:00"),
        done_by: "Dr A Jones".into(),
        location: "Riverside Surgery".into(),
        items: vec![
            EventItem {
                item_type: "Note".into(),
                details: details.into(),
                binary_data_id: None,
            },
            EventItem {
                item_type: "Attachment".into(),
                details: "JPG: wrist-xray.jpg - left wrist".into(),
                binary_data_id: Some("550000000123".into()),
            },
        ],
    }]
}

fn record_reply_body() -> String {
    format!(
        "<RequestPatientRecordReply {ECHO}>{}{}{}</Event></RequestPatientRecordReply>",
        r#"<Event date="2023-09-12T10:30:00.0Z" doneBy="Dr A Jones" location="Riverside Surgery">"#,
        "<Item type=\"Note\" details=\"&#9;BP 120/80 &amp; &lt;normal&gt;&#13;&#10;Review in 6 months \u{1F600} caf\u{e9} \"/>",
        r#"<Item type="Attachment" details="JPG: wrist-xray.jpg - left wrist" binaryDataId="550000000123"/>"#,
    )
}

#[test]
fn request_patient_record_reply_keeps_text_as_entered() {
    golden(
        &RequestPatientRecordReply {
            scope: scope(),
            uuid: uuid(),
            events: record_events(),
            encoded_events: Markup::default(),
        },
        &record_reply_body(),
    );
}

/// Events encoded once and kept (the server's record cache) are written exactly as the same
/// events would be, and decode into `events`.
#[test]
fn encoded_events_are_written_as_the_events_would_be() {
    let reply = RequestPatientRecordReply {
        scope: scope(),
        uuid: uuid(),
        events: Vec::new(),
        encoded_events: RecordEvent::encode_all(record_events()),
    };
    let encoded = reply.encode();
    assert_eq!(encoded, format!("{DECL}{}", record_reply_body()));
    assert_eq!(
        RequestPatientRecordReply::decode(encoded.as_bytes()).unwrap(),
        RequestPatientRecordReply {
            events: record_events(),
            encoded_events: Markup::default(),
            ..reply
        }
    );
    // No events at all: an empty root, as before.
    let empty = RequestPatientRecordReply {
        encoded_events: RecordEvent::encode_all(Vec::new()),
        ..Default::default()
    };
    assert_eq!(
        empty.encode(),
        format!("{DECL}<RequestPatientRecordReply/>")
    );
}

#[test]
fn test_results_view_reply_and_both_request_forms() {
    golden(
        &TestResultsViewReply {
            scope: scope(),
            uuid: uuid(),
            items: vec![entry(
                "R-0042",
                "Pathology",
                "2024-05-20 00:00:00",
                "<table><tr><td>Haemoglobin</td></tr></table>",
            )],
        },
        &format!(
            "<TestResultsViewReply {ECHO}>{}</TestResultsViewReply>",
            r#"<Item id="R-0042" description="Pathology" date="2024-05-20T00:00:00.0Z">&lt;table&gt;&lt;tr&gt;&lt;td&gt;Haemoglobin&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;</Item>"#
        ),
    );

    let detail = format!(
        r#"<TestResultsView apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000001" onlineUserId="9000001" testResultId="R-0042"/>"#
    );
    let Request::TestResultsView(m) =
        Request::decode("TestResultsView", detail.as_bytes()).unwrap()
    else {
        panic!("decoded as another message")
    };
    assert_eq!(m.query, TestResultsQuery::Detail("R-0042".into()));
    assert_eq!(m.encode(), format!("{DECL}{detail}"));

    // Neither form: the dates are required.
    let neither = format!(
        r#"<TestResultsView apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000001" onlineUserId="9000001" startDate="2024-04-05T00:00:00.0Z"/>"#
    );
    let err = Request::decode("TestResultsView", neither.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "TestResultsView/@endDate is required");
    let bad = format!(
        r#"<TestResultsView apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000001" onlineUserId="9000001" startDate="5 April" endDate="2024-06-03T23:59:59.0Z"/>"#
    );
    let err = Request::decode("TestResultsView", bad.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("TestResultsView/@startDate must be")
    );
}

#[test]
fn list_record_accesses_reply() {
    golden(
        &ListRecordAccessesReply {
            scope: scope(),
            uuid: uuid(),
            accesses: vec![RecordAccessEntry {
                date: t("2024-05-02 08:40:00"),
                accessed_by: "Mrs Ada Example via ExampleApp".into(),
                organisation: "Riverside Surgery".into(),
                access_type: "Viewed record".into(),
                method: "Online".into(),
            }],
        },
        &format!(
            "<ListRecordAccessesReply {ECHO}>{}</ListRecordAccessesReply>",
            r#"<RecordAccess date="2024-05-02T08:40:00.0Z" accessedBy="Mrs Ada Example via ExampleApp" organisation="Riverside Surgery" accessType="Viewed record" method="Online"/>"#
        ),
    );
}
