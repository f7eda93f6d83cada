//! Contact details and demographics changes
//! ([`DemographicsStore`](pfs_core::store::DemographicsStore)).

use pfs_core::model::{
    ChangeStatus, ContactChange, ContactDetails, ContactWrite, DemographicsChangeRecord,
    PostalAddress, Telephone, TelephoneType,
};
use pfs_core::{Store, StoreError};

use super::{patient, practice, record_access, t, world};

fn address(n: u32) -> PostalAddress {
    PostalAddress {
        house_name_flat: Some(format!("{n}")),
        street: Some("Mill Lane".into()),
        village: None,
        town: Some("Leeds".into()),
        county: None,
        postcode: "LS6 3AA".into(),
    }
}

fn details(n: u32) -> ContactDetails {
    ContactDetails {
        address: Some(address(n)),
        telephones: vec![Telephone {
            number: format!("0770090{n:04}"),
            number_type: TelephoneType::Mobile,
        }],
        email: Some(format!("ada{n}@example.org")),
    }
}

fn write(patient_id: &str, n: u32) -> ContactWrite {
    let details = details(n);
    ContactWrite {
        patient_id: patient_id.to_owned(),
        one_line_address: details
            .address
            .as_ref()
            .map(PostalAddress::one_line)
            .unwrap_or_default(),
        details,
        at: t(i64::from(n)),
    }
}

fn change(id: &str, patient_id: &str, at: i64, status: ChangeStatus) -> DemographicsChangeRecord {
    DemographicsChangeRecord {
        id: id.to_owned(),
        patient_id: patient_id.to_owned(),
        requested_by: patient_id.to_owned(),
        requested_at: t(at),
        change: ContactChange {
            address: None,
            telephones: Some(Vec::new()),
            email: Some(None),
        },
        status,
        status_at: t(at),
        practice_comment: None,
    }
}

/// Contact details round-trip with the one-line address; an unknown patient is `NotFound`.
pub async fn contact_details_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    assert_eq!(store.contact_details(me).await.unwrap(), None);
    store
        .set_contact_details(
            &write(me, 7),
            &record_access(me, t(0), "Changed demographics"),
        )
        .await
        .unwrap();
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(7)));
    assert_eq!(
        store.patient(me).await.unwrap().unwrap().address,
        "7 Mill Lane, Leeds, LS6 3AA"
    );
    store
        .set_contact_details(
            &write(me, 8),
            &record_access(me, t(0), "Changed demographics"),
        )
        .await
        .unwrap();
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(8)));
    assert!(matches!(
        store
            .set_contact_details(
                &write("424242", 1),
                &record_access("424242", t(0), "Changed demographics"),
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// A change is stored with its access-log entry; one that applies stores the details; a new
/// change supersedes a pending one; ids are unique; the lists are ordered and per practice.
pub async fn demographics_changes_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let other_practice = practice(2);
    store.insert_practice(&other_practice).await.unwrap();
    let them = patient(2, &other_practice.ods);
    store.insert_patient(&them).await.unwrap();

    let applied = change("100000001", me, 1_000, ChangeStatus::Applied);
    let log = record_access(me, t(1_000), "Changed contact details");
    store
        .insert_demographics_change(&applied, Some(&write(me, 3)), &log)
        .await
        .unwrap();
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(3)));
    assert_eq!(
        store.record_accesses(me, t(0), t(10_000)).await.unwrap(),
        vec![log.clone()]
    );

    let pending = change("100000002", me, 2_000, ChangeStatus::PendingApproval);
    let log2 = record_access(me, t(2_000), "Asked to change contact details");
    store
        .insert_demographics_change(&pending, None, &log2)
        .await
        .unwrap();
    // Nothing applied.
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(3)));
    let theirs = change("100000009", &them.id, 2_500, ChangeStatus::PendingApproval);
    store
        .insert_demographics_change(&theirs, None, &record_access(&them.id, t(2_500), "x"))
        .await
        .unwrap();
    assert_eq!(
        store
            .pending_demographics_changes(&w.practice.ods)
            .await
            .unwrap(),
        vec![pending.clone()]
    );

    // A later change supersedes the pending one.
    let later = change("100000003", me, 3_000, ChangeStatus::PendingApproval);
    store
        .insert_demographics_change(&later, None, &record_access(me, t(3_000), "x"))
        .await
        .unwrap();
    let superseded = DemographicsChangeRecord {
        status: ChangeStatus::Superseded,
        status_at: t(3_000),
        ..pending.clone()
    };
    assert_eq!(
        store.demographics_change(&pending.id).await.unwrap(),
        Some(superseded.clone())
    );
    assert_eq!(
        store.demographics_changes(me, 10).await.unwrap(),
        vec![later.clone(), superseded, applied.clone()]
    );
    assert_eq!(
        store.demographics_changes(me, 1).await.unwrap(),
        vec![later.clone()]
    );
    assert_eq!(
        store
            .pending_demographics_changes(&w.practice.ods)
            .await
            .unwrap(),
        vec![later.clone()]
    );

    // The same id again is a conflict, and nothing of it is written.
    let again = change("100000003", me, 4_000, ChangeStatus::Applied);
    let r = store
        .insert_demographics_change(
            &again,
            Some(&write(me, 5)),
            &record_access(me, t(4_000), "y"),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(3)));
    assert_eq!(
        store.demographics_change("100000003").await.unwrap(),
        Some(later)
    );
    assert_eq!(store.demographics_change("999").await.unwrap(), None);
}

/// Settling: approval stores the details, rejection does not; a change no longer pending (or
/// unknown) is not settled and nothing is written.
pub async fn settle_demographics_change_cases(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let a = change("200000001", me, 1_000, ChangeStatus::PendingApproval);
    store
        .insert_demographics_change(&a, None, &record_access(me, t(1_000), "asked"))
        .await
        .unwrap();
    let approved_log = record_access(me, t(5_000), "Approved contact details change");
    assert!(
        store
            .settle_demographics_change(
                &a.id,
                ChangeStatus::Applied,
                t(5_000),
                Some("Checked by phone"),
                Some(&write(me, 4)),
                &approved_log,
            )
            .await
            .unwrap()
    );
    let got = store.demographics_change(&a.id).await.unwrap().unwrap();
    assert_eq!(got.status, ChangeStatus::Applied);
    assert_eq!(got.status_at, t(5_000));
    assert_eq!(got.practice_comment.as_deref(), Some("Checked by phone"));
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(4)));
    // Not pending any more: refused, nothing written.
    assert!(
        !store
            .settle_demographics_change(
                &a.id,
                ChangeStatus::Rejected,
                t(6_000),
                None,
                None,
                &record_access(me, t(6_000), "again"),
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .settle_demographics_change(
                "nope",
                ChangeStatus::Rejected,
                t(6_000),
                None,
                None,
                &record_access(me, t(6_000), "again"),
            )
            .await
            .unwrap()
    );
    let b = change("200000002", me, 7_000, ChangeStatus::PendingApproval);
    store
        .insert_demographics_change(&b, None, &record_access(me, t(7_000), "asked"))
        .await
        .unwrap();
    assert!(
        store
            .settle_demographics_change(
                &b.id,
                ChangeStatus::Rejected,
                t(8_000),
                None,
                None,
                &record_access(me, t(8_000), "Rejected"),
            )
            .await
            .unwrap()
    );
    assert_eq!(store.contact_details(me).await.unwrap(), Some(details(4)));
    let got = store.demographics_change(&b.id).await.unwrap().unwrap();
    assert_eq!(got.status, ChangeStatus::Rejected);
    let log = store.record_accesses(me, t(0), t(10_000)).await.unwrap();
    let kinds: Vec<&str> = log.iter().map(|l| l.access_type.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "asked",
            "Approved contact details change",
            "asked",
            "Rejected"
        ]
    );
}
