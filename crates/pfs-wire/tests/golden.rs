//! Golden tests of the wire format.
//!
//! Every reply type is encoded and compared with the exact text a strict client expects, then
//! decoded back. Every request type is decoded from hand-written samples in the shapes of the
//! wire reference (§2): with and without an XML declaration, with the `xmlns:xsi`/`xmlns:xsd`
//! declarations the .NET serializer emits, and with attributes in orders unlike the encoder's.

use chrono::NaiveDate;
use pfs_wire::{
    Application, AuthenticateReply, CheckVersionReply, DecodeError, ErrorReply, Guid, Header,
    LinkAccount, LinkAccountReply, LinkVariant, ListServiceAccessesReply, LogoffReply,
    PatientAccess, PatientScope, PatientSelectedReply, Person, PersonAddress, Request,
    ServiceAccess, SupportedVersion, WireMessage, XmlError, YesNo,
};
use secrecy::{ExposeSecret, SecretString};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const XMLNS: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";
const PROVIDER: &str = "a1b2c3d4e5f60718";

fn guid(s: &str) -> Guid {
    s.parse().expect("a valid GUID")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
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

fn ada() -> Person {
    Person {
        patient_id: "9000001".into(),
        date_of_birth: date(1980, 2, 14),
        gender: "Female".into(),
        nhs_number: Some("9990001112".into()),
        name: "Mrs Ada Example".into(),
        address: None,
    }
}

fn ben() -> Person {
    Person {
        patient_id: "9000002".into(),
        date_of_birth: date(2015, 7, 1),
        gender: "Male".into(),
        nhs_number: Some("9990003334".into()),
        name: "Master Ben Example".into(),
        address: Some(PersonAddress {
            address: "2 Low Road, Leeds, LS1 1AA".into(),
            address_type: Some("Home".into()),
        }),
    }
}

fn site(patient_id: &str) -> PatientAccess {
    PatientAccess {
        patient_id: patient_id.into(),
        unit_name: "Riverside Surgery".into(),
        address: "1 High Street, Leeds".into(),
    }
}

fn application() -> Application {
    Application {
        name: "ExampleApp".into(),
        version: "2.3".into(),
        provider_id: PROVIDER.into(),
        device_type: "ExampleApp".into(),
    }
}

/// Asserts the golden text, that a strict client would not read it as an `Error` (unless it
/// is one), and returns the decoded value.
#[track_caller]
fn golden<T: WireMessage>(value: &T, expected: &str) -> T {
    let encoded = value.encode();
    assert_eq!(encoded, expected);
    assert_eq!(
        looks_like_error(&encoded),
        T::ROOT == "Error",
        "errorCode= must appear in Error replies only: {encoded}"
    );
    let decoded = T::decode(encoded.as_bytes()).expect("an encoded reply decodes");
    // Encoding the decoded value gives the same text again.
    assert_eq!(decoded.encode(), encoded);
    decoded
}

// ---------------------------------------------------------------------------------------------
// Replies: exact encodings and round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn authenticate_reply_golden() {
    let reply = AuthenticateReply {
        uuid: Some(guid(UUID)),
        online_user_id: "9000001".into(),
        patient_id: Some("9000001".into()),
        user: ada(),
        registration: vec![site("9000001"), site("9000002")],
        people: vec![ada(), ben()],
    };
    let expected = concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        r#"<AuthenticateReply onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" patientId="9000001">"#,
        r#"<User><Person patientId="9000001" dateOfBirth="1980-02-14T00:00:00.0Z" gender="Female">"#,
        r#"<NationalId type="NHS">9990001112</NationalId><PersonName name="Mrs Ada Example"/></Person></User>"#,
        r#"<Registration>"#,
        r#"<PatientAccess patientId="9000001"><SiteDetails unitName="Riverside Surgery"><Address address="1 High Street, Leeds"/></SiteDetails></PatientAccess>"#,
        r#"<PatientAccess patientId="9000002"><SiteDetails unitName="Riverside Surgery"><Address address="1 High Street, Leeds"/></SiteDetails></PatientAccess>"#,
        r#"</Registration>"#,
        r#"<Person patientId="9000001" dateOfBirth="1980-02-14T00:00:00.0Z" gender="Female">"#,
        r#"<NationalId type="NHS">9990001112</NationalId><PersonName name="Mrs Ada Example"/></Person>"#,
        r#"<Person patientId="9000002" dateOfBirth="2015-07-01T00:00:00.0Z" gender="Male">"#,
        r#"<NationalId type="NHS">9990003334</NationalId><PersonName name="Master Ben Example"/>"#,
        r#"<Address address="2 Low Road, Leeds, LS1 1AA" addressType="Home"/></Person>"#,
        r#"</AuthenticateReply>"#,
    );
    let decoded = golden(&reply, expected);
    assert_eq!(decoded, reply);
    // Fields a client reads, one by one (Person's Debug hides them, so compare explicitly).
    assert_eq!(decoded.user.name, "Mrs Ada Example");
    assert_eq!(decoded.user.date_of_birth, date(1980, 2, 14));
    assert_eq!(decoded.people[1].nhs_number.as_deref(), Some("9990003334"));
    assert_eq!(
        decoded.people[1]
            .address
            .as_ref()
            .map(|a| a.address.as_str()),
        Some("2 Low Road, Leeds, LS1 1AA")
    );
    assert_eq!(decoded.registration[1].unit_name, "Riverside Surgery");
    assert_eq!(decoded.registration[1].address, "1 High Street, Leeds");
}

#[test]
fn authenticate_reply_without_proxies_golden() {
    let reply = AuthenticateReply {
        uuid: None,
        online_user_id: "42".into(),
        patient_id: None,
        user: Person {
            patient_id: "42".into(),
            date_of_birth: date(2000, 12, 31),
            gender: String::new(),
            nhs_number: None,
            name: "Sam".into(),
            address: None,
        },
        registration: Vec::new(),
        people: Vec::new(),
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<AuthenticateReply onlineUserId="42"><User>"#,
            r#"<Person patientId="42" dateOfBirth="2000-12-31T00:00:00.0Z" gender=""><PersonName name="Sam"/></Person>"#,
            r#"</User><Registration/></AuthenticateReply>"#,
        ),
    );
    assert_eq!(decoded, reply);
}

#[test]
fn patient_selected_reply_golden() {
    let reply = PatientSelectedReply {
        uuid: Some(guid(UUID)),
        scope: Some(PatientScope {
            patient_id: "9000002".into(),
            online_user_id: "9000001".into(),
        }),
        person: ben(),
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<PatientSelectedReply uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" patientId="9000002" onlineUserId="9000001">"#,
            r#"<Person patientId="9000002" dateOfBirth="2015-07-01T00:00:00.0Z" gender="Male">"#,
            r#"<NationalId type="NHS">9990003334</NationalId><PersonName name="Master Ben Example"/>"#,
            r#"<Address address="2 Low Road, Leeds, LS1 1AA" addressType="Home"/></Person>"#,
            r#"</PatientSelectedReply>"#,
        ),
    );
    assert_eq!(decoded, reply);
    assert_eq!(decoded.person.gender, "Male");
    assert_eq!(
        decoded.person.address.and_then(|a| a.address_type),
        Some("Home".to_owned())
    );
}

#[test]
fn patient_selected_reply_in_the_reference_shape_decodes() {
    // §2.2: no uuid, no scope on the root.
    let body = r#"<PatientSelectedReply>
  <Person patientId="9000002" dateOfBirth="2015-07-01T00:00:00.0Z" gender="Male">
    <NationalId type="NHS">9990003334</NationalId>
    <PersonName name="Master Ben Example"/>
    <Address address="2 Low Road, Leeds, LS1 1AA" addressType="Home"/>
  </Person>
</PatientSelectedReply>"#;
    let r = PatientSelectedReply::decode(body.as_bytes()).unwrap();
    assert_eq!(r.uuid, None);
    assert_eq!(r.scope, None);
    assert_eq!(r.person, ben());
}

#[test]
fn logoff_reply_golden() {
    let reply = LogoffReply {
        uuid: Some(guid("8E1F0000-1111-4222-8333-444455556666")),
    };
    let decoded = golden(
        &reply,
        r#"<?xml version="1.0" encoding="utf-8"?><LogoffReply uuid="8e1f0000-1111-4222-8333-444455556666"/>"#,
    );
    assert_eq!(decoded, reply);
    let bare = golden(
        &LogoffReply { uuid: None },
        r#"<?xml version="1.0" encoding="utf-8"?><LogoffReply/>"#,
    );
    assert_eq!(bare.uuid, None);
}

#[test]
fn link_account_reply_golden() {
    let reply = LinkAccountReply {
        uuid: Some(guid(UUID)),
        account_id: Some("400123987".into()),
        passphrase: Some(SecretString::from("Zq3v-synthetic_passphrase")),
        passphrase_to_link: Some(SecretString::from("7QX2K-9HTRM-4BC8P")),
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<LinkAccountReply accountId="400123987" passphrase="Zq3v-synthetic_passphrase" "#,
            r#"passphraseToLink="7QX2K-9HTRM-4BC8P" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#,
        ),
    );
    // No PartialEq (secrets): compare field by field.
    assert_eq!(decoded.uuid, reply.uuid);
    assert_eq!(decoded.account_id.as_deref(), Some("400123987"));
    assert_eq!(
        decoded.passphrase.as_ref().map(|p| p.expose_secret()),
        Some("Zq3v-synthetic_passphrase")
    );
    assert_eq!(
        decoded
            .passphrase_to_link
            .as_ref()
            .map(|p| p.expose_secret()),
        Some("7QX2K-9HTRM-4BC8P")
    );
    // Debug never shows the secrets.
    let debug = format!("{decoded:?}");
    assert!(!debug.contains("synthetic"), "{debug}");
    assert!(!debug.contains("7QX2K"), "{debug}");
}

#[test]
fn link_account_reply_for_retrieve_has_no_passphrase() {
    let reply = LinkAccountReply {
        uuid: Some(guid(UUID)),
        account_id: Some("400123987".into()),
        passphrase: None,
        passphrase_to_link: Some(SecretString::from("7QX2K-9HTRM-4BC8P")),
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<LinkAccountReply accountId="400123987" passphraseToLink="7QX2K-9HTRM-4BC8P" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#,
        ),
    );
    assert!(decoded.passphrase.is_none());
    assert_eq!(decoded.account_id.as_deref(), Some("400123987"));
    let empty = golden(
        &LinkAccountReply::default(),
        r#"<?xml version="1.0" encoding="utf-8"?><LinkAccountReply/>"#,
    );
    assert!(empty.account_id.is_none() && empty.passphrase_to_link.is_none());
}

#[test]
fn check_version_reply_golden() {
    let reply = CheckVersionReply {
        uuid: Some(guid(UUID)),
        current_version: "1".into(),
        minimum_version: "1".into(),
        supported: vec![
            SupportedVersion {
                version: "1".into(),
                status: "current".into(),
                withdrawal_date: None,
            },
            SupportedVersion {
                version: "0".into(),
                status: "deprecated".into(),
                withdrawal_date: Some(date(2026, 3, 31)),
            },
        ],
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<CheckVersionReply uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" currentVersion="1" minimumVersion="1">"#,
            r#"<SupportedVersion version="1" status="current"/>"#,
            r#"<SupportedVersion version="0" status="deprecated" withdrawalDate="2026-03-31T00:00:00.0Z"/>"#,
            r#"</CheckVersionReply>"#,
        ),
    );
    assert_eq!(decoded, reply);
}

#[test]
fn list_service_accesses_reply_golden() {
    let reply = ListServiceAccessesReply {
        uuid: Some(guid(UUID)),
        scope: Some(PatientScope {
            patient_id: "9000001".into(),
            online_user_id: "9000001".into(),
        }),
        services: vec![
            ServiceAccess {
                description: "Messaging".into(),
                service_identifier: "512".into(),
                status: "A".into(),
                status_desc: "Available".into(),
                read_only: YesNo(false),
            },
            ServiceAccess {
                description: "Medical record".into(),
                service_identifier: "103".into(),
                status: "A".into(),
                status_desc: "Available".into(),
                read_only: YesNo(true),
            },
        ],
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<ListServiceAccessesReply uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" patientId="9000001" onlineUserId="9000001">"#,
            r#"<ServiceAccess description="Messaging" serviceIdentifier="512" status="A" statusDesc="Available" readOnly="n"/>"#,
            r#"<ServiceAccess description="Medical record" serviceIdentifier="103" status="A" statusDesc="Available" readOnly="y"/>"#,
            r#"</ListServiceAccessesReply>"#,
        ),
    );
    assert_eq!(decoded, reply);
}

#[test]
fn list_service_accesses_reply_in_the_reference_shape_decodes() {
    let body = r#"<ListServiceAccessesReply>
  <ServiceAccess description="Messaging" serviceIdentifier="512" status="A" statusDesc="Available" readOnly="n"/>
  <ServiceAccess description="Appointments" serviceIdentifier="101" status="A" statusDesc="Available" readOnly="N"/>
</ListServiceAccessesReply>"#;
    let r = ListServiceAccessesReply::decode(body.as_bytes()).unwrap();
    assert_eq!(r.scope, None);
    assert_eq!(r.services.len(), 2);
    assert_eq!(r.services[0].description, "Messaging");
    assert_eq!(r.services[0].status, "A");
    assert_eq!(r.services[1].read_only, YesNo(false));
}

#[test]
fn error_reply_golden() {
    let reply = ErrorReply {
        error_code: "6".into(),
        user_friendly_message: "You don't have access to this online service".into(),
        technical_message: "Service disabled for patient".into(),
        uuid: Some(guid("3e3d8bef-0000-4925-a263-149c15ac7208")),
    };
    let decoded = golden(
        &reply,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<Error errorCode="6" userFriendlyMessage="You don&apos;t have access to this online service" "#,
            r#"technicalMessage="Service disabled for patient" uuid="3e3d8bef-0000-4925-a263-149c15ac7208"/>"#,
        ),
    );
    assert_eq!(decoded, reply);
}

#[test]
fn error_reply_in_the_reference_shape_decodes() {
    // §3.1, with the line break and indentation of the example.
    let body = r#"<Error errorCode="6" userFriendlyMessage="You don't have access to this online service"
       technicalMessage="Service disabled for patient" uuid="3e3d8bef-0000-4925-a263-149c15ac7208"/>"#;
    let e = ErrorReply::decode(body.as_bytes()).unwrap();
    assert_eq!(e.error_code, "6");
    assert_eq!(
        e.user_friendly_message,
        "You don't have access to this online service"
    );
    assert_eq!(e.technical_message, "Service disabled for patient");
    assert_eq!(e.uuid, Some(guid("3e3d8bef-0000-4925-a263-149c15ac7208")));
}

// ---------------------------------------------------------------------------------------------
// Scalars inside replies
// ---------------------------------------------------------------------------------------------

#[test]
fn person_date_of_birth_is_an_xs_datetime_with_decorative_z() {
    for (d, text) in [
        (date(1980, 2, 14), "1980-02-14T00:00:00.0Z"),
        (date(2015, 7, 1), "2015-07-01T00:00:00.0Z"),
        (date(1900, 1, 1), "1900-01-01T00:00:00.0Z"),
        // A BST date: still midnight, no offset applied.
        (date(1999, 6, 30), "1999-06-30T00:00:00.0Z"),
    ] {
        let person = Person {
            date_of_birth: d,
            ..ada()
        };
        let reply = PatientSelectedReply {
            uuid: None,
            scope: None,
            person,
        };
        let out = reply.encode();
        assert!(
            out.contains(&format!(r#"dateOfBirth="{text}""#)),
            "{text}: {out}"
        );
        assert_eq!(
            PatientSelectedReply::decode(out.as_bytes())
                .unwrap()
                .person
                .date_of_birth,
            d
        );
    }
}

#[test]
fn flags_are_lower_case_y_and_n() {
    let services = |read_only| ListServiceAccessesReply {
        uuid: None,
        scope: None,
        services: vec![ServiceAccess {
            description: "Messaging".into(),
            service_identifier: "512".into(),
            status: "A".into(),
            status_desc: "Available".into(),
            read_only: YesNo(read_only),
        }],
    };
    assert!(services(true).encode().contains(r#"readOnly="y""#));
    assert!(services(false).encode().contains(r#"readOnly="n""#));
    assert_eq!(YesNo(true).as_str(), "y");
    assert_eq!(YesNo(false).as_str(), "n");
    // Requests: retrieveOnly is written as a lower-case y.
    let retrieve = LinkAccount {
        header: Header {
            api_version: Some("1".into()),
            uuid: Some(guid(UUID)),
            unit_id: None,
        },
        organisation_code: "X12345".into(),
        last_name: "Example".into(),
        date_of_birth: date(1980, 2, 14),
        application: application(),
        variant: LinkVariant::Retrieve {
            nhs_number: "9990001112".into(),
        },
    };
    assert!(retrieve.encode().contains(r#"retrieveOnly="y""#));
}

#[test]
fn error_code_text_in_values_is_escaped() {
    let sneaky = [
        "errorCode=5",
        "see errorCode =6 here",
        "errorCode\t=7",
        "a errorCode= b errorCode=c",
    ];
    for s in sneaky {
        // In an attribute value.
        let mut person = ada();
        person.name = s.to_owned();
        // In element text (NationalId).
        person.nhs_number = Some(s.to_owned());
        let reply = AuthenticateReply {
            uuid: Some(guid(UUID)),
            online_user_id: "1".into(),
            patient_id: Some("1".into()),
            user: person.clone(),
            registration: vec![PatientAccess {
                patient_id: "1".into(),
                unit_name: s.to_owned(),
                address: s.to_owned(),
            }],
            people: vec![person],
        };
        let out = reply.encode();
        assert!(
            !looks_like_error(&out),
            "{s:?} must be escaped in a success reply: {out}"
        );
        let back = AuthenticateReply::decode(out.as_bytes()).unwrap();
        assert_eq!(back, reply, "the escaped value decodes to the original");
        assert_eq!(back.user.name, s);

        let services = ListServiceAccessesReply {
            uuid: None,
            scope: None,
            services: vec![ServiceAccess {
                description: s.to_owned(),
                service_identifier: "1".into(),
                status: "A".into(),
                status_desc: s.to_owned(),
                read_only: YesNo(false),
            }],
        };
        let out = services.encode();
        assert!(!looks_like_error(&out), "{out}");
        assert_eq!(
            ListServiceAccessesReply::decode(out.as_bytes()).unwrap(),
            services
        );
    }
}

#[test]
fn special_characters_are_escaped_and_round_trip() {
    let mut person = ada();
    person.name = r#"O'Brien & "Sons" <Ltd>"#.into();
    let reply = PatientSelectedReply {
        uuid: None,
        scope: None,
        person,
    };
    let out = reply.encode();
    assert!(
        out.contains(r#"name="O&apos;Brien &amp; &quot;Sons&quot; &lt;Ltd&gt;""#),
        "{out}"
    );
    assert_eq!(PatientSelectedReply::decode(out.as_bytes()).unwrap(), reply);
}

// ---------------------------------------------------------------------------------------------
// Requests: hand-written samples in the shapes clients send
// ---------------------------------------------------------------------------------------------

#[test]
fn authenticate_request_decodes() {
    // §2.1 example, with a declaration and .NET namespace declarations.
    let with_decl = format!(
        r#"{DECL}
<Authenticate {XMLNS} apiVersion="1" uuid="{UUID}" unitId="X12345"
              accountId="400123987" passphrase="Zq3v+synthetic+k=" providerId="{PROVIDER}">
  <Application name="ExampleApp" version="2.3" providerId="{PROVIDER}" deviceType="ExampleApp"/>
</Authenticate>"#
    );
    // Attributes in reverse order, no declaration, namespaces last.
    let reversed = format!(
        r#"<Authenticate providerId="{PROVIDER}" passphrase="Zq3v+synthetic+k=" accountId="400123987" unitId="X12345" uuid="{UUID}" apiVersion="1" {XMLNS}><Application deviceType="ExampleApp" providerId="{PROVIDER}" version="2.3" name="ExampleApp" /></Authenticate>"#
    );
    for body in [with_decl, reversed] {
        let req = Request::decode("Authenticate", body.as_bytes()).unwrap();
        assert_eq!(req.message_type(), "Authenticate");
        assert!(!req.needs_session());
        assert_eq!(req.header().uuid, Some(guid(UUID)));
        let Request::Authenticate(m) = req else {
            panic!("not an Authenticate")
        };
        assert_eq!(m.header.api_version.as_deref(), Some("1"));
        assert_eq!(m.header.unit_id.as_deref(), Some("X12345"));
        assert_eq!(m.account_id, "400123987");
        assert_eq!(m.passphrase.expose_secret(), "Zq3v+synthetic+k=");
        assert_eq!(m.provider_id, PROVIDER);
        assert_eq!(m.application, application());
    }
}

#[test]
fn patient_selected_request_decodes() {
    for body in [
        format!(
            r#"<PatientSelected apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000002" onlineUserId="9000001"/>"#
        ),
        format!(
            r#"{DECL}<PatientSelected {XMLNS} onlineUserId="9000001" patientId="9000002" unitId="X12345" uuid="{UUID}" apiVersion="1"></PatientSelected>"#
        ),
    ] {
        let req = Request::decode("PatientSelected", body.as_bytes()).unwrap();
        assert!(req.needs_session());
        let Request::PatientSelected(m) = req else {
            panic!("not a PatientSelected")
        };
        assert_eq!(m.header.uuid, Some(guid(UUID)));
        assert_eq!(m.header.unit_id.as_deref(), Some("X12345"));
        assert_eq!(
            m.scope,
            PatientScope {
                patient_id: "9000002".into(),
                online_user_id: "9000001".into(),
            }
        );
    }
}

#[test]
fn logoff_request_decodes() {
    for body in [
        format!(r#"<Logoff apiVersion="1" uuid="{UUID}"/>"#),
        format!(r#"{DECL}<Logoff {XMLNS} uuid="{UUID}" apiVersion="1"/>"#),
    ] {
        let req = Request::decode("Logoff", body.as_bytes()).unwrap();
        assert!(req.needs_session());
        let Request::Logoff(m) = req else {
            panic!("not a Logoff")
        };
        assert_eq!(
            m.header,
            Header {
                api_version: Some("1".into()),
                uuid: Some(guid(UUID)),
                unit_id: None,
            }
        );
    }
    // The earliest client sent nothing but the element.
    let Request::Logoff(m) = Request::decode("Logoff", b"<Logoff/>").unwrap() else {
        panic!("not a Logoff")
    };
    assert_eq!(m.header.uuid, None);
    assert_eq!(m.header.api_version, None);
}

fn link(body: &str) -> LinkAccount {
    let req = Request::decode("LinkAccount", body.as_bytes()).unwrap();
    assert!(!req.needs_session());
    match req {
        Request::LinkAccount(m) => {
            assert_eq!(m.header.api_version.as_deref(), Some("1"));
            assert_eq!(m.header.uuid, Some(guid(UUID)));
            assert_eq!(m.header.unit_id, None);
            assert_eq!(m.organisation_code, "X12345");
            assert_eq!(m.last_name, "Example");
            assert_eq!(m.date_of_birth, date(1980, 2, 14));
            assert_eq!(m.application, application());
            m
        }
        other => panic!("not a LinkAccount: {other:?}"),
    }
}

const APP: &str = r#"<Application name="ExampleApp" version="2.3" providerId="a1b2c3d4e5f60718" deviceType="ExampleApp"/>"#;

#[test]
fn link_account_register_decodes() {
    let m = link(&format!(
        r#"{DECL}<LinkAccount {XMLNS} apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example"
             dateOfBirth="1980-02-14T00:00:00" accountId="400123987" passphrase="LK-7QX2-9HTR">
  {APP}
</LinkAccount>"#
    ));
    match m.variant {
        LinkVariant::Register {
            account_id,
            linkage_key,
        } => {
            assert_eq!(account_id, "400123987");
            assert_eq!(linkage_key.expose_secret(), "LK-7QX2-9HTR");
        }
        other => panic!("expected register, got {}", other.name()),
    }
    // Reversed attributes, no declaration.
    let m = link(&format!(
        r#"<LinkAccount passphrase="LK-7QX2-9HTR" accountId="400123987" dateOfBirth="1980-02-14T00:00:00" lastName="Example" organisationCode="X12345" uuid="{UUID}" apiVersion="1">{APP}</LinkAccount>"#
    ));
    assert_eq!(m.variant.name(), "register");
}

#[test]
fn link_account_retrieve_decodes() {
    let m = link(&format!(
        r#"<LinkAccount {XMLNS} apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example"
             dateOfBirth="1980-02-14T00:00:00" retrieveOnly="y" nhsNumber="9990001112">
  {APP}
</LinkAccount>"#
    ));
    match m.variant {
        LinkVariant::Retrieve { nhs_number } => assert_eq!(nhs_number, "9990001112"),
        other => panic!("expected retrieve, got {}", other.name()),
    }
}

#[test]
fn link_account_create_decodes() {
    let m = link(&format!(
        r#"{DECL}<LinkAccount mobileNo="07700900000" emailAddress="ada@example.org" nhsNumber="9990001112" dateOfBirth="1980-02-14T00:00:00" lastName="Example" organisationCode="X12345" uuid="{UUID}" apiVersion="1" {XMLNS}>{APP}</LinkAccount>"#
    ));
    match m.variant {
        LinkVariant::Create {
            nhs_number,
            email_address,
            mobile_no,
        } => {
            assert_eq!(nhs_number, "9990001112");
            assert_eq!(email_address.as_deref(), Some("ada@example.org"));
            assert_eq!(mobile_no.as_deref(), Some("07700900000"));
        }
        other => panic!("expected create, got {}", other.name()),
    }
}

#[test]
fn link_account_legacy_add_nhs_user_decodes_as_create() {
    // AddNhsUserRequest, serialised as LinkAccount: nhsNumber only.
    let m = link(&format!(
        r#"<LinkAccount {XMLNS} apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00" nhsNumber="9990001112">{APP}</LinkAccount>"#
    ));
    match m.variant {
        LinkVariant::Create {
            nhs_number,
            email_address,
            mobile_no,
        } => {
            assert_eq!(nhs_number, "9990001112");
            assert_eq!(email_address, None);
            assert_eq!(mobile_no, None);
        }
        other => panic!("expected create, got {}", other.name()),
    }
}

#[test]
fn link_account_date_of_birth_forms() {
    for dob in [
        "1980-02-14T00:00:00",
        "1980-02-14",
        "1980-02-14T00:00:00.0Z",
        "1980-02-14T00:00:00+00:00",
    ] {
        let m = link(&format!(
            r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="{dob}" nhsNumber="9990001112">{APP}</LinkAccount>"#
        ));
        assert_eq!(m.variant.name(), "create", "{dob}");
    }
}

#[test]
fn link_account_encodes_in_the_dotnet_shape() {
    let m = LinkAccount {
        header: Header {
            api_version: Some("1".into()),
            uuid: Some(guid(UUID)),
            unit_id: None,
        },
        organisation_code: "X12345".into(),
        last_name: "Example".into(),
        date_of_birth: date(1980, 2, 14),
        application: application(),
        variant: LinkVariant::Register {
            account_id: "400123987".into(),
            linkage_key: SecretString::from("LK-7QX2-9HTR"),
        },
    };
    let out = m.encode();
    assert_eq!(
        out,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<LinkAccount apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" organisationCode="X12345" "#,
            r#"lastName="Example" dateOfBirth="1980-02-14T00:00:00" accountId="400123987" passphrase="LK-7QX2-9HTR">"#,
            r#"<Application name="ExampleApp" version="2.3" providerId="a1b2c3d4e5f60718" deviceType="ExampleApp"/>"#,
            r#"</LinkAccount>"#,
        )
    );
    // And every variant survives a round trip through the request decoder.
    let variants = [
        m.variant.clone(),
        LinkVariant::Retrieve {
            nhs_number: "9990001112".into(),
        },
        LinkVariant::Create {
            nhs_number: "9990001112".into(),
            email_address: Some("ada@example.org".into()),
            mobile_no: None,
        },
        LinkVariant::Create {
            nhs_number: "9990001112".into(),
            email_address: None,
            mobile_no: None,
        },
    ];
    for variant in variants {
        let name = variant.name();
        let req = LinkAccount {
            variant,
            ..m.clone()
        };
        let back = link(&req.encode());
        assert_eq!(back.variant.name(), name);
        assert_eq!(back.encode(), req.encode());
    }
}

#[test]
fn check_version_request_decodes() {
    for body in [
        format!(r#"<CheckVersion apiVersion="1" uuid="{UUID}">{APP}</CheckVersion>"#),
        format!(
            r#"{DECL}<CheckVersion {XMLNS} uuid="{UUID}" apiVersion="1"><Application deviceType="ExampleApp" providerId="{PROVIDER}" version="2.3" name="ExampleApp"/></CheckVersion>"#
        ),
    ] {
        let req = Request::decode("CheckVersion", body.as_bytes()).unwrap();
        assert!(!req.needs_session());
        let Request::CheckVersion(m) = req else {
            panic!("not a CheckVersion")
        };
        assert_eq!(m.header.uuid, Some(guid(UUID)));
        assert_eq!(m.header.api_version.as_deref(), Some("1"));
        assert_eq!(m.application, application());
    }
}

#[test]
fn list_service_accesses_request_decodes() {
    for body in [
        format!(
            r#"<ListServiceAccesses apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000001" onlineUserId="9000001"/>"#
        ),
        format!(
            r#"{DECL}
<ListServiceAccesses {XMLNS} onlineUserId="9000001" patientId="9000001" unitId="X12345" uuid="{UUID}" apiVersion="1" />"#
        ),
    ] {
        let req = Request::decode("ListServiceAccesses", body.as_bytes()).unwrap();
        assert!(req.needs_session());
        let Request::ListServiceAccesses(m) = req else {
            panic!("not a ListServiceAccesses")
        };
        assert_eq!(m.header.unit_id.as_deref(), Some("X12345"));
        assert_eq!(m.scope.patient_id, "9000001");
        assert_eq!(m.scope.online_user_id, "9000001");
    }
}

#[test]
fn every_request_type_round_trips_through_request_encode() {
    let samples = [
        (
            "Authenticate",
            format!(
                r#"<Authenticate apiVersion="1" uuid="{UUID}" unitId="X12345" accountId="1" passphrase="p" providerId="{PROVIDER}">{APP}</Authenticate>"#
            ),
        ),
        (
            "PatientSelected",
            format!(
                r#"<PatientSelected apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="2" onlineUserId="1"/>"#
            ),
        ),
        (
            "Logoff",
            format!(r#"<Logoff apiVersion="1" uuid="{UUID}"/>"#),
        ),
        (
            "LinkAccount",
            format!(
                r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00" retrieveOnly="y" nhsNumber="9990001112">{APP}</LinkAccount>"#
            ),
        ),
        (
            "CheckVersion",
            format!(r#"<CheckVersion apiVersion="1" uuid="{UUID}">{APP}</CheckVersion>"#),
        ),
        (
            "ListServiceAccesses",
            format!(
                r#"<ListServiceAccesses apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "ListSlots",
            format!(
                r#"<ListSlots apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" startDate="2024-06-03T14:07:12.3Z" numberOfDays="56"/>"#
            ),
        ),
        (
            "BookAppointment",
            format!(
                r#"<BookAppointment apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" sessionId="77001" startDate="2024-06-04T09:00:00+00:00" endDate="2024-06-04T09:10:00+00:00" notes="Cough"/>"#
            ),
        ),
        (
            "ViewAppointments",
            format!(
                r#"<ViewAppointments apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" futureAppointments="Y"/>"#
            ),
        ),
        (
            "CancelAppointment",
            format!(
                r#"<CancelAppointment apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" apptId="3"/>"#
            ),
        ),
        (
            "RequestSystmOnlineMessages",
            format!(
                r#"<RequestSystmOnlineMessages apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "ListRepeatMedication",
            format!(
                r#"<ListRepeatMedication apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "ListAcuteMedication",
            format!(
                r#"<ListAcuteMedication apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "RequestMedication",
            format!(
                r#"<RequestMedication apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" notes="Thanks"><Medication drugId="4" type="Repeat"/></RequestMedication>"#
            ),
        ),
        (
            "GetPrescriptionRequests",
            format!(
                r#"<GetPrescriptionRequests apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" startDate="2024-01-05T00:00:00.0Z"/>"#
            ),
        ),
        (
            "AmendPrescriptionRequest",
            format!(
                r#"<AmendPrescriptionRequest apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" requestId="5" action="Cancel"/>"#
            ),
        ),
        (
            "RetrieveDemographics",
            format!(
                r#"<RetrieveDemographics apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "ChangeDemographics",
            format!(
                r#"<ChangeDemographics apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"><Address street="Mill Lane" postcode="LS6 3AA"/><TelephoneNumbers><TelephoneNumber number="07700900123" type="Mobile"/></TelephoneNumbers><EmailAddress address="ada@example.org"/></ChangeDemographics>"#
            ),
        ),
        (
            "RequestCommunityPharmacy",
            format!(
                r#"<RequestCommunityPharmacy apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" postcode="LS6 3AA"/>"#
            ),
        ),
        (
            "UpdateCommunityPharmacy",
            format!(
                r#"<UpdateCommunityPharmacy apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" odsCode="FY906"/>"#
            ),
        ),
        (
            "RequestAccountInformation",
            format!(
                r#"<RequestAccountInformation apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "ResetOnlineAccount",
            format!(
                r#"<ResetOnlineAccount apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" providerId="a1b2c3d4e5f60718"/>"#
            ),
        ),
        (
            "MessageRecipients",
            format!(
                r#"<MessageRecipients apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "MessagesView",
            format!(
                r#"<MessagesView apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "MessageCreate",
            format!(
                r#"<MessageCreate apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" unitRecipientId="700000000002" conversationId="300000000001" message="Please call me back."><Attachment fileName="scan.png" fileType="png">iVBORw0KGgo=</Attachment></MessageCreate>"#
            ),
        ),
        (
            "MessageMarkAsRead",
            format!(
                r#"<MessageMarkAsRead apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"><Message messageId="300000000002"/></MessageMarkAsRead>"#
            ),
        ),
        (
            "UnreadMessageCount",
            format!(
                r#"<UnreadMessageCount apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "MessageDelete",
            format!(
                r#"<MessageDelete apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"><Message messageId="300000000002"/><Message messageId="300000000003"/></MessageDelete>"#
            ),
        ),
        (
            "RequestBinaryData",
            format!(
                r#"<RequestBinaryData apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" binaryDataId="550000000123"/>"#
            ),
        ),
        (
            "ViewPatientOverview",
            format!(
                r#"<ViewPatientOverview apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "RequestPatientRecord",
            format!(
                r#"<RequestPatientRecord apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            "TestResultsView",
            format!(
                r#"<TestResultsView apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" startDate="2024-04-05T00:00:00.0Z" endDate="2024-06-03T23:59:59.0Z"/>"#
            ),
        ),
        (
            "ListRecordAccesses",
            format!(
                r#"<ListRecordAccesses apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="1" onlineUserId="1" startDate="2024-04-05T00:00:00.0Z" endDate="2024-06-03T23:59:59.0Z"/>"#
            ),
        ),
    ];
    assert_eq!(samples.len(), pfs_wire::REQUEST_TYPES.len());
    for (ty, body) in samples {
        assert!(pfs_wire::REQUEST_TYPES.contains(&ty), "{ty}");
        let req = Request::decode(ty, body.as_bytes()).unwrap();
        assert_eq!(req.message_type(), ty);
        let encoded = req.encode();
        // The encoder writes exactly what was read (attribute order matches the samples).
        assert_eq!(encoded, format!("{DECL}{body}"), "{ty}");
        let again = Request::decode(ty, encoded.as_bytes()).unwrap();
        assert_eq!(again.encode(), encoded, "{ty}");
    }
}

// ---------------------------------------------------------------------------------------------
// Request decode errors
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_root_is_reported_as_wrong_root() {
    let e = Request::decode(
        "Authenticate",
        format!(r#"<Logoff uuid="{UUID}"/>"#).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        DecodeError::WrongRoot {
            expected: "Authenticate".into(),
            found: "Logoff".into(),
        }
    );
    // Case matters: the real client rejects an unexpected root too.
    let e = Request::decode("Logoff", b"<logoff/>").unwrap_err();
    assert!(matches!(e, DecodeError::WrongRoot { .. }), "{e:?}");
    // A namespace prefix is not part of the name.
    assert!(Request::decode("Logoff", br#"<p:Logoff xmlns:p="urn:x" apiVersion="1"/>"#).is_ok());
    // Reply decoding checks the root as well.
    let e = LogoffReply::decode(b"<PatientSelectedReply/>").unwrap_err();
    assert!(matches!(e, DecodeError::WrongRoot { .. }), "{e:?}");
}

#[test]
fn missing_attributes_are_named() {
    let cases: &[(&str, String, &'static str, &'static str)] = &[
        (
            "Authenticate",
            format!(
                r#"<Authenticate apiVersion="1" uuid="{UUID}" unitId="X12345" passphrase="p" providerId="{PROVIDER}">{APP}</Authenticate>"#
            ),
            "Authenticate",
            "accountId",
        ),
        (
            "Authenticate",
            format!(
                r#"<Authenticate apiVersion="1" uuid="{UUID}" accountId="1" passphrase=" " providerId="{PROVIDER}">{APP}</Authenticate>"#
            ),
            "Authenticate",
            "passphrase",
        ),
        (
            "PatientSelected",
            format!(r#"<PatientSelected apiVersion="1" uuid="{UUID}" onlineUserId="1"/>"#),
            "PatientSelected",
            "patientId",
        ),
        (
            "ListServiceAccesses",
            format!(r#"<ListServiceAccesses apiVersion="1" uuid="{UUID}" patientId="1"/>"#),
            "ListServiceAccesses",
            "onlineUserId",
        ),
        (
            "LinkAccount",
            format!(
                r#"<LinkAccount apiVersion="1" uuid="{UUID}" lastName="Example" dateOfBirth="1980-02-14T00:00:00" nhsNumber="9990001112">{APP}</LinkAccount>"#
            ),
            "LinkAccount",
            "organisationCode",
        ),
        (
            "LinkAccount",
            format!(
                r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00" accountId="1">{APP}</LinkAccount>"#
            ),
            "LinkAccount",
            "passphrase",
        ),
        (
            "LinkAccount",
            format!(
                r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00" retrieveOnly="y">{APP}</LinkAccount>"#
            ),
            "LinkAccount",
            "nhsNumber",
        ),
        (
            "CheckVersion",
            format!(
                r#"<CheckVersion apiVersion="1" uuid="{UUID}"><Application name="a"/></CheckVersion>"#
            ),
            "Application",
            "providerId",
        ),
    ];
    for &(ty, ref body, element, attr) in cases {
        let e = Request::decode(ty, body.as_bytes()).unwrap_err();
        assert_eq!(e, DecodeError::Missing { element, attr }, "{ty}: {body}");
        let text = e.to_string();
        assert!(text.contains(attr), "{text}");
    }
}

#[test]
fn missing_application_and_bad_values_are_reported() {
    let e = Request::decode(
        "CheckVersion",
        format!(r#"<CheckVersion apiVersion="1" uuid="{UUID}"/>"#).as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        DecodeError::MissingChild {
            element: "CheckVersion",
            child: "Application",
        }
    );

    let e =
        Request::decode("Logoff", br#"<Logoff apiVersion="1" uuid="not-a-guid"/>"#).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Invalid {
                element: "Logoff",
                attr: "uuid",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        !e.to_string().contains("not-a-guid"),
        "values are never quoted"
    );

    let e = Request::decode(
        "LinkAccount",
        format!(
            r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="14/02/1980" nhsNumber="9990001112">{APP}</LinkAccount>"#
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Invalid {
                attr: "dateOfBirth",
                ..
            }
        ),
        "{e:?}"
    );

    let e = Request::decode(
        "LinkAccount",
        format!(
            r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00" retrieveOnly="maybe" nhsNumber="9990001112">{APP}</LinkAccount>"#
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Invalid {
                attr: "retrieveOnly",
                ..
            }
        ),
        "{e:?}"
    );

    // No variant attributes at all.
    let e = Request::decode(
        "LinkAccount",
        format!(
            r#"<LinkAccount apiVersion="1" uuid="{UUID}" organisationCode="X12345" lastName="Example" dateOfBirth="1980-02-14T00:00:00">{APP}</LinkAccount>"#
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(e, DecodeError::Shape(_)), "{e:?}");
}

#[test]
fn unknown_type_is_reported_before_parsing() {
    for ty in ["", "Bogus", "authenticate", "AuthenticateReply", "Error"] {
        assert_eq!(
            Request::decode(ty, b"<Bogus/>").unwrap_err(),
            DecodeError::UnknownType,
            "{ty:?}"
        );
    }
    // Even when the body would not parse.
    assert_eq!(
        Request::decode("Nope", b"<<<").unwrap_err(),
        DecodeError::UnknownType
    );
}

#[test]
fn unsafe_or_broken_xml_is_refused() {
    let cases: Vec<(Vec<u8>, Option<XmlError>)> = vec![
        (b"\xff\xfe<Logoff/>".to_vec(), Some(XmlError::NotUtf8)),
        (b"".to_vec(), Some(XmlError::Empty)),
        (b"   ".to_vec(), Some(XmlError::Empty)),
        (
            br#"<!DOCTYPE Logoff [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><Logoff uuid="&b;"/>"#.to_vec(),
            Some(XmlError::DocType),
        ),
        (br#"<Logoff apiVersion="&x;"/>"#.to_vec(), Some(XmlError::Entity)),
        (b"<Logoff>&x;</Logoff>".to_vec(), Some(XmlError::Entity)),
        (
            ("<Logoff>".to_owned() + &"<a>".repeat(100) + &"</a>".repeat(100) + "</Logoff>")
                .into_bytes(),
            Some(XmlError::TooComplex),
        ),
        (b"<Logoff>".to_vec(), None),
        (b"<Logoff></Logof>".to_vec(), None),
        (b"<Logoff/><Logoff/>".to_vec(), None),
        (b"Logoff".to_vec(), None),
    ];
    for (body, want) in cases {
        let e = Request::decode("Logoff", &body).unwrap_err();
        match (&e, want) {
            (DecodeError::Xml(got), Some(want)) => {
                assert_eq!(got, &want, "{}", String::from_utf8_lossy(&body))
            }
            (DecodeError::Xml(XmlError::Malformed { .. }), None) => {}
            _ => panic!("{}: {e:?}", String::from_utf8_lossy(&body)),
        }
    }
    // Predefined entities and character references are fine.
    let Request::PatientSelected(m) = Request::decode(
        "PatientSelected",
        br#"<PatientSelected patientId="&#49;&amp;2" onlineUserId="&#x31;"/>"#,
    )
    .unwrap() else {
        panic!("not a PatientSelected")
    };
    assert_eq!(m.scope.patient_id, "1&2");
    assert_eq!(m.scope.online_user_id, "1");
}

#[test]
fn sniff_uuid_finds_the_request_uuid_even_in_broken_xml() {
    let body = format!(r#"<Authenticate apiVersion="1" uuid="{UUID}" accountId=>"#);
    assert_eq!(pfs_wire::sniff_uuid(body.as_bytes()), Some(guid(UUID)));
    let body = format!(r#"<Logoff uuid='{UUID}'"#);
    assert_eq!(pfs_wire::sniff_uuid(body.as_bytes()), Some(guid(UUID)));
    assert_eq!(pfs_wire::sniff_uuid(br#"<Logoff uuid="nope"/>"#), None);
    assert_eq!(pfs_wire::sniff_uuid(b""), None);
}

/// What `pfs call` fills in from a session: the `suid` header for every message but the three
/// that come before a session, and `unitId`, `patientId` and `onlineUserId` for every message
/// that names a patient: all but those three and `Logoff`.
#[test]
fn which_requests_take_a_session_and_name_a_patient() {
    let before_session = ["LinkAccount", "Authenticate", "CheckVersion"];
    for &t in pfs_wire::REQUEST_TYPES {
        assert_eq!(
            Request::type_needs_session(t),
            Some(!before_session.contains(&t)),
            "{t}"
        );
        assert_eq!(
            Request::is_per_patient(t),
            Some(!before_session.contains(&t) && t != "Logoff"),
            "{t}"
        );
    }
    assert_eq!(Request::type_needs_session("NoSuchMessage"), None);
    assert_eq!(Request::is_per_patient("NoSuchMessage"), None);
}

#[test]
fn sniff_root_ids_reads_the_root_only() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?><!-- c --><ViewAppointments xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" apiVersion="1" unitId=" Y99001 " patientId="1000001" onlineUserId="1000002"><Inner patientId="999" /></ViewAppointments>"#;
    let ids = pfs_wire::sniff_root_ids(body.as_bytes());
    assert_eq!(ids.unit_id.as_deref(), Some("Y99001"));
    assert_eq!(ids.patient_id.as_deref(), Some("1000001"));
    // LinkAccount names its practice as organisationCode.
    let link = r#"<LinkAccount uuid="x" organisationCode="A12345" />"#;
    let ids = pfs_wire::sniff_root_ids(link.as_bytes());
    assert_eq!(ids.unit_id.as_deref(), Some("A12345"));
    assert_eq!(ids.patient_id, None);
    // Only the root: a child's patientId is not the request's.
    let child = r#"<Logoff uuid="x"><X patientId="1"/></Logoff>"#;
    assert_eq!(
        pfs_wire::sniff_root_ids(child.as_bytes()),
        Default::default()
    );
    for broken in [
        "",
        "not xml",
        "<!DOCTYPE x><X unitId=\"A\"/>",
        "<X unitId=\"&bogus;\" patientId=\"7\"",
    ] {
        let ids = pfs_wire::sniff_root_ids(broken.as_bytes());
        assert_eq!(ids.unit_id, None, "{broken:?}");
    }
}
