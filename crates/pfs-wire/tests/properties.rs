//! Property tests: every message survives `decode(encode(m))` unchanged, whatever valid values
//! it holds (non-ASCII, the XML special characters, `errorCode=`, …); the parser and the scalar
//! readers never panic, whatever bytes arrive; and writing never produces a document that does
//! not parse back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};
use pfs_wire::scalar::{MAX_YEAR, MIN_YEAR, parse_date, parse_wall_clock};
use pfs_wire::xml::is_xml_char;
use pfs_wire::{
    AmendAction, AmendPrescriptionRequest, AmendPrescriptionRequestReply, CourseType,
    GetPrescriptionRequests, GetPrescriptionRequestsReply, ListAcuteMedication,
    ListAcuteMedicationReply, ListRepeatMedication, ListRepeatMedicationReply, Medication,
    MedicationItem, PrescriptionRequest, RequestMedication, RequestMedicationReply, RequestStatus,
    RequestedMedication,
};
use pfs_wire::{
    Application, Appointment, AuthenticateReply, BookAppointment, BookAppointmentReply,
    CancelAppointment, CancelAppointmentReply, CheckVersion, CheckVersionReply, Element,
    ErrorReply, Guid, Header, LinkAccount, LinkAccountReply, LinkVariant, ListServiceAccesses,
    ListServiceAccessesReply, ListSlots, ListSlotsReply, Logoff, LogoffReply, PatientAccess,
    PatientScope, PatientSelected, PatientSelectedReply, Person, PersonAddress, Request,
    RequestMessage, RequestSystmOnlineMessages, RequestSystmOnlineMessagesReply, ServiceAccess,
    Session, Slot, SupportedVersion, UpperYesNo, ViewAppointments, ViewAppointmentsReply,
    WireMessage, YesNo,
};
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// One piece of a text value: any character XML allows (weighted towards the awkward ones), or
/// a sequence that means something to XML or to the clients.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<char>().prop_filter("a character XML allows", |c| is_xml_char(*c)).prop_map(String::from),
        3 => prop::sample::select(vec![
            '<', '>', '&', '"', '\'', '=', ';', '#', ' ', '\t', '\n', '\r', 'é', 'ß', '€', '中',
            '😀', '\u{85}', '\u{A0}', '\u{2028}', '\u{FEFF}', '\u{FFFD}',
        ]).prop_map(String::from),
        3 => "[a-zA-Z0-9]{1,6}",
        1 => prop::sample::select(vec![
            "errorCode", "errorCode=", "errorCode =", "&amp;", "&#1;", "]]>", "<!--", "-->",
            "<![CDATA[", "\r\n", "xmlns:p", "&lt;", "%s", "{}",
        ]).prop_map(str::to_owned),
    ]
}

/// A present value: non-empty and without surrounding white space, as `Fields::opt` reads it
/// (an empty or blank value counts as absent on the wire).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 1..8).prop_map(|parts| {
        let joined: String = parts.concat();
        let t = joined.trim();
        if t.is_empty() {
            "x".to_owned()
        } else {
            t.to_owned()
        }
    })
}

/// A value that may be empty: written as `name=""` and read back as empty.
fn text_or_empty() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just(String::new()), 3 => text()]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn guid() -> impl Strategy<Value = Guid> {
    any::<u128>().prop_map(|n| Guid(uuid::Uuid::from_u128(n)))
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1).unwrap()
}

/// Any date in the supported range.
fn date() -> impl Strategy<Value = NaiveDate> {
    let last = NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31).unwrap();
    let span = u64::try_from((last - first_day()).num_days()).unwrap();
    (0..=span).prop_map(|d| first_day() + Days::new(d))
}

/// Any whole-second wall-clock time in the supported range (replies and bookings carry seconds).
fn wall_clock() -> impl Strategy<Value = NaiveDateTime> {
    (date(), 0u32..86_400)
        .prop_map(|(d, s)| d.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap()))
}

/// A wall-clock time in tenths of a second (the `ListSlots/@startDate` form).
fn wall_clock_tenths() -> impl Strategy<Value = NaiveDateTime> {
    (date(), 0u32..86_400, 0u32..10).prop_map(|(d, s, tenth)| {
        d.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, tenth * 100_000_000).unwrap())
    })
}

fn header() -> impl Strategy<Value = Header> {
    (opt_text(), prop::option::of(guid()), opt_text()).prop_map(|(api_version, uuid, unit_id)| {
        Header {
            api_version,
            uuid,
            unit_id,
        }
    })
}

fn scope() -> impl Strategy<Value = PatientScope> {
    (text(), text()).prop_map(|(patient_id, online_user_id)| PatientScope {
        patient_id,
        online_user_id,
    })
}

fn application() -> impl Strategy<Value = Application> {
    (text_or_empty(), text_or_empty(), text(), text_or_empty()).prop_map(
        |(name, version, provider_id, device_type)| Application {
            name,
            version,
            provider_id,
            device_type,
        },
    )
}

fn secret() -> impl Strategy<Value = SecretString> {
    text().prop_map(SecretString::from)
}

fn person() -> impl Strategy<Value = Person> {
    (
        text(),
        date(),
        text_or_empty(),
        opt_text(),
        text_or_empty(),
        prop::option::of((text(), opt_text())),
    )
        .prop_map(
            |(patient_id, date_of_birth, gender, nhs_number, name, address)| Person {
                patient_id,
                date_of_birth,
                gender,
                nhs_number,
                name,
                address: address.map(|(address, address_type)| PersonAddress {
                    address,
                    address_type,
                }),
            },
        )
}

fn few<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(s, 0..4)
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// A `LinkVariant`'s fields (`LinkVariant` has no `Debug`, which proptest needs to report a case).
#[derive(Debug, Clone)]
enum Variant {
    Register(String, String),
    Retrieve(String),
    Create(String, Option<String>, Option<String>),
}

impl Variant {
    fn build(self) -> LinkVariant {
        match self {
            Variant::Register(account_id, key) => LinkVariant::Register {
                account_id,
                linkage_key: SecretString::from(key),
            },
            Variant::Retrieve(nhs_number) => LinkVariant::Retrieve { nhs_number },
            Variant::Create(nhs_number, email_address, mobile_no) => LinkVariant::Create {
                nhs_number,
                email_address,
                mobile_no,
            },
        }
    }
}

fn link_account() -> impl Strategy<Value = LinkAccount> {
    let variant = prop_oneof![
        (text(), text()).prop_map(|(a, k)| Variant::Register(a, k)),
        text().prop_map(Variant::Retrieve),
        (text(), opt_text(), opt_text()).prop_map(|(n, e, m)| Variant::Create(n, e, m)),
    ];
    (header(), text(), text(), date(), application(), variant).prop_map(
        |(header, organisation_code, last_name, date_of_birth, application, variant)| LinkAccount {
            header,
            organisation_code,
            last_name,
            date_of_birth,
            application,
            variant: variant.build(),
        },
    )
}

fn authenticate() -> impl Strategy<Value = pfs_wire::Authenticate> {
    (header(), text(), secret(), text(), application()).prop_map(
        |(header, account_id, passphrase, provider_id, application)| pfs_wire::Authenticate {
            header,
            account_id,
            passphrase,
            provider_id,
            application,
        },
    )
}

fn same_variant(a: &LinkVariant, b: &LinkVariant) -> bool {
    match (a, b) {
        (
            LinkVariant::Register {
                account_id: a1,
                linkage_key: k1,
            },
            LinkVariant::Register {
                account_id: a2,
                linkage_key: k2,
            },
        ) => a1 == a2 && k1.expose_secret() == k2.expose_secret(),
        (LinkVariant::Retrieve { nhs_number: n1 }, LinkVariant::Retrieve { nhs_number: n2 }) => {
            n1 == n2
        }
        (
            LinkVariant::Create {
                nhs_number: n1,
                email_address: e1,
                mobile_no: m1,
            },
            LinkVariant::Create {
                nhs_number: n2,
                email_address: e2,
                mobile_no: m2,
            },
        ) => n1 == n2 && e1 == e2 && m1 == m2,
        _ => false,
    }
}

fn assert_same_link(a: &LinkAccount, b: &LinkAccount) {
    assert_eq!(a.header, b.header);
    assert_eq!(a.organisation_code, b.organisation_code);
    assert_eq!(a.last_name, b.last_name);
    assert_eq!(a.date_of_birth, b.date_of_birth);
    assert_eq!(a.application, b.application);
    assert!(
        same_variant(&a.variant, &b.variant),
        "{:?}",
        a.variant.name()
    );
}

fn assert_same_authenticate(a: &pfs_wire::Authenticate, b: &pfs_wire::Authenticate) {
    assert_eq!(a.header, b.header);
    assert_eq!(a.account_id, b.account_id);
    assert_eq!(a.passphrase.expose_secret(), b.passphrase.expose_secret());
    assert_eq!(a.provider_id, b.provider_id);
    assert_eq!(a.application, b.application);
}

/// Encodes a request, checks the body is one the server accepts with the type's own limits,
/// and returns what both decoders (the message's and the server's `Request::decode`) read.
fn round_trip_request<M: RequestMessage>(m: &M) -> (M, Request) {
    let body = m.encode();
    assert_well_formed(&body);
    let direct = M::decode(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let served =
        Request::decode(M::ROOT, body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(served.message_type(), M::ROOT);
    (direct, served)
}

/// Every encoded body parses with the strictest reading, and no success reply or request
/// contains the text real clients take for an `Error`.
fn assert_well_formed(body: &str) {
    Element::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    if !body.contains("<Error ") {
        assert!(!body.contains("errorCode="), "{body}");
        assert!(!body.contains("errorCode ="), "{body}");
    }
}

macro_rules! request_round_trip {
    ($($test:ident: $strategy:expr => $ty:ident;)*) => {
        proptest! {
            $(
                #[test]
                fn $test(m in $strategy) {
                    let (direct, served) = round_trip_request(&m);
                    prop_assert_eq!(&direct, &m);
                    let Request::$ty(served) = served else { panic!("wrong variant") };
                    prop_assert_eq!(&served, &m);
                }
            )*
        }
    };
}

request_round_trip! {
    patient_selected: (header(), scope())
        .prop_map(|(header, scope)| PatientSelected { header, scope }) => PatientSelected;
    logoff: header().prop_map(|header| Logoff { header }) => Logoff;
    check_version: (header(), application())
        .prop_map(|(header, application)| CheckVersion { header, application }) => CheckVersion;
    list_service_accesses: (header(), scope())
        .prop_map(|(header, scope)| ListServiceAccesses { header, scope }) => ListServiceAccesses;
    list_slots: (header(), scope(), wall_clock_tenths(), any::<u32>())
        .prop_map(|(header, scope, start_date, number_of_days)| ListSlots {
            header, scope, start_date, number_of_days,
        }) => ListSlots;
    book_appointment: (header(), scope(), text(), wall_clock(), wall_clock(), opt_text())
        .prop_map(|(header, scope, session_id, start_date, end_date, notes)| BookAppointment {
            header, scope, session_id, start_date, end_date, notes,
        }) => BookAppointment;
    view_appointments: (header(), scope(), any::<bool>())
        .prop_map(|(header, scope, f)| ViewAppointments {
            header, scope, future_appointments: UpperYesNo(f),
        }) => ViewAppointments;
    cancel_appointment: (header(), scope(), text())
        .prop_map(|(header, scope, appt_id)| CancelAppointment { header, scope, appt_id })
        => CancelAppointment;
    request_systm_online_messages: (header(), scope())
        .prop_map(|(header, scope)| RequestSystmOnlineMessages { header, scope })
        => RequestSystmOnlineMessages;
    list_repeat_medication: (header(), scope())
        .prop_map(|(header, scope)| ListRepeatMedication { header, scope })
        => ListRepeatMedication;
    list_acute_medication: (header(), scope())
        .prop_map(|(header, scope)| ListAcuteMedication { header, scope })
        => ListAcuteMedication;
    request_medication: (header(), scope(), opt_text(), order())
        .prop_map(|(header, scope, notes, medications)| RequestMedication {
            header, scope, notes, medications,
        }) => RequestMedication;
    get_prescription_requests: (
        header(),
        scope(),
        prop::option::of(wall_clock_tenths()),
        prop::option::of(wall_clock_tenths()),
    )
        .prop_map(|(header, scope, start_date, end_date)| GetPrescriptionRequests {
            header, scope, start_date, end_date,
        }) => GetPrescriptionRequests;
    amend_prescription_request: (header(), scope(), text(), opt_text(), order(), any::<bool>())
        .prop_map(|(header, scope, request_id, notes, items, cancel)| AmendPrescriptionRequest {
            header,
            scope,
            request_id,
            action: if cancel { AmendAction::Cancel } else { AmendAction::Amend },
            notes,
            medications: if cancel { Vec::new() } else { items },
        }) => AmendPrescriptionRequest;
}

fn course_type() -> impl Strategy<Value = CourseType> {
    prop::sample::select(vec![CourseType::Repeat, CourseType::Acute])
}

/// An order's items: at least one, no id twice.
fn order() -> impl Strategy<Value = Vec<MedicationItem>> {
    prop::collection::vec((text(), course_type()), 1..5).prop_map(|items| {
        let mut out: Vec<MedicationItem> = Vec::new();
        for (drug_id, course_type) in items {
            if out.iter().all(|i| i.drug_id != drug_id) {
                out.push(MedicationItem {
                    drug_id,
                    course_type,
                });
            }
        }
        out
    })
}

fn medication() -> impl Strategy<Value = Medication> {
    (
        text(),
        course_type(),
        text_or_empty(),
        text_or_empty(),
        any::<bool>(),
    )
        .prop_map(|(drug_id, course_type, drug, details, r)| Medication {
            drug_id,
            course_type,
            drug,
            details,
            requestable: YesNo(r),
        })
}

fn prescription_request() -> impl Strategy<Value = PrescriptionRequest> {
    let status = prop::sample::select(vec![
        RequestStatus::Requested,
        RequestStatus::Issued,
        RequestStatus::Rejected,
        RequestStatus::Cancelled,
    ]);
    let item = (text(), text_or_empty(), course_type()).prop_map(|(drug_id, drug, course_type)| {
        RequestedMedication {
            drug_id,
            drug,
            course_type,
        }
    });
    (
        text(),
        wall_clock(),
        status,
        wall_clock(),
        opt_text(),
        opt_text(),
        few(item),
    )
        .prop_map(
            |(
                request_id,
                date_requested,
                status,
                status_date,
                notes,
                practice_comment,
                medications,
            )| {
                PrescriptionRequest {
                    request_id,
                    date_requested,
                    status,
                    status_date,
                    notes,
                    practice_comment,
                    medications,
                }
            },
        )
}

proptest! {
    #[test]
    fn link_account_round_trips(m in link_account()) {
        let (direct, served) = round_trip_request(&m);
        assert_same_link(&direct, &m);
        let Request::LinkAccount(served) = served else { panic!("wrong variant") };
        assert_same_link(&served, &m);
    }

    #[test]
    fn authenticate_round_trips(m in authenticate()) {
        let (direct, served) = round_trip_request(&m);
        assert_same_authenticate(&direct, &m);
        let Request::Authenticate(served) = served else { panic!("wrong variant") };
        assert_same_authenticate(&served, &m);
    }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

fn round_trip_reply<M: WireMessage>(m: &M) -> M {
    let body = m.encode();
    assert_well_formed(&body);
    M::decode(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

macro_rules! reply_round_trip {
    ($($test:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $test(m in $strategy) {
                    prop_assert_eq!(&round_trip_reply(&m), &m);
                }
            )*
        }
    };
}

fn slot() -> impl Strategy<Value = Slot> {
    (wall_clock(), wall_clock(), text_or_empty()).prop_map(|(start_date, end_date, slot_type)| {
        Slot {
            start_date,
            end_date,
            slot_type,
        }
    })
}

fn session() -> impl Strategy<Value = Session> {
    (
        text(),
        text_or_empty(),
        text_or_empty(),
        text_or_empty(),
        few(slot()),
    )
        .prop_map(
            |(session_id, session_type, staff_details, location, slots)| Session {
                session_id,
                session_type,
                staff_details,
                location,
                slots,
            },
        )
}

fn appointment() -> impl Strategy<Value = Appointment> {
    (
        text(),
        wall_clock(),
        wall_clock(),
        text_or_empty(),
        text_or_empty(),
        text_or_empty(),
    )
        .prop_map(
            |(appt_id, start_date, end_date, details, site_name, address)| Appointment {
                appt_id,
                start_date,
                end_date,
                details,
                site_name,
                address,
            },
        )
}

fn patient_access() -> impl Strategy<Value = PatientAccess> {
    (text(), text_or_empty(), text_or_empty()).prop_map(|(patient_id, unit_name, address)| {
        PatientAccess {
            patient_id,
            unit_name,
            address,
        }
    })
}

fn service_access() -> impl Strategy<Value = ServiceAccess> {
    (
        text(),
        text_or_empty(),
        text_or_empty(),
        text_or_empty(),
        any::<bool>(),
    )
        .prop_map(
            |(description, service_identifier, status, status_desc, ro)| ServiceAccess {
                description,
                service_identifier,
                status,
                status_desc,
                read_only: YesNo(ro),
            },
        )
}

fn opt_scope() -> impl Strategy<Value = Option<PatientScope>> {
    prop::option::of(scope())
}

fn opt_guid() -> impl Strategy<Value = Option<Guid>> {
    prop::option::of(guid())
}

reply_round_trip! {
    authenticate_reply: (opt_guid(), text(), opt_text(), person(), few(patient_access()), few(person()))
        .prop_map(|(uuid, online_user_id, patient_id, user, registration, people)| AuthenticateReply {
            uuid, online_user_id, patient_id, user, registration, people,
        });
    patient_selected_reply: (opt_guid(), opt_scope(), person())
        .prop_map(|(uuid, scope, person)| PatientSelectedReply { uuid, scope, person });
    logoff_reply: opt_guid().prop_map(|uuid| LogoffReply { uuid });
    check_version_reply: (opt_guid(), text(), text(), few((text(), text(), prop::option::of(date()))))
        .prop_map(|(uuid, current_version, minimum_version, supported)| CheckVersionReply {
            uuid,
            current_version,
            minimum_version,
            supported: supported
                .into_iter()
                .map(|(version, status, withdrawal_date)| SupportedVersion { version, status, withdrawal_date })
                .collect(),
        });
    list_service_accesses_reply: (opt_guid(), opt_scope(), few(service_access()))
        .prop_map(|(uuid, scope, services)| ListServiceAccessesReply { uuid, scope, services });
    list_slots_reply: (opt_scope(), opt_guid(), any::<u32>(), few(session()))
        .prop_map(|(scope, uuid, bookable_days, sessions)| ListSlotsReply {
            scope, uuid, bookable_days, sessions,
        });
    book_appointment_reply: (opt_scope(), opt_guid())
        .prop_map(|(scope, uuid)| BookAppointmentReply { scope, uuid });
    view_appointments_reply: (opt_scope(), opt_guid(), few(appointment()))
        .prop_map(|(scope, uuid, appointments)| ViewAppointmentsReply { scope, uuid, appointments });
    cancel_appointment_reply: (opt_scope(), opt_guid())
        .prop_map(|(scope, uuid)| CancelAppointmentReply { scope, uuid });
    request_systm_online_messages_reply: (opt_scope(), opt_guid(), opt_text(), opt_text(), opt_text())
        .prop_map(|(scope, uuid, book_appointments, request_medication_confirmation, medication)| {
            RequestSystmOnlineMessagesReply {
                scope, uuid, book_appointments, request_medication_confirmation, medication,
            }
        });
    list_repeat_medication_reply: (opt_scope(), opt_guid(), few(medication()))
        .prop_map(|(scope, uuid, medications)| ListRepeatMedicationReply { scope, uuid, medications });
    list_acute_medication_reply: (opt_scope(), opt_guid(), few(medication()))
        .prop_map(|(scope, uuid, medications)| ListAcuteMedicationReply { scope, uuid, medications });
    request_medication_reply: (opt_scope(), opt_guid(), opt_text(), opt_text())
        .prop_map(|(scope, uuid, message, request_id)| RequestMedicationReply {
            scope, uuid, message, request_id,
        });
    get_prescription_requests_reply: (opt_scope(), opt_guid(), few(prescription_request()))
        .prop_map(|(scope, uuid, requests)| GetPrescriptionRequestsReply { scope, uuid, requests });
    amend_prescription_request_reply: (opt_scope(), opt_guid(), text(), any::<bool>())
        .prop_map(|(scope, uuid, request_id, cancelled)| AmendPrescriptionRequestReply {
            scope,
            uuid,
            request_id,
            status: if cancelled { RequestStatus::Cancelled } else { RequestStatus::Requested },
        });
    error_reply: (text(), text_or_empty(), text_or_empty(), opt_guid())
        .prop_map(|(error_code, user_friendly_message, technical_message, uuid)| ErrorReply {
            error_code, user_friendly_message, technical_message, uuid,
        });
}

proptest! {
    #[test]
    fn link_account_reply_round_trips(
        uuid in opt_guid(),
        account_id in opt_text(),
        passphrase in opt_text(),
        passphrase_to_link in opt_text(),
    ) {
        let m = LinkAccountReply {
            uuid,
            account_id,
            passphrase: passphrase.clone().map(SecretString::from),
            passphrase_to_link: passphrase_to_link.clone().map(SecretString::from),
        };
        let back = round_trip_reply(&m);
        prop_assert_eq!(back.uuid, m.uuid);
        prop_assert_eq!(&back.account_id, &m.account_id);
        prop_assert_eq!(back.passphrase.map(|p| p.expose_secret().to_owned()), passphrase);
        prop_assert_eq!(
            back.passphrase_to_link.map(|p| p.expose_secret().to_owned()),
            passphrase_to_link
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The parser never panics
// ---------------------------------------------------------------------------------------------

/// Text built from the pieces of XML markup, so that generated documents get deep into the
/// parser instead of failing at the first byte.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "<",
            ">",
            "/>",
            "</",
            "=",
            "\"",
            "'",
            "&",
            ";",
            "&#",
            "&#x",
            "1",
            "A",
            "b",
            "Logoff",
            " ",
            "\t",
            "\n",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<?",
            "?>",
            "<?xml ",
            "version=\"1.0\"",
            "<!DOCTYPE",
            "\0",
            "\u{1}",
            "é",
            "\u{FFFE}",
            "&amp;",
            "&#1;",
            "xmlns:p=\"u\"",
            "p:",
            "uuid=\"0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93\"",
            "dateOfBirth=\"2024-06-03é12345\"",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|p| p.concat())
}

fn parse_everything(body: &[u8]) {
    let _ = Element::parse(body);
    for ty in pfs_wire::REQUEST_TYPES {
        let _ = Request::decode(ty, body);
    }
    let _ = pfs_wire::sniff_uuid(body);
    let ids = pfs_wire::sniff_root_ids(body);
    for id in [ids.unit_id, ids.patient_id].into_iter().flatten() {
        assert!(!id.is_empty() && id.len() <= pfs_wire::MAX_SNIFFED_ID);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&body);
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(body in any::<String>()) {
        parse_everything(body.as_bytes());
    }

    #[test]
    fn parsing_xml_like_strings_never_panics(body in xmlish()) {
        parse_everything(body.as_bytes());
    }

    #[test]
    fn scalar_readers_never_panic_and_stay_in_range(s in prop_oneof![
        any::<String>(),
        "[0-9+\\-:.TZé ]{0,40}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,40})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?",
    ]) {
        use chrono::Datelike;
        if let Ok(t) = parse_wall_clock(&s) {
            prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&t.year()));
        }
        if let Ok(d) = parse_date(&s) {
            prop_assert!((MIN_YEAR..=MAX_YEAR).contains(&d.year()));
        }
        let _ = s.parse::<Guid>();
        let _ = s.parse::<YesNo>();
        let _ = s.parse::<UpperYesNo>();
    }

    /// Whatever a tree holds (a value read from the database before validation existed), its
    /// document parses back, with each character XML forbids replaced by U+FFFD.
    #[test]
    fn writing_any_values_gives_a_well_formed_document(
        values in prop::collection::vec(any::<String>(), 1..4),
        text in any::<String>(),
        child_text in any::<String>(),
    ) {
        let mut el = Element::new("R");
        for (i, v) in values.iter().enumerate() {
            el = el.attr(&format!("a{i}"), v.clone());
        }
        let el = el.text(text).child(Element::new("C").text(child_text));
        let doc = el.to_document();
        prop_assert!(doc.chars().all(is_xml_char));
        let back = Element::parse(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}: {doc:?}"));
        let clean = |s: &str| -> String {
            s.chars().map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' }).collect()
        };
        for (i, v) in values.iter().enumerate() {
            let want = clean(v);
            prop_assert_eq!(back.get(&format!("a{i}")), Some(want.as_str()));
        }
        prop_assert_eq!(&back.text, &clean(&el.text));
        prop_assert_eq!(&back.children[0].text, &clean(&el.children[0].text));
    }
}
