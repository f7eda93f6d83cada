//! Golden tests of the medication messages (wire reference §2.6, §2.7, B.2–B.5).
//!
//! Replies are encoded and compared with the exact text a strict client expects, then decoded
//! back. Requests are decoded from hand-written samples in the reference's shapes (with and
//! without a declaration, .NET namespace declarations, attributes in other orders) through
//! `Request::decode`, as the server reads them.

use chrono::NaiveDateTime;
use pfs_wire::{
    AmendAction, AmendPrescriptionRequest, AmendPrescriptionRequestReply, CourseType, DecodeError,
    GetPrescriptionRequests, GetPrescriptionRequestsReply, Guid, Header, ListAcuteMedicationReply,
    ListRepeatMedication, ListRepeatMedicationReply, Medication, MedicationItem, PatientScope,
    PrescriptionRequest, Request, RequestMedication, RequestMedicationReply, RequestStatus,
    RequestedMedication, WireMessage, YesNo,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";
const COMMON: &str = r#"apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001""#;
const COMMON_REVERSED: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" onlineUserId="9000001" patientId="9000001" unitId="X12345" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" apiVersion="1""#;

fn guid() -> Guid {
    UUID.parse().unwrap()
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn scope() -> PatientScope {
    PatientScope {
        patient_id: "9000001".into(),
        online_user_id: "9000001".into(),
    }
}

fn header() -> Header {
    Header {
        api_version: Some("1".into()),
        uuid: Some(guid()),
        unit_id: Some("X12345".into()),
    }
}

#[track_caller]
fn golden<T: WireMessage + PartialEq + std::fmt::Debug>(value: &T, expected: &str) {
    let encoded = value.encode();
    assert_eq!(encoded, format!("{DECL}{expected}"));
    assert!(!encoded.contains("errorCode"));
    let decoded = T::decode(encoded.as_bytes()).expect("an encoded reply decodes");
    assert_eq!(&decoded, value);
}

/// Decodes `body` as the server does, under its `type` header.
fn served(ty: &str, body: &str) -> Result<Request, DecodeError> {
    Request::decode(ty, body.as_bytes())
}

fn courses() -> Vec<Medication> {
    vec![
        Medication {
            drug_id: "D-1001".into(),
            course_type: CourseType::Repeat,
            drug: "Amlodipine 5mg tablets".into(),
            details: "One daily - 28 tablet".into(),
            requestable: YesNo(true),
        },
        Medication {
            drug_id: "D-1002".into(),
            course_type: CourseType::Repeat,
            drug: "Salbutamol 100mcg inhaler".into(),
            details: "Two puffs when required".into(),
            requestable: YesNo(false),
        },
    ]
}

#[test]
fn list_repeat_medication_reply_is_the_reference_example() {
    let reply = ListRepeatMedicationReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        medications: courses(),
    };
    golden(
        &reply,
        concat!(
            r#"<ListRepeatMedicationReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<Medication drugId="D-1001" type="Repeat" drug="Amlodipine 5mg tablets" details="One daily - 28 tablet" requestable="y"/>"#,
            r#"<Medication drugId="D-1002" type="Repeat" drug="Salbutamol 100mcg inhaler" details="Two puffs when required" requestable="n"/>"#,
            r#"</ListRepeatMedicationReply>"#
        ),
    );
}

#[test]
fn list_acute_medication_reply() {
    let reply = ListAcuteMedicationReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        medications: vec![Medication {
            drug_id: "D-1003".into(),
            course_type: CourseType::Acute,
            drug: "Amoxicillin 500mg capsules".into(),
            details: "Three times daily".into(),
            requestable: YesNo(false),
        }],
    };
    golden(
        &reply,
        concat!(
            r#"<ListAcuteMedicationReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<Medication drugId="D-1003" type="Acute" drug="Amoxicillin 500mg capsules" details="Three times daily" requestable="n"/>"#,
            r#"</ListAcuteMedicationReply>"#
        ),
    );
}

#[test]
fn a_reply_from_another_server_reads_flags_and_types_in_any_case() {
    let body = r#"<ListRepeatMedicationReply uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"><Medication drugId="7" type="REPEAT" drug="X" details="Y" requestable="Y"/></ListRepeatMedicationReply>"#;
    let r = ListRepeatMedicationReply::decode(body.as_bytes()).unwrap();
    assert_eq!(r.medications[0].course_type, CourseType::Repeat);
    assert_eq!(r.medications[0].requestable, YesNo(true));
    assert_eq!(r.scope, None);
}

#[test]
fn list_repeat_medication_request_in_every_shape() {
    let expected = ListRepeatMedication {
        header: header(),
        scope: scope(),
    };
    for body in [
        format!("<ListRepeatMedication {COMMON}/>"),
        format!("{DECL}<ListRepeatMedication {COMMON_REVERSED}></ListRepeatMedication>"),
    ] {
        let Request::ListRepeatMedication(m) = served("ListRepeatMedication", &body).unwrap()
        else {
            panic!("wrong variant")
        };
        assert_eq!(m, expected);
    }
    assert_eq!(
        expected.encode(),
        format!("{DECL}<ListRepeatMedication {COMMON}/>")
    );
}

#[test]
fn request_medication_is_the_reference_example() {
    let body = format!(
        r#"<RequestMedication {COMMON} notes="Please send to the usual pharmacy"><Medication drugId="D-1001" type="Repeat"/></RequestMedication>"#
    );
    let Request::RequestMedication(m) = served("RequestMedication", &body).unwrap() else {
        panic!("wrong variant")
    };
    let expected = RequestMedication {
        header: header(),
        scope: scope(),
        notes: Some("Please send to the usual pharmacy".into()),
        medications: vec![MedicationItem {
            drug_id: "D-1001".into(),
            course_type: CourseType::Repeat,
        }],
    };
    assert_eq!(m, expected);
    assert_eq!(expected.encode(), format!("{DECL}{body}"));
    // The patient's words never reach Debug output.
    assert!(!format!("{m:?}").contains("pharmacy"));
}

#[test]
fn request_medication_shape_errors_name_the_rule() {
    let none = format!("<RequestMedication {COMMON}/>");
    assert_eq!(
        served("RequestMedication", &none).unwrap_err(),
        DecodeError::MissingChild {
            element: "RequestMedication",
            child: "Medication"
        }
    );
    let twice = format!(
        r#"<RequestMedication {COMMON}><Medication drugId="1" type="Repeat"/><Medication drugId="1" type="repeat"/></RequestMedication>"#
    );
    assert!(matches!(
        served("RequestMedication", &twice).unwrap_err(),
        DecodeError::Shape(_)
    ));
    let bad_type = format!(
        r#"<RequestMedication {COMMON}><Medication drugId="1" type="Weekly"/></RequestMedication>"#
    );
    assert_eq!(
        served("RequestMedication", &bad_type).unwrap_err(),
        DecodeError::Invalid {
            element: "Medication",
            attr: "type",
            expected: "Repeat or Acute"
        }
    );
    let no_id =
        format!(r#"<RequestMedication {COMMON}><Medication type="Repeat"/></RequestMedication>"#);
    assert_eq!(
        served("RequestMedication", &no_id).unwrap_err(),
        DecodeError::Missing {
            element: "Medication",
            attr: "drugId"
        }
    );
}

#[test]
fn a_hundred_items_and_long_notes_reach_the_rules() {
    // The practice's own limits answer these with friendly errors, so the parser lets them in.
    let items: String = (0..100)
        .map(|i| format!(r#"<Medication drugId="{i}" type="Repeat"/>"#))
        .collect();
    let notes = "x".repeat(2_000);
    let body =
        format!(r#"<RequestMedication {COMMON} notes="{notes}">{items}</RequestMedication>"#);
    let Request::RequestMedication(m) = served("RequestMedication", &body).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.medications.len(), 100);
    // Past the wire maximum it is a malformed request.
    let items: String = (0..150)
        .map(|i| format!(r#"<Medication drugId="{i}" type="Repeat"/>"#))
        .collect();
    let body = format!(r#"<RequestMedication {COMMON}>{items}</RequestMedication>"#);
    assert!(matches!(
        served("RequestMedication", &body).unwrap_err(),
        DecodeError::Xml(_)
    ));
}

#[test]
fn request_medication_reply_has_the_reference_order() {
    let reply = RequestMedicationReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        message: Some("Request received".into()),
        request_id: Some("123456789".into()),
    };
    golden(
        &reply,
        r#"<RequestMedicationReply patientId="9000001" onlineUserId="9000001" message="Request received" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" requestId="123456789"/>"#,
    );
}

#[test]
fn get_prescription_requests_with_and_without_dates() {
    let body = format!(
        r#"<GetPrescriptionRequests {COMMON} startDate="2024-01-05T00:00:00.0Z" endDate="2024-03-04T23:59:59.0Z"/>"#
    );
    let Request::GetPrescriptionRequests(m) = served("GetPrescriptionRequests", &body).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(
        m,
        GetPrescriptionRequests {
            header: header(),
            scope: scope(),
            start_date: Some(t("2024-01-05 00:00:00")),
            end_date: Some(t("2024-03-04 23:59:59")),
        }
    );
    assert_eq!(m.encode(), format!("{DECL}{body}"));
    let bare = format!("<GetPrescriptionRequests {COMMON}/>");
    let Request::GetPrescriptionRequests(m) = served("GetPrescriptionRequests", &bare).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!((m.start_date, m.end_date), (None, None));
    let bad = format!(r#"<GetPrescriptionRequests {COMMON} startDate="last week"/>"#);
    assert!(matches!(
        served("GetPrescriptionRequests", &bad).unwrap_err(),
        DecodeError::Invalid {
            attr: "startDate",
            ..
        }
    ));
}

#[test]
fn get_prescription_requests_reply() {
    let reply = GetPrescriptionRequestsReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        requests: vec![
            PrescriptionRequest {
                request_id: "500000002".into(),
                date_requested: t("2024-06-03 10:15:00"),
                status: RequestStatus::Issued,
                status_date: t("2024-06-04 09:00:00"),
                notes: Some("Running low".into()),
                practice_comment: Some("Sent to your nominated pharmacy".into()),
                medications: vec![RequestedMedication {
                    drug_id: "D-1001".into(),
                    drug: "Amlodipine 5mg tablets".into(),
                    course_type: CourseType::Repeat,
                }],
            },
            PrescriptionRequest {
                request_id: "500000001".into(),
                date_requested: t("2024-05-01 08:00:00"),
                status: RequestStatus::Requested,
                status_date: t("2024-05-01 08:00:00"),
                notes: None,
                practice_comment: None,
                medications: vec![RequestedMedication {
                    drug_id: "D-1002".into(),
                    drug: "Salbutamol 100mcg inhaler".into(),
                    course_type: CourseType::Repeat,
                }],
            },
        ],
    };
    golden(
        &reply,
        concat!(
            r#"<GetPrescriptionRequestsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<PrescriptionRequest requestId="500000002" dateRequested="2024-06-03T10:15:00.0Z" status="Issued" statusDate="2024-06-04T09:00:00.0Z" notes="Running low" practiceComment="Sent to your nominated pharmacy">"#,
            r#"<Medication drugId="D-1001" drug="Amlodipine 5mg tablets" type="Repeat"/>"#,
            r#"</PrescriptionRequest>"#,
            r#"<PrescriptionRequest requestId="500000001" dateRequested="2024-05-01T08:00:00.0Z" status="Requested" statusDate="2024-05-01T08:00:00.0Z">"#,
            r#"<Medication drugId="D-1002" drug="Salbutamol 100mcg inhaler" type="Repeat"/>"#,
            r#"</PrescriptionRequest>"#,
            r#"</GetPrescriptionRequestsReply>"#
        ),
    );
}

#[test]
fn amend_prescription_request_cancel_and_amend() {
    let cancel =
        format!(r#"<AmendPrescriptionRequest {COMMON} requestId="500000001" action="Cancel"/>"#);
    let Request::AmendPrescriptionRequest(m) = served("AmendPrescriptionRequest", &cancel).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(
        m,
        AmendPrescriptionRequest {
            header: header(),
            scope: scope(),
            request_id: "500000001".into(),
            action: AmendAction::Cancel,
            notes: None,
            medications: vec![],
        }
    );
    assert_eq!(m.encode(), format!("{DECL}{cancel}"));

    let amend = format!(
        r#"<AmendPrescriptionRequest {COMMON} requestId="500000001" action="Amend" notes="Only the inhaler"><Medication drugId="D-1002" type="Repeat"/></AmendPrescriptionRequest>"#
    );
    let Request::AmendPrescriptionRequest(m) = served("AmendPrescriptionRequest", &amend).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(m.action, AmendAction::Amend);
    assert_eq!(m.medications.len(), 1);
    assert_eq!(m.encode(), format!("{DECL}{amend}"));
    assert!(!format!("{m:?}").contains("inhaler"));

    // An amendment must name the new list; the action must be one of the two.
    let empty =
        format!(r#"<AmendPrescriptionRequest {COMMON} requestId="500000001" action="amend"/>"#);
    assert!(matches!(
        served("AmendPrescriptionRequest", &empty).unwrap_err(),
        DecodeError::MissingChild { .. }
    ));
    let other =
        format!(r#"<AmendPrescriptionRequest {COMMON} requestId="500000001" action="Delete"/>"#);
    assert!(matches!(
        served("AmendPrescriptionRequest", &other).unwrap_err(),
        DecodeError::Invalid { attr: "action", .. }
    ));
}

#[test]
fn amend_prescription_request_reply() {
    let reply = AmendPrescriptionRequestReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        request_id: "500000001".into(),
        status: RequestStatus::Cancelled,
    };
    golden(
        &reply,
        r#"<AmendPrescriptionRequestReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" requestId="500000001" status="Cancelled"/>"#,
    );
}
