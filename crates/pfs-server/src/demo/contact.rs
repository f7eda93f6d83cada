//! The demo patients' contact details: a structured address (the same one-line address the
//! patient was added with), telephone numbers in Ofcom's drama ranges and e-mail addresses at
//! `example.org`, all synthetic.

use anyhow::{Context, Result};
use pfs_core::Pfs;
use pfs_core::admin::NewContactDetails;
use pfs_core::model::{PostalAddress, Telephone, TelephoneType};

/// One demo patient's details, by index into `PEOPLE`.
struct Contact {
    house: &'static str,
    street: &'static str,
    postcode: &'static str,
    mobile: Option<&'static str>,
    home: Option<&'static str>,
    email: Option<&'static str>,
}

const CONTACTS: &[Contact] = &[
    Contact {
        house: "2",
        street: "Low Road",
        postcode: "LS1 1AA",
        mobile: Some("07700900001"),
        home: Some("01134960001"),
        email: Some("ada.example@example.org"),
    },
    Contact {
        house: "2",
        street: "Low Road",
        postcode: "LS1 1AA",
        mobile: None,
        home: Some("01134960001"),
        email: None,
    },
    Contact {
        house: "14",
        street: "Mill Lane",
        postcode: "LS2 7HT",
        mobile: Some("07700900003"),
        home: None,
        email: Some("carl.jones@example.org"),
    },
    Contact {
        house: "9",
        street: "Park View",
        postcode: "LS6 2QB",
        mobile: Some("07700900004"),
        home: None,
        email: Some("dina.patel@example.org"),
    },
    Contact {
        house: "31",
        street: "Church Street",
        postcode: "LS10 1JH",
        mobile: Some("07700900005"),
        home: Some("01134960005"),
        email: Some("evan.hughes@example.org"),
    },
    Contact {
        house: "5",
        street: "Canal Wharf",
        postcode: "LS11 5PS",
        mobile: Some("07700900006"),
        home: None,
        email: Some("fay.okafor@example.org"),
    },
    Contact {
        house: "7",
        street: "Oak Avenue",
        postcode: "LS8 1DL",
        mobile: None,
        home: Some("01134960007"),
        email: Some("george.smith@example.org"),
    },
    Contact {
        house: "22",
        street: "Station Road",
        postcode: "LS12 3EE",
        mobile: Some("07700900008"),
        home: None,
        email: Some("hana.nowak@example.org"),
    },
    Contact {
        house: "3",
        street: "Hill Top",
        postcode: "LS16 6EF",
        mobile: Some("07700900009"),
        home: Some("01134960009"),
        email: Some("ian.murphy@example.org"),
    },
];

/// Gives every demo patient (`ids`, in the order of `PEOPLE`) their contact details.
pub(super) async fn seed_contact_details(pfs: &Pfs, ids: &[String]) -> Result<()> {
    for (id, c) in ids.iter().zip(CONTACTS) {
        let telephones = [
            (c.mobile, TelephoneType::Mobile),
            (c.home, TelephoneType::Home),
        ]
        .into_iter()
        .filter_map(|(n, number_type)| {
            n.map(|n| Telephone {
                number: n.to_owned(),
                number_type,
            })
        })
        .collect();
        pfs.set_patient_demographics(
            id,
            NewContactDetails {
                address: Some(PostalAddress {
                    house_name_flat: Some(c.house.to_owned()),
                    street: Some(c.street.to_owned()),
                    village: None,
                    town: Some("Leeds".to_owned()),
                    county: None,
                    postcode: c.postcode.to_owned(),
                }),
                telephones,
                email: c.email.map(str::to_owned),
            },
        )
        .await
        .context("seeding a demo patient's contact details")?;
    }
    Ok(())
}
