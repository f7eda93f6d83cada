//! Medication courses, list versions and prescription requests
//! ([`MedicationStore`](pfs_core::store::MedicationStore)).

use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::MedicationView;
use pfs_core::model::{
    CourseType, MedicationCourse, MedicationList, OrderOutcome, Prefetch, PrescriptionItem,
    PrescriptionRequest, PrescriptionStatus, RecordAccess, SessionRecord,
};
use pfs_core::{Store, StoreError, StoreResult};

use super::{DAY, World, assert_conflict, patient, practice, record_access, session, t, world};

// --- fixtures ----------------------------------------------------------------------------------

/// Course `n` of `patient_id`: a repeat (an acute one when `n` is a multiple of 3), orderable,
/// with six issues authorised and none used.
fn course(n: u32, patient_id: &str, drug: &str) -> MedicationCourse {
    MedicationCourse {
        id: format!("{}", 600_000 + n),
        patient_id: patient_id.to_owned(),
        drug: drug.to_owned(),
        details: format!("One daily - {} tablet", 28 * n),
        course_type: if n.is_multiple_of(3) {
            CourseType::Acute
        } else {
            CourseType::Repeat
        },
        requestable: true,
        online_visible: true,
        started_on: NaiveDate::from_ymd_opt(2024, 1, 1 + n % 28).expect("date"),
        stopped_on: None,
        last_issued_at: None,
        issue_count: 0,
        max_issues: Some(6),
    }
}

/// The access-log entry of a practice change to course `c`.
pub(crate) fn course_log(c: &MedicationCourse) -> RecordAccess {
    record_access(&c.patient_id, t(0), "Prescribed medication")
}

fn item(c: &MedicationCourse) -> PrescriptionItem {
    PrescriptionItem {
        course_id: c.id.clone(),
        drug: c.drug.clone(),
        course_type: c.course_type,
    }
}

/// Request `n` of `patient_id` for `courses`, made at `at` (with a note when `n` is odd).
fn request(
    n: u32,
    patient_id: &str,
    courses: &[&MedicationCourse],
    at: DateTime<Utc>,
) -> PrescriptionRequest {
    PrescriptionRequest {
        id: format!("{}", 900_000 + n),
        patient_id: patient_id.to_owned(),
        requested_by: patient_id.to_owned(),
        requested_at: at,
        notes: (n % 2 == 1).then(|| format!("Note {n}")),
        status: PrescriptionStatus::Requested,
        status_at: at,
        practice_comment: None,
        items: courses.iter().map(|c| item(c)).collect(),
    }
}

/// The access-log entry a store call about request `r` writes.
fn order_log(r: &PrescriptionRequest, what: &str) -> RecordAccess {
    record_access(&r.patient_id, r.status_at, &format!("{what} {}", r.id))
}

/// Orders `r` as checked against `version` (the log entry says "Requested").
async fn order(
    store: &dyn Store,
    r: &PrescriptionRequest,
    version: i64,
) -> StoreResult<OrderOutcome> {
    store
        .request_medication(r, version, &order_log(r, "Requested"))
        .await
}

/// Amends to `r` as checked against `version` (the log entry says "Amended").
async fn amend(
    store: &dyn Store,
    r: &PrescriptionRequest,
    version: i64,
) -> StoreResult<OrderOutcome> {
    store
        .amend_prescription_request(r, version, &order_log(r, "Amended"))
        .await
}

/// Settles `r` to `status` at `at` (the log entry says "Settled").
async fn settle(
    store: &dyn Store,
    r: &PrescriptionRequest,
    status: PrescriptionStatus,
    comment: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<OrderOutcome> {
    let log = record_access(&r.patient_id, at, &format!("Settled {}", r.id));
    store
        .settle_prescription_request(&r.id, status, comment, at, &log)
        .await
}

async fn list(store: &dyn Store, patient_id: &str) -> MedicationList {
    store.medication_list(patient_id, None).await.unwrap()
}

async fn version(store: &dyn Store, patient_id: &str) -> i64 {
    list(store, patient_id).await.version
}

/// Each course's id with its outstanding request's id, in list order.
async fn outstanding(store: &dyn Store, patient_id: &str) -> Vec<(String, Option<String>)> {
    list(store, patient_id)
        .await
        .courses
        .into_iter()
        .map(|(c, pending)| (c.id, pending))
        .collect()
}

fn held(c: &MedicationCourse, r: Option<&PrescriptionRequest>) -> (String, Option<String>) {
    (c.id.clone(), r.map(|r| r.id.clone()))
}

/// A patient's access-log entries about orders and views (those of the practice's course
/// changes left out: every fixture course writes one).
async fn order_entries(store: &dyn Store, patient_id: &str) -> Vec<RecordAccess> {
    store
        .record_accesses(patient_id, t(-100 * DAY), t(100 * DAY))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.access_type != "Prescribed medication")
        .collect()
}

async fn log_len(store: &dyn Store, patient_id: &str) -> usize {
    order_entries(store, patient_id).await.len()
}

/// How many course changes are in a patient's access log.
async fn course_log_len(store: &dyn Store, patient_id: &str) -> usize {
    store
        .record_accesses(patient_id, t(-100 * DAY), t(100 * DAY))
        .await
        .unwrap()
        .len()
        - log_len(store, patient_id).await
}

/// The ids of requests, in order.
fn request_ids(requests: &[PrescriptionRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.id.as_str()).collect()
}

/// World 1 with courses 1 (Amlodipine), 2 (Simvastatin) and 3 (Amoxicillin, acute) stored.
async fn medication_world(store: &dyn Store) -> (World, [MedicationCourse; 3]) {
    let w = world(store, 1).await;
    let p = &w.patient.id;
    let courses = [
        course(1, p, "Amlodipine 5mg tablets"),
        course(2, p, "Simvastatin 20mg tablets"),
        course(3, p, "Amoxicillin 500mg capsules"),
    ];
    for c in &courses {
        store
            .insert_course(c, &course_log(c))
            .await
            .expect("course");
    }
    (w, courses)
}

/// A live session of world `w`'s account, numbered `n`.
async fn medication_session(store: &dyn Store, w: &World, n: u32) -> SessionRecord {
    let s = session(n, &w.provider.id, &w.account, t(0));
    store.insert_session(&s).await.expect("session");
    s
}

// --- cases -------------------------------------------------------------------------------------

/// Courses round-trip and are replaced by id; a reused id conflicts (naming no values), an
/// unknown patient is `NotFound`, an unknown course (or another patient's) is not updated.
pub async fn medication_courses_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let p = &w.patient.id;
    let full = MedicationCourse {
        stopped_on: NaiveDate::from_ymd_opt(2025, 2, 28),
        last_issued_at: Some(t(-3 * DAY)),
        issue_count: 2,
        ..course(1, p, "Amlodipine 5mg tablets")
    };
    let bare = MedicationCourse {
        requestable: false,
        online_visible: false,
        max_issues: None,
        ..course(3, p, "Amoxicillin 500mg capsules")
    };
    store
        .insert_course(&full, &course_log(&full))
        .await
        .unwrap();
    store
        .insert_course(&bare, &course_log(&bare))
        .await
        .unwrap();
    assert_eq!(store.course(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.course(&bare.id).await.unwrap(), Some(bare.clone()));
    assert_eq!(store.course("699999").await.unwrap(), None);
    // Each change is logged with it.
    assert_eq!(course_log_len(store, p).await, 2);

    let again = course(1, p, "Warfarin 1mg tablets");
    assert_conflict(
        store.insert_course(&again, &course_log(&again)).await,
        Some("medication_courses.id"),
        &["Warfarin"],
    );
    assert_eq!(store.course(&full.id).await.unwrap(), Some(full.clone()));

    let orphan = course(9, "9999999", "Aspirin 75mg tablets");
    assert!(matches!(
        store.insert_course(&orphan, &course_log(&orphan)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.course(&orphan.id).await.unwrap(), None);

    let changed = MedicationCourse {
        drug: "Amlodipine 10mg tablets".into(),
        details: "One daily - 56 tablet".into(),
        course_type: CourseType::Acute,
        requestable: false,
        online_visible: false,
        started_on: NaiveDate::from_ymd_opt(2023, 12, 31).expect("date"),
        stopped_on: None,
        last_issued_at: Some(t(5)),
        issue_count: 6,
        max_issues: None,
        ..full.clone()
    };
    assert!(
        store
            .update_course(&changed, &course_log(&changed))
            .await
            .unwrap()
    );
    assert_eq!(store.course(&full.id).await.unwrap(), Some(changed.clone()));
    let restored = MedicationCourse {
        max_issues: Some(12),
        ..full.clone()
    };
    assert!(
        store
            .update_course(&restored, &course_log(&restored))
            .await
            .unwrap()
    );
    assert_eq!(
        store.course(&full.id).await.unwrap(),
        Some(restored.clone())
    );

    assert!(
        !store
            .update_course(&orphan, &course_log(&orphan))
            .await
            .unwrap()
    );
    assert_eq!(store.course(&orphan.id).await.unwrap(), None);
    // Two changes logged; the refused insert and update wrote nothing.
    assert_eq!(course_log_len(store, p).await, 4);
    // A course's patient cannot change.
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let moved = MedicationCourse {
        patient_id: other.id.clone(),
        ..restored.clone()
    };
    assert!(
        !store
            .update_course(&moved, &course_log(&moved))
            .await
            .unwrap()
    );
    assert_eq!(store.course(&full.id).await.unwrap(), Some(restored));
    assert_eq!(version(store, &other.id).await, 0);
    assert!(list(store, &other.id).await.courses.is_empty());
}

/// The version moves with every course change (added, replaced, issued) and with nothing
/// else: not with an order, an amendment, a cancellation or a rejection, nor with a failed
/// write; and only the patient's own.
pub async fn medication_list_version_moves_with_course_changes(store: &dyn Store) {
    let w = world(store, 1).await;
    let p = &w.patient.id;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    assert_eq!(version(store, p).await, 0);

    let c1 = course(1, p, "Amlodipine 5mg tablets");
    let c2 = course(2, p, "Simvastatin 20mg tablets");
    store.insert_course(&c1, &course_log(&c1)).await.unwrap();
    let v1 = version(store, p).await;
    store.insert_course(&c2, &course_log(&c2)).await.unwrap();
    let v2 = version(store, p).await;
    assert!(v1 != 0 && v2 != v1, "{v1} then {v2}");

    let changed = MedicationCourse {
        requestable: false,
        ..c2.clone()
    };
    assert!(
        store
            .update_course(&changed, &course_log(&changed))
            .await
            .unwrap()
    );
    let v3 = version(store, p).await;
    assert!(v3 != v2 && v3 != v1, "{v2} then {v3}");
    assert!(store.update_course(&c2, &course_log(&c2)).await.unwrap());
    let v = version(store, p).await;
    assert!(![v1, v2, v3].contains(&v), "{v3} then {v}");

    // Failed writes move nothing.
    assert!(store.insert_course(&c1, &course_log(&c1)).await.is_err());
    assert!(
        !store
            .update_course(
                &course(7, p, "Aspirin 75mg tablets"),
                &course_log(&course(7, p, "Aspirin 75mg tablets"))
            )
            .await
            .unwrap()
    );
    assert_eq!(version(store, p).await, v);

    // Orders, amendments, cancellations and rejections do not move it.
    let r1 = request(1, p, &[&c1], t(0));
    assert_eq!(order(store, &r1, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(version(store, p).await, v);
    let amended = PrescriptionRequest {
        items: vec![item(&c1), item(&c2)],
        ..r1.clone()
    };
    assert_eq!(
        amend(store, &amended, v).await.unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(version(store, p).await, v);
    let cancelled = PrescriptionStatus::Cancelled;
    assert_eq!(
        settle(store, &r1, cancelled, None, t(10)).await.unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(version(store, p).await, v);
    let r2 = request(2, p, &[&c1], t(20));
    assert_eq!(order(store, &r2, v).await.unwrap(), OrderOutcome::Stored);
    let rejected = PrescriptionStatus::Rejected;
    assert_eq!(
        settle(store, &r2, rejected, Some("See the GP"), t(30))
            .await
            .unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(version(store, p).await, v);

    // Issuing does, and counts an issue on each course of the request only.
    let r3 = request(3, p, &[&c2, &c1], t(40));
    assert_eq!(order(store, &r3, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(version(store, p).await, v);
    let issued = PrescriptionStatus::Issued;
    assert_eq!(
        settle(store, &r3, issued, None, t(50)).await.unwrap(),
        OrderOutcome::Stored
    );
    let after = version(store, p).await;
    assert!(after != v, "issuing moved the version");
    for c in [&c1, &c2] {
        let got = store.course(&c.id).await.unwrap().unwrap();
        assert_eq!(got.issue_count, c.issue_count + 1, "{}", c.id);
        assert_eq!(got.last_issued_at, Some(t(50)), "{}", c.id);
    }
    // The new version counts for orders: the old one no longer does.
    let r4 = request(4, p, &[&c1], t(60));
    assert_eq!(
        order(store, &r4, v).await.unwrap(),
        OrderOutcome::ListChanged
    );
    assert_eq!(
        order(store, &r4, after).await.unwrap(),
        OrderOutcome::Stored
    );

    assert_eq!(version(store, &other.id).await, 0);
}

/// The list: every course by drug name (bytewise) then id, each with its outstanding request;
/// the version the asking session last recorded, and none for another session or none asked.
pub async fn medication_list_order_and_views(store: &dyn Store) {
    let w = world(store, 1).await;
    let p = &w.patient.id;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let s1 = medication_session(store, &w, 1).await;
    let s2 = medication_session(store, &w, 2).await;

    let stopped = MedicationCourse {
        stopped_on: NaiveDate::from_ymd_opt(2024, 6, 1),
        ..course(4, p, "Simvastatin 20mg tablets")
    };
    let hidden = MedicationCourse {
        online_visible: false,
        ..course(5, p, "Zopiclone 7.5mg tablets")
    };
    let courses = [
        course(2, p, "Amlodipine 5mg tablets"),
        course(1, p, "Amlodipine 5mg tablets"),
        course(3, p, "amlodipine 5mg/5ml oral solution"),
        stopped,
        hidden,
        course(6, p, "Atenolol 25mg tablets"),
    ];
    for c in &courses {
        store.insert_course(c, &course_log(c)).await.unwrap();
    }
    store
        .insert_course(
            &course(7, &other.id, "Aspirin 75mg tablets"),
            &course_log(&course(7, &other.id, "Aspirin 75mg tablets")),
        )
        .await
        .unwrap();
    let v = version(store, p).await;
    let r = request(1, p, &[&courses[5], &courses[0]], t(0));
    assert_eq!(order(store, &r, v).await.unwrap(), OrderOutcome::Stored);

    let got = list(store, p).await;
    assert_eq!(got.version, v);
    assert_eq!(got.seen_version, None);
    let want: Vec<(MedicationCourse, Option<String>)> = [
        (&courses[1], None),
        (&courses[0], Some(&r.id)),
        (&courses[5], Some(&r.id)),
        (&courses[3], None),
        (&courses[4], None),
        (&courses[2], None),
    ]
    .into_iter()
    .map(|(c, pending)| (c.clone(), pending.cloned()))
    .collect();
    let ids = |l: &[(MedicationCourse, Option<String>)]| -> Vec<String> {
        l.iter().map(|(c, _)| c.id.clone()).collect()
    };
    assert_eq!(ids(&got.courses), ids(&want));
    assert_eq!(got.courses, want);

    // Views, per (session, patient).
    let log_before = log_len(store, p).await;
    let viewed = record_access(p, t(100), "Viewed medication");
    store
        .record_medication_views(&[view(&s1.suid_hash, p, v, &viewed)])
        .await
        .unwrap();
    let seen = |suid: &str| {
        let suid = suid.to_owned();
        async move {
            store
                .medication_list(p, Some(&suid))
                .await
                .unwrap()
                .seen_version
        }
    };
    assert_eq!(seen(&s1.suid_hash).await, Some(v));
    assert_eq!(seen(&s2.suid_hash).await, None);
    assert_eq!(list(store, p).await.seen_version, None);
    assert_eq!(
        store
            .medication_list(&other.id, Some(&s1.suid_hash))
            .await
            .unwrap()
            .seen_version,
        None
    );
    let with_view = store.medication_list(p, Some(&s1.suid_hash)).await.unwrap();
    assert_eq!(with_view.courses, want);
    assert_eq!(with_view.version, v);

    // Recording again replaces the version; each view is logged.
    let viewed_again = record_access(p, t(200), "Viewed medication");
    store
        .record_medication_views(&[view(&s1.suid_hash, p, v - 1, &viewed_again)])
        .await
        .unwrap();
    assert_eq!(seen(&s1.suid_hash).await, Some(v - 1));
    store
        .record_medication_views(&[view(&s2.suid_hash, p, v, &viewed)])
        .await
        .unwrap();
    assert_eq!(seen(&s2.suid_hash).await, Some(v));
    assert_eq!(seen(&s1.suid_hash).await, Some(v - 1));
    let log = order_entries(store, p).await;
    assert_eq!(log.len(), log_before + 3, "{log:?}");
    assert!(
        log.contains(&viewed) && log.contains(&viewed_again),
        "{log:?}"
    );

    // A session that no longer exists records no view, but its read is still logged.
    let unknown = "0".repeat(64);
    store
        .record_medication_views(&[view(&unknown, p, v, &viewed)])
        .await
        .unwrap();
    assert_eq!(seen(&unknown).await, None);
    assert_eq!(log_len(store, p).await, log_before + 4);

    // A group: the same session twice (the later view wins), another session, all logged.
    store
        .record_medication_views(&[
            view(&s1.suid_hash, p, v - 2, &viewed),
            view(&s2.suid_hash, p, v - 2, &viewed),
            view(&s1.suid_hash, p, v, &viewed_again),
        ])
        .await
        .unwrap();
    assert_eq!(seen(&s1.suid_hash).await, Some(v));
    assert_eq!(seen(&s2.suid_hash).await, Some(v - 2));
    assert_eq!(log_len(store, p).await, log_before + 7);

    // A re-read of a list the session has seen logs the read and leaves the version as it is,
    // also beside a view that records one.
    let reread = MedicationView {
        version: None,
        ..view(&s2.suid_hash, p, v, &viewed_again)
    };
    store
        .record_medication_views(std::slice::from_ref(&reread))
        .await
        .unwrap();
    assert_eq!(seen(&s2.suid_hash).await, Some(v - 2));
    store
        .record_medication_views(&[view(&s2.suid_hash, p, v - 3, &viewed), reread])
        .await
        .unwrap();
    assert_eq!(seen(&s2.suid_hash).await, Some(v - 3));
    assert_eq!(log_len(store, p).await, log_before + 10);

    // A group's entries of one instant are listed in the group's order.
    let tied: Vec<RecordAccess> = ["Dr C Able", "Dr A Baker", "Dr B Cole"]
        .into_iter()
        .map(|by| RecordAccess {
            accessed_by: by.into(),
            ..record_access(p, t(300), "Viewed medication")
        })
        .collect();
    let views: Vec<MedicationView> = tied.iter().map(|l| view(&s1.suid_hash, p, v, l)).collect();
    store.record_medication_views(&views).await.unwrap();
    assert_eq!(
        store.record_accesses(p, t(300), t(301)).await.unwrap(),
        tied
    );

    // Another patient's list holds only their course; an unknown patient's is empty at 0.
    let others = store
        .medication_list(&other.id, Some(&s2.suid_hash))
        .await
        .unwrap();
    assert_eq!(others.courses.len(), 1);
    assert_eq!(others.seen_version, None);
    let nobody = list(store, "9999999").await;
    assert_eq!(nobody, MedicationList::default());
}

/// An order checked against a stale version is `ListChanged` and writes nothing; one at the
/// current version is stored with its log entry and holds its courses.
pub async fn medication_order_list_changed(store: &dyn Store) {
    let (w, [c1, c2, _]) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    let r = request(1, p, &[&c1, &c2], t(0));

    for stale in [v - 1, v + 1, 0] {
        assert_eq!(
            order(store, &r, stale).await.unwrap(),
            OrderOutcome::ListChanged
        );
    }
    assert_eq!(store.prescription_request(&r.id).await.unwrap(), None);
    assert!(
        store
            .prescription_requests(p, t(-DAY), t(DAY))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(log_len(store, p).await, 0);
    assert!(outstanding(store, p).await.iter().all(|(_, r)| r.is_none()));

    assert_eq!(order(store, &r, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(
        store.prescription_request(&r.id).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        order_entries(store, p).await,
        vec![order_log(&r, "Requested")]
    );
    let held_now = outstanding(store, p).await;
    assert!(held_now.contains(&held(&c1, Some(&r))), "{held_now:?}");
    assert!(held_now.contains(&held(&c2, Some(&r))), "{held_now:?}");
}

/// An order of a course another request holds is `AlreadyRequested` and writes nothing (not
/// even its other courses' claims); a taken request id is a `Conflict`; an unknown course or
/// patient is `NotFound`.
pub async fn medication_order_already_requested(store: &dyn Store) {
    let (w, [c1, c2, c3]) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    let first = request(1, p, &[&c1], t(0));
    assert_eq!(order(store, &first, v).await.unwrap(), OrderOutcome::Stored);
    let history = store
        .prescription_requests(p, t(-DAY), t(DAY))
        .await
        .unwrap();
    assert_eq!(history, vec![first.clone()]);

    let second = request(2, p, &[&c2, &c1], t(10));
    assert_eq!(
        order(store, &second, v).await.unwrap(),
        OrderOutcome::AlreadyRequested
    );
    let third = request(3, p, &[&c1], t(20));
    assert_eq!(
        order(store, &third, v).await.unwrap(),
        OrderOutcome::AlreadyRequested
    );
    for r in [&second, &third] {
        assert_eq!(store.prescription_request(&r.id).await.unwrap(), None);
    }
    assert_eq!(
        store
            .prescription_requests(p, t(-DAY), t(DAY))
            .await
            .unwrap(),
        history
    );
    assert_eq!(
        outstanding(store, p).await,
        vec![held(&c1, Some(&first)), held(&c3, None), held(&c2, None)]
    );
    assert_eq!(log_len(store, p).await, 1);
    assert_eq!(
        store
            .pending_prescription_requests(&w.practice.ods)
            .await
            .unwrap(),
        history
    );

    // The free course alone can be ordered.
    let fourth = request(4, p, &[&c2], t(30));
    assert_eq!(
        order(store, &fourth, v).await.unwrap(),
        OrderOutcome::Stored
    );

    // A taken id.
    let same_id = PrescriptionRequest {
        notes: Some("Secret note".into()),
        ..request(1, p, &[&c3], t(40))
    };
    let taken = order(store, &same_id, v).await.map(|_| ());
    assert_conflict(taken, Some("prescription_requests.id"), &["Secret note"]);
    assert_eq!(
        store.prescription_request(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        outstanding(store, p).await,
        vec![
            held(&c1, Some(&first)),
            held(&c3, None),
            held(&c2, Some(&fourth))
        ]
    );

    // Unknown course, unknown patient.
    let mut unknown_course = request(5, p, &[&c3], t(50));
    unknown_course.items.push(PrescriptionItem {
        course_id: "699999".into(),
        ..item(&c3)
    });
    assert!(matches!(
        order(store, &unknown_course, v).await,
        Err(StoreError::NotFound(_))
    ));
    let unknown_patient = request(6, "9999999", &[&c3], t(60));
    assert!(matches!(
        order(store, &unknown_patient, 0).await,
        Err(StoreError::NotFound(_))
    ));
    for r in [&unknown_course, &unknown_patient] {
        assert_eq!(store.prescription_request(&r.id).await.unwrap(), None);
    }
    assert_eq!(outstanding(store, p).await[1], held(&c3, None));
    assert_eq!(log_len(store, p).await, 2);
}

/// 32 concurrent orders of one course: exactly one is stored (with the one log entry), the
/// others are `AlreadyRequested` and wrote nothing.
pub async fn concurrent_medication_orders_of_one_course(store: &dyn Store) {
    let (w, [c1, c2, c3]) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    // The even ones also order course 2 (first), so a loser's other claim would show.
    let attempts: Vec<PrescriptionRequest> = (1..=32)
        .map(|n| {
            let courses: &[&MedicationCourse] = if n % 2 == 0 { &[&c2, &c1] } else { &[&c1] };
            request(n, p, courses, t(i64::from(n)))
        })
        .collect();
    let orders = attempts.iter().map(|r| order(store, r, v));
    let outcomes: Vec<OrderOutcome> = futures_util::future::join_all(orders)
        .await
        .into_iter()
        .enumerate()
        .map(|(n, r)| r.unwrap_or_else(|e| panic!("order {n}: {e}")))
        .collect();
    let winners: Vec<&PrescriptionRequest> = attempts
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == OrderOutcome::Stored)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OrderOutcome::AlreadyRequested)
            .count(),
        31,
        "outcomes: {outcomes:?}"
    );
    let winner = winners[0];
    for r in &attempts {
        let stored = store.prescription_request(&r.id).await.unwrap();
        assert_eq!(stored.is_some(), r.id == winner.id, "{}", r.id);
    }
    // By drug: Amlodipine (1), Amoxicillin (3), Simvastatin (2).
    let c2_holder = (winner.items.len() == 2).then_some(winner);
    assert_eq!(
        outstanding(store, p).await,
        vec![
            held(&c1, Some(winner)),
            held(&c3, None),
            held(&c2, c2_holder)
        ]
    );
    assert_eq!(
        order_entries(store, p).await,
        vec![order_log(winner, "Requested")]
    );
    assert_eq!(version(store, p).await, v);
}

/// Amending: the request's own courses may stay (in a new order) and its notes change; a
/// course another request holds is `AlreadyRequested` with nothing written; a stale version
/// is `ListChanged`; an unknown request `NotFound`; a settled one `Actioned`.
pub async fn amend_prescription_request_cases(store: &dyn Store) {
    let (w, [c1, c2, c3]) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    let r1 = request(1, p, &[&c1, &c2], t(0));
    let r2 = request(2, p, &[&c3], t(10));
    assert_eq!(order(store, &r1, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(order(store, &r2, v).await.unwrap(), OrderOutcome::Stored);
    let log_before = log_len(store, p).await;

    // Its own courses, reordered, and new notes.
    let reordered = PrescriptionRequest {
        notes: Some("Before Friday please".into()),
        status_at: t(100),
        items: vec![item(&c2), item(&c1)],
        ..r1.clone()
    };
    assert_eq!(
        amend(store, &reordered, v).await.unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(reordered.clone())
    );
    assert_eq!(log_len(store, p).await, log_before + 1);

    // Taking r2's course: nothing written, r1 keeps its courses.
    let grabbing = PrescriptionRequest {
        notes: None,
        status_at: t(200),
        items: vec![item(&c1), item(&c3)],
        ..r1.clone()
    };
    assert_eq!(
        amend(store, &grabbing, v).await.unwrap(),
        OrderOutcome::AlreadyRequested
    );
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(reordered.clone())
    );
    assert_eq!(
        outstanding(store, p).await,
        vec![
            held(&c1, Some(&r1)),
            held(&c3, Some(&r2)),
            held(&c2, Some(&r1))
        ]
    );

    // Stale version: nothing written.
    let dropping = PrescriptionRequest {
        status_at: t(300),
        items: vec![item(&c1)],
        ..reordered.clone()
    };
    assert_eq!(
        amend(store, &dropping, v + 1).await.unwrap(),
        OrderOutcome::ListChanged
    );
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(reordered.clone())
    );
    assert_eq!(log_len(store, p).await, log_before + 1);

    // Dropping a course frees it.
    assert_eq!(
        amend(store, &dropping, v).await.unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(dropping.clone())
    );
    assert_eq!(
        outstanding(store, p).await,
        vec![held(&c1, Some(&r1)), held(&c3, Some(&r2)), held(&c2, None)]
    );
    let r3 = request(3, p, &[&c2], t(400));
    assert_eq!(order(store, &r3, v).await.unwrap(), OrderOutcome::Stored);

    // Unknown, then settled.
    let unknown = request(9, p, &[&c1], t(500));
    assert_eq!(
        amend(store, &unknown, v).await.unwrap(),
        OrderOutcome::NotFound
    );
    assert_eq!(store.prescription_request(&unknown.id).await.unwrap(), None);
    let rejected = PrescriptionStatus::Rejected;
    assert_eq!(
        settle(store, &r2, rejected, None, t(600)).await.unwrap(),
        OrderOutcome::Stored
    );
    let late = PrescriptionRequest {
        status_at: t(700),
        items: vec![item(&c3)],
        ..r2.clone()
    };
    assert_eq!(
        amend(store, &late, v).await.unwrap(),
        OrderOutcome::Actioned(PrescriptionStatus::Rejected)
    );
    let r2_now = store.prescription_request(&r2.id).await.unwrap().unwrap();
    assert_eq!(r2_now.status, PrescriptionStatus::Rejected);
    assert_eq!(r2_now.status_at, t(600));
    assert_eq!(outstanding(store, p).await[1], held(&c3, None));
    // Stored amendments (2), r3, the rejection: nothing for the refused ones.
    assert_eq!(log_len(store, p).await, log_before + 4);
    assert_eq!(version(store, p).await, v);
}

/// Settling: `NotFound`; cancelling frees the courses so they can be ordered again; a second
/// settling is `Actioned` with the current status; issuing records the comment and the issue.
pub async fn settle_prescription_request_cases(store: &dyn Store) {
    let (w, [c1, c2, _]) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    let r1 = request(1, p, &[&c1, &c2], t(0));
    assert_eq!(order(store, &r1, v).await.unwrap(), OrderOutcome::Stored);
    let log_before = log_len(store, p).await;

    let unknown = request(9, p, &[&c1], t(0));
    assert_eq!(
        settle(store, &unknown, PrescriptionStatus::Issued, None, t(5))
            .await
            .unwrap(),
        OrderOutcome::NotFound
    );

    assert_eq!(
        settle(store, &r1, PrescriptionStatus::Cancelled, None, t(10))
            .await
            .unwrap(),
        OrderOutcome::Stored
    );
    let cancelled = PrescriptionRequest {
        status: PrescriptionStatus::Cancelled,
        status_at: t(10),
        ..r1.clone()
    };
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(cancelled.clone())
    );
    assert!(outstanding(store, p).await.iter().all(|(_, r)| r.is_none()));
    assert_eq!(log_len(store, p).await, log_before + 1);

    // Ordered again.
    let r2 = request(2, p, &[&c1], t(20));
    assert_eq!(order(store, &r2, v).await.unwrap(), OrderOutcome::Stored);

    // Settled twice.
    for status in [
        PrescriptionStatus::Issued,
        PrescriptionStatus::Rejected,
        PrescriptionStatus::Cancelled,
    ] {
        assert_eq!(
            settle(store, &r1, status, Some("Too late"), t(30))
                .await
                .unwrap(),
            OrderOutcome::Actioned(PrescriptionStatus::Cancelled)
        );
    }
    assert_eq!(
        store.prescription_request(&r1.id).await.unwrap(),
        Some(cancelled)
    );
    assert_eq!(log_len(store, p).await, log_before + 2);

    // Issued, with the practice's comment.
    assert_eq!(
        settle(
            store,
            &r2,
            PrescriptionStatus::Issued,
            Some("Collect Monday"),
            t(40)
        )
        .await
        .unwrap(),
        OrderOutcome::Stored
    );
    let issued = PrescriptionRequest {
        status: PrescriptionStatus::Issued,
        status_at: t(40),
        practice_comment: Some("Collect Monday".into()),
        ..r2.clone()
    };
    assert_eq!(
        store.prescription_request(&r2.id).await.unwrap(),
        Some(issued)
    );
    let c1_now = store.course(&c1.id).await.unwrap().unwrap();
    assert_eq!(
        (c1_now.issue_count, c1_now.last_issued_at),
        (1, Some(t(40)))
    );
    assert_eq!(store.course(&c2.id).await.unwrap(), Some(c2.clone()));
    assert_eq!(
        settle(store, &r2, PrescriptionStatus::Rejected, None, t(50))
            .await
            .unwrap(),
        OrderOutcome::Actioned(PrescriptionStatus::Issued)
    );
    assert!(outstanding(store, p).await.iter().all(|(_, r)| r.is_none()));
    assert_eq!(log_len(store, p).await, log_before + 3);
    assert!(
        store
            .pending_prescription_requests(&w.practice.ods)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A patient's requests made in `[from, to)`, newest first then by id descending, each with
/// its items in order; a practice's pending requests, oldest first then by id.
pub async fn prescription_requests_window_and_pending(store: &dyn Store) {
    let (w, [c1, c2, c3]) = medication_world(store).await;
    let p = &w.patient.id;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let elsewhere_practice = practice(3);
    store.insert_practice(&elsewhere_practice).await.unwrap();
    let elsewhere = patient(3, &elsewhere_practice.ods);
    store.insert_patient(&elsewhere).await.unwrap();
    let o1 = course(11, &other.id, "Aspirin 75mg tablets");
    let o2 = course(12, &other.id, "Ramipril 5mg capsules");
    let e1 = course(13, &elsewhere.id, "Metformin 500mg tablets");
    for c in [&o1, &o2, &e1] {
        store.insert_course(c, &course_log(c)).await.unwrap();
    }
    let v = version(store, p).await;
    let vo = version(store, &other.id).await;
    let ve = version(store, &elsewhere.id).await;

    // Requests of patient 1 at 0, DAY (two, the later id first), 2 DAY.
    let a = request(1, p, &[&c3, &c1], t(0));
    let b = request(4, p, &[&c2], t(DAY));
    let c = request(3, p, &[&c1], t(DAY));
    let d = request(2, p, &[&c3], t(2 * DAY));
    let x = request(5, &other.id, &[&o2, &o1], t(DAY - 1));
    let y = request(6, &elsewhere.id, &[&e1], t(-DAY));
    assert_eq!(order(store, &a, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(
        settle(store, &a, PrescriptionStatus::Cancelled, None, t(1))
            .await
            .unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(order(store, &b, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(order(store, &c, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(
        settle(
            store,
            &c,
            PrescriptionStatus::Rejected,
            Some("No"),
            t(DAY + 1)
        )
        .await
        .unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(order(store, &d, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(order(store, &x, vo).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(order(store, &y, ve).await.unwrap(), OrderOutcome::Stored);
    let a_now = store.prescription_request(&a.id).await.unwrap().unwrap();
    let c_now = store.prescription_request(&c.id).await.unwrap().unwrap();

    let window = |from, to| store.prescription_requests(p, from, to);
    let all = window(t(0), t(2 * DAY + 1)).await.unwrap();
    assert_eq!(
        request_ids(&all),
        request_ids(&[d.clone(), b.clone(), c.clone(), a.clone()])
    );
    assert_eq!(
        all,
        vec![d.clone(), b.clone(), c_now.clone(), a_now.clone()]
    );
    // from inclusive, to exclusive.
    assert_eq!(
        window(t(0), t(2 * DAY)).await.unwrap(),
        vec![b.clone(), c_now.clone(), a_now.clone()]
    );
    assert_eq!(
        window(t(1), t(DAY + 1)).await.unwrap(),
        vec![b.clone(), c_now.clone()]
    );
    assert!(window(t(1), t(DAY)).await.unwrap().is_empty());
    assert!(window(t(DAY), t(DAY)).await.unwrap().is_empty());
    assert_eq!(
        store
            .prescription_requests(&other.id, t(-10 * DAY), t(10 * DAY))
            .await
            .unwrap(),
        vec![x.clone()]
    );
    assert!(
        store
            .prescription_requests("9999999", t(-10 * DAY), t(10 * DAY))
            .await
            .unwrap()
            .is_empty()
    );

    // Pending: Requested only, this practice's patients only, oldest first.
    assert_eq!(
        store
            .pending_prescription_requests(&w.practice.ods)
            .await
            .unwrap(),
        vec![x.clone(), b.clone(), d.clone()]
    );
    assert_eq!(
        store
            .pending_prescription_requests(&elsewhere_practice.ods)
            .await
            .unwrap(),
        vec![y.clone()]
    );
    // Two pending at the same instant: by id.
    let e = request(7, p, &[&c1], t(DAY));
    assert_eq!(order(store, &e, v).await.unwrap(), OrderOutcome::Stored);
    assert_eq!(
        request_ids(
            &store
                .pending_prescription_requests(&w.practice.ods)
                .await
                .unwrap()
        ),
        vec![x.id.as_str(), b.id.as_str(), e.id.as_str(), d.id.as_str()]
    );
    assert!(
        store
            .pending_prescription_requests("Z99999")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Purging a session removes the versions it recorded; other sessions' stay.
pub async fn purge_sessions_removes_medication_views(store: &dyn Store) {
    let (w, _) = medication_world(store).await;
    let p = &w.patient.id;
    let v = version(store, p).await;
    let idle = SessionRecord {
        last_seen_at: t(10),
        ..session(1, &w.provider.id, &w.account, t(0))
    };
    let active = SessionRecord {
        last_seen_at: t(10 * DAY),
        ..session(2, &w.provider.id, &w.account, t(0))
    };
    for s in [&idle, &active] {
        store.insert_session(s).await.unwrap();
        let log = record_access(p, t(20), "Viewed medication");
        store
            .record_medication_views(&[view(&s.suid_hash, p, v, &log)])
            .await
            .unwrap();
    }
    let seen = |s: &SessionRecord| {
        let suid = s.suid_hash.clone();
        async move {
            store
                .medication_list(p, Some(&suid))
                .await
                .unwrap()
                .seen_version
        }
    };
    assert_eq!(seen(&idle).await, Some(v));
    assert_eq!(seen(&active).await, Some(v));

    assert_eq!(store.purge_sessions(t(DAY)).await.unwrap(), 1);
    assert_eq!(store.session(&idle.suid_hash).await.unwrap(), None);
    assert_eq!(seen(&idle).await, None);
    assert_eq!(seen(&active).await, Some(v));
    // The hash can start a new session with no view recorded.
    store.insert_session(&idle).await.unwrap();
    assert_eq!(seen(&idle).await, None);
}

/// The in-session read brings the named patient's medication list, as `medication_list`
/// gives it for that session, when asked to, and nothing otherwise.
pub async fn session_context_prefetches_the_medication_list(store: &dyn Store) {
    let (w, _) = medication_world(store).await;
    let p = &w.patient.id;
    let s = medication_session(store, &w, 1).await;
    let v = version(store, p).await;
    let log = record_access(p, t(20), "Viewed medication");
    store
        .record_medication_views(&[view(&s.suid_hash, p, v, &log)])
        .await
        .unwrap();
    let direct = store.medication_list(p, Some(&s.suid_hash)).await.unwrap();
    assert_eq!(direct.seen_version, Some(v));
    let context = store
        .session_context(&s.suid_hash, Some(p), Prefetch::Medication)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.medication, Some(direct));
    assert_eq!(context.appointments, None);
    let plain = store
        .session_context(&s.suid_hash, Some(p), Prefetch::Nothing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.medication, None);
    // No such patient: nothing to prefetch.
    let nobody = store
        .session_context(&s.suid_hash, Some("9999999"), Prefetch::Medication)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(nobody.medication, None);
}

/// A view of `patient_id`'s list at `version` by session `suid_hash`, logged as `log`.
fn view(suid_hash: &str, patient_id: &str, version: i64, log: &RecordAccess) -> MedicationView {
    MedicationView {
        suid_hash: suid_hash.to_owned(),
        patient_id: patient_id.to_owned(),
        version: Some(version),
        log: log.clone(),
    }
}

/// The medication list a session reads again and again (with its session, or on its own)
/// follows each change at once, however often it was read before: the session's own view, a
/// new course, a changed one, an order, its settlement, and another session's view (which
/// must not show as this session's).
pub async fn medication_reads_follow_every_change(store: &dyn Store) {
    let (w, [first, second, _]) = medication_world(store).await;
    let p = &w.patient.id;
    let s = medication_session(store, &w, 1).await;
    let other = medication_session(store, &w, 2).await;
    let read = async || {
        // Twice each way: the second reads may come from copies.
        let mut lists = Vec::new();
        for _ in 0..2 {
            let context = store
                .session_context(&s.suid_hash, Some(p), Prefetch::Medication)
                .await
                .unwrap()
                .expect("the session exists");
            lists.push(context.medication.expect("the patient exists"));
            lists.push(store.medication_list(p, Some(&s.suid_hash)).await.unwrap());
        }
        assert!(lists.windows(2).all(|l| l[0] == l[1]), "every read agrees");
        lists.remove(0)
    };

    let before = read().await;
    assert_eq!(before.seen_version, None);
    let v = before.version;
    let log = record_access(p, t(20), "Viewed medication");
    store
        .record_medication_views(&[view(&other.suid_hash, p, v, &log)])
        .await
        .unwrap();
    assert_eq!(read().await.seen_version, None, "another session's view");
    store
        .record_medication_views(&[view(&s.suid_hash, p, v, &log)])
        .await
        .unwrap();
    assert_eq!(read().await.seen_version, Some(v), "this session's view");

    let added = course(4, p, "Lansoprazole 15mg capsules");
    store
        .insert_course(&added, &course_log(&added))
        .await
        .unwrap();
    let grown = read().await;
    assert!(grown.version > v, "a new course moves the version");
    assert_eq!(grown.courses.len(), 4, "a new course");

    let changed = MedicationCourse {
        requestable: false,
        ..second.clone()
    };
    assert!(
        store
            .update_course(&changed, &course_log(&changed))
            .await
            .unwrap()
    );
    let after_change = read().await;
    let now_second = after_change.courses.iter().find(|(c, _)| c.id == second.id);
    assert_eq!(
        now_second.map(|(c, _)| c.requestable),
        Some(false),
        "a change"
    );

    let r = request(1, p, &[&first], t(30));
    assert_eq!(
        order(store, &r, after_change.version).await.unwrap(),
        OrderOutcome::Stored
    );
    let held = |list: &MedicationList| {
        list.courses
            .iter()
            .find(|(c, _)| c.id == first.id)
            .and_then(|(_, pending)| pending.clone())
    };
    assert_eq!(held(&read().await), Some(r.id.clone()), "an order");
    assert_eq!(
        settle(store, &r, PrescriptionStatus::Issued, None, t(40))
            .await
            .unwrap(),
        OrderOutcome::Stored
    );
    assert_eq!(held(&read().await), None, "its settlement");
}
