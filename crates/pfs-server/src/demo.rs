//! The demo practice seeded on first start, and the `DATA_DIR/demo/` files that let a newcomer
//! use it at once.

mod contact;
pub(crate) mod files;
mod messaging;
mod pharmacy;
mod record;

use std::fs;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, Weekday};
use pfs_core::Pfs;
use pfs_core::admin::{NewAppointmentSession, NewCourse, NewPatient, NewPractice};
use pfs_core::model::{
    CourseType, MedicationCourse, OrderOutcome, PracticeSettings, PrescriptionItem,
    PrescriptionRequest, PrescriptionStatus, RecordAccess,
};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::datadir::{DataDir, write_public, write_secret};
use crate::pki::{self, PemPair};

/// The demo practice's ODS code.
pub const DEMO_ODS: &str = "Y99001";

/// One entry of `demo/accounts.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoAccount {
    /// Online account id.
    pub account_id: String,
    /// Linkage key (as the practice would print it on a letter).
    pub linkage_key: String,
    /// Last name to type.
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// The practice ODS code.
    pub organisation_code: String,
    /// The account holder's NHS number.
    pub nhs_number: String,
    /// NHS numbers of patients this user may act for.
    pub proxy_for: Vec<String>,
}

struct Synthetic {
    title: &'static str,
    first: &'static str,
    last: &'static str,
    born: (i32, u32, u32),
    gender: &'static str,
    address: &'static str,
    nhs9: &'static str,
    online: bool,
}

const PEOPLE: &[Synthetic] = &[
    Synthetic {
        title: "Mrs",
        first: "Ada",
        last: "Example",
        born: (1980, 2, 14),
        gender: "Female",
        address: "2 Low Road, Leeds, LS1 1AA",
        nhs9: "999000001",
        online: true,
    },
    Synthetic {
        title: "Master",
        first: "Ben",
        last: "Example",
        born: (2015, 7, 1),
        gender: "Male",
        address: "2 Low Road, Leeds, LS1 1AA",
        nhs9: "999000002",
        online: false,
    },
    Synthetic {
        title: "Mr",
        first: "Carl",
        last: "Jones",
        born: (1975, 3, 22),
        gender: "Male",
        address: "14 Mill Lane, Leeds, LS2 7HT",
        nhs9: "999000003",
        online: true,
    },
    Synthetic {
        title: "Ms",
        first: "Dina",
        last: "Patel",
        born: (1992, 11, 5),
        gender: "Female",
        address: "9 Park View, Leeds, LS6 2QB",
        nhs9: "999000004",
        online: true,
    },
    Synthetic {
        title: "Mr",
        first: "Evan",
        last: "Hughes",
        born: (1958, 8, 30),
        gender: "Male",
        address: "31 Church Street, Leeds, LS10 1JH",
        nhs9: "999000005",
        online: true,
    },
    Synthetic {
        title: "Miss",
        first: "Fay",
        last: "Okafor",
        born: (2001, 4, 17),
        gender: "Female",
        address: "5 Canal Wharf, Leeds, LS11 5PS",
        nhs9: "999000006",
        online: true,
    },
    Synthetic {
        title: "Mr",
        first: "George",
        last: "Smith",
        born: (1944, 12, 1),
        gender: "Male",
        address: "7 Oak Avenue, Leeds, LS8 1DL",
        nhs9: "999000007",
        online: true,
    },
    Synthetic {
        title: "Mrs",
        first: "Hana",
        last: "Nowak",
        born: (1987, 6, 9),
        gender: "Female",
        address: "22 Station Road, Leeds, LS12 3EE",
        nhs9: "999000008",
        online: true,
    },
    Synthetic {
        title: "Mr",
        first: "Ian",
        last: "Murphy",
        born: (1969, 1, 26),
        gender: "Male",
        address: "3 Hill Top, Leeds, LS16 6EF",
        nhs9: "999000009",
        online: true,
    },
];

/// Who may act for whom, by index into `PEOPLE`: Ada for her son Ben, Hana for her father George.
const PROXIES: &[(usize, usize)] = &[(0, 1), (7, 6)];

/// The first NHS number at or after `nine` digits that has a valid check digit.
fn nhs_number(nine: &str) -> String {
    let mut n: u64 = nine.parse().unwrap_or(999_000_000);
    loop {
        if let Some(full) = pfs_core::nhs::complete(&format!("{n:09}")) {
            return full;
        }
        n += 1;
    }
}

/// The demo practice's weekday sessions: (session name, clinician, location, slot type, start
/// hour and minute, slot minutes, slot count).
type SessionTemplate = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (u32, u32),
    u32,
    u32,
);
const SESSIONS: &[SessionTemplate] = &[
    (
        "Morning surgery",
        "Dr A Jones (Female)",
        "Main site",
        "Routine",
        (9, 0),
        10,
        18,
    ),
    (
        "Telephone clinic",
        "Dr B Singh (Male)",
        "Main site",
        "Telephone",
        (8, 30),
        10,
        12,
    ),
    (
        "Nurse clinic",
        "Nurse C Brown (Female)",
        "Eastgate branch",
        "Nurse",
        (9, 30),
        15,
        12,
    ),
    (
        "Afternoon surgery",
        "Dr D Lee (Male)",
        "Eastgate branch",
        "Routine",
        (14, 0),
        10,
        18,
    ),
];

/// Eight weeks of weekday sessions from tomorrow at practice `ods` (slots are derived, so this
/// is a few hundred rows at most).
async fn seed_sessions(pfs: &Pfs, ods: &str) -> Result<()> {
    let today = pfs_core::uktime::uk_date(pfs.clock().now());
    for day in 1..=56u64 {
        let date = today + chrono::Days::new(day);
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for &(name, staff, location, slot_type, (h, m), minutes, count) in SESSIONS {
            pfs.add_appointment_session(
                ods,
                NewAppointmentSession {
                    session_type: name.into(),
                    staff_details: staff.into(),
                    location: location.into(),
                    slot_type: slot_type.into(),
                    start: date.and_hms_opt(h, m, 0).context("demo session time")?,
                    slot_minutes: minutes,
                    slot_count: count,
                },
            )
            .await
            .context("seeding a demo appointment session")?;
        }
    }
    Ok(())
}

/// One demo course: drug, dosage and quantity, type, orderable online, days since it started,
/// most issues per authorisation.
struct DemoCourse {
    drug: &'static str,
    details: &'static str,
    course_type: CourseType,
    requestable: bool,
    started_days_ago: u64,
    max_issues: Option<u32>,
}

const fn repeat(
    drug: &'static str,
    details: &'static str,
    requestable: bool,
    started_days_ago: u64,
    max_issues: u32,
) -> DemoCourse {
    DemoCourse {
        drug,
        details,
        course_type: CourseType::Repeat,
        requestable,
        started_days_ago,
        max_issues: Some(max_issues),
    }
}

const fn acute(drug: &'static str, details: &'static str, started_days_ago: u64) -> DemoCourse {
    DemoCourse {
        drug,
        details,
        course_type: CourseType::Acute,
        // Orderable only when the practice takes acute requests online (it does not by default).
        requestable: true,
        started_days_ago,
        max_issues: Some(1),
    }
}

/// Every demo patient's courses, by index into `PEOPLE`: at least two orderable repeats, one
/// repeat the practice does not let them order online (a review is due, or it is a medicine
/// the practice issues only after a consultation) and one acute course. The first two repeats
/// carry the account holders' request history.
const COURSES: &[&[DemoCourse]] = &[
    // Ada
    &[
        repeat(
            "Levothyroxine 50microgram tablets",
            "One to be taken each morning - 28 tablet",
            true,
            900,
            12,
        ),
        repeat(
            "Sertraline 50mg tablets",
            "One to be taken each day - 28 tablet",
            true,
            400,
            6,
        ),
        repeat(
            "Zopiclone 3.75mg tablets",
            "One to be taken at night when required - 14 tablet",
            false,
            200,
            3,
        ),
        acute(
            "Amoxicillin 500mg capsules",
            "One to be taken three times a day - 15 capsule",
            40,
        ),
    ],
    // Ben (a child)
    &[
        repeat(
            "Beclometasone 50micrograms/dose inhaler",
            "Two puffs to be inhaled twice a day - 200 dose",
            true,
            500,
            12,
        ),
        repeat(
            "Salbutamol 100micrograms/dose inhaler",
            "Two puffs to be inhaled when required - 200 dose",
            true,
            500,
            12,
        ),
        repeat(
            "Cetirizine 1mg/ml oral solution",
            "5ml to be taken once a day - 200 ml",
            false,
            300,
            6,
        ),
        acute(
            "Paracetamol 120mg/5ml oral suspension",
            "10ml to be taken up to four times a day when required - 100 ml",
            20,
        ),
    ],
    // Carl
    &[
        repeat(
            "Amlodipine 5mg tablets",
            "One to be taken each day - 28 tablet",
            true,
            700,
            12,
        ),
        repeat(
            "Atorvastatin 20mg tablets",
            "One to be taken at night - 28 tablet",
            true,
            700,
            12,
        ),
        repeat(
            "Ramipril 5mg capsules",
            "One to be taken each day - 28 capsule",
            false,
            150,
            6,
        ),
        acute(
            "Naproxen 500mg tablets",
            "One to be taken twice a day with food - 14 tablet",
            60,
        ),
    ],
    // Dina
    &[
        repeat(
            "Microgynon 30 tablets",
            "One to be taken each day for 21 days, then 7 days break - 63 tablet",
            true,
            600,
            4,
        ),
        repeat(
            "Salbutamol 100micrograms/dose inhaler",
            "Two puffs to be inhaled when required - 200 dose",
            true,
            1200,
            12,
        ),
        repeat(
            "Propranolol 10mg tablets",
            "One to be taken twice a day when required - 56 tablet",
            false,
            250,
            6,
        ),
        acute(
            "Nitrofurantoin 100mg modified-release capsules",
            "One to be taken twice a day - 6 capsule",
            25,
        ),
    ],
    // Evan
    &[
        repeat(
            "Metformin 500mg tablets",
            "One to be taken twice a day with meals - 56 tablet",
            true,
            1500,
            12,
        ),
        repeat(
            "Lansoprazole 30mg capsules",
            "One to be taken each morning - 28 capsule",
            true,
            800,
            12,
        ),
        repeat(
            "Bisoprolol 2.5mg tablets",
            "One to be taken each morning - 28 tablet",
            false,
            120,
            6,
        ),
        acute(
            "Flucloxacillin 500mg capsules",
            "One to be taken four times a day - 28 capsule",
            75,
        ),
    ],
    // Fay
    &[
        repeat(
            "Fexofenadine 120mg tablets",
            "One to be taken each day - 30 tablet",
            true,
            400,
            12,
        ),
        repeat(
            "Salbutamol 100micrograms/dose inhaler",
            "Two puffs to be inhaled when required - 200 dose",
            true,
            900,
            12,
        ),
        repeat(
            "Citalopram 20mg tablets",
            "One to be taken each day - 28 tablet",
            false,
            180,
            6,
        ),
        acute(
            "Clarithromycin 500mg tablets",
            "One to be taken twice a day - 14 tablet",
            50,
        ),
    ],
    // George
    &[
        repeat(
            "Amlodipine 5mg tablets",
            "One to be taken each day - 28 tablet",
            true,
            2000,
            12,
        ),
        repeat(
            "Tamsulosin 400microgram modified-release capsules",
            "One to be taken each day - 28 capsule",
            true,
            1100,
            12,
        ),
        repeat(
            "Co-codamol 30mg/500mg tablets",
            "Two to be taken up to four times a day when required - 100 tablet",
            false,
            300,
            3,
        ),
        acute(
            "Prednisolone 5mg tablets",
            "Six to be taken each morning for 5 days - 30 tablet",
            90,
        ),
    ],
    // Hana
    &[
        repeat(
            "Ferrous fumarate 210mg tablets",
            "One to be taken twice a day - 56 tablet",
            true,
            365,
            6,
        ),
        repeat(
            "Omeprazole 20mg gastro-resistant capsules",
            "One to be taken each day - 28 capsule",
            true,
            650,
            12,
        ),
        repeat(
            "Sumatriptan 50mg tablets",
            "One to be taken at the onset of a migraine - 6 tablet",
            false,
            220,
            6,
        ),
        acute(
            "Trimethoprim 200mg tablets",
            "One to be taken twice a day for 3 days - 6 tablet",
            30,
        ),
    ],
    // Ian
    &[
        repeat(
            "Ramipril 2.5mg capsules",
            "One to be taken each day - 28 capsule",
            true,
            1000,
            12,
        ),
        repeat(
            "Simvastatin 40mg tablets",
            "One to be taken at night - 28 tablet",
            true,
            1000,
            12,
        ),
        repeat(
            "Amitriptyline 10mg tablets",
            "One to be taken at night - 28 tablet",
            false,
            140,
            6,
        ),
        acute(
            "Amoxicillin 500mg capsules",
            "One to be taken three times a day - 15 capsule",
            45,
        ),
    ],
];

/// An account holder's request history: (index of the course ordered, days ago it was
/// ordered, the patient's note, how it was settled, the practice's comment).
type DemoRequest = (
    usize,
    i64,
    Option<&'static str>,
    PrescriptionStatus,
    &'static str,
);
const REQUEST_HISTORY: &[DemoRequest] = &[
    (
        0,
        35,
        None,
        PrescriptionStatus::Issued,
        "Issued to your nominated pharmacy. Please allow 2 working days before collecting.",
    ),
    (
        1,
        21,
        Some("Running low, I have about a week left."),
        PrescriptionStatus::Rejected,
        "A medication review is due. Please book an appointment with the practice pharmacist before this can be issued.",
    ),
];

/// Prescribes every demo patient's courses.
async fn seed_courses(pfs: &Pfs, patient_id: &str, person: usize) -> Result<Vec<MedicationCourse>> {
    let today = pfs_core::uktime::uk_date(pfs.clock().now());
    let mut added = Vec::new();
    for c in COURSES.get(person).copied().unwrap_or_default() {
        let course = pfs
            .add_course(
                patient_id,
                NewCourse {
                    drug: c.drug.into(),
                    details: c.details.into(),
                    course_type: c.course_type.as_str().into(),
                    requestable: c.requestable,
                    online_visible: true,
                    started_on: Some(today - chrono::Days::new(c.started_days_ago)),
                    max_issues: c.max_issues,
                },
            )
            .await
            .context("seeding a demo medication course")?;
        added.push(course);
    }
    Ok(added)
}

/// Stores an account holder's request history through the store, as orders from the demo app
/// that the practice then settled, so that no course is left with an outstanding request.
async fn seed_requests(
    pfs: &Pfs,
    world: &World<'_>,
    person: &Synthetic,
    courses: &[MedicationCourse],
) -> Result<()> {
    let store = pfs.store();
    let now = pfs.clock().now();
    for &(index, days_ago, notes, status, comment) in REQUEST_HISTORY {
        let course = courses.get(index).context("a demo request's course")?;
        let requested_at = now - chrono::Duration::days(days_ago);
        let settled_at = requested_at + chrono::Duration::hours(26);
        let version = store
            .medication_list(&course.patient_id, None)
            .await
            .context("reading a demo medication list")?
            .version;
        let log = |at, access_type: &str, method: &str, by: String| RecordAccess {
            patient_id: course.patient_id.clone(),
            at,
            accessed_by: by,
            organisation: world.practice_name.into(),
            access_type: access_type.into(),
            method: method.into(),
        };
        let ordered = log(
            requested_at,
            "Requested medication",
            "Online",
            format!(
                "{} {} {} via {}",
                person.title, person.first, person.last, world.provider_name
            ),
        );
        let mut stored = None;
        for _ in 0..8 {
            let request = PrescriptionRequest {
                id: pfs_core::secrets::random_digits(9),
                patient_id: course.patient_id.clone(),
                requested_by: course.patient_id.clone(),
                requested_at,
                notes: notes.map(str::to_owned),
                status: PrescriptionStatus::Requested,
                status_at: requested_at,
                practice_comment: None,
                items: vec![PrescriptionItem {
                    course_id: course.id.clone(),
                    drug: course.drug.clone(),
                    course_type: course.course_type,
                }],
            };
            match store.request_medication(&request, version, &ordered).await {
                Ok(OrderOutcome::Stored) => {
                    stored = Some(request.id);
                    break;
                }
                Ok(other) => anyhow::bail!("a demo medication request was refused: {other:?}"),
                Err(pfs_core::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e).context("seeding a demo medication request"),
            }
        }
        let id = stored.context("could not allocate a demo request id")?;
        let access_type = if status == PrescriptionStatus::Issued {
            "Issued prescription"
        } else {
            "Rejected prescription request"
        };
        let settled = log(
            settled_at,
            access_type,
            "Practice",
            world.practice_name.into(),
        );
        let outcome = store
            .settle_prescription_request(&id, status, Some(comment), settled_at, &settled)
            .await
            .context("settling a demo medication request")?;
        if outcome != OrderOutcome::Stored {
            anyhow::bail!("a demo medication request could not be settled: {outcome:?}");
        }
    }
    Ok(())
}

/// The demo practice's name.
pub(crate) const DEMO_PRACTICE_NAME: &str = "Riverside Surgery";
/// The demo provider's name.
const DEMO_PROVIDER_NAME: &str = "openpfs demo app";

/// The demo practice as it is added: under `ods`, named `name`.
pub(crate) fn demo_practice(ods: &str, name: &str) -> NewPractice {
    NewPractice {
        ods: ods.into(),
        name: name.into(),
        address: "1 High Street, Leeds, LS1 4AP".into(),
        settings: Some(PracticeSettings {
            booking_guidance: Some(
                "Book a routine or telephone appointment up to 8 weeks ahead. For anything urgent, call the surgery on 0113 496 0000 or call 111."
                    .into(),
            ),
            medication_request_confirmation: Some(
                "Please allow 2 working days before collecting your prescription.".into(),
            ),
            medication_guidance: Some(
                "Only repeat medication can be ordered online.".into(),
            ),
            ..PracticeSettings::default()
        }),
    }
}

/// Where [`seed_world`] puts the demo's people: a practice that exists, the names its log
/// entries give, and the people's NHS numbers (by index into `PEOPLE`).
pub(crate) struct World<'a> {
    pub ods: &'a str,
    pub practice_name: &'a str,
    pub provider_name: &'a str,
    pub nhs_number: &'a (dyn Fn(usize) -> String + Sync),
}

/// The demo world's NHS numbers.
fn demo_nhs_number(person: usize) -> String {
    nhs_number(PEOPLE.get(person).map_or("999000000", |p| p.nhs9))
}

/// Seeds the demo's people into `world`'s practice with everything they hold: appointment
/// sessions, contact details, nominations, messages, proxies, online accounts, medication
/// with its history and records. The accounts, as `demo/accounts.json` lists them.
pub(crate) async fn seed_world(pfs: &Pfs, world: &World<'_>) -> Result<Vec<DemoAccount>> {
    seed_sessions(pfs, world.ods).await?;

    let mut ids = Vec::new();
    let mut nhs_numbers = Vec::new();
    for (i, p) in PEOPLE.iter().enumerate() {
        let (y, m, d) = p.born;
        let nhs = (world.nhs_number)(i);
        let patient = pfs
            .add_patient(NewPatient {
                ods: world.ods.into(),
                nhs_number: nhs.clone(),
                title: Some(p.title.into()),
                first_name: p.first.into(),
                last_name: p.last.into(),
                date_of_birth: NaiveDate::from_ymd_opt(y, m, d).context("demo date")?,
                gender: p.gender.into(),
                address: p.address.into(),
            })
            .await
            .context("seeding a demo patient")?;
        ids.push(patient.id);
        nhs_numbers.push(nhs);
    }
    contact::seed_contact_details(pfs, &ids).await?;
    pharmacy::seed_pharmacies(pfs, &ids).await?;
    messaging::seed_messaging(pfs, world.ods, &ids).await?;
    for &(grantee, patient) in PROXIES {
        pfs.grant_proxy(&ids[grantee], &ids[patient])
            .await
            .context("seeding a demo proxy grant")?;
    }

    let mut accounts = Vec::new();
    for (i, p) in PEOPLE.iter().enumerate().filter(|(_, p)| p.online) {
        let issued = pfs
            .issue_account(&ids[i], None, None)
            .await
            .context("seeding a demo account")?;
        let (y, m, d) = p.born;
        accounts.push(DemoAccount {
            account_id: issued.account_id,
            linkage_key: issued.linkage_key.expose_secret().to_owned(),
            last_name: p.last.into(),
            date_of_birth: format!("{y:04}-{m:02}-{d:02}"),
            organisation_code: world.ods.into(),
            nhs_number: nhs_numbers[i].clone(),
            proxy_for: PROXIES
                .iter()
                .filter(|(g, _)| *g == i)
                .map(|(_, patient)| nhs_numbers[*patient].clone())
                .collect(),
        });
    }

    // Medication for every account holder and every patient someone acts for; history for
    // the account holders.
    for (i, p) in PEOPLE.iter().enumerate() {
        let dependant = PROXIES.iter().any(|&(_, patient)| patient == i);
        if !p.online && !dependant {
            continue;
        }
        let courses = seed_courses(pfs, &ids[i], i).await?;
        if p.online {
            seed_requests(pfs, world, p, &courses).await?;
        }
        let name = format!("{} {} {}", p.title, p.first, p.last);
        record::seed_record(pfs, &ids[i], i, world.practice_name, &name).await?;
    }
    if let Some(&(carer, patient)) = PROXIES.first() {
        record::seed_proxy_grant(pfs, &ids[patient], &ids[carer]).await?;
    }
    Ok(accounts)
}

/// Seeds the demo practice, its patients and a demo provider, and writes `DATA_DIR/demo/`.
pub async fn seed(pfs: &Pfs, dir: &DataDir, ca: &PemPair) -> Result<Vec<DemoAccount>> {
    pfs.add_practice(demo_practice(DEMO_ODS, DEMO_PRACTICE_NAME))
        .await
        .context("seeding the demo practice")?;
    let accounts = seed_world(
        pfs,
        &World {
            ods: DEMO_ODS,
            practice_name: DEMO_PRACTICE_NAME,
            provider_name: DEMO_PROVIDER_NAME,
            nhs_number: &demo_nhs_number,
        },
    )
    .await?;

    let client = pki::new_client_cert(ca, DEMO_PROVIDER_NAME)?;
    let provider = pfs
        .add_provider(
            DEMO_PROVIDER_NAME,
            &pki::fingerprint_pem(&client.cert_pem)?,
            true,
        )
        .await
        .context("registering the demo provider")?;

    let demo = dir.path("demo");
    fs::create_dir_all(&demo).with_context(|| format!("cannot create {}", demo.display()))?;
    write_public(&demo.join("ca.pem"), &ca.cert_pem)?;
    write_public(&demo.join("client.pem"), &client.cert_pem)?;
    write_secret(&demo.join("client-key.pem"), &client.key_pem)?;
    write_secret(&demo.join("provider-id"), &format!("{}\n", provider.id))?;
    write_secret(
        &demo.join("accounts.json"),
        &(serde_json::to_string_pretty(&accounts)? + "\n"),
    )?;
    Ok(accounts)
}
