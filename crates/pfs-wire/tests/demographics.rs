//! Golden tests of the demographics messages (wire reference B.10, B.11) and of the standard
//! tags they share with `AuthenticateReply` (`PersonName`, `Address`, `TelephoneNumbers`,
//! `EmailAddress`).

use chrono::{NaiveDate, NaiveDateTime};
use pfs_wire::{
    Address, ChangeDemographics, ChangeDemographicsReply, ChangeStatus, DecodeError,
    DemographicsChange, DemographicsPerson, Guid, Header, PatientScope, Person, PersonAddress,
    PersonName, Request, RetrieveDemographics, RetrieveDemographicsReply, TelephoneNumber,
    TelephoneType, WireMessage,
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
    let decoded = T::decode(encoded.as_bytes()).expect("an encoded message decodes");
    assert_eq!(&decoded, value);
}

fn served(ty: &str, body: &str) -> Result<Request, DecodeError> {
    Request::decode(ty, body.as_bytes())
}

fn address() -> Address {
    Address {
        address: "Flat 2, 14 Mill Lane, Headingley, Leeds, West Yorkshire, LS6 3AA".into(),
        house_name_flat: Some("Flat 2, 14".into()),
        street: Some("Mill Lane".into()),
        village: Some("Headingley".into()),
        town: Some("Leeds".into()),
        county: Some("West Yorkshire".into()),
        postcode: Some("LS6 3AA".into()),
        address_type: Some("Home".into()),
    }
}

fn phones() -> Vec<TelephoneNumber> {
    vec![
        TelephoneNumber {
            number: "07700900123".into(),
            number_type: TelephoneType::Mobile,
        },
        TelephoneNumber {
            number: "01134960000".into(),
            number_type: TelephoneType::Home,
        },
    ]
}

#[test]
fn retrieve_demographics_request() {
    let expected = RetrieveDemographics {
        header: header(),
        scope: scope(),
    };
    golden(&expected, &format!("<RetrieveDemographics {COMMON}/>"));
    let Request::RetrieveDemographics(m) = served(
        "RetrieveDemographics",
        &format!("<RetrieveDemographics {COMMON_REVERSED}/>"),
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m, expected);
    let literal = r#"<RetrieveDemographics apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001"/>"#;
    let Request::RetrieveDemographics(m) = served("RetrieveDemographics", literal).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m, expected);
}

#[test]
fn retrieve_demographics_reply() {
    let reply = RetrieveDemographicsReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        person: DemographicsPerson {
            patient_id: "9000001".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 14).unwrap(),
            gender: "Female".into(),
            nhs_number: Some("9990001112".into()),
            name: PersonName {
                name: "Mrs Ada Example".into(),
                title: Some("Mrs".into()),
                forenames: Some("Ada".into()),
                surname: Some("Example".into()),
            },
            address: Some(address()),
            telephone_numbers: phones(),
            email_address: Some("ada@example.org".into()),
        },
        changes: vec![DemographicsChange {
            change_id: "123456789".into(),
            date_requested: t("2026-03-29 09:00:00"),
            status: ChangeStatus::PendingApproval,
            status_date: t("2026-03-29 09:00:00"),
            practice_comment: None,
        }],
    };
    golden(
        &reply,
        concat!(
            r#"<RetrieveDemographicsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<Person patientId="9000001" dateOfBirth="1980-02-14T00:00:00.0Z" gender="Female">"#,
            r#"<NationalId type="NHS">9990001112</NationalId>"#,
            r#"<PersonName name="Mrs Ada Example" title="Mrs" forenames="Ada" surname="Example"/>"#,
            r#"<Address address="Flat 2, 14 Mill Lane, Headingley, Leeds, West Yorkshire, LS6 3AA" houseNameFlat="Flat 2, 14" street="Mill Lane" village="Headingley" town="Leeds" county="West Yorkshire" postcode="LS6 3AA" addressType="Home"/>"#,
            r#"<TelephoneNumbers><TelephoneNumber number="07700900123" type="Mobile"/><TelephoneNumber number="01134960000" type="Home"/></TelephoneNumbers>"#,
            r#"<EmailAddress address="ada@example.org"/>"#,
            r#"</Person>"#,
            r#"<DemographicsChange changeId="123456789" dateRequested="2026-03-29T09:00:00.0Z" status="PendingApproval" statusDate="2026-03-29T09:00:00.0Z"/>"#,
            r#"</RetrieveDemographicsReply>"#
        ),
    );
}

#[test]
fn retrieve_demographics_reply_without_contact_details() {
    let reply = RetrieveDemographicsReply {
        scope: Some(scope()),
        uuid: Some(guid()),
        person: DemographicsPerson {
            patient_id: "9000001".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 14).unwrap(),
            gender: "Female".into(),
            nhs_number: Some("9990001112".into()),
            name: PersonName::from_name("Ada Example".into()),
            address: Some(Address {
                address: "1 High Street, Leeds".into(),
                address_type: Some("Home".into()),
                ..Address::default()
            }),
            telephone_numbers: Vec::new(),
            email_address: None,
        },
        changes: Vec::new(),
    };
    golden(
        &reply,
        concat!(
            r#"<RetrieveDemographicsReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<Person patientId="9000001" dateOfBirth="1980-02-14T00:00:00.0Z" gender="Female">"#,
            r#"<NationalId type="NHS">9990001112</NationalId>"#,
            r#"<PersonName name="Ada Example"/>"#,
            r#"<Address address="1 High Street, Leeds" addressType="Home"/>"#,
            r#"<TelephoneNumbers/>"#,
            r#"</Person></RetrieveDemographicsReply>"#
        ),
    );
}

#[test]
fn change_demographics_request() {
    let expected = ChangeDemographics {
        header: header(),
        scope: scope(),
        address: Some(Address {
            address: String::new(),
            address_type: None,
            ..address()
        }),
        telephone_numbers: Some(phones()),
        email_address: Some(Some("ada@example.org".into())),
        person_name: None,
        date_of_birth: None,
    };
    let body = concat!(
        r#"<Address houseNameFlat="Flat 2, 14" street="Mill Lane" village="Headingley" town="Leeds" county="West Yorkshire" postcode="LS6 3AA"/>"#,
        r#"<TelephoneNumbers><TelephoneNumber type="mobile" number="07700900123"/><TelephoneNumber number="01134960000" type="HOME"/></TelephoneNumbers>"#,
        r#"<EmailAddress address="ada@example.org"/>"#
    );
    let Request::ChangeDemographics(m) = served(
        "ChangeDemographics",
        &format!("{DECL}<ChangeDemographics {COMMON_REVERSED}>{body}</ChangeDemographics>"),
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m, expected);
    // The encoder leaves out the empty one-line address; it reads back the same.
    let back = ChangeDemographics::decode(m.encode().as_bytes()).unwrap();
    assert_eq!(back, expected);
}

#[test]
fn change_demographics_removals_and_refused_fields() {
    let body = concat!(
        r#"<TelephoneNumbers/><EmailAddress/>"#,
        r#"<PersonName name="Someone Else" surname="Else"/>"#
    );
    let Request::ChangeDemographics(m) = served(
        "ChangeDemographics",
        &format!(
            r#"<ChangeDemographics {COMMON} dateOfBirth="1990-01-01T00:00:00.0Z">{body}</ChangeDemographics>"#
        ),
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.address, None);
    assert_eq!(m.telephone_numbers, Some(Vec::new()));
    assert_eq!(m.email_address, Some(None));
    assert_eq!(m.person_name.unwrap().surname.as_deref(), Some("Else"));
    assert_eq!(m.date_of_birth.as_deref(), Some("1990-01-01T00:00:00.0Z"));
}

#[test]
fn change_demographics_bad_telephone_type_is_named() {
    let e = served(
        "ChangeDemographics",
        &format!(
            r#"<ChangeDemographics {COMMON}><TelephoneNumbers><TelephoneNumber number="07700900123" type="Fax"/></TelephoneNumbers></ChangeDemographics>"#
        ),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "TelephoneNumber/@type must be Home, Mobile or Work"
    );
    assert!(!e.to_string().contains("0770"));
}

#[test]
fn change_demographics_reply() {
    for (status, text) in [
        (ChangeStatus::Applied, "Applied"),
        (ChangeStatus::PendingApproval, "PendingApproval"),
    ] {
        golden(
            &ChangeDemographicsReply {
                scope: Some(scope()),
                uuid: Some(guid()),
                status,
                change_id: "123456789".into(),
            },
            &format!(
                r#"<ChangeDemographicsReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}" status="{text}" changeId="123456789"/>"#
            ),
        );
    }
}

/// `Person` (of `AuthenticateReply` and `PatientSelectedReply`) goes through the same codec as
/// the demographics replies, and still writes only `name`, `address` and `addressType`.
#[test]
fn person_uses_the_standard_tags() {
    let person = Person {
        patient_id: "9000002".into(),
        date_of_birth: NaiveDate::from_ymd_opt(2015, 7, 1).unwrap(),
        gender: "Male".into(),
        nhs_number: Some("9990003334".into()),
        name: "Master Ben Example".into(),
        address: Some(PersonAddress {
            address: "2 Low Road, Leeds, LS1 1AA".into(),
            address_type: Some("Home".into()),
        }),
    };
    let reply = pfs_wire::PatientSelectedReply {
        uuid: None,
        scope: None,
        person,
    };
    golden(
        &reply,
        concat!(
            r#"<PatientSelectedReply><Person patientId="9000002" dateOfBirth="2015-07-01T00:00:00.0Z" gender="Male">"#,
            r#"<NationalId type="NHS">9990003334</NationalId><PersonName name="Master Ben Example"/>"#,
            r#"<Address address="2 Low Road, Leeds, LS1 1AA" addressType="Home"/></Person></PatientSelectedReply>"#
        ),
    );
    // A Person with the parts a demographics reply carries reads back with name and address.
    let full = r#"<PatientSelectedReply><Person patientId="9000002" dateOfBirth="2015-07-01T00:00:00.0Z" gender="Male"><PersonName name="Master Ben Example" surname="Example"/><Address address="2 Low Road" postcode="LS1 1AA"/></Person></PatientSelectedReply>"#;
    let back = pfs_wire::PatientSelectedReply::decode(full.as_bytes()).unwrap();
    assert_eq!(back.person.name, "Master Ben Example");
    assert_eq!(back.person.address.unwrap().address, "2 Low Road");
}
