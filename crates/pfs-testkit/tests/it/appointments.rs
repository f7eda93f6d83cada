//! Appointments: ListSlots, BookAppointment, ViewAppointments, CancelAppointment and
//! RequestSystmOnlineMessages, over real mutual TLS against the demo practice.
//!
//! Each test creates its own appointment sessions through the admin API (the demo practice also
//! has eight weeks of seeded sessions; tests look only at their own session ids).

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use pfs_client::{Client, SecretString, Session};
use pfs_core::uktime::{to_wall_clock, uk_date};
use pfs_testkit::{DemoAccount, TestServer};
use serde_json::{Value, json};

use crate::session::{DECLARATION, XMLNS, error_body, expect_pfs, new_uuid, ok_body};

const ODS: &str = "Y99001";

/// A linked demo account that can open sessions again later (e.g. after the clock moved).
pub(crate) struct User {
    pub(crate) client: Client,
    pub(crate) account: DemoAccount,
    pub(crate) passphrase: SecretString,
}

impl User {
    pub(crate) async fn new(t: &TestServer, last_name: &str) -> User {
        let client = t.client();
        let account = t.account(last_name).clone();
        let passphrase = t.link(&client, &account).await.unwrap();
        User {
            client,
            account,
            passphrase,
        }
    }

    pub(crate) async fn session(&self) -> Session {
        self.client
            .authenticate(
                &self.account.organisation_code,
                &self.account.account_id,
                &self.passphrase,
            )
            .await
            .unwrap()
    }
}

fn wall(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn now_wall(t: &TestServer) -> NaiveDateTime {
    to_wall_clock(t.clock_now())
}

/// The UK date `days` after the server's today.
fn day(t: &TestServer, days: u64) -> NaiveDate {
    uk_date(t.clock_now()) + chrono::Days::new(days)
}

/// Creates a session through the admin API; returns its id.
async fn add_session(
    t: &TestServer,
    start: NaiveDateTime,
    slot_minutes: u32,
    slot_count: u32,
    slot_type: &str,
) -> String {
    let (status, v) = t
        .admin(
            "POST",
            &format!("/api/practices/{ODS}/sessions"),
            Some(json!({
                "sessionType": "Test surgery",
                "staffDetails": "Dr T Tester (Female)",
                "location": "Test room",
                "slotType": slot_type,
                "start": start.format("%Y-%m-%dT%H:%M").to_string(),
                "slotMinutes": slot_minutes,
                "slotCount": slot_count,
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// Changes some of the demo practice's settings (the rest keep their values).
pub(crate) async fn set_settings(t: &TestServer, changes: Value) {
    let (_, all) = t.admin("GET", "/api/practices", None).await.unwrap();
    let mut settings = all
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == ODS)
        .unwrap()["settings"]
        .clone();
    for (k, v) in changes.as_object().unwrap() {
        assert!(settings.get(k).is_some(), "unknown setting {k}");
        settings[k] = v.clone();
    }
    let (status, v) = t
        .admin(
            "PUT",
            &format!("/api/practices/{ODS}/settings"),
            Some(settings),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
}

/// The free slots of one session as (start, end) wall-clock pairs.
async fn free_slots(s: &Session, t: &TestServer, id: &str) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let reply = s.list_slots(now_wall(t), 112).await.unwrap();
    reply
        .sessions
        .iter()
        .find(|x| x.session_id == id)
        .map(|x| x.slots.iter().map(|s| (s.start_date, s.end_date)).collect())
        .unwrap_or_default()
}

/// The patient's whole access log.
pub(crate) async fn all_accesses(
    t: &TestServer,
    patient_id: &str,
) -> Vec<pfs_core::model::RecordAccess> {
    let now = t.clock_now();
    t.server.pfs.flush_writes().await.unwrap();
    t.server
        .pfs
        .store()
        .record_accesses(
            patient_id,
            now - Duration::days(400),
            now + Duration::days(400),
        )
        .await
        .unwrap()
}

/// The patient's access log entries about appointments (the demo seed also leaves medication
/// entries in the log, which these tests do not look at).
async fn accesses(t: &TestServer, patient_id: &str) -> Vec<pfs_core::model::RecordAccess> {
    all_accesses(t, patient_id)
        .await
        .into_iter()
        .filter(|a| a.access_type.ends_with("appointment"))
        .collect()
}

#[tokio::test]
async fn book_view_cancel_rebook_through_the_sdk() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Jones").await;
    let s = user.session().await;
    let start = day(&t, 2).and_hms_opt(10, 0, 0).unwrap();
    let id = add_session(&t, start, 10, 3, "Telephone").await;

    let reply = s.list_slots(now_wall(&t), 56).await.unwrap();
    assert_eq!(reply.bookable_days, 56);
    let session = reply.sessions.iter().find(|x| x.session_id == id).unwrap();
    assert_eq!(session.session_type, "Test surgery");
    assert_eq!(session.staff_details, "Dr T Tester (Female)");
    assert_eq!(session.location, "Test room");
    assert_eq!(session.slots.len(), 3);
    assert_eq!(session.slots[0].start_date, start);
    assert_eq!(session.slots[0].end_date, start + Duration::minutes(10));
    assert_eq!(session.slots[2].slot_type, "Telephone");
    // The demo seed is there too: several clinicians, slot types and locations.
    assert!(reply.sessions.len() > 10, "{}", reply.sessions.len());

    let slot = &session.slots[1];
    s.book_appointment(
        &id,
        slot.start_date,
        slot.end_date,
        Some("Cough for two weeks"),
    )
    .await
    .unwrap();
    let free = free_slots(&s, &t, &id).await;
    assert_eq!(free.len(), 2, "the booked slot is no longer listed");
    assert!(!free.contains(&(slot.start_date, slot.end_date)));

    let upcoming = s.view_appointments(true).await.unwrap();
    assert_eq!(upcoming.appointments.len(), 1);
    let a = &upcoming.appointments[0];
    assert_eq!(a.start_date, slot.start_date);
    assert_eq!(a.end_date, slot.end_date);
    assert_eq!(a.details, "Telephone with Dr T Tester (Female)");
    assert_eq!(a.site_name, "Riverside Surgery");
    assert_eq!(a.address, "1 High Street, Leeds, LS1 4AP");
    assert!(
        s.view_appointments(false)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );

    s.cancel_appointment(&a.appt_id).await.unwrap();
    assert!(
        s.view_appointments(true)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
    assert_eq!(
        free_slots(&s, &t, &id).await.len(),
        3,
        "the slot is free again"
    );

    // Rebook the freed slot.
    s.book_appointment(&id, slot.start_date, slot.end_date, None)
        .await
        .unwrap();
    let again = s.view_appointments(true).await.unwrap();
    assert_eq!(again.appointments.len(), 1);
    assert_ne!(again.appointments[0].appt_id, a.appt_id);

    // The practice sees the booking.
    let (status, list) = t
        .admin(
            "GET",
            &format!(
                "/api/practices/{ODS}/appointments?from={}&to={}",
                day(&t, 0),
                day(&t, 7)
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    let mine: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["sessionId"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{list}");
    assert_eq!(
        mine[0]["startLocal"],
        slot.start_date.format("%Y-%m-%dT%H:%M").to_string()
    );

    // Every booking and cancellation is in the patient's access log.
    let patient_id = s.online_user_id().to_owned();
    let log = accesses(&t, &patient_id).await;
    let kinds: Vec<&str> = log.iter().map(|a| a.access_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Booked appointment",
            "Cancelled appointment",
            "Booked appointment"
        ]
    );
    for entry in &log {
        assert_eq!(entry.accessed_by, "Mr Carl Jones via openpfs demo app");
        assert_eq!(entry.organisation, "Riverside Surgery");
        assert_eq!(entry.method, "Online");
    }
    s.logoff().await.unwrap();
}

#[tokio::test]
async fn every_message_as_raw_xml() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let suid = pfs_client::ExposeSecret::expose_secret(s.suid()).to_owned();
    let pid = s.online_user_id().to_owned();
    let client = t.client();
    let start = day(&t, 3).and_hms_opt(11, 20, 0).unwrap();
    let id = add_session(&t, start, 15, 2, "Nurse").await;
    let common = |root: &str, uuid: &str| {
        format!(
            r#"<{root} {XMLNS} onlineUserId="{pid}" patientId="{pid}" unitId="{ODS}" uuid="{uuid}" apiVersion="1""#
        )
    };

    // ListSlots with the client's "now" form: one fractional digit and a decorative Z.
    let uuid = new_uuid();
    let now = now_wall(&t).format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    let now = &now[..now.len().min(21)];
    let body = format!(
        r#"{DECLARATION}{} numberOfDays="56" startDate="{now}Z"/>"#,
        common("ListSlots", &uuid)
    );
    let r = client.raw("ListSlots", Some(&suid), body).await.unwrap();
    let el = ok_body(&r, "ListSlotsReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("bookableDays"), Some("56"));
    let expected = format!(
        r#"<Session sessionId="{id}" type="Test surgery" staffDetails="Dr T Tester (Female)" location="Test room"><Slot startDate="{d}T11:20:00.0Z" endDate="{d}T11:35:00.0Z" type="Nurse"/><Slot startDate="{d}T11:35:00.0Z" endDate="{d}T11:50:00.0Z" type="Nurse"/></Session>"#,
        d = day(&t, 3)
    );
    assert!(r.body.contains(&expected), "{}", r.body);

    // BookAppointment in the booking form: UK local time with a literal +00:00.
    let uuid = new_uuid();
    let body = format!(
        r#"{} sessionId="{id}" startDate="{d}T11:35:00+00:00" endDate="{d}T11:50:00+00:00" notes="Blood test"/>"#,
        common("BookAppointment", &uuid),
        d = day(&t, 3)
    );
    let r = client
        .raw("BookAppointment", Some(&suid), body)
        .await
        .unwrap();
    ok_body(&r, "BookAppointmentReply");
    assert!(
        r.body.contains(&format!(
            r#"patientId="{pid}" onlineUserId="{pid}" uuid="{uuid}""#
        )),
        "{}",
        r.body
    );
    assert!(r.suid.is_some());

    // ViewAppointments: the flag is accepted in either case.
    for flag in ["Y", "y"] {
        let body = format!(
            r#"{} futureAppointments="{flag}"/>"#,
            common("ViewAppointments", &new_uuid())
        );
        let r = client
            .raw("ViewAppointments", Some(&suid), body)
            .await
            .unwrap();
        ok_body(&r, "ViewAppointmentsReply");
        assert!(
            r.body.contains(&format!(
                r#"startDate="{d}T11:35:00.0Z" endDate="{d}T11:50:00.0Z" details="Nurse with Dr T Tester (Female)" siteName="Riverside Surgery" address="1 High Street, Leeds, LS1 4AP"/>"#,
                d = day(&t, 3)
            )),
            "{}",
            r.body
        );
    }
    let body = format!(
        r#"{} futureAppointments="N"/>"#,
        common("ViewAppointments", &new_uuid())
    );
    let r = client
        .raw("ViewAppointments", Some(&suid), body)
        .await
        .unwrap();
    let el = ok_body(&r, "ViewAppointmentsReply");
    assert!(el.children.is_empty(), "{}", r.body);

    // CancelAppointment.
    let appt = s.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    let body = format!(
        r#"{} apptId="{appt}"/>"#,
        common("CancelAppointment", &new_uuid())
    );
    let r = client
        .raw("CancelAppointment", Some(&suid), body)
        .await
        .unwrap();
    ok_body(&r, "CancelAppointmentReply");
    // Again: it is no longer a live appointment.
    let body = format!(
        r#"{} apptId="{appt}"/>"#,
        common("CancelAppointment", &new_uuid())
    );
    let r = client
        .raw("CancelAppointment", Some(&suid), body)
        .await
        .unwrap();
    error_body(&r, "9012", &[&pid]);

    // RequestSystmOnlineMessages: capitalised attribute names, the demo practice's texts.
    let body = format!(r#"{}/>"#, common("RequestSystmOnlineMessages", &new_uuid()));
    let r = client
        .raw("RequestSystmOnlineMessages", Some(&suid), body)
        .await
        .unwrap();
    let el = ok_body(&r, "RequestSystmOnlineMessagesReply");
    assert!(el.get("BookAppointments").unwrap().contains("8 weeks"));
    assert!(el.get("RequestMedicationConfirmation").is_some());
    assert!(el.get("Medication").is_some());
}

#[tokio::test]
async fn guidance_texts_are_left_out_when_unset() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Hughes").await;
    let s = user.session().await;
    set_settings(
        &t,
        json!({"bookingGuidance": "  Book ahead.  ", "medicationRequestConfirmation": null, "medicationGuidance": null}),
    )
    .await;
    let r = s.request_systm_online_messages().await.unwrap();
    assert_eq!(r.book_appointments.as_deref(), Some("Book ahead."));
    assert_eq!(r.request_medication_confirmation, None);
    assert_eq!(r.medication, None);
}

#[tokio::test]
async fn booking_errors() {
    let t = TestServer::start().await.unwrap();
    let jones = User::new(&t, "Jones").await.session().await;
    let patel = User::new(&t, "Patel").await.session().await;
    let secrets = [jones.online_user_id()];
    let start = day(&t, 4).and_hms_opt(15, 0, 0).unwrap();
    let id = add_session(&t, start, 10, 6, "Routine").await;
    let m = Duration::minutes;

    // 1102: unknown session, off the grid, wrong end, past the last slot.
    expect_pfs(
        jones
            .book_appointment("12345", start, start + m(10), None)
            .await,
        "1102",
        &secrets,
    );
    expect_pfs(
        jones
            .book_appointment(&id, start + m(5), start + m(15), None)
            .await,
        "1102",
        &secrets,
    );
    expect_pfs(
        jones
            .book_appointment(&id, start, start + m(20), None)
            .await,
        "1102",
        &secrets,
    );
    expect_pfs(
        jones
            .book_appointment(&id, start + m(60), start + m(70), None)
            .await,
        "1102",
        &secrets,
    );

    // 9011: notes over 500 characters (500 are fine).
    let long = "a".repeat(501);
    expect_pfs(
        jones
            .book_appointment(&id, start, start + m(10), Some(&long))
            .await,
        "9011",
        &secrets,
    );
    jones
        .book_appointment(&id, start, start + m(10), Some(&"é".repeat(500)))
        .await
        .unwrap();

    // 1103: someone else holds the slot (and booking it again yourself).
    expect_pfs(
        patel
            .book_appointment(&id, start, start + m(10), None)
            .await,
        "1103",
        &secrets,
    );
    expect_pfs(
        jones
            .book_appointment(&id, start, start + m(10), None)
            .await,
        "1103",
        &secrets,
    );

    // 5: a slot that has already started.
    let past_start = now_wall(&t) - Duration::hours(2);
    let past_start = wall(&past_start.format("%Y-%m-%dT%H:%M").to_string());
    let past = add_session(&t, past_start, 30, 2, "Routine").await;
    expect_pfs(
        patel
            .book_appointment(&past, past_start, past_start + m(30), None)
            .await,
        "5",
        &secrets,
    );

    // 7: the practice's limit of future appointments.
    set_settings(&t, json!({"maxFutureAppointments": 2})).await;
    jones
        .book_appointment(&id, start + m(10), start + m(20), None)
        .await
        .unwrap();
    expect_pfs(
        jones
            .book_appointment(&id, start + m(20), start + m(30), None)
            .await,
        "7",
        &secrets,
    );
    // Cancelling one makes room again.
    let first = jones.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    jones.cancel_appointment(&first).await.unwrap();
    jones
        .book_appointment(&id, start + m(20), start + m(30), None)
        .await
        .unwrap();

    // 6: the service switched off for the practice, then only for one patient.
    let (status, _) = t
        .admin(
            "PUT",
            &format!("/api/practices/{ODS}/services/appointments"),
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    expect_pfs(jones.list_slots(now_wall(&t), 56).await, "6", &secrets);
    expect_pfs(
        jones
            .book_appointment(&id, start + m(40), start + m(50), None)
            .await,
        "6",
        &secrets,
    );
    expect_pfs(jones.view_appointments(true).await, "6", &secrets);
    expect_pfs(jones.cancel_appointment(&first).await, "6", &secrets);
    t.admin(
        "PUT",
        &format!("/api/practices/{ODS}/services/appointments"),
        Some(json!({"enabled": null})),
    )
    .await
    .unwrap();
    let (status, _) = t
        .admin(
            "PUT",
            &format!(
                "/api/patients/{}/services/appointments",
                patel.online_user_id()
            ),
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    expect_pfs(patel.list_slots(now_wall(&t), 56).await, "6", &secrets);
    expect_pfs(
        patel
            .book_appointment(&id, start + m(40), start + m(50), None)
            .await,
        "6",
        &secrets,
    );
    jones.list_slots(now_wall(&t), 56).await.unwrap();

    // 9009: the scope is checked as for every per-patient message.
    let other = t.patient_id(&t.account("Patel").nhs_number).await.unwrap();
    let mut req = pfs_wire::ViewAppointments {
        header: jones.header(),
        scope: jones.scope(),
        future_appointments: pfs_wire::UpperYesNo(true),
    };
    req.scope.patient_id = other;
    expect_pfs(
        jones.call::<_, pfs_wire::ViewAppointmentsReply>(&req).await,
        "9009",
        &secrets,
    );
}

#[tokio::test]
async fn cancel_errors() {
    let t = TestServer::start().await.unwrap();
    let jones_user = User::new(&t, "Jones").await;
    let jones = jones_user.session().await;
    let patel = User::new(&t, "Patel").await.session().await;
    let jones_id = jones.online_user_id().to_owned();
    let secrets = [jones_id.as_str()];

    // 9012: unknown id, and another patient's appointment.
    expect_pfs(
        jones.cancel_appointment("999999999").await,
        "9012",
        &secrets,
    );
    let start = day(&t, 5).and_hms_opt(9, 0, 0).unwrap();
    let id = add_session(&t, start, 10, 4, "Routine").await;
    patel
        .book_appointment(&id, start, start + Duration::minutes(10), None)
        .await
        .unwrap();
    let patels = patel.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    expect_pfs(jones.cancel_appointment(&patels).await, "9012", &secrets);
    assert_eq!(
        patel
            .view_appointments(true)
            .await
            .unwrap()
            .appointments
            .len(),
        1
    );

    // 40: inside the one-hour cut-off.
    let soon = now_wall(&t) + Duration::minutes(40);
    let soon = wall(&soon.format("%Y-%m-%dT%H:%M").to_string());
    let soon_id = add_session(&t, soon, 10, 1, "Routine").await;
    jones
        .book_appointment(&soon_id, soon, soon + Duration::minutes(10), None)
        .await
        .unwrap();
    let appt = jones.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    expect_pfs(jones.cancel_appointment(&appt).await, "40", &secrets);
    // A shorter cut-off set by the practice lets it through.
    set_settings(&t, json!({"cancellationCutoffMinutes": 30})).await;
    jones.cancel_appointment(&appt).await.unwrap();

    // 5: an appointment in the past.
    jones
        .book_appointment(&soon_id, soon, soon + Duration::minutes(10), None)
        .await
        .unwrap();
    let appt = jones.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    drop(jones.detach());
    t.clock.advance(Duration::hours(1));
    let jones = jones_user.session().await;
    expect_pfs(jones.cancel_appointment(&appt).await, "5", &secrets);
    assert!(
        jones
            .view_appointments(true)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
    let past = jones.view_appointments(false).await.unwrap().appointments;
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].appt_id, appt);
}

#[tokio::test]
async fn practice_cancels_and_the_slot_is_free_again() {
    let t = TestServer::start().await.unwrap();
    let s = User::new(&t, "Smith").await.session().await;
    let start = day(&t, 6).and_hms_opt(16, 0, 0).unwrap();
    let id = add_session(&t, start, 20, 1, "Routine").await;
    s.book_appointment(&id, start, start + Duration::minutes(20), None)
        .await
        .unwrap();
    assert!(free_slots(&s, &t, &id).await.is_empty());
    let appt = s.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();
    let (status, sessions) = t
        .admin(
            "GET",
            &format!("/api/practices/{ODS}/sessions?from={0}&to={0}", day(&t, 6)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let mine = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["booked"], 1);
    assert_eq!(
        mine["startLocal"],
        start.format("%Y-%m-%dT%H:%M").to_string()
    );

    let (status, v) = t
        .admin("POST", &format!("/api/appointments/{appt}/cancel"), None)
        .await
        .unwrap();
    assert_eq!(status, 204, "{v}");
    let (status, _) = t
        .admin("POST", &format!("/api/appointments/{appt}/cancel"), None)
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(free_slots(&s, &t, &id).await.len(), 1);
    assert!(
        s.view_appointments(true)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
    let log = accesses(&t, s.online_user_id()).await;
    let last = log.last().unwrap();
    assert_eq!(last.access_type, "Cancelled appointment");
    assert_eq!(last.method, "Practice");
}

#[tokio::test]
async fn a_parent_books_for_a_child() {
    let t = TestServer::start().await.unwrap();
    let ada = User::new(&t, "Example").await;
    let s = ada.session().await;
    let child = t.patient_id(&ada.account.proxy_for[0]).await.unwrap();
    let start = day(&t, 2).and_hms_opt(13, 0, 0).unwrap();
    let id = add_session(&t, start, 10, 2, "Routine").await;

    s.select_patient(&child).await.unwrap();
    s.book_appointment(&id, start, start + Duration::minutes(10), Some("Earache"))
        .await
        .unwrap();
    let childs = s.view_appointments(true).await.unwrap().appointments;
    assert_eq!(childs.len(), 1);

    s.select_patient(s.online_user_id()).await.unwrap();
    assert!(
        s.view_appointments(true)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
    // The parent cannot cancel it while acting for herself.
    expect_pfs(s.cancel_appointment(&childs[0].appt_id).await, "9012", &[]);

    let stored = t
        .server
        .pfs
        .store()
        .patient_appointments(&child)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0.booked_by, s.online_user_id());
    assert_eq!(stored[0].0.notes.as_deref(), Some("Earache"));
    let log = accesses(&t, &child).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].accessed_by, "Mrs Ada Example via openpfs demo app");
    assert!(accesses(&t, s.online_user_id()).await.is_empty());

    // Acting for the child again, the parent cancels it.
    s.select_patient(&child).await.unwrap();
    s.cancel_appointment(&childs[0].appt_id).await.unwrap();
}

#[tokio::test]
async fn list_slots_hides_booked_and_past_slots_and_respects_the_window() {
    let t = TestServer::start().await.unwrap();
    let s = User::new(&t, "Okafor").await.session().await;
    let now = now_wall(&t);
    // A session that started an hour ago: only its future slots are listed.
    let earlier = wall(
        &(now - Duration::minutes(60))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
    );
    let running = add_session(&t, earlier, 30, 6, "Routine").await;
    let listed = free_slots(&s, &t, &running).await;
    let future = (0..6)
        .map(|i| earlier + Duration::minutes(30 * i))
        .filter(|start| *start >= now)
        .count();
    assert!(future >= 3);
    assert_eq!(listed.len(), future, "{listed:?}");
    assert!(listed.iter().all(|(start, _)| *start >= now));

    set_settings(&t, json!({"bookingWindowDays": 7})).await;
    let near = add_session(
        &t,
        day(&t, 3).and_hms_opt(9, 0, 0).unwrap(),
        10,
        2,
        "Routine",
    )
    .await;
    let far_start = day(&t, 10).and_hms_opt(9, 0, 0).unwrap();
    let far = add_session(&t, far_start, 10, 2, "Routine").await;
    let reply = s.list_slots(now, 56).await.unwrap();
    assert_eq!(reply.bookable_days, 7);
    let ids: Vec<&str> = reply
        .sessions
        .iter()
        .map(|x| x.session_id.as_str())
        .collect();
    assert!(ids.contains(&near.as_str()));
    assert!(!ids.contains(&far.as_str()), "outside the booking window");
    for session in &reply.sessions {
        for slot in &session.slots {
            assert!(slot.start_date >= now);
            assert!(slot.start_date < now + Duration::days(7) + Duration::hours(1));
        }
    }
    // numberOfDays narrows the window; a start in the past is read as now.
    let two = s.list_slots(now - Duration::days(30), 2).await.unwrap();
    let ids: Vec<&str> = two.sessions.iter().map(|x| x.session_id.as_str()).collect();
    assert!(ids.contains(&running.as_str()));
    assert!(!ids.contains(&near.as_str()));
    // A start later than now.
    let later = s
        .list_slots(day(&t, 2).and_hms_opt(0, 0, 0).unwrap(), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = later
        .sessions
        .iter()
        .map(|x| x.session_id.as_str())
        .collect();
    assert!(ids.contains(&near.as_str()));
    assert!(!ids.contains(&running.as_str()));
    // Booking outside the window is refused as slot not found.
    expect_pfs(
        s.book_appointment(&far, far_start, far_start + Duration::minutes(10), None)
            .await,
        "1102",
        &[],
    );
    // A fully booked session is left out.
    let one = add_session(
        &t,
        day(&t, 1).and_hms_opt(12, 0, 0).unwrap(),
        10,
        1,
        "Routine",
    )
    .await;
    let slot = free_slots(&s, &t, &one).await[0];
    s.book_appointment(&one, slot.0, slot.1, None)
        .await
        .unwrap();
    let reply = s.list_slots(now, 7).await.unwrap();
    assert!(reply.sessions.iter().all(|x| x.session_id != one));
    assert!(reply.sessions.iter().all(|x| !x.slots.is_empty()));
}

/// A new patient of the demo practice with a linked account, as a `DemoAccount`.
async fn new_patient(t: &TestServer, n: u32) -> DemoAccount {
    let nhs = (0..)
        .find_map(|k| pfs_core::nhs::complete(&format!("98{:07}", n * 100 + k)))
        .unwrap();
    let last = format!("Racer{n}");
    let (status, p) = t
        .admin(
            "POST",
            "/api/patients",
            Some(json!({
                "ods": ODS, "nhsNumber": nhs, "firstName": "Rae", "lastName": last,
                "dateOfBirth": "1990-01-01", "gender": "Female", "address": "1 Race Street, Leeds"
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{p}");
    let pid = p["id"].as_str().unwrap();
    let (status, a) = t
        .admin("POST", &format!("/api/patients/{pid}/account"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{a}");
    DemoAccount {
        account_id: a["accountId"].as_str().unwrap().to_owned(),
        linkage_key: a["linkageKey"].as_str().unwrap().to_owned(),
        last_name: last,
        date_of_birth: NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
        organisation_code: ODS.to_owned(),
        nhs_number: nhs,
        proxy_for: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_patients_race_for_one_slot() {
    const N: u32 = 32;
    let t = TestServer::start().await.unwrap();
    let start = day(&t, 3).and_hms_opt(8, 0, 0).unwrap();
    let id = add_session(&t, start, 10, 1, "Routine").await;
    let mut sessions = Vec::new();
    for n in 0..N {
        let account = new_patient(&t, n).await;
        let client = t.client();
        let passphrase = t.link(&client, &account).await.unwrap();
        let s = client
            .authenticate(ODS, &account.account_id, &passphrase)
            .await
            .unwrap();
        sessions.push(Arc::new(s));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(N as usize));
    let mut tasks = Vec::new();
    for s in &sessions {
        let s = s.clone();
        let barrier = barrier.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.book_appointment(&id, start, start + Duration::minutes(10), None)
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.code(), Some("1103"), "{e}"),
        }
    }
    assert_eq!(won, 1, "exactly one booking wins");
    let from = pfs_core::uktime::to_instant(start) - Duration::hours(1);
    let held: Vec<_> = t
        .server
        .pfs
        .store()
        .practice_appointments(ODS, from, from + Duration::hours(2))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.session_id == id)
        .collect();
    assert_eq!(
        held.len(),
        1,
        "the store holds exactly one appointment for the slot"
    );
}

#[tokio::test]
async fn slots_across_the_clock_changes_keep_the_wall_clock_time() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Nowak").await;
    // The UK clocks change on 28 March and 31 October 2027.
    for (clock, date) in [
        (
            Utc.with_ymd_and_hms(2027, 3, 20, 12, 0, 0).unwrap(),
            "2027-03-28",
        ),
        (
            Utc.with_ymd_and_hms(2027, 10, 25, 12, 0, 0).unwrap(),
            "2027-10-31",
        ),
        (
            Utc.with_ymd_and_hms(2027, 3, 25, 12, 0, 0).unwrap(),
            "2027-03-29",
        ),
    ] {
        let _: DateTime<Utc> = clock;
        t.clock.set(clock);
        let before = wall(&format!("{date}T09:00")) - Duration::days(1);
        let on_the_day = wall(&format!("{date}T09:00"));
        let id_before = add_session(&t, before, 15, 2, "Routine").await;
        let id = add_session(&t, on_the_day, 15, 2, "Routine").await;
        let s = user.session().await;
        for (sid, at) in [(&id_before, before), (&id, on_the_day)] {
            let slots = free_slots(&s, &t, sid).await;
            assert_eq!(
                slots,
                vec![
                    (at, at + Duration::minutes(15)),
                    (at + Duration::minutes(15), at + Duration::minutes(30))
                ],
                "{date}"
            );
        }
        s.book_appointment(&id, on_the_day, on_the_day + Duration::minutes(15), None)
            .await
            .unwrap();
        let booked = s.view_appointments(true).await.unwrap().appointments;
        let mine = booked.iter().find(|a| a.start_date == on_the_day).unwrap();
        assert_eq!(mine.end_date, on_the_day + Duration::minutes(15));
        let (_, sessions) = t
            .admin(
                "GET",
                &format!("/api/practices/{ODS}/sessions?from={date}&to={date}"),
                None,
            )
            .await
            .unwrap();
        let listed = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id.as_str())
            .unwrap();
        assert_eq!(listed["startLocal"], format!("{date}T09:00"));
        s.cancel_appointment(&mine.appt_id).await.unwrap();
        s.logoff().await.unwrap();
    }
}
