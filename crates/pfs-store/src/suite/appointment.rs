//! Appointment sessions, bookings and cancellations
//! ([`AppointmentStore`](pfs_core::store::AppointmentStore)).

use pfs_core::model::{Appointment, BookOutcome};
use pfs_core::{Store, StoreError};

use super::{
    DAY, appointment, appointment_world, appt_session, assert_conflict, book, cancel,
    live_appointments, logged, patient, practice, t, world,
};

fn ids(appointments: &[Appointment]) -> Vec<&str> {
    appointments.iter().map(|a| a.id.as_str()).collect()
}

/// Sessions round-trip, range query `[from, to)` by start then id, conflict, unknown practice.
pub async fn appointment_sessions_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let ods = &w.practice.ods;
    let other = practice(2);
    store.insert_practice(&other).await.unwrap();

    let s1 = appt_session(1, ods, t(2 * DAY));
    let s2 = appt_session(2, ods, t(DAY));
    let s3 = appt_session(3, ods, t(3 * DAY));
    let s4 = appt_session(4, ods, t(DAY)); // same start as s2, later id
    let elsewhere = appt_session(5, &other.ods, t(DAY));
    for s in [&s4, &s1, &s3, &s2, &elsewhere] {
        store.insert_appointment_session(s).await.unwrap();
    }

    assert_eq!(
        store.appointment_session(&s1.id).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.appointment_session(&elsewhere.id).await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(store.appointment_session("799999").await.unwrap(), None);

    // from inclusive, to exclusive.
    assert_eq!(
        store
            .appointment_sessions(ods, t(DAY), t(3 * DAY))
            .await
            .unwrap(),
        vec![s2.clone(), s4.clone(), s1.clone()]
    );
    assert_eq!(
        store
            .appointment_sessions(ods, t(DAY + 1), t(3 * DAY + 1))
            .await
            .unwrap(),
        vec![s1.clone(), s3.clone()]
    );
    assert_eq!(
        store
            .appointment_sessions(&other.ods, t(0), t(10 * DAY))
            .await
            .unwrap(),
        vec![elsewhere.clone()]
    );
    assert!(
        store
            .appointment_sessions("Z99999", t(0), t(10 * DAY))
            .await
            .unwrap()
            .is_empty()
    );

    let mut again = s1.clone();
    again.location = "Branch surgery".into();
    assert_conflict(
        store.insert_appointment_session(&again).await,
        Some("appointment_sessions.id"),
        &["Branch surgery"],
    );
    assert_eq!(
        store.appointment_session(&s1.id).await.unwrap(),
        Some(s1.clone())
    );

    let orphan = appt_session(9, "Z99999", t(DAY));
    assert!(matches!(
        store.insert_appointment_session(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.appointment_session(&orphan.id).await.unwrap(), None);
}

/// A booking round-trips; unknown session or patient is `NotFound`; a reused id conflicts.
pub async fn book_appointment_round_trip(store: &dyn Store) {
    let (w, session, _) = appointment_world(store).await;
    let a1 = appointment(1, &session, 3, &w.patient.id);
    let a2 = appointment(2, &session, 1, &w.patient.id); // no notes, earlier slot
    assert!(a1.notes.is_some() && a2.notes.is_none());

    assert_eq!(
        book(store, &a1, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        book(store, &a2, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(store.appointment(&a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.appointment(&a2.id).await.unwrap(), Some(a2.clone()));
    assert_eq!(store.appointment("899999").await.unwrap(), None);
    assert_eq!(
        live_appointments(store, &w.patient.id).await,
        vec![a2.clone(), a1.clone()]
    );
    let (_, with) = &store.patient_appointments(&w.patient.id).await.unwrap()[0];
    assert_eq!(
        with, &session,
        "each appointment comes with its whole session"
    );
    assert!(live_appointments(store, "9999999").await.is_empty());

    let mut no_session = appointment(3, &session, 5, &w.patient.id);
    no_session.session_id = "799999".into();
    assert!(matches!(
        book(store, &no_session, 4, t(0)).await,
        Err(StoreError::NotFound(_))
    ));
    let no_patient = appointment(4, &session, 6, "9999999");
    assert!(matches!(
        book(store, &no_patient, 4, t(0)).await,
        Err(StoreError::NotFound(_))
    ));

    let mut same_id = appointment(1, &session, 7, &w.patient.id);
    same_id.notes = Some("Different reason".into());
    assert!(matches!(
        book(store, &same_id, 4, t(0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.appointment(&a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(live_appointments(store, &w.patient.id).await, vec![a2, a1]);
}

/// A second booking of a live slot is `SlotTaken`, stores nothing, and keeps the first.
pub async fn booking_a_taken_slot(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let first = appointment(1, &session, 2, &w.patient.id);
    let second = appointment(2, &session, 2, &p2.id);
    assert_eq!(
        book(store, &first, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        book(store, &second, 4, t(0)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    // The same patient again, too.
    let again = appointment(3, &session, 2, &w.patient.id);
    assert_eq!(
        book(store, &again, 4, t(0)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    assert_eq!(store.appointment(&second.id).await.unwrap(), None);
    assert_eq!(store.appointment(&again.id).await.unwrap(), None);
    assert!(live_appointments(store, &p2.id).await.is_empty());
    assert_eq!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![first.clone()]
    );
    // The neighbouring slot is free.
    let next = appointment(4, &session, 3, &p2.id);
    assert_eq!(
        book(store, &next, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
}

/// Cancelling frees the slot (once only); the cancelled appointment keeps its record.
pub async fn cancelled_slot_can_be_booked_again(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let first = appointment(1, &session, 0, &w.patient.id);
    assert_eq!(
        book(store, &first, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );

    assert!(cancel(store, &first, t(100)).await.unwrap());
    assert!(!cancel(store, &first, t(200)).await.unwrap());
    assert!(
        !store
            .cancel_appointment("899999", t(200), &logged(&first, "Cancelled"))
            .await
            .unwrap()
    );
    // One log entry per booking and one for the cancellation that happened.
    let log = store
        .record_accesses(&first.patient_id, t(-100 * DAY), t(100 * DAY))
        .await
        .unwrap();
    let cancelled = logged(&first, "Cancelled");
    assert_eq!(
        log.iter().filter(|e| **e == cancelled).count(),
        1,
        "{log:?}"
    );
    assert!(log.contains(&logged(&first, "Booked")), "{log:?}");
    let cancelled = Appointment {
        cancelled_at: Some(t(100)),
        ..first.clone()
    };
    assert_eq!(
        store.appointment(&first.id).await.unwrap(),
        Some(cancelled.clone())
    );
    assert!(live_appointments(store, &w.patient.id).await.is_empty());
    assert!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap()
            .is_empty()
    );

    let rebooked = appointment(2, &session, 0, &p2.id);
    assert_eq!(
        book(store, &rebooked, 4, t(300)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![rebooked.clone()]
    );
    assert_eq!(
        live_appointments(store, &p2.id).await,
        vec![rebooked.clone()]
    );
    // Taken again now.
    let third = appointment(3, &session, 0, &w.patient.id);
    assert_eq!(
        book(store, &third, 4, t(400)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    // Cancel and rebook once more: any number of cancelled appointments may share a slot.
    assert!(cancel(store, &rebooked, t(500)).await.unwrap());
    assert_eq!(
        book(store, &third, 4, t(600)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(store.appointment(&first.id).await.unwrap(), Some(cancelled));
}

/// The limit counts the patient's live appointments starting after `now`: not past ones,
/// not cancelled ones, not other patients'.
pub async fn booking_limit_counts_live_future_appointments(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let me = &w.patient.id;
    let past_session = appt_session(2, &w.practice.ods, t(-DAY));
    store
        .insert_appointment_session(&past_session)
        .await
        .unwrap();
    let now = t(0);

    let past = appointment(1, &past_session, 0, me);
    assert_eq!(
        book(store, &past, 4, t(-2 * DAY)).await.unwrap(),
        BookOutcome::Booked
    );
    // Another patient's future appointment does not count either.
    let theirs = appointment(2, &session, 0, &p2.id);
    assert_eq!(
        book(store, &theirs, 1, now).await.unwrap(),
        BookOutcome::Booked
    );

    let future = appointment(3, &session, 1, me);
    assert_eq!(
        book(store, &future, 1, now).await.unwrap(),
        BookOutcome::Booked
    );
    let over = appointment(4, &session, 2, me);
    assert_eq!(
        book(store, &over, 1, now).await.unwrap(),
        BookOutcome::LimitReached
    );
    assert_eq!(store.appointment(&over.id).await.unwrap(), None);
    assert_eq!(
        live_appointments(store, me).await,
        vec![past.clone(), future.clone()]
    );
    // Limit 0 refuses even the first.
    let p2_next = appointment(5, &session, 5, &p2.id);
    assert_eq!(
        book(store, &p2_next, 0, now).await.unwrap(),
        BookOutcome::LimitReached
    );

    // A cancelled appointment no longer counts.
    assert!(cancel(store, &future, t(1)).await.unwrap());
    assert_eq!(
        book(store, &over, 1, now).await.unwrap(),
        BookOutcome::Booked
    );
    // Once the future appointment's start has passed, it no longer counts.
    let later = appointment(6, &session, 6, me);
    assert_eq!(
        book(store, &later, 1, over.start).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        ids(&live_appointments(store, me).await),
        vec![past.id.as_str(), over.id.as_str(), later.id.as_str()]
    );
}

/// `practice_appointments`: live appointments of the practice's sessions starting in
/// `[from, to)`, by start then id.
pub async fn practice_appointments_range(store: &dyn Store) {
    let (w, s1, p2) = appointment_world(store).await;
    let ods = &w.practice.ods;
    let me = &w.patient.id;
    // A second session overlapping the first (another clinician), and another practice's.
    let s2 = appt_session(2, ods, t(DAY));
    store.insert_appointment_session(&s2).await.unwrap();
    let other = practice(3);
    store.insert_practice(&other).await.unwrap();
    let p3 = patient(3, &other.ods);
    store.insert_patient(&p3).await.unwrap();
    let elsewhere = appt_session(3, &other.ods, t(DAY));
    store.insert_appointment_session(&elsewhere).await.unwrap();

    let a_late = appointment(1, &s1, 5, me);
    let a_first = appointment(2, &s1, 0, me);
    let b_first = appointment(3, &s2, 0, &p2.id); // same start as a_first, later id
    let b_mid = appointment(4, &s2, 2, &p2.id);
    let cancelled = appointment(5, &s1, 3, &p2.id);
    let foreign = appointment(6, &elsewhere, 1, &p3.id);
    for a in [&a_late, &b_mid, &b_first, &a_first, &cancelled, &foreign] {
        assert_eq!(
            book(store, a, 10, t(0)).await.unwrap(),
            BookOutcome::Booked,
            "{}",
            a.id
        );
    }
    assert!(cancel(store, &cancelled, t(1)).await.unwrap());

    assert_eq!(
        store
            .practice_appointments(ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![
            a_first.clone(),
            b_first.clone(),
            b_mid.clone(),
            a_late.clone()
        ]
    );
    // from inclusive, to exclusive.
    assert_eq!(
        ids(&store
            .practice_appointments(ods, b_mid.start, a_late.start)
            .await
            .unwrap()),
        vec![b_mid.id.as_str()]
    );
    assert_eq!(
        ids(&store
            .practice_appointments(
                ods,
                a_first.start + chrono::Duration::milliseconds(1),
                t(2 * DAY)
            )
            .await
            .unwrap()),
        vec![b_mid.id.as_str(), a_late.id.as_str()]
    );
    assert_eq!(
        store
            .practice_appointments(&other.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![foreign]
    );
    assert!(
        store
            .practice_appointments(ods, t(2 * DAY), t(3 * DAY))
            .await
            .unwrap()
            .is_empty()
    );
}

/// 32 patients book one slot at once: exactly one wins, every other is told `SlotTaken`, and
/// the store holds exactly one appointment for the slot.
pub async fn concurrent_bookings_of_one_slot(store: &dyn Store) {
    let (w, session, _) = appointment_world(store).await;
    let mut patients = vec![w.patient.id.clone()];
    for n in 3..=33 {
        let p = patient(n, &w.practice.ods);
        store.insert_patient(&p).await.unwrap();
        patients.push(p.id);
    }
    assert_eq!(patients.len(), 32);
    let attempts: Vec<Appointment> = patients
        .iter()
        .zip(1..)
        .map(|(patient_id, n)| appointment(n, &session, 4, patient_id))
        .collect();

    let bookings = attempts.iter().map(|a| book(store, a, 4, t(0)));
    let outcomes: Vec<BookOutcome> = futures_util::future::join_all(bookings)
        .await
        .into_iter()
        .enumerate()
        .map(|(n, r)| r.unwrap_or_else(|e| panic!("booking {n}: {e}")))
        .collect();
    let winners: Vec<&Appointment> = attempts
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == BookOutcome::Booked)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == BookOutcome::SlotTaken)
            .count(),
        31,
        "outcomes: {outcomes:?}"
    );

    let held: Vec<Appointment> = store
        .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
        .await
        .unwrap();
    assert_eq!(held, vec![winners[0].clone()]);
    for a in &attempts {
        let stored = store.appointment(&a.id).await.unwrap();
        assert_eq!(stored.is_some(), a.id == winners[0].id, "{}", a.id);
        // Only the winning booking wrote to its patient's access log.
        let log = store
            .record_accesses(&a.patient_id, t(-100 * DAY), t(100 * DAY))
            .await
            .unwrap();
        let want = if a.id == winners[0].id {
            vec![logged(a, "Booked")]
        } else {
            vec![]
        };
        assert_eq!(log, want, "access log of {}", a.patient_id);
    }
}
