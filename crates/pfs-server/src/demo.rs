//! The demo practice seeded on first start, and the `DATA_DIR/demo/` files that let a newcomer
//! use it at once.

use std::fs;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, Weekday};
use pfs_core::Pfs;
use pfs_core::admin::{NewAppointmentSession, NewPatient, NewPractice};
use pfs_core::model::PracticeSettings;
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

/// Eight weeks of weekday sessions from tomorrow (slots are derived, so this is a few hundred
/// rows at most).
async fn seed_sessions(pfs: &Pfs) -> Result<()> {
    let today = pfs_core::uktime::uk_date(pfs.clock().now());
    for day in 1..=56u64 {
        let date = today + chrono::Days::new(day);
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for &(name, staff, location, slot_type, (h, m), minutes, count) in SESSIONS {
            pfs.add_appointment_session(
                DEMO_ODS,
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

/// Seeds the demo practice, its patients and a demo provider, and writes `DATA_DIR/demo/`.
pub async fn seed(pfs: &Pfs, dir: &DataDir, ca: &PemPair) -> Result<Vec<DemoAccount>> {
    pfs.add_practice(NewPractice {
        ods: DEMO_ODS.into(),
        name: "Riverside Surgery".into(),
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
    })
    .await
    .context("seeding the demo practice")?;
    seed_sessions(pfs).await?;

    let mut ids = Vec::new();
    let mut nhs_numbers = Vec::new();
    for p in PEOPLE {
        let (y, m, d) = p.born;
        let nhs = nhs_number(p.nhs9);
        let patient = pfs
            .add_patient(NewPatient {
                ods: DEMO_ODS.into(),
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
            organisation_code: DEMO_ODS.into(),
            nhs_number: nhs_numbers[i].clone(),
            proxy_for: PROXIES
                .iter()
                .filter(|(g, _)| *g == i)
                .map(|(_, patient)| nhs_numbers[*patient].clone())
                .collect(),
        });
    }

    let client = pki::new_client_cert(ca, "openpfs demo app")?;
    let provider = pfs
        .add_provider(
            "openpfs demo app",
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
