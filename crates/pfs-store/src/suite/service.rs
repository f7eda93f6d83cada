//! Service switches, practice-wide and per patient
//! ([`ServiceStore`](pfs_core::store::ServiceStore)).

use pfs_core::Store;

use super::{patient, practice, switch, world};

/// Practice switches are set, replaced and cleared, listed by service, per practice.
pub async fn practice_service_switches(store: &dyn Store) {
    let (x, y) = (practice(1), practice(2));
    store.insert_practice(&x).await.unwrap();
    store.insert_practice(&y).await.unwrap();
    assert!(store.practice_services(&x.ods).await.unwrap().is_empty());

    store
        .set_practice_service(&x.ods, "messaging", Some(true))
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "appointments", Some(false))
        .await
        .unwrap();
    store
        .set_practice_service(&y.ods, "messaging", Some(false))
        .await
        .unwrap();
    assert_eq!(
        store.practice_services(&x.ods).await.unwrap(),
        vec![switch("appointments", false), switch("messaging", true)]
    );

    store
        .set_practice_service(&x.ods, "messaging", Some(false))
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "appointments", None)
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "prescriptions", None)
        .await
        .expect("clearing nothing");
    assert_eq!(
        store.practice_services(&x.ods).await.unwrap(),
        vec![switch("messaging", false)]
    );
    assert_eq!(
        store.practice_services(&y.ods).await.unwrap(),
        vec![switch("messaging", false)]
    );
    assert!(store.practice_services("Z99999").await.unwrap().is_empty());
}

/// Patient switches are set, replaced and cleared, listed by service, per patient.
pub async fn patient_service_switches(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let me = w.patient.id.as_str();
    assert!(store.patient_services(me).await.unwrap().is_empty());

    store
        .set_patient_service(me, "records", Some(false))
        .await
        .unwrap();
    store
        .set_patient_service(me, "appointments", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(&other.id, "records", Some(true))
        .await
        .unwrap();
    assert_eq!(
        store.patient_services(me).await.unwrap(),
        vec![switch("appointments", true), switch("records", false)]
    );

    store
        .set_patient_service(me, "records", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(me, "appointments", None)
        .await
        .unwrap();
    store
        .set_patient_service(me, "messaging", None)
        .await
        .expect("clearing nothing");
    assert_eq!(
        store.patient_services(me).await.unwrap(),
        vec![switch("records", true)]
    );
    assert_eq!(
        store.patient_services(&other.id).await.unwrap(),
        vec![switch("records", true)]
    );
    // Patient switches are separate from the practice's.
    assert!(
        store
            .practice_services(&w.practice.ods)
            .await
            .unwrap()
            .is_empty()
    );
}
