//! The scenarios, in the order they run. Each names what it checks in its `about`; what the
//! checks rest on is docs/wire-format.md and docs/error-codes.md.

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, Result, bail, ensure};
use pfs_client::pfs_wire::{CourseType, MessageTo, RecipientKind, RequestStatus};
use pfs_client::{Error, ExposeSecret, NewMessage, RawResponse, SecretString, Session};
use serde_json::json;

use super::{Ctx, Skip};

type Run = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// One scenario.
pub(super) struct Scenario {
    /// `area/what`, e.g. `session/logoff-ends-the-session`.
    pub(super) name: &'static str,
    /// What it checks, in a line.
    pub(super) about: &'static str,
    pub(super) run: Run,
}

macro_rules! scenarios {
    ($($name:literal => $f:ident: $about:literal,)*) => {
        /// Every scenario, in the order they run.
        pub(super) const ALL: &[Scenario] = &[
            $(Scenario { name: $name, about: $about, run: |c| Box::pin($f(c)) },)*
        ];
    };
}

scenarios! {
    "session/check-version" => check_version:
        "CheckVersion, with no session, lists API version 1",
    "session/link-and-authenticate" => link_and_authenticate:
        "LinkAccount then Authenticate open a session with a suid and the user's patient",
    "session/wrong-passphrase-is-9" => wrong_passphrase:
        "Authenticate with a wrong passphrase answers 9 and reveals nothing",
    "session/made-up-suid-is-3" => made_up_suid:
        "a suid the server never issued answers 3",
    "session/logoff-ends-the-session" => logoff_ends:
        "after Logoff the same suid answers 3",
    "session/idle-expiry-is-3" => idle_expiry:
        "20 minutes idle (the server's clock moved) ends the session: 3",
    "proxy/select-and-act" => proxy_select:
        "a carer selects (PatientSelected) the patient they act for and reads their services",
    "proxy/stranger-is-refused" => proxy_stranger:
        "PatientSelected for a patient the user may not act for answers 6",
    "services/messaging-switch-holds" => messaging_switch_holds:
        "ListServiceAccesses lists Messaging, and MessageRecipients answers as its status says",
    "appointments/book-view-cancel" => book_view_cancel:
        "ListSlots offers a free slot; BookAppointment books it, ViewAppointments shows it, CancelAppointment cancels it",
    "appointments/double-booking-race" => double_booking:
        "two patients booking one slot at once: exactly one gets it, the other 1103",
    "medication/order-history-cancel" => order_history_cancel:
        "ListRepeatMedication offers a requestable repeat; RequestMedication orders it, GetPrescriptionRequests lists it Requested, AmendPrescriptionRequest cancels it",
    "medication/order-without-list-is-9013" => order_without_list:
        "an order in a session that has not fetched the list answers 9013",
    "messaging/send-view-delete" => send_view_delete:
        "MessageCreate sends to the practice, MessagesView lists it incoming, MessageDelete deletes it",
    "record/overview-record-file" => record_overview:
        "ViewPatientOverview and RequestPatientRecord are read, and RequestBinaryData fetches a document's bytes",
    "messaging/read-and-unread-count" => read_and_unread:
        "UnreadMessageCount counts the practice's unread messages; MessageMarkAsRead lowers it",
    "messaging/another-patients-message-is-refused" => delete_unknown_message:
        "MessageDelete naming a message that is not the patient's refuses the whole request",
    "record/test-results-window-and-detail" => test_results:
        "TestResultsView lists a year's results and shows one in full",
    "record/access-log-lists-reads" => access_log:
        "ListRecordAccesses lists the record read just before",
    "medication/acute-list" => acute_list:
        "ListAcuteMedication answers with the patient's acute courses",
    "demographics/retrieve" => demographics:
        "RetrieveDemographics describes the patient: name and address",
    "pharmacy/search-nominate-remove" => pharmacy:
        "RequestCommunityPharmacy finds pharmacies; UpdateCommunityPharmacy nominates one, and the nomination is put back",
    "account/information" => account_information:
        "RequestAccountInformation names the account and the applications linked to it",
    "appointments/unknown-appointment-is-9012" => cancel_unknown:
        "CancelAppointment naming no appointment of the patient answers 9012",
    "appointments/practice-messages" => practice_messages:
        "RequestSystmOnlineMessages answers for the patient's practice",
    "demographics/nothing-to-change-is-9027" => nothing_to_change:
        "ChangeDemographics carrying no change answers 9027 and changes nothing",
    "account/reset-unlinked-application-is-9030" => reset_unlinked:
        "ResetOnlineAccount naming an application not linked answers 9030, the session lives on",
    "malformed/not-xml-is-9001" => not_xml:
        "a body that is not XML answers 9001 as an Error reply",
    "malformed/unknown-type-is-9002" => unknown_type:
        "a type header naming no message answers 9002",
    "malformed/type-mismatch-is-9003" => type_mismatch:
        "a root element other than the type header's answers 9003",
    "malformed/api-version-is-9006" => api_version:
        "an apiVersion the server does not speak answers 9006",
}

// --- helpers -----------------------------------------------------------------------------------

/// Checks that a typed call failed with PFS error `code`.
fn expect_code<T: std::fmt::Debug>(r: pfs_client::Result<T>, code: &str, what: &str) -> Result<()> {
    match r {
        Err(Error::Pfs { code: c, .. }) if c == code => Ok(()),
        Err(e) => bail!("{what}: expected PFS error {code}, got: {e}"),
        Ok(v) => bail!("{what}: expected PFS error {code}, got a reply: {v:?}"),
    }
}

/// Sends `body` as it is and checks that an `Error` with `code` came back; the failure shows
/// the request and the reply.
async fn expect_raw_code(ctx: &Ctx, message_type: &str, body: &str, code: &str) -> Result<()> {
    let reply = ctx
        .client
        .raw(message_type, None, body.to_owned())
        .await
        .context("the request could not be sent")?;
    let got = error_code(&reply);
    ensure!(
        reply.status == 200 && got.as_deref() == Some(code),
        "expected an Error with errorCode {code}, got HTTP {} {:?}\n  request (type: {message_type}): {}\n  reply: {}",
        reply.status,
        got,
        redacted(body),
        redacted(&reply.body),
    );
    Ok(())
}

fn error_code(reply: &RawResponse) -> Option<String> {
    if !reply.is_error() {
        return None;
    }
    let doc = pfs_client::pfs_wire::Element::parse(reply.body.as_bytes()).ok()?;
    doc.get("errorCode").map(str::to_owned)
}

/// `text` with the values of secret attributes replaced by `…`.
pub(super) fn redacted(text: &str) -> String {
    let mut out = text.to_owned();
    // `passphrase` carries the linkage key in a LinkAccount request, the passphrase in an
    // Authenticate request and in a LinkAccountReply; `passphraseToLink` a key to link with.
    for name in ["passphrase=\"", "passphraseToLink=\""] {
        let mut from = 0;
        while let Some(at) = out[from..].find(name) {
            let start = from + at + name.len();
            let end = out[start..].find('"').map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "…");
            from = start + "…".len();
        }
    }
    out
}

fn uuid() -> String {
    pfs_client::pfs_wire::Guid::new_v4().to_string()
}

fn now_wall() -> chrono::NaiveDateTime {
    pfs_core::uktime::to_wall_clock(chrono::Utc::now())
}

// --- session -----------------------------------------------------------------------------------

async fn check_version(ctx: &Ctx) -> Result<()> {
    let reply = ctx.client.check_version().await.context("CheckVersion")?;
    ensure!(
        reply.supported.iter().any(|v| v.version == "1"),
        "CheckVersionReply does not list version 1: {reply:?}"
    );
    Ok(())
}

async fn link_and_authenticate(ctx: &Ctx) -> Result<()> {
    let a = ctx.plain(0)?;
    let session = ctx.login(a).await?;
    ensure!(
        !session.suid().expose_secret().is_empty(),
        "AuthenticateReply came without a suid header"
    );
    let reply = session.reply();
    ensure!(
        reply.user.patient_id == reply.online_user_id,
        "the user's own patient id is not the online user id"
    );
    session.logoff().await.context("Logoff")?;
    Ok(())
}

async fn wrong_passphrase(ctx: &Ctx) -> Result<()> {
    let a = ctx.plain(0)?;
    ctx.passphrase(a).await?;
    let wrong = SecretString::from("not-the-passphrase-0000000000000000000000000".to_owned());
    expect_code(
        ctx.client
            .authenticate(&a.organisation_code, &a.account_id, &wrong)
            .await,
        "9",
        "Authenticate with a wrong passphrase",
    )
}

async fn made_up_suid(ctx: &Ctx) -> Result<()> {
    let body = format!(r#"<Logoff apiVersion="1" uuid="{}"/>"#, uuid());
    let reply = ctx
        .client
        .raw(
            "Logoff",
            Some("bm90LWEtcmVhbC1zdWlkLW5vdC1hLXJlYWwtc3VpZA"),
            body.clone(),
        )
        .await
        .context("the request could not be sent")?;
    ensure!(
        error_code(&reply).as_deref() == Some("3"),
        "expected errorCode 3\n  request: {body}\n  reply: {}",
        redacted(&reply.body)
    );
    Ok(())
}

async fn logoff_ends(ctx: &Ctx) -> Result<()> {
    let a = ctx.plain(0)?;
    let session = ctx.login(a).await?;
    let suid = session.suid().expose_secret().to_owned();
    session.logoff().await.context("Logoff")?;
    let body = format!(r#"<Logoff apiVersion="1" uuid="{}"/>"#, uuid());
    let reply = ctx
        .client
        .raw("Logoff", Some(&suid), body.clone())
        .await
        .context("the request could not be sent")?;
    ensure!(
        error_code(&reply).as_deref() == Some("3"),
        "a second Logoff with the ended suid: expected errorCode 3\n  request: {body}\n  reply: {}",
        redacted(&reply.body)
    );
    Ok(())
}

async fn idle_expiry(ctx: &Ctx) -> Result<()> {
    let admin = ctx.admin("moving the server's clock")?;
    let a = ctx.plain(0)?;
    let session = ctx.login(a).await?;
    admin
        .send(
            "PUT",
            "/api/sandbox/clock",
            Some(json!({"advanceSeconds": 20 * 60 + 5})),
        )
        .await?;
    let expired = session.keep_alive().await;
    // Back to real time whatever happened.
    admin.send("DELETE", "/api/sandbox/clock", None).await?;
    expect_code(expired, "3", "a keep-alive after 20 minutes idle")
}

// --- proxy and services ------------------------------------------------------------------------

/// The patient id of the first person `session` may act for other than the user.
fn dependant(session: &Session) -> Result<String> {
    let me = &session.reply().online_user_id;
    session
        .reply()
        .people
        .iter()
        .map(|p| p.patient_id.clone())
        .find(|p| p != me)
        .ok_or_else(|| Skip("the carer's AuthenticateReply lists nobody else".into()).into())
}

async fn proxy_select(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.carer()?).await?;
    let other = dependant(&session)?;
    let selected = session
        .select_patient(&other)
        .await
        .context("PatientSelected")?;
    ensure!(
        selected.person.patient_id == other,
        "PatientSelectedReply names another patient"
    );
    session
        .list_service_accesses()
        .await
        .context("ListServiceAccesses for the selected patient")?;
    session.logoff().await.context("Logoff")?;
    Ok(())
}

async fn proxy_stranger(ctx: &Ctx) -> Result<()> {
    let carer = ctx.login(ctx.carer()?).await?;
    let plain = ctx.login(ctx.plain(0)?).await?;
    let stranger = dependant(&carer)?;
    let r = plain.select_patient(&stranger).await;
    let _ = carer.logoff().await;
    let _ = plain.logoff().await;
    expect_code(r, "6", "PatientSelected for someone else's dependant")
}

/// Whether `session`'s patient has the Messaging service available (`status="A"`); an error if
/// ListServiceAccesses does not list it.
async fn messaging_available(session: &Session) -> Result<bool> {
    let services = session
        .list_service_accesses()
        .await
        .context("ListServiceAccesses")?;
    let messaging = services
        .services
        .iter()
        .find(|s| s.description == "Messaging")
        .with_context(|| format!("no ServiceAccess with description Messaging: {services:?}"))?;
    Ok(messaging.status == "A")
}

/// A session of the first plain account, or a skip if Messaging is not available to it.
async fn messaging_session(ctx: &Ctx) -> Result<Session> {
    let session = ctx.login(ctx.plain(0)?).await?;
    if messaging_available(&session).await? {
        return Ok(session);
    }
    let _ = session.logoff().await;
    bail!(Skip(
        "Messaging is not available to the test account".into()
    ))
}

async fn messaging_switch_holds(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let available = messaging_available(&session).await?;
    let recipients = session.message_recipients().await;
    let _ = session.logoff().await;
    if available {
        recipients.context("MessageRecipients while Messaging is available")?;
        Ok(())
    } else {
        expect_code(
            recipients,
            "6",
            "MessageRecipients while Messaging is not available",
        )
    }
}

// --- appointments ------------------------------------------------------------------------------

/// The first free slot from now on, over two weeks, as (session id, start, end).
async fn free_slot(
    session: &Session,
) -> Result<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> {
    let slots = session
        .list_slots(now_wall(), 14)
        .await
        .context("ListSlots")?;
    slots
        .sessions
        .iter()
        .flat_map(|s| s.slots.iter().map(move |slot| (s, slot)))
        .find(|(_, slot)| slot.start_date > now_wall() + chrono::Duration::hours(2))
        .map(|(s, slot)| (s.session_id.clone(), slot.start_date, slot.end_date))
        .ok_or_else(|| Skip("ListSlots offers no free slot in the next two weeks".into()).into())
}

async fn book_view_cancel(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let (id, start, end) = free_slot(&session).await?;
    session
        .book_appointment(&id, start, end, None)
        .await
        .context("BookAppointment")?;
    let booked = session
        .view_appointments(true)
        .await
        .context("ViewAppointments")?;
    let appt = booked
        .appointments
        .iter()
        .find(|a| a.start_date == start)
        .context("the booked appointment is not in ViewAppointments")?
        .appt_id
        .clone();
    session
        .cancel_appointment(&appt)
        .await
        .context("CancelAppointment")?;
    let after = session
        .view_appointments(true)
        .await
        .context("ViewAppointments")?;
    ensure!(
        after.appointments.iter().all(|a| a.appt_id != appt),
        "the cancelled appointment is still listed"
    );
    let _ = session.logoff().await;
    Ok(())
}

async fn double_booking(ctx: &Ctx) -> Result<()> {
    let one = ctx.login(ctx.plain(0)?).await?;
    let two = ctx.login(ctx.plain(1)?).await?;
    let (id, start, end) = free_slot(&one).await?;
    let (a, b) = tokio::join!(
        one.book_appointment(&id, start, end, None),
        two.book_appointment(&id, start, end, None),
    );
    let winner = match (&a, &b) {
        (Ok(_), Err(Error::Pfs { code, .. })) if code == "1103" => &one,
        (Err(Error::Pfs { code, .. }), Ok(_)) if code == "1103" => &two,
        _ => bail!("expected one booking and one 1103, got {a:?} and {b:?}"),
    };
    let booked = winner
        .view_appointments(true)
        .await
        .context("ViewAppointments")?;
    if let Some(appt) = booked.appointments.iter().find(|x| x.start_date == start) {
        winner
            .cancel_appointment(&appt.appt_id)
            .await
            .context("CancelAppointment (tidying up)")?;
    }
    let _ = one.logoff().await;
    let _ = two.logoff().await;
    Ok(())
}

// --- medication --------------------------------------------------------------------------------

/// The `drugId` of a repeat the session's patient may order (the list fetched in the session),
/// or a skip.
async fn requestable_repeat(session: &Session) -> Result<String> {
    let list = session
        .list_repeat_medication()
        .await
        .context("ListRepeatMedication")?;
    Ok(list
        .medications
        .iter()
        .find(|m| m.requestable.0)
        .ok_or_else(|| Skip("the test account has no requestable repeat".into()))?
        .drug_id
        .clone())
}

async fn order_history_cancel(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let course = requestable_repeat(&session).await?;
    let ordered = session
        .request_medication(&[(&course, CourseType::Repeat)], None)
        .await
        .context("RequestMedication")?;
    let history = session
        .get_prescription_requests(None, None)
        .await
        .context("GetPrescriptionRequests")?;
    let request = match ordered.request_id.as_deref() {
        Some(id) => history.requests.iter().find(|r| r.request_id == id),
        None => history.requests.first(),
    }
    .context("the new request is not in GetPrescriptionRequests")?;
    ensure!(
        request.status == RequestStatus::Requested,
        "the new request is {:?}, not Requested",
        request.status
    );
    session
        .cancel_prescription_request(&request.request_id)
        .await
        .context("AmendPrescriptionRequest (Cancel)")?;
    let _ = session.logoff().await;
    Ok(())
}

async fn order_without_list(ctx: &Ctx) -> Result<()> {
    let lister = ctx.login(ctx.plain(0)?).await?;
    let course = requestable_repeat(&lister).await?;
    let _ = lister.logoff().await;
    // A new session has fetched nothing.
    let session = ctx.login(ctx.plain(0)?).await?;
    let r = session
        .request_medication(&[(&course, CourseType::Repeat)], None)
        .await;
    let _ = session.logoff().await;
    expect_code(r, "9013", "RequestMedication without the list")
}

// --- messaging and the record ------------------------------------------------------------------

async fn send_view_delete(ctx: &Ctx) -> Result<()> {
    let session = messaging_session(ctx).await?;
    let recipients = session
        .message_recipients()
        .await
        .context("MessageRecipients")?;
    let to = recipients
        .items
        .first()
        .ok_or_else(|| Skip("the practice lists no message recipient".into()))?;
    let to = match to.kind {
        RecipientKind::Recipient => MessageTo::Recipient(to.id.clone()),
        RecipientKind::UnitRecipient => MessageTo::UnitRecipient(to.id.clone()),
    };
    let text = format!("Conformance check {}", uuid());
    let sent = session
        .message_create(&NewMessage {
            to,
            text: text.clone(),
            conversation_id: None,
            attachments: Vec::new(),
        })
        .await
        .context("MessageCreate")?;
    let view = session.messages_view().await.context("MessagesView")?;
    let mine = view
        .messages
        .iter()
        .find(|m| m.message_text == text)
        .context("the sent message is not in MessagesView")?;
    ensure!(
        mine.incoming.0,
        "a message the patient sent is not incoming=\"y\""
    );
    if let Some(id) = &sent.message_id {
        ensure!(
            &mine.message_id == id,
            "MessageCreateReply named another message id"
        );
    }
    session
        .message_delete(&[&mine.message_id])
        .await
        .context("MessageDelete")?;
    let _ = session.logoff().await;
    Ok(())
}

async fn record_overview(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    session
        .view_patient_overview()
        .await
        .context("ViewPatientOverview")?;
    let record = session
        .request_patient_record()
        .await
        .context("RequestPatientRecord")?;
    let file = record
        .events
        .iter()
        .flat_map(|e| e.items.iter())
        .find_map(|i| i.binary_data_id.clone())
        .ok_or_else(|| Skip("the test account's record holds no document".into()))?;
    let bytes = session
        .request_binary_data(&file)
        .await
        .context("RequestBinaryData")?;
    ensure!(
        bytes.pages.iter().any(|p| !p.is_empty()),
        "RequestBinaryData returned no bytes"
    );
    let _ = session.logoff().await;
    Ok(())
}

async fn read_and_unread(ctx: &Ctx) -> Result<()> {
    let session = messaging_session(ctx).await?;
    let view = session.messages_view().await.context("MessagesView")?;
    let unread: Vec<&str> = view
        .messages
        .iter()
        .filter(|m| !m.incoming.0 && !m.read.0 && !m.deleted.0)
        .map(|m| m.message_id.as_str())
        .collect();
    let count = session
        .unread_message_count()
        .await
        .context("UnreadMessageCount")?;
    ensure!(
        count as usize == unread.len(),
        "UnreadMessageCount says {count}, MessagesView shows {} unread from the practice",
        unread.len()
    );
    if let Some(first) = unread.first() {
        session
            .message_mark_as_read(&[first])
            .await
            .context("MessageMarkAsRead")?;
        let after = session
            .unread_message_count()
            .await
            .context("UnreadMessageCount")?;
        ensure!(
            after as usize + 1 == unread.len(),
            "after MessageMarkAsRead of one message the count went from {count} to {after}"
        );
    }
    let _ = session.logoff().await;
    Ok(())
}

async fn delete_unknown_message(ctx: &Ctx) -> Result<()> {
    let session = messaging_session(ctx).await?;
    let before = session.messages_view().await.context("MessagesView")?;
    let r = session.message_delete(&["999999999999"]).await;
    let after = session.messages_view().await.context("MessagesView")?;
    let _ = session.logoff().await;
    match r {
        Err(Error::Pfs { .. }) => {}
        other => bail!("MessageDelete of an unknown message: expected an Error, got {other:?}"),
    }
    ensure!(
        before.messages.len() == after.messages.len(),
        "a refused MessageDelete changed the messages"
    );
    Ok(())
}

async fn test_results(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let now = now_wall();
    let list = session
        .test_results(now - chrono::Duration::days(365), now)
        .await
        .context("TestResultsView (list)")?;
    let Some(first) = list.items.first() else {
        let _ = session.logoff().await;
        bail!(Skip(
            "the test account has no test result in the last year".into()
        ));
    };
    let detail = session
        .test_result(&first.id)
        .await
        .context("TestResultsView (detail)")?;
    let _ = session.logoff().await;
    ensure!(
        detail.items.first().is_some_and(|i| !i.text.is_empty()),
        "the detail form has no text"
    );
    Ok(())
}

async fn access_log(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    session
        .request_patient_record()
        .await
        .context("RequestPatientRecord")?;
    // Reads may be logged a moment after their reply: look a few times.
    let mut listed = 0;
    for _ in 0..20 {
        let log = session
            .list_record_accesses(None, None)
            .await
            .context("ListRecordAccesses")?;
        listed = log.accesses.len();
        if listed > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = session.logoff().await;
    ensure!(
        listed > 0,
        "ListRecordAccesses lists nothing after a record read"
    );
    Ok(())
}

async fn acute_list(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let list = session
        .list_acute_medication()
        .await
        .context("ListAcuteMedication")?;
    let _ = session.logoff().await;
    ensure!(
        list.medications
            .iter()
            .all(|m| m.course_type == CourseType::Acute),
        "ListAcuteMedication lists a course that is not Acute"
    );
    Ok(())
}

async fn demographics(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let reply = session
        .retrieve_demographics()
        .await
        .context("RetrieveDemographics")?;
    let me = session.reply().online_user_id.clone();
    let _ = session.logoff().await;
    let person = &reply.person;
    ensure!(
        person.patient_id == me,
        "RetrieveDemographics describes another patient"
    );
    ensure!(
        !person.name.name.is_empty(),
        "RetrieveDemographics gives no name"
    );
    ensure!(
        person
            .address
            .as_ref()
            .is_some_and(|a| !a.address.is_empty()),
        "RetrieveDemographics gives no address"
    );
    Ok(())
}

async fn pharmacy(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let found = session
        .request_community_pharmacy(pfs_client::PharmacySearch::Postcode("LS1"))
        .await
        .context("RequestCommunityPharmacy (search)")?;
    let Some(pharmacy) = found.pharmacies.iter().find(|p| p.open.0) else {
        let _ = session.logoff().await;
        bail!(Skip("no open pharmacy found near LS1".into()));
    };
    let before = found.nominated.as_ref().map(|p| p.ods_code.clone());
    session
        .update_community_pharmacy(Some(&pharmacy.ods_code))
        .await
        .context("UpdateCommunityPharmacy (nominate)")?;
    let shown = session
        .request_community_pharmacy(pfs_client::PharmacySearch::None)
        .await
        .context("RequestCommunityPharmacy")?;
    ensure!(
        shown.nominated.as_ref().map(|p| p.ods_code.as_str()) == Some(pharmacy.ods_code.as_str()),
        "the nominated pharmacy is not shown"
    );
    // Put back what the account had.
    session
        .update_community_pharmacy(before.as_deref())
        .await
        .context("UpdateCommunityPharmacy (putting back)")?;
    let _ = session.logoff().await;
    Ok(())
}

async fn account_information(ctx: &Ctx) -> Result<()> {
    let a = ctx.plain(0)?;
    let session = ctx.login(a).await?;
    let info = session
        .request_account_information()
        .await
        .context("RequestAccountInformation")?;
    let _ = session.logoff().await;
    ensure!(
        info.account_id == a.account_id,
        "RequestAccountInformation names another account"
    );
    ensure!(
        !info.applications.is_empty(),
        "no application is listed, though this one is linked"
    );
    Ok(())
}

async fn cancel_unknown(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let r = session.cancel_appointment("999999999").await;
    let _ = session.logoff().await;
    expect_code(r, "9012", "CancelAppointment of no appointment")
}

async fn practice_messages(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    session
        .request_systm_online_messages()
        .await
        .context("RequestSystmOnlineMessages")?;
    let _ = session.logoff().await;
    Ok(())
}

async fn nothing_to_change(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let before = session
        .retrieve_demographics()
        .await
        .context("RetrieveDemographics")?;
    let r = session
        .change_demographics(pfs_client::DemographicsUpdate::default())
        .await;
    let after = session
        .retrieve_demographics()
        .await
        .context("RetrieveDemographics")?;
    let _ = session.logoff().await;
    expect_code(r, "9027", "ChangeDemographics with no change")?;
    ensure!(
        before.person == after.person && before.changes == after.changes,
        "a refused ChangeDemographics changed the demographics"
    );
    Ok(())
}

async fn reset_unlinked(ctx: &Ctx) -> Result<()> {
    let session = ctx.login(ctx.plain(0)?).await?;
    let r = session.reset_online_account(Some("0000000000000000")).await;
    let alive = session.keep_alive().await;
    let _ = session.logoff().await;
    expect_code(r, "9030", "ResetOnlineAccount of an application not linked")?;
    alive.context("the session after a refused ResetOnlineAccount")?;
    Ok(())
}

// --- malformed input ---------------------------------------------------------------------------

async fn not_xml(ctx: &Ctx) -> Result<()> {
    expect_raw_code(ctx, "CheckVersion", "this is not XML <", "9001").await
}

async fn unknown_type(ctx: &Ctx) -> Result<()> {
    let body = format!(r#"<NoSuchMessage apiVersion="1" uuid="{}"/>"#, uuid());
    expect_raw_code(ctx, "NoSuchMessage", &body, "9002").await
}

async fn type_mismatch(ctx: &Ctx) -> Result<()> {
    let body = format!(r#"<Logoff apiVersion="1" uuid="{}"/>"#, uuid());
    expect_raw_code(ctx, "CheckVersion", &body, "9003").await
}

async fn api_version(ctx: &Ctx) -> Result<()> {
    let body = format!(r#"<Logoff apiVersion="99" uuid="{}"/>"#, uuid());
    expect_raw_code(ctx, "Logoff", &body, "9006").await
}

#[cfg(test)]
mod tests {
    use super::ALL;

    /// Every message the server knows has a scenario that names it, so a message added later
    /// without one fails here.
    #[test]
    fn every_message_has_a_scenario() {
        for message in pfs_client::pfs_wire::REQUEST_TYPES {
            assert!(
                ALL.iter().any(|s| s
                    .about
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|word| word == *message)),
                "no conformance scenario names {message} in its description"
            );
        }
    }

    #[test]
    fn scenario_names_are_unique_and_in_areas() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|s| s.name.contains('/')));
    }
}
