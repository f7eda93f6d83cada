//! Golden tests of the appointment messages (wire reference §2.8–2.12).
//!
//! Replies are encoded and compared with the exact text a strict client expects, then decoded
//! back. Requests are decoded from hand-written samples in the reference's shapes: with and
//! without an XML declaration, with the `xmlns:xsi`/`xmlns:xsd` declarations the .NET
//! serializer emits, and with attributes in orders unlike the encoder's (decoded with
//! `WireMessage::decode`; `Request::decode` is covered by golden.rs).

use chrono::NaiveDateTime;
use pfs_wire::{
    Appointment, BookAppointment, BookAppointmentReply, CancelAppointment, CancelAppointmentReply,
    DecodeError, Guid, Header, ListSlots, ListSlotsReply, PatientScope, RequestSystmOnlineMessages,
    RequestSystmOnlineMessagesReply, Session, Slot, UpperYesNo, ViewAppointments,
    ViewAppointmentsReply, WireMessage,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const XMLNS: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";
/// The common attributes and patient scope of the reference's request examples.
const COMMON: &str = r#"apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001""#;
/// The same attributes in reverse order, preceded by the .NET namespace declarations.
const COMMON_REVERSED: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" onlineUserId="9000001" patientId="9000001" unitId="X12345" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" apiVersion="1""#;

fn guid(s: &str) -> Guid {
    s.parse().expect("a valid GUID")
}

/// A wall-clock time, `YYYY-MM-DD HH:MM:SS`.
fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("a valid date-time")
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
        uuid: Some(guid(UUID)),
        unit_id: Some("X12345".into()),
    }
}

/// The client's error test: the regular expression `errorCode\s?=` anywhere in the text.
fn looks_like_error(body: &str) -> bool {
    body.match_indices("errorCode").any(|(i, m)| {
        let mut rest = body[i + m.len()..].chars();
        match rest.next() {
            Some('=') => true,
            Some(c) if c.is_whitespace() => rest.next() == Some('='),
            _ => false,
        }
    })
}

/// Asserts the golden text, that a strict client would not read it as an `Error`, that it
/// decodes to the same value and re-encodes to the same text; returns the decoded value.
#[track_caller]
fn golden<T: WireMessage + PartialEq + std::fmt::Debug>(value: &T, expected: &str) -> T {
    let encoded = value.encode();
    assert_eq!(encoded, expected);
    assert!(!looks_like_error(&encoded), "{encoded}");
    let decoded = T::decode(encoded.as_bytes()).expect("an encoded reply decodes");
    assert_eq!(&decoded, value);
    assert_eq!(decoded.encode(), encoded);
    decoded
}

/// Every way a sample may arrive: as written, with a declaration, and with a declaration plus a
/// line break (what a pretty-printing serializer emits).
fn with_and_without_declaration(body: &str) -> [String; 3] {
    [
        body.to_owned(),
        format!("{DECL}{body}"),
        format!("{DECL}\r\n{body}"),
    ]
}

// ---------------------------------------------------------------------------------------------
// Replies: exact encodings and round trips
// ---------------------------------------------------------------------------------------------

fn morning_surgery() -> Session {
    Session {
        session_id: "77001".into(),
        session_type: "Morning surgery".into(),
        staff_details: "Dr A Jones (Female)".into(),
        location: "Main site".into(),
        slots: vec![
            Slot {
                start_date: t("2024-06-04 09:00:00"),
                end_date: t("2024-06-04 09:10:00"),
                slot_type: "Routine".into(),
            },
            Slot {
                start_date: t("2024-06-04 09:10:00"),
                end_date: t("2024-06-04 09:20:00"),
                slot_type: "Telephone".into(),
            },
        ],
    }
}

#[test]
fn list_slots_reply_golden() {
    let reply = ListSlotsReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        bookable_days: 28,
        sessions: vec![
            morning_surgery(),
            Session {
                session_id: "77002".into(),
                session_type: "Nurse clinic".into(),
                staff_details: "Nurse B Smith".into(),
                location: "Branch & annexe".into(),
                slots: vec![Slot {
                    start_date: t("2024-12-03 14:30:00"),
                    end_date: t("2024-12-03 14:45:00"),
                    slot_type: "Blood test".into(),
                }],
            },
        ],
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<ListSlotsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" bookableDays="28">"#,
            r#"<Session sessionId="77001" type="Morning surgery" staffDetails="Dr A Jones (Female)" location="Main site">"#,
            r#"<Slot startDate="2024-06-04T09:00:00.0Z" endDate="2024-06-04T09:10:00.0Z" type="Routine"/>"#,
            r#"<Slot startDate="2024-06-04T09:10:00.0Z" endDate="2024-06-04T09:20:00.0Z" type="Telephone"/>"#,
            r#"</Session>"#,
            r#"<Session sessionId="77002" type="Nurse clinic" staffDetails="Nurse B Smith" location="Branch &amp; annexe">"#,
            r#"<Slot startDate="2024-12-03T14:30:00.0Z" endDate="2024-12-03T14:45:00.0Z" type="Blood test"/>"#,
            r#"</Session>"#,
            r#"</ListSlotsReply>"#,
        ),
    );
    assert_eq!(decoded.sessions[1].location, "Branch & annexe");
}

#[test]
fn list_slots_reply_with_no_sessions_still_carries_bookable_days() {
    let reply = ListSlotsReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        bookable_days: 0,
        sessions: Vec::new(),
    };
    golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<ListSlotsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" bookableDays="0"/>"#,
        ),
    );
}

#[test]
fn list_slots_reply_in_the_reference_shape_decodes() {
    let body = format!(
        r#"<ListSlotsReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}" bookableDays="28">
  <Session sessionId="77001" type="Morning surgery" staffDetails="Dr A Jones (Female)" location="Main site">
    <Slot startDate="2024-06-04T09:00:00.0Z" endDate="2024-06-04T09:10:00.0Z" type="Routine"/>
    <Slot startDate="2024-06-04T09:10:00.0Z" endDate="2024-06-04T09:20:00.0Z" type="Telephone"/>
  </Session>
</ListSlotsReply>"#
    );
    let reply = ListSlotsReply::decode(body.as_bytes()).unwrap();
    assert_eq!(reply.scope, Some(scope()));
    assert_eq!(reply.uuid, Some(guid(UUID)));
    assert_eq!(reply.bookable_days, 28);
    assert_eq!(reply.sessions, vec![morning_surgery()]);

    // bookableDays must be an integer for a strict client; a reply that breaks that is refused.
    let e = ListSlotsReply::decode(br#"<ListSlotsReply bookableDays="lots"/>"#).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Invalid {
                element: "ListSlotsReply",
                attr: "bookableDays",
                ..
            }
        ),
        "{e:?}"
    );
    // A slot whose time is not a date-time is refused, naming the slot attribute.
    let e = ListSlotsReply::decode(
        br#"<ListSlotsReply bookableDays="1"><Session sessionId="1"><Slot startDate="soon" endDate="2024-06-04T09:10:00.0Z" type="x"/></Session></ListSlotsReply>"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Invalid {
                element: "Slot",
                attr: "startDate",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("soon"), "values are never quoted");
}

#[test]
fn slot_times_keep_their_wall_clock_in_summer_winter_and_on_change_days() {
    // Wall-clock times are written unchanged: no shift by the BST offset, and the `Z` is
    // decoration. Summer (BST), winter (GMT), and both 2024 change days (31 March, when 01:00
    // to 02:00 does not exist, and 27 October, when 01:00 to 02:00 happens twice).
    let cases = [
        ("2024-06-04 09:00:00", "2024-06-04T09:00:00.0Z"),
        ("2024-12-03 09:00:00", "2024-12-03T09:00:00.0Z"),
        ("2024-03-31 00:30:00", "2024-03-31T00:30:00.0Z"),
        ("2024-03-31 02:30:00", "2024-03-31T02:30:00.0Z"),
        ("2024-10-27 01:30:00", "2024-10-27T01:30:00.0Z"),
        ("2024-10-27 09:00:00", "2024-10-27T09:00:00.0Z"),
    ];
    for (wall, wire) in cases {
        let start = t(wall);
        let end = start + chrono::Duration::minutes(10);
        let reply = ListSlotsReply {
            scope: None,
            uuid: None,
            bookable_days: 56,
            sessions: vec![Session {
                session_id: "1".into(),
                session_type: "Surgery".into(),
                staff_details: "Dr A Jones".into(),
                location: "Main site".into(),
                slots: vec![Slot {
                    start_date: start,
                    end_date: end,
                    slot_type: "Routine".into(),
                }],
            }],
        };
        let text = reply.encode();
        assert!(
            text.contains(&format!(r#"<Slot startDate="{wire}""#)),
            "{text}"
        );
        let decoded = ListSlotsReply::decode(text.as_bytes()).unwrap();
        assert_eq!(decoded.sessions[0].slots[0].start_date, start, "{wall}");
        assert_eq!(decoded.sessions[0].slots[0].end_date, end, "{wall}");

        let appts = ViewAppointmentsReply {
            scope: None,
            uuid: None,
            appointments: vec![Appointment {
                appt_id: "1".into(),
                start_date: start,
                end_date: end,
                details: String::new(),
                site_name: String::new(),
                address: String::new(),
            }],
        };
        let text = appts.encode();
        assert!(
            text.contains(&format!(r#"<Appointment apptId="1" startDate="{wire}""#)),
            "{text}"
        );
    }
}

#[test]
fn book_appointment_reply_golden() {
    golden(
        &BookAppointmentReply {
            scope: Some(scope()),
            uuid: Some(guid(UUID)),
        },
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<BookAppointmentReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#,
        ),
    );
    golden(
        &BookAppointmentReply {
            scope: None,
            uuid: None,
        },
        r#"<?xml version="1.0" encoding="utf-8"?><BookAppointmentReply/>"#,
    );
}

#[test]
fn cancel_appointment_reply_golden() {
    golden(
        &CancelAppointmentReply {
            scope: Some(PatientScope {
                patient_id: "9000002".into(),
                online_user_id: "9000001".into(),
            }),
            uuid: Some(guid(UUID)),
        },
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<CancelAppointmentReply patientId="9000002" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#,
        ),
    );
}

fn riverside_appointment() -> Appointment {
    Appointment {
        appt_id: "3".into(),
        start_date: t("2024-06-04 09:00:00"),
        end_date: t("2024-06-04 09:10:00"),
        details: "Clinician: Dr A Jones".into(),
        site_name: "Riverside Surgery".into(),
        address: "1 High Street, Leeds, LS1 1AA".into(),
    }
}

#[test]
fn view_appointments_reply_golden() {
    let reply = ViewAppointmentsReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        appointments: vec![
            riverside_appointment(),
            Appointment {
                appt_id: "4".into(),
                start_date: t("2024-12-03 16:20:00"),
                end_date: t("2024-12-03 16:30:00"),
                details: "Clinician: Nurse B Smith".into(),
                site_name: "Branch".into(),
                address: String::new(),
            },
        ],
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<ViewAppointmentsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<Appointment apptId="3" startDate="2024-06-04T09:00:00.0Z" endDate="2024-06-04T09:10:00.0Z" details="Clinician: Dr A Jones" siteName="Riverside Surgery" address="1 High Street, Leeds, LS1 1AA"/>"#,
            r#"<Appointment apptId="4" startDate="2024-12-03T16:20:00.0Z" endDate="2024-12-03T16:30:00.0Z" details="Clinician: Nurse B Smith" siteName="Branch" address=""/>"#,
            r#"</ViewAppointmentsReply>"#,
        ),
    );
    // Appointment's Debug hides details, so compare the fields a client reads explicitly.
    assert_eq!(decoded.appointments[0].details, "Clinician: Dr A Jones");
    assert_eq!(decoded.appointments[0].site_name, "Riverside Surgery");
    assert_eq!(
        decoded.appointments[0].address,
        "1 High Street, Leeds, LS1 1AA"
    );

    golden(
        &ViewAppointmentsReply {
            scope: Some(scope()),
            uuid: Some(guid(UUID)),
            appointments: Vec::new(),
        },
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<ViewAppointmentsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#,
        ),
    );
}

#[test]
fn view_appointments_reply_in_the_reference_shape_decodes() {
    let body = format!(
        r#"<ViewAppointmentsReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}">
  <Appointment apptId="3" startDate="2024-06-04T09:00:00.0Z" endDate="2024-06-04T09:10:00.0Z"
               details="Clinician: Dr A Jones" siteName="Riverside Surgery" address="1 High Street, Leeds, LS1 1AA"/>
</ViewAppointmentsReply>"#
    );
    let reply = ViewAppointmentsReply::decode(body.as_bytes()).unwrap();
    assert_eq!(reply.appointments, vec![riverside_appointment()]);
    assert_eq!(reply.scope, Some(scope()));
}

#[test]
fn request_systm_online_messages_reply_golden_with_capitalised_names() {
    let reply = RequestSystmOnlineMessagesReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        book_appointments: Some("Book a routine appointment up to 4 weeks ahead.".into()),
        request_medication_confirmation: Some("Allow 2 working days.".into()),
        medication: Some("Repeat requests only.".into()),
    };
    golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<RequestSystmOnlineMessagesReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93""#,
            r#" BookAppointments="Book a routine appointment up to 4 weeks ahead.""#,
            r#" RequestMedicationConfirmation="Allow 2 working days." Medication="Repeat requests only."/>"#,
        ),
    );

    // Texts the practice has not set are left out.
    golden(
        &RequestSystmOnlineMessagesReply {
            scope: Some(scope()),
            uuid: Some(guid(UUID)),
            book_appointments: Some("Call the surgery for urgent appointments.".into()),
            request_medication_confirmation: None,
            medication: None,
        },
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<RequestSystmOnlineMessagesReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93""#,
            r#" BookAppointments="Call the surgery for urgent appointments."/>"#,
        ),
    );

    // Lower-case spellings are not the wire names and are not read.
    let reply = RequestSystmOnlineMessagesReply::decode(
        br#"<RequestSystmOnlineMessagesReply bookAppointments="x" medication="y"/>"#,
    )
    .unwrap();
    assert_eq!(reply.book_appointments, None);
    assert_eq!(reply.medication, None);
}

#[test]
fn reply_texts_containing_error_code_are_escaped() {
    let reply = RequestSystmOnlineMessagesReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        book_appointments: Some("If you see errorCode=5, call us.".into()),
        request_medication_confirmation: None,
        medication: None,
    };
    let text = reply.encode();
    assert!(!looks_like_error(&text), "{text}");
    let decoded = RequestSystmOnlineMessagesReply::decode(text.as_bytes()).unwrap();
    assert_eq!(decoded, reply);

    let appts = ViewAppointmentsReply {
        scope: Some(scope()),
        uuid: Some(guid(UUID)),
        appointments: vec![Appointment {
            details: "errorCode = 1".into(),
            ..riverside_appointment()
        }],
    };
    let text = appts.encode();
    assert!(!looks_like_error(&text), "{text}");
    assert_eq!(
        ViewAppointmentsReply::decode(text.as_bytes()).unwrap(),
        appts
    );
}

// ---------------------------------------------------------------------------------------------
// Requests: hand-written samples in the shapes clients send
// ---------------------------------------------------------------------------------------------

#[test]
fn list_slots_request_decodes() {
    let samples = [
        // §2.9 example.
        format!(r#"<ListSlots {COMMON} startDate="2024-06-03T14:07:12.3Z" numberOfDays="56"/>"#),
        // Reverse order, namespaces first, explicit end tag.
        format!(
            r#"<ListSlots numberOfDays="56" startDate="2024-06-03T14:07:12.3Z" {COMMON_REVERSED}></ListSlots>"#
        ),
        // Namespaces last, pretty-printed across lines.
        format!(
            "<ListSlots startDate=\"2024-06-03T14:07:12.3Z\"\n  numberOfDays=\"56\" {COMMON} {XMLNS} />"
        ),
    ];
    for sample in &samples {
        for body in with_and_without_declaration(sample) {
            let m = ListSlots::decode(body.as_bytes()).unwrap();
            assert_eq!(m.header, header(), "{body}");
            assert_eq!(m.scope, scope());
            assert_eq!(
                m.start_date,
                t("2024-06-03 14:07:12") + chrono::Duration::milliseconds(300)
            );
            assert_eq!(m.number_of_days, 56);
        }
    }
}

#[test]
fn list_slots_start_date_accepts_every_client_form() {
    let nine = t("2024-06-04 09:00:00");
    let cases = [
        ("2024-06-04T09:00:00+00:00", nine),
        ("2024-06-04T09:00:00", nine),
        ("2024-06-04T09:00:00.0Z", nine),
        ("2024-06-04T09:00:00Z", nine),
        (
            "2024-06-03T14:07:12.3Z",
            t("2024-06-03 14:07:12") + chrono::Duration::milliseconds(300),
        ),
        // Winter: still the wall-clock time as written.
        ("2024-12-03T09:00:00.0Z", t("2024-12-03 09:00:00")),
    ];
    for (wire, want) in cases {
        let body = format!(r#"<ListSlots {COMMON} startDate="{wire}" numberOfDays="112"/>"#);
        let m = ListSlots::decode(body.as_bytes()).unwrap();
        assert_eq!(m.start_date, want, "{wire}");
        assert_eq!(m.number_of_days, 112);
    }
}

#[test]
fn book_appointment_request_decodes() {
    let samples = [
        // §2.10 example.
        format!(
            r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00" notes="Cough for two weeks"/>"#
        ),
        format!(
            r#"<BookAppointment notes="Cough for two weeks" endDate="2024-06-04T09:10:00+00:00" startDate="2024-06-04T09:00:00+00:00" sessionId="77001" {COMMON_REVERSED}></BookAppointment>"#
        ),
    ];
    for sample in &samples {
        for body in with_and_without_declaration(sample) {
            let m = BookAppointment::decode(body.as_bytes()).unwrap();
            assert_eq!(m.header, header(), "{body}");
            assert_eq!(m.scope, scope());
            assert_eq!(m.session_id, "77001");
            assert_eq!(m.start_date, t("2024-06-04 09:00:00"));
            assert_eq!(m.end_date, t("2024-06-04 09:10:00"));
            assert_eq!(m.notes.as_deref(), Some("Cough for two weeks"));
        }
    }
    // Notes are optional; an empty attribute counts as absent.
    for notes in ["", r#" notes="""#, r#" notes="  ""#] {
        let body = format!(
            r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00"{notes}/>"#
        );
        assert_eq!(
            BookAppointment::decode(body.as_bytes()).unwrap().notes,
            None,
            "{body}"
        );
    }
}

#[test]
fn book_appointment_times_accept_every_client_form() {
    let forms = [
        ("2024-06-04T09:00:00+00:00", t("2024-06-04 09:00:00")),
        // The booking form says +00:00 even in summer; any offset text is decoration.
        ("2024-06-04T09:00:00+01:00", t("2024-06-04 09:00:00")),
        (
            "2024-06-03T14:07:12.3Z",
            t("2024-06-03 14:07:12") + chrono::Duration::milliseconds(300),
        ),
        ("2024-06-04T09:00:00", t("2024-06-04 09:00:00")),
        ("2024-06-04T09:00:00.0Z", t("2024-06-04 09:00:00")),
        ("2024-12-03T09:00:00+00:00", t("2024-12-03 09:00:00")),
        ("2024-10-27T01:30:00+00:00", t("2024-10-27 01:30:00")),
    ];
    for (wire, want) in forms {
        let body = format!(
            r#"<BookAppointment {COMMON} sessionId="77001" startDate="{wire}" endDate="{wire}"/>"#
        );
        let m = BookAppointment::decode(body.as_bytes()).unwrap();
        assert_eq!(m.start_date, want, "{wire}");
        assert_eq!(m.end_date, want, "{wire}");
    }
}

#[test]
fn view_appointments_request_decodes_in_either_case() {
    for (flag, want) in [("Y", true), ("N", false), ("y", true), ("n", false)] {
        for sample in [
            format!(r#"<ViewAppointments {COMMON} futureAppointments="{flag}"/>"#),
            format!(r#"<ViewAppointments futureAppointments="{flag}" {COMMON_REVERSED}/>"#),
        ] {
            for body in with_and_without_declaration(&sample) {
                let m = ViewAppointments::decode(body.as_bytes()).unwrap();
                assert_eq!(m.header, header());
                assert_eq!(m.scope, scope());
                assert_eq!(m.future_appointments, UpperYesNo(want), "{body}");
                // Written upper case whatever case was read.
                let upper = if want { "Y" } else { "N" };
                assert!(
                    m.encode()
                        .contains(&format!(r#" futureAppointments="{upper}""#)),
                    "{}",
                    m.encode()
                );
            }
        }
    }
}

#[test]
fn cancel_appointment_request_decodes() {
    for sample in [
        // §2.11 example.
        format!(r#"<CancelAppointment {COMMON} apptId="3"/>"#),
        format!(r#"<CancelAppointment apptId="3" {COMMON_REVERSED}></CancelAppointment>"#),
    ] {
        for body in with_and_without_declaration(&sample) {
            let m = CancelAppointment::decode(body.as_bytes()).unwrap();
            assert_eq!(m.header, header());
            assert_eq!(m.scope, scope());
            assert_eq!(m.appt_id, "3");
        }
    }
}

#[test]
fn request_systm_online_messages_request_decodes() {
    for sample in [
        format!(r#"<RequestSystmOnlineMessages {COMMON}/>"#),
        format!(r#"<RequestSystmOnlineMessages {COMMON_REVERSED}></RequestSystmOnlineMessages>"#),
    ] {
        for body in with_and_without_declaration(&sample) {
            let m = RequestSystmOnlineMessages::decode(body.as_bytes()).unwrap();
            assert_eq!(m.header, header());
            assert_eq!(m.scope, scope());
        }
    }
}

/// Decodes `body` as `T`, encodes it again and checks the text is `DECL` + `body`.
#[track_caller]
fn round_trip<T: WireMessage>(body: &str) {
    let m = T::decode(body.as_bytes()).unwrap();
    let encoded = m.encode();
    assert_eq!(encoded, format!("{DECL}{body}"), "{}", T::ROOT);
    let again = T::decode(encoded.as_bytes()).unwrap();
    assert_eq!(again.encode(), encoded, "{}", T::ROOT);
}

#[test]
fn every_appointment_request_round_trips_in_the_client_formats() {
    // The encoder writes the client's formats: `….fZ` for ListSlots, `…+00:00` for bookings,
    // upper-case futureAppointments.
    round_trip::<ListSlots>(&format!(
        r#"<ListSlots {COMMON} startDate="2024-06-03T14:07:12.3Z" numberOfDays="56"/>"#
    ));
    round_trip::<BookAppointment>(&format!(
        r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00" notes="Cough for two weeks"/>"#
    ));
    round_trip::<BookAppointment>(&format!(
        r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-12-03T09:00:00+00:00" endDate="2024-12-03T09:10:00+00:00"/>"#
    ));
    round_trip::<ViewAppointments>(&format!(
        r#"<ViewAppointments {COMMON} futureAppointments="Y"/>"#
    ));
    round_trip::<ViewAppointments>(&format!(
        r#"<ViewAppointments {COMMON} futureAppointments="N"/>"#
    ));
    round_trip::<CancelAppointment>(&format!(r#"<CancelAppointment {COMMON} apptId="3"/>"#));
    round_trip::<RequestSystmOnlineMessages>(&format!(r#"<RequestSystmOnlineMessages {COMMON}/>"#));
}

#[test]
fn requests_built_in_code_encode_in_the_client_formats() {
    let m = ListSlots {
        header: header(),
        scope: scope(),
        start_date: t("2024-06-03 14:07:12") + chrono::Duration::milliseconds(300),
        number_of_days: 56,
    };
    assert_eq!(
        m.encode(),
        format!(
            r#"{DECL}<ListSlots {COMMON} startDate="2024-06-03T14:07:12.3Z" numberOfDays="56"/>"#
        )
    );
    let m = BookAppointment {
        header: header(),
        scope: scope(),
        session_id: "77001".into(),
        // Summer: the booking form still writes +00:00 after the wall-clock time.
        start_date: t("2024-06-04 09:00:00"),
        end_date: t("2024-06-04 09:10:00"),
        notes: None,
    };
    assert_eq!(
        m.encode(),
        format!(
            r#"{DECL}<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00"/>"#
        )
    );
    let m = ViewAppointments {
        header: header(),
        scope: scope(),
        future_appointments: UpperYesNo(true),
    };
    assert_eq!(
        m.encode(),
        format!(r#"{DECL}<ViewAppointments {COMMON} futureAppointments="Y"/>"#)
    );
}

// ---------------------------------------------------------------------------------------------
// Request decode errors
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_attributes_are_named() {
    let book = |attrs: &str| format!(r#"<BookAppointment {COMMON} {attrs}/>"#);
    let cases: Vec<(DecodeError, Result<(), DecodeError>)> = vec![
        (
            DecodeError::Missing {
                element: "BookAppointment",
                attr: "sessionId",
            },
            BookAppointment::decode(
                book(r#"startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00""#)
                    .as_bytes(),
            )
            .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "BookAppointment",
                attr: "sessionId",
            },
            BookAppointment::decode(
                book(r#"sessionId=" " startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00""#)
                    .as_bytes(),
            )
            .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "BookAppointment",
                attr: "endDate",
            },
            BookAppointment::decode(
                book(r#"sessionId="77001" startDate="2024-06-04T09:00:00+00:00""#).as_bytes(),
            )
            .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "BookAppointment",
                attr: "patientId",
            },
            BookAppointment::decode(
                format!(r#"<BookAppointment apiVersion="1" uuid="{UUID}" onlineUserId="1" sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00"/>"#)
                    .as_bytes(),
            )
            .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "ListSlots",
                attr: "startDate",
            },
            ListSlots::decode(format!(r#"<ListSlots {COMMON} numberOfDays="56"/>"#).as_bytes())
                .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "ListSlots",
                attr: "numberOfDays",
            },
            ListSlots::decode(
                format!(r#"<ListSlots {COMMON} startDate="2024-06-03T14:07:12.3Z" numberOfDays=""/>"#)
                    .as_bytes(),
            )
            .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "ViewAppointments",
                attr: "futureAppointments",
            },
            ViewAppointments::decode(format!(r#"<ViewAppointments {COMMON}/>"#).as_bytes())
                .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "CancelAppointment",
                attr: "apptId",
            },
            CancelAppointment::decode(format!(r#"<CancelAppointment {COMMON}/>"#).as_bytes())
                .map(drop),
        ),
        (
            DecodeError::Missing {
                element: "RequestSystmOnlineMessages",
                attr: "onlineUserId",
            },
            RequestSystmOnlineMessages::decode(
                format!(r#"<RequestSystmOnlineMessages apiVersion="1" uuid="{UUID}" patientId="1"/>"#)
                    .as_bytes(),
            )
            .map(drop),
        ),
    ];
    for (want, got) in cases {
        let e = got.unwrap_err();
        assert_eq!(e, want);
        let DecodeError::Missing { attr, .. } = want else {
            unreachable!()
        };
        assert!(e.to_string().contains(attr), "{e}");
    }
}

#[track_caller]
fn assert_invalid(result: Result<(), DecodeError>, element: &str, attr: &str, value: &str) {
    let e = result.expect_err("an invalid value is refused");
    match &e {
        DecodeError::Invalid {
            element: el,
            attr: at,
            ..
        } => {
            assert_eq!((*el, *at), (element, attr), "{e:?}");
        }
        other => panic!("expected Invalid {element}/@{attr}, got {other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains(attr), "{text}");
    assert!(
        !text.contains(value),
        "values are never quoted: {text} / {value}"
    );
}

#[test]
fn future_appointments_other_than_y_or_n_is_invalid() {
    for bad in ["yes", "NO", "true", "1", "YN", "X"] {
        let body = format!(r#"<ViewAppointments {COMMON} futureAppointments="{bad}"/>"#);
        assert_invalid(
            ViewAppointments::decode(body.as_bytes()).map(drop),
            "ViewAppointments",
            "futureAppointments",
            bad,
        );
    }
}

#[test]
fn number_of_days_not_an_integer_is_invalid() {
    for bad in ["fifty-six", "56.5", "5e1", "-1", "0x38", "99999999999"] {
        let body = format!(
            r#"<ListSlots {COMMON} startDate="2024-06-03T14:07:12.3Z" numberOfDays="{bad}"/>"#
        );
        assert_invalid(
            ListSlots::decode(body.as_bytes()).map(drop),
            "ListSlots",
            "numberOfDays",
            bad,
        );
    }
}

#[test]
fn malformed_times_are_invalid() {
    for bad in [
        "03/06/2024 14:07",
        "2024-06-30",
        "2024-13-03T09:00:00Z",
        "tomorrow",
    ] {
        let body = format!(r#"<ListSlots {COMMON} startDate="{bad}" numberOfDays="56"/>"#);
        assert_invalid(
            ListSlots::decode(body.as_bytes()).map(drop),
            "ListSlots",
            "startDate",
            bad,
        );
        let body = format!(
            r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="{bad}"/>"#
        );
        assert_invalid(
            BookAppointment::decode(body.as_bytes()).map(drop),
            "BookAppointment",
            "endDate",
            bad,
        );
    }
    // A request uuid that is not a GUID is reported as for every other message.
    let body = r#"<CancelAppointment apiVersion="1" uuid="nope" patientId="1" onlineUserId="1" apptId="3"/>"#;
    assert_invalid(
        CancelAppointment::decode(body.as_bytes()).map(drop),
        "CancelAppointment",
        "uuid",
        "nope",
    );
}

#[test]
fn wrong_root_is_reported() {
    let body = format!(r#"<BookAppointment {COMMON} sessionId="1"/>"#);
    let e = ListSlots::decode(body.as_bytes()).unwrap_err();
    assert_eq!(
        e,
        DecodeError::WrongRoot {
            expected: "ListSlots".into(),
            found: "BookAppointment".into(),
        }
    );
    // Case matters.
    let body = format!(r#"<viewAppointments {COMMON} futureAppointments="Y"/>"#);
    assert!(matches!(
        ViewAppointments::decode(body.as_bytes()).unwrap_err(),
        DecodeError::WrongRoot { .. }
    ));
    // Replies check their root too.
    assert!(matches!(
        CancelAppointmentReply::decode(b"<BookAppointmentReply/>").unwrap_err(),
        DecodeError::WrongRoot { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Debug output
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_output_hides_notes_and_appointment_details() {
    let body = format!(
        r#"<BookAppointment {COMMON} sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00" notes="Cough for two weeks"/>"#
    );
    let m = BookAppointment::decode(body.as_bytes()).unwrap();
    let debug = format!("{m:?}");
    assert!(!debug.contains("Cough"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(debug.contains("77001"), "{debug}");

    let reply = ViewAppointmentsReply {
        scope: Some(scope()),
        uuid: None,
        appointments: vec![riverside_appointment()],
    };
    let debug = format!("{reply:?}");
    for hidden in ["Dr A Jones", "Riverside", "High Street"] {
        assert!(!debug.contains(hidden), "{debug}");
    }
    assert!(debug.contains("appt_id"), "{debug}");
}
