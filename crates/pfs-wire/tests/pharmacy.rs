//! Golden tests of the nominated pharmacy messages (wire reference B.12, B.13).

use pfs_wire::{
    Address, DecodeError, Guid, PatientScope, PharmacyEntry, Request, RequestCommunityPharmacy,
    RequestCommunityPharmacyReply, TelephoneNumber, TelephoneType, UpdateCommunityPharmacy,
    UpdateCommunityPharmacyReply, WireMessage, YesNo,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";

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

fn served(ty: &str, body: &str) -> Result<Request, DecodeError> {
    Request::decode(ty, body.as_bytes())
}

fn entry(ods: &str, open: bool) -> PharmacyEntry {
    PharmacyEntry {
        ods_code: ods.into(),
        name: "Headingley Chemist".into(),
        open: YesNo(open),
        address: Address {
            address: "77 Otley Road, Leeds, LS6 3AA".into(),
            house_name_flat: Some("77".into()),
            street: Some("Otley Road".into()),
            town: Some("Leeds".into()),
            postcode: Some("LS6 3AA".into()),
            ..Address::default()
        },
        telephone_numbers: vec![TelephoneNumber {
            number: "01134960106".into(),
            number_type: TelephoneType::Work,
        }],
    }
}

const ENTRY: &str = r#"odsCode="FY906" name="Headingley Chemist" open="y"><Address address="77 Otley Road, Leeds, LS6 3AA" houseNameFlat="77" street="Otley Road" town="Leeds" postcode="LS6 3AA"/><TelephoneNumbers><TelephoneNumber number="01134960106" type="Work"/></TelephoneNumbers>"#;

#[test]
fn request_community_pharmacy() {
    let Request::RequestCommunityPharmacy(m) = served(
        "RequestCommunityPharmacy",
        r#"<RequestCommunityPharmacy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" postcode="ls6 3aa" onlineUserId="9000001" patientId="9000001" unitId="X12345" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" apiVersion="1"/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.postcode.as_deref(), Some("ls6 3aa"));
    assert_eq!(m.name, None);
    let Request::RequestCommunityPharmacy(m) = served(
        "RequestCommunityPharmacy",
        r#"<RequestCommunityPharmacy apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" patientId="9000001" onlineUserId="9000001" name="chemist"/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.name.as_deref(), Some("chemist"));
    let e = served(
        "RequestCommunityPharmacy",
        r#"<RequestCommunityPharmacy apiVersion="1" patientId="1" onlineUserId="1" name="a" postcode="LS6"/>"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("postcode or name"), "{e}");
    let back = RequestCommunityPharmacy::decode(m.encode().as_bytes()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn request_community_pharmacy_reply() {
    golden(
        &RequestCommunityPharmacyReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            nominated: Some(entry("FY906", true)),
            pharmacies: vec![entry("FY906", true)],
        },
        &format!(
            r#"<RequestCommunityPharmacyReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"><NominatedPharmacy {ENTRY}</NominatedPharmacy><Pharmacy {ENTRY}</Pharmacy></RequestCommunityPharmacyReply>"#
        ),
    );
    golden(
        &RequestCommunityPharmacyReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            nominated: None,
            pharmacies: Vec::new(),
        },
        &format!(
            r#"<RequestCommunityPharmacyReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"/>"#
        ),
    );
}

#[test]
fn update_community_pharmacy() {
    let Request::UpdateCommunityPharmacy(m) = served(
        "UpdateCommunityPharmacy",
        r#"<UpdateCommunityPharmacy apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001" remove="y"/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert!(m.remove);
    assert_eq!(m.ods_code, None);
    assert_eq!(
        UpdateCommunityPharmacy::decode(m.encode().as_bytes()).unwrap(),
        m
    );
    for bad in [
        r#"<UpdateCommunityPharmacy apiVersion="1" patientId="1" onlineUserId="1"/>"#,
        r#"<UpdateCommunityPharmacy apiVersion="1" patientId="1" onlineUserId="1" remove="n"/>"#,
        r#"<UpdateCommunityPharmacy apiVersion="1" patientId="1" onlineUserId="1" odsCode="FY906" remove="y"/>"#,
        r#"<UpdateCommunityPharmacy apiVersion="1" patientId="1" onlineUserId="1" odsCode="FY906" remove="maybe"/>"#,
    ] {
        assert!(served("UpdateCommunityPharmacy", bad).is_err(), "{bad}");
    }
    golden(
        &UpdateCommunityPharmacyReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            nominated: Some(entry("FY906", true)),
        },
        &format!(
            r#"<UpdateCommunityPharmacyReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"><NominatedPharmacy {ENTRY}</NominatedPharmacy></UpdateCommunityPharmacyReply>"#
        ),
    );
    golden(
        &UpdateCommunityPharmacyReply {
            scope: Some(scope()),
            uuid: Some(UUID.parse::<Guid>().unwrap()),
            nominated: None,
        },
        &format!(
            r#"<UpdateCommunityPharmacyReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"/>"#
        ),
    );
    // A closed pharmacy is written open="n".
    let closed = entry("FY906", false);
    let reply = UpdateCommunityPharmacyReply {
        scope: None,
        uuid: None,
        nominated: Some(closed),
    };
    assert!(reply.encode().contains(r#"open="n""#));
}
