//! Demographics: RetrieveDemographics and ChangeDemographics over real mutual TLS, through the
//! SDK and as raw XML, on both stores; the practice's approval flow through the admin API.

use pfs_client::{DemographicsUpdate, ExposeSecret, Session};
use pfs_testkit::TestServer;
use pfs_wire::{Address, ChangeStatus, TelephoneNumber, TelephoneType};
use serde_json::json;

use crate::appointments::{User, set_settings};
use crate::session::{DECLARATION, XMLNS, error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";

fn address(house: &str, street: &str, postcode: &str) -> Address {
    Address {
        house_name_flat: Some(house.into()),
        street: Some(street.into()),
        town: Some("Leeds".into()),
        postcode: Some(postcode.into()),
        ..Address::default()
    }
}

fn phone(number: &str, number_type: TelephoneType) -> TelephoneNumber {
    TelephoneNumber {
        number: number.into(),
        number_type,
    }
}

/// The selected patient's details as the patient sees them: (one-line address, postcode,
/// numbers, e-mail).
async fn seen(
    s: &Session,
) -> (
    String,
    Option<String>,
    Vec<(String, TelephoneType)>,
    Option<String>,
) {
    let p = s.retrieve_demographics().await.unwrap().person;
    let a = p.address.unwrap();
    (
        a.address,
        a.postcode,
        p.telephone_numbers
            .into_iter()
            .map(|t| (t.number, t.number_type))
            .collect(),
        p.email_address,
    )
}

async fn retrieve_and_change(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();

    // The demo seed's details, with every standard tag.
    let reply = s.retrieve_demographics().await.unwrap();
    let p = &reply.person;
    assert_eq!(p.patient_id, me);
    assert_eq!(p.name.name, "Ms Dina Patel");
    assert_eq!(p.name.title.as_deref(), Some("Ms"));
    assert_eq!(p.name.forenames.as_deref(), Some("Dina"));
    assert_eq!(p.name.surname.as_deref(), Some("Patel"));
    assert_eq!(p.date_of_birth.to_string(), "1992-11-05");
    let a = p.address.as_ref().unwrap();
    assert_eq!(a.address, "9 Park View, Leeds, LS6 2QB");
    assert_eq!(a.postcode.as_deref(), Some("LS6 2QB"));
    assert_eq!(a.address_type.as_deref(), Some("Home"));
    assert_eq!(
        p.telephone_numbers,
        vec![phone("07700900004", TelephoneType::Mobile)]
    );
    assert_eq!(p.email_address.as_deref(), Some("dina.patel@example.org"));
    assert!(reply.changes.is_empty());

    // A change in untidy forms is applied at once (the default), normalised.
    let r = s
        .change_demographics(DemographicsUpdate {
            address: Some(Address {
                village: Some("  Headingley ".into()),
                ..address("Flat 2,  14", "Mill   Lane", "ls6 3aa")
            }),
            telephone_numbers: Some(vec![
                phone("+44 (0)7700 900 111", TelephoneType::Mobile),
                phone("(0113) 496-0222", TelephoneType::Work),
            ]),
            email_address: Some(Some(" Dina.P@Example.ORG ".into())),
        })
        .await
        .unwrap();
    assert_eq!(r.status, ChangeStatus::Applied);
    assert_eq!(
        seen(&s).await,
        (
            "Flat 2, 14 Mill Lane, Headingley, Leeds, LS6 3AA".to_owned(),
            Some("LS6 3AA".to_owned()),
            vec![
                ("07700900111".to_owned(), TelephoneType::Mobile),
                ("01134960222".to_owned(), TelephoneType::Work),
            ],
            Some("Dina.P@example.org".to_owned()),
        )
    );
    let changes = s.retrieve_demographics().await.unwrap().changes;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].change_id, r.change_id);
    assert_eq!(changes[0].status, ChangeStatus::Applied);

    // The one-line address follows in PatientSelected and AuthenticateReply.
    let selected = s.select_patient(&me).await.unwrap();
    assert_eq!(
        selected.person.address.unwrap().address,
        "Flat 2, 14 Mill Lane, Headingley, Leeds, LS6 3AA"
    );

    // Only the e-mail address: removed; the rest kept. Only the numbers: all removed.
    s.change_demographics(DemographicsUpdate {
        email_address: Some(None),
        ..DemographicsUpdate::default()
    })
    .await
    .unwrap();
    s.change_demographics(DemographicsUpdate {
        telephone_numbers: Some(Vec::new()),
        ..DemographicsUpdate::default()
    })
    .await
    .unwrap();
    let (line, _, numbers, email) = seen(&s).await;
    assert_eq!(line, "Flat 2, 14 Mill Lane, Headingley, Leeds, LS6 3AA");
    assert!(numbers.is_empty());
    assert_eq!(email, None);

    // The access log has the reads and the changes.
    let (status, log) = t
        .admin("GET", &format!("/api/patients/{me}/demographics"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["changes"].as_array().unwrap().len(), 3);
}

async fn raw_xml_echoes_and_exact_tags(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Jones").await;
    let s = user.session().await;
    let pid = s.online_user_id().to_owned();
    let suid = s.suid().expose_secret().to_owned();
    let client = t.client();
    let common = |root: &str, uuid: &str| {
        format!(
            r#"<{root} {XMLNS} onlineUserId="{pid}" patientId="{pid}" unitId="{ODS}" uuid="{uuid}" apiVersion="1""#
        )
    };
    let uuid = new_uuid();
    let r = client
        .raw(
            "RetrieveDemographics",
            Some(&suid),
            format!("{DECLARATION}{}/>", common("RetrieveDemographics", &uuid)),
        )
        .await
        .unwrap();
    let el = ok_body(&r, "RetrieveDemographicsReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(pid.as_str()));
    assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
    for expected in [
        r#"dateOfBirth="1975-03-22T00:00:00.0Z""#,
        r#"<PersonName name="Mr Carl Jones" title="Mr" forenames="Carl" surname="Jones"/>"#,
        r#"<Address address="14 Mill Lane, Leeds, LS2 7HT" houseNameFlat="14" street="Mill Lane" town="Leeds" postcode="LS2 7HT" addressType="Home"/>"#,
        r#"<TelephoneNumbers><TelephoneNumber number="07700900003" type="Mobile"/></TelephoneNumbers>"#,
        r#"<EmailAddress address="carl.jones@example.org"/>"#,
    ] {
        assert!(r.body.contains(expected), "{expected} not in {}", r.body);
    }

    let uuid = new_uuid();
    let body = format!(
        r#"{}><TelephoneNumbers><TelephoneNumber type="home" number="0113 496 0333"/></TelephoneNumbers></ChangeDemographics>"#,
        common("ChangeDemographics", &uuid)
    );
    let r = client
        .raw("ChangeDemographics", Some(&suid), body)
        .await
        .unwrap();
    let el = ok_body(&r, "ChangeDemographicsReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(pid.as_str()));
    assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
    assert_eq!(el.get("status"), Some("Applied"));
    let r = client
        .raw(
            "RetrieveDemographics",
            Some(&suid),
            format!("{}/>", common("RetrieveDemographics", &new_uuid())),
        )
        .await
        .unwrap();
    assert!(
        r.body
            .contains(r#"<TelephoneNumber number="01134960333" type="Home"/>"#),
        "{}",
        r.body
    );
    // DemographicsChange dates are in the reply date format.
    let el = ok_body(&r, "RetrieveDemographicsReply");
    let change = el.first("DemographicsChange").unwrap();
    let date = change.get("dateRequested").unwrap();
    assert_eq!(date.len(), 22, "{date}");
    assert!(date.ends_with(".0Z"), "{date}");

    // A name change refused, with the echo, and nothing stored.
    let uuid = new_uuid();
    let body = format!(
        r#"{}><PersonName name="Mr Carl Smith" surname="Smith"/><EmailAddress address="x@example.org"/></ChangeDemographics>"#,
        common("ChangeDemographics", &uuid)
    );
    let r = client
        .raw("ChangeDemographics", Some(&suid), body)
        .await
        .unwrap();
    let el = error_body(&r, "9025", &["Smith", "x@example.org"]);
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    let body = format!(
        r#"{} dateOfBirth="1976-03-22T00:00:00.0Z"/>"#,
        common("ChangeDemographics", &new_uuid())
    );
    let r = client
        .raw("ChangeDemographics", Some(&suid), body)
        .await
        .unwrap();
    error_body(&r, "9025", &["1976"]);
    let body = format!(
        r#"{}><TelephoneNumbers><TelephoneNumber type="Fax" number="01134960333"/></TelephoneNumbers></ChangeDemographics>"#,
        common("ChangeDemographics", &new_uuid())
    );
    let r = client
        .raw("ChangeDemographics", Some(&suid), body)
        .await
        .unwrap();
    error_body(&r, "9004", &["01134960333"]);
    assert_eq!(seen(&s).await.3.as_deref(), Some("carl.jones@example.org"));
}

async fn validation_table(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Hughes").await;
    let s = user.session().await;
    let before = seen(&s).await;
    let good_phone = || Some(vec![phone("07700900555", TelephoneType::Mobile)]);

    let postcodes_bad = [
        "LS6", "LS6 3A", "QS6 3AA", "LS6 3CA", "6LS 3AA", "LS6 3AAA", "L 3AA", "GIR 0AB",
        "AZ1 1AA", "LS6 3ÄA",
    ];
    let phones_bad = [
        "12345",
        "0770090012",
        "077009001234",
        "+33 1 23 45 67 89",
        "0620 123 4567",
        "07700 9OO123",
        "+44+7700900123",
    ];
    let emails_bad = [
        "ada",
        "ada@",
        "@example.org",
        "ada@example",
        "ada@@example.org",
        "ada@example..org",
        ".ada@example.org",
        "ada example@example.org",
        "ada@-example.org",
    ];
    for p in postcodes_bad {
        let r = s
            .change_demographics(DemographicsUpdate {
                address: Some(address("1", "New Street", p)),
                telephone_numbers: good_phone(),
                ..DemographicsUpdate::default()
            })
            .await;
        expect_pfs(r, "9021", &[p]);
    }
    for p in phones_bad {
        // One bad number among good ones refuses the whole change.
        let r = s
            .change_demographics(DemographicsUpdate {
                address: Some(address("1", "New Street", "LS1 4AP")),
                telephone_numbers: Some(vec![
                    phone("07700900555", TelephoneType::Mobile),
                    phone(p, TelephoneType::Home),
                ]),
                email_address: Some(Some("new@example.org".into())),
            })
            .await;
        expect_pfs(r, "9022", &[p]);
    }
    for e in emails_bad {
        let r = s
            .change_demographics(DemographicsUpdate {
                telephone_numbers: good_phone(),
                email_address: Some(Some(e.into())),
                ..DemographicsUpdate::default()
            })
            .await;
        expect_pfs(r, "9023", &[]);
    }
    let six = (0..6)
        .map(|i| phone(&format!("0770090060{i}"), TelephoneType::Mobile))
        .collect();
    expect_pfs(
        s.change_demographics(DemographicsUpdate {
            telephone_numbers: Some(six),
            ..DemographicsUpdate::default()
        })
        .await,
        "9022",
        &[],
    );
    let long = "x".repeat(36);
    expect_pfs(
        s.change_demographics(DemographicsUpdate {
            address: Some(address("1", &long, "LS1 4AP")),
            ..DemographicsUpdate::default()
        })
        .await,
        "9024",
        &[&long],
    );
    let long_email = format!("{}@example.org", "a".repeat(250));
    expect_pfs(
        s.change_demographics(DemographicsUpdate {
            email_address: Some(Some(long_email)),
            ..DemographicsUpdate::default()
        })
        .await,
        "9024",
        &[],
    );
    expect_pfs(
        s.change_demographics(DemographicsUpdate {
            address: Some(Address {
                postcode: Some("LS1 4AP".into()),
                town: Some("Leeds".into()),
                ..Address::default()
            }),
            ..DemographicsUpdate::default()
        })
        .await,
        "9026",
        &[],
    );
    expect_pfs(
        s.change_demographics(DemographicsUpdate {
            address: Some(Address {
                street: Some("New Street".into()),
                ..Address::default()
            }),
            ..DemographicsUpdate::default()
        })
        .await,
        "9026",
        &[],
    );
    expect_pfs(
        s.change_demographics(DemographicsUpdate::default()).await,
        "9027",
        &[],
    );
    // Nothing of any refused change was stored.
    assert_eq!(seen(&s).await, before);
    assert!(s.retrieve_demographics().await.unwrap().changes.is_empty());

    // Valid postcodes, including the special forms, are accepted and normalised.
    for (given, normal) in [
        ("gir0aa", "GIR 0AA"),
        ("  ec1a 1bb", "EC1A 1BB"),
        ("W1A0AX", "W1A 0AX"),
        ("m1 1ae", "M1 1AE"),
        ("DN55 1PT", "DN55 1PT"),
        ("stHL 1zz", "STHL 1ZZ"),
    ] {
        s.change_demographics(DemographicsUpdate {
            address: Some(address("1", "New Street", given)),
            ..DemographicsUpdate::default()
        })
        .await
        .unwrap();
        assert_eq!(seen(&s).await.1.as_deref(), Some(normal));
    }
    for (given, normal) in [
        ("+44 20 7946 0000", "02079460000"),
        ("0044 (0)7700-900-777", "07700900777"),
        ("016977 3456", "0169773456"),
    ] {
        s.change_demographics(DemographicsUpdate {
            telephone_numbers: Some(vec![phone(given, TelephoneType::Work)]),
            ..DemographicsUpdate::default()
        })
        .await
        .unwrap();
        assert_eq!(
            seen(&s).await.2,
            vec![(normal.to_owned(), TelephoneType::Work)]
        );
    }
}

async fn approval_flow(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    set_settings(&t, json!({"demographicsApproval": true})).await;
    let user = User::new(&t, "Okafor").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let before = seen(&s).await;

    // Waits for the practice: nothing changes yet.
    let new_email = || DemographicsUpdate {
        email_address: Some(Some("fay.new@example.org".into())),
        ..DemographicsUpdate::default()
    };
    let r = s.change_demographics(new_email()).await.unwrap();
    assert_eq!(r.status, ChangeStatus::PendingApproval);
    assert_eq!(seen(&s).await, before);
    let reply = s.retrieve_demographics().await.unwrap();
    assert_eq!(reply.changes[0].change_id, r.change_id);
    assert_eq!(reply.changes[0].status, ChangeStatus::PendingApproval);

    // A second change supersedes the first.
    let r2 = s
        .change_demographics(DemographicsUpdate {
            address: Some(address("8", "Canal Wharf", "LS11 5PT")),
            telephone_numbers: Some(vec![phone("07700900666", TelephoneType::Mobile)]),
            ..DemographicsUpdate::default()
        })
        .await
        .unwrap();
    let reply = s.retrieve_demographics().await.unwrap();
    let status_of = |id: &str| {
        reply
            .changes
            .iter()
            .find(|c| c.change_id == id)
            .unwrap()
            .status
    };
    assert_eq!(status_of(&r.change_id), ChangeStatus::Superseded);
    assert_eq!(status_of(&r2.change_id), ChangeStatus::PendingApproval);

    // The practice lists it and approves it: made at once.
    let (status, pending) = t
        .admin(
            "GET",
            &format!("/api/practices/{ODS}/demographics-changes"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{pending}");
    let ids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![r2.change_id.as_str()]);
    assert_eq!(pending[0]["patientId"], me.as_str());
    let (status, v) = t
        .admin(
            "POST",
            &format!("/api/demographics-changes/{}/approve", r2.change_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "Applied");
    let after = seen(&s).await;
    assert_eq!(after.0, "8 Canal Wharf, Leeds, LS11 5PT");
    assert_eq!(
        after.2,
        vec![("07700900666".to_owned(), TelephoneType::Mobile)]
    );
    assert_eq!(after.3, before.3, "the e-mail address was not part of it");
    let reply = s.retrieve_demographics().await.unwrap();
    assert_eq!(reply.changes[0].status, ChangeStatus::Applied);

    // Approving twice, or an unknown change, is refused.
    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/demographics-changes/{}/reject", r2.change_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 409);
    let (status, _) = t
        .admin("POST", "/api/demographics-changes/1/approve", None)
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Rejected with a comment the patient sees; nothing changes.
    let r3 = s.change_demographics(new_email()).await.unwrap();
    let (status, v) = t
        .admin(
            "POST",
            &format!("/api/demographics-changes/{}/reject", r3.change_id),
            Some(json!({"comment": "Please phone the surgery to confirm."})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(seen(&s).await, after);
    let reply = s.retrieve_demographics().await.unwrap();
    assert_eq!(reply.changes[0].status, ChangeStatus::Rejected);
    assert_eq!(
        reply.changes[0].practice_comment.as_deref(),
        Some("Please phone the surgery to confirm.")
    );

    // Back to apply-at-once.
    set_settings(&t, json!({"demographicsApproval": false})).await;
    let r4 = s.change_demographics(new_email()).await.unwrap();
    assert_eq!(r4.status, ChangeStatus::Applied);
    assert_eq!(seen(&s).await.3.as_deref(), Some("fay.new@example.org"));
}

async fn practice_sets_details(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Murphy").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let path = format!("/api/patients/{me}/demographics");
    let (status, v) = t
        .admin(
            "PUT",
            &path,
            Some(json!({
                "address": {"houseNameFlat": "3", "street": "Hill Top", "town": "Leeds",
                            "postcode": "ls16 6ef"},
                "telephones": [{"number": "0113 496 0009", "type": "Home"}],
                "email": "IAN@Example.org",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["details"]["address"]["postcode"], "LS16 6EF");
    assert_eq!(v["details"]["email"], "IAN@example.org");
    assert_eq!(
        seen(&s).await.2,
        vec![("01134960009".to_owned(), TelephoneType::Home)]
    );
    for bad in [
        json!({"address": {"street": "Hill Top", "postcode": "NOPE"}}),
        json!({"telephones": [{"number": "12", "type": "Home"}]}),
        json!({"email": "not-an-address"}),
        json!({"telephones": [{"number": "01134960009", "type": "Fax"}]}),
    ] {
        let (status, v) = t.admin("PUT", &path, Some(bad)).await.unwrap();
        assert_eq!(status, 422, "{v}");
    }
    let (status, _) = t
        .admin("GET", "/api/patients/424242/demographics", None)
        .await
        .unwrap();
    assert_eq!(status, 404);
}

/// Helper for other test modules: a patient's demographics through the admin API.
#[allow(dead_code)]
pub(crate) async fn admin_demographics(t: &TestServer, patient_id: &str) -> serde_json::Value {
    let (status, v) = t
        .admin(
            "GET",
            &format!("/api/patients/{patient_id}/demographics"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

on_both_stores!(
    retrieve_and_change,
    raw_xml_echoes_and_exact_tags,
    validation_table,
    approval_flow,
    practice_sets_details,
);
