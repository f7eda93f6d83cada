//! Golden tests of the online account messages (wire reference B.14, B.15).

use chrono::{NaiveDate, NaiveDateTime};
use pfs_wire::{
    Guid, LinkedApplication, PatientAccess, PatientScope, Person, PersonAddress, Request,
    RequestAccountInformationReply, ResetOnlineAccountReply, WireMessage,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn scope() -> PatientScope {
    PatientScope {
        patient_id: "9000001".into(),
        online_user_id: "9000001".into(),
    }
}

#[track_caller]
fn golden<T: WireMessage + PartialEq + std::fmt::Debug>(value: &T, expected: &str) {
    let encoded = value.encode();
    assert_eq!(encoded, format!("{DECL}{expected}"));
    assert!(!encoded.contains("errorCode"));
    assert_eq!(&T::decode(encoded.as_bytes()).unwrap(), value);
}

fn app() -> LinkedApplication {
    LinkedApplication {
        name: "ExampleApp".into(),
        provider_id: "a1b2c3d4e5f60718".into(),
        date_linked: t("2026-03-01 10:00:00"),
        last_used: t("2026-03-29 09:30:00"),
    }
}

#[test]
fn request_account_information_reply() {
    golden(
        &RequestAccountInformationReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            account_id: "400123987".into(),
            user: Person {
                patient_id: "9000001".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 14).unwrap(),
                gender: "Female".into(),
                nhs_number: Some("9990001112".into()),
                name: "Mrs Ada Example".into(),
                address: Some(PersonAddress {
                    address: "1 High Street, Leeds".into(),
                    address_type: Some("Home".into()),
                }),
            },
            applications: vec![app()],
            registration: vec![PatientAccess {
                patient_id: "9000001".into(),
                unit_name: "Riverside Surgery".into(),
                address: "1 High Street, Leeds".into(),
            }],
        },
        concat!(
            r#"<RequestAccountInformationReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" accountId="400123987">"#,
            r#"<User><Person patientId="9000001" dateOfBirth="1980-02-14T00:00:00.0Z" gender="Female"><NationalId type="NHS">9990001112</NationalId><PersonName name="Mrs Ada Example"/><Address address="1 High Street, Leeds" addressType="Home"/></Person></User>"#,
            r#"<LinkedApplication name="ExampleApp" providerId="a1b2c3d4e5f60718" dateLinked="2026-03-01T10:00:00.0Z" lastUsed="2026-03-29T09:30:00.0Z"/>"#,
            r#"<Registration><PatientAccess patientId="9000001"><SiteDetails unitName="Riverside Surgery"><Address address="1 High Street, Leeds"/></SiteDetails></PatientAccess></Registration>"#,
            r#"</RequestAccountInformationReply>"#
        ),
    );
}

#[test]
fn reset_online_account() {
    let Request::ResetOnlineAccount(m) = Request::decode(
        "ResetOnlineAccount",
        br#"<ResetOnlineAccount xmlns:xsd="http://www.w3.org/2001/XMLSchema" onlineUserId="9000001" patientId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" apiVersion="1"/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.provider_id, None);
    golden(
        &ResetOnlineAccountReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            unlinked: vec![app()],
        },
        concat!(
            r#"<ResetOnlineAccountReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93">"#,
            r#"<UnlinkedApplication name="ExampleApp" providerId="a1b2c3d4e5f60718" dateLinked="2026-03-01T10:00:00.0Z" lastUsed="2026-03-29T09:30:00.0Z"/>"#,
            r#"</ResetOnlineAccountReply>"#
        ),
    );
}
