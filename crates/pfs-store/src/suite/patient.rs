//! Patients ([`PatientStore`](pfs_core::store::PatientStore)), `patient_context` included.

use chrono::NaiveDate;
use pfs_core::model::ServiceSwitch;
use pfs_core::{Store, StoreError};

use super::{assert_conflict, assert_patient, assert_patients, patient, practice, world};

/// Patients round-trip (title `None` included) by id, NHS number and the id-ordered lists.
pub async fn patients_round_trip(store: &dyn Store) {
    let (x, y) = (practice(1), practice(2));
    store.insert_practice(&x).await.unwrap();
    store.insert_practice(&y).await.unwrap();
    let p3 = patient(3, &x.ods);
    let mut p1 = patient(1, &y.ods);
    p1.title = None;
    p1.gender = "Male".into();
    p1.date_of_birth = NaiveDate::from_ymd_opt(2007, 12, 31).unwrap();
    let p2 = patient(2, &x.ods);
    for p in [&p3, &p1, &p2] {
        store.insert_patient(p).await.unwrap();
    }

    assert_patient(&store.patient(&p1.id).await.unwrap().expect("p1"), &p1);
    assert_patient(&store.patient(&p3.id).await.unwrap().expect("p3"), &p3);
    let by_nhs = store.patient_by_nhs_number(&p1.nhs_number).await.unwrap();
    assert_patient(&by_nhs.expect("p1 by NHS number"), &p1);
    assert!(store.patient("42").await.unwrap().is_none());
    assert!(
        store
            .patient_by_nhs_number("9999999999")
            .await
            .unwrap()
            .is_none()
    );

    assert_patients(&store.list_patients(None).await.unwrap(), &[&p1, &p2, &p3]);
    assert_patients(
        &store.list_patients(Some(&x.ods)).await.unwrap(),
        &[&p2, &p3],
    );
    assert_patients(&store.list_patients(Some(&y.ods)).await.unwrap(), &[&p1]);
    assert!(
        store
            .list_patients(Some("Z99999"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Duplicate NHS number or id is a `Conflict` naming no values; an unknown practice is
/// `NotFound` and stores nothing.
pub async fn patient_conflicts_and_unknown_practice(store: &dyn Store) {
    let x = practice(1);
    store.insert_practice(&x).await.unwrap();
    let first = patient(1, &x.ods);
    store.insert_patient(&first).await.unwrap();

    let mut same_nhs = patient(2, &x.ods);
    same_nhs.nhs_number = first.nhs_number.clone();
    assert_conflict(
        store.insert_patient(&same_nhs).await,
        Some("nhs_number"),
        &[
            &first.nhs_number,
            &same_nhs.first_name,
            &same_nhs.last_name,
            &same_nhs.address,
        ],
    );
    assert!(store.patient(&same_nhs.id).await.unwrap().is_none());

    let mut same_id = patient(3, &x.ods);
    same_id.id = first.id.clone();
    assert_conflict(
        store.insert_patient(&same_id).await,
        None,
        &[&same_id.nhs_number, &same_id.first_name],
    );

    let orphan = patient(4, "Z99999");
    match store.insert_patient(&orphan).await {
        Err(err @ StoreError::NotFound(_)) => {
            let text = err.to_string();
            for value in [&orphan.ods, &orphan.nhs_number, &orphan.first_name] {
                assert!(
                    !text.contains(value.as_str()),
                    "error text {text:?} contains a value"
                );
            }
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(store.patient(&orphan.id).await.unwrap().is_none());
    assert!(
        store
            .patient_by_nhs_number(&orphan.nhs_number)
            .await
            .unwrap()
            .is_none()
    );
    assert_patients(&store.list_patients(None).await.unwrap(), &[&first]);
}

/// `patient_context` reads the patient, their practice and both sets of switches together.
pub async fn patient_context(store: &dyn Store) {
    let w = world(store, 1).await;
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(false))
        .await
        .unwrap();
    store
        .set_patient_service(&w.patient.id, "appointments", Some(true))
        .await
        .unwrap();
    let ctx = store
        .patient_context(&w.patient.id)
        .await
        .unwrap()
        .expect("the patient exists");
    assert_patient(&ctx.patient, &w.patient);
    assert_eq!(ctx.practice, w.practice);
    assert_eq!(
        ctx.practice_switches,
        vec![ServiceSwitch {
            service: "messaging".into(),
            enabled: false
        }]
    );
    assert_eq!(
        ctx.patient_switches,
        vec![ServiceSwitch {
            service: "appointments".into(),
            enabled: true
        }]
    );
    assert_eq!(store.patient_context("nobody").await.unwrap(), None);
}
