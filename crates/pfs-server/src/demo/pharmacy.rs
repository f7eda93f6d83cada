//! The demo pharmacy directory: 24 synthetic community pharmacies around Leeds (postcode area
//! LS, where the demo practice is), with ODS codes of the form `FY9nn` and telephone numbers in
//! Ofcom's drama range; and the demo patients' nominations.

use anyhow::{Context, Result};
use pfs_core::Pfs;
use pfs_core::admin::NewPharmacy;

/// (ODS code, name, house, street, postcode, telephone, closed).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

const PHARMACIES: &[Row] = &[
    (
        "FY901",
        "High Street Pharmacy",
        "3",
        "High Street",
        "LS1 4AP",
        "01134960101",
        false,
    ),
    (
        "FY902",
        "Low Road Chemist",
        "40",
        "Low Road",
        "LS1 1AB",
        "01134960102",
        false,
    ),
    (
        "FY903",
        "City Square Pharmacy",
        "1",
        "City Square",
        "LS1 2ES",
        "01134960103",
        false,
    ),
    (
        "FY904",
        "Mill Lane Pharmacy",
        "20",
        "Mill Lane",
        "LS2 7HU",
        "01134960104",
        false,
    ),
    (
        "FY905",
        "University Pharmacy",
        "5",
        "Campus Road",
        "LS2 9JT",
        "01134960105",
        false,
    ),
    (
        "FY906",
        "Headingley Chemist",
        "77",
        "Otley Road",
        "LS6 3AA",
        "01134960106",
        false,
    ),
    (
        "FY907",
        "Park View Pharmacy",
        "2",
        "Park View",
        "LS6 2QD",
        "01134960107",
        false,
    ),
    (
        "FY908",
        "Chapel Allerton Pharmacy",
        "14",
        "Harrogate Road",
        "LS7 3NB",
        "01134960108",
        false,
    ),
    (
        "FY909",
        "Oakwood Pharmacy",
        "9",
        "Oak Avenue",
        "LS8 1DN",
        "01134960109",
        false,
    ),
    (
        "FY910",
        "Roundhay Chemist",
        "31",
        "Street Lane",
        "LS8 2DQ",
        "01134960110",
        false,
    ),
    (
        "FY911",
        "Harehills Pharmacy",
        "101",
        "Harehills Lane",
        "LS9 6AX",
        "01134960111",
        false,
    ),
    (
        "FY912",
        "Hunslet Pharmacy",
        "12",
        "Church Street",
        "LS10 1JJ",
        "01134960112",
        false,
    ),
    (
        "FY913",
        "Belle Isle Chemist",
        "6",
        "Belle Isle Road",
        "LS10 3DU",
        "01134960113",
        false,
    ),
    (
        "FY914",
        "Canal Wharf Pharmacy",
        "8",
        "Canal Wharf",
        "LS11 5PT",
        "01134960114",
        false,
    ),
    (
        "FY915",
        "Beeston Pharmacy",
        "44",
        "Town Street",
        "LS11 8PN",
        "01134960115",
        false,
    ),
    (
        "FY916",
        "Armley Chemist",
        "90",
        "Town Street",
        "LS12 3HN",
        "01134960116",
        false,
    ),
    (
        "FY917",
        "Station Road Pharmacy",
        "25",
        "Station Road",
        "LS12 3EF",
        "01134960117",
        false,
    ),
    (
        "FY918",
        "Bramley Pharmacy",
        "3",
        "Town Street",
        "LS13 2EN",
        "01134960118",
        false,
    ),
    (
        "FY919",
        "Seacroft Pharmacy",
        "17",
        "The Green",
        "LS14 6JB",
        "01134960119",
        false,
    ),
    (
        "FY920",
        "Cross Gates Chemist",
        "2",
        "Station Road",
        "LS15 8EU",
        "01134960120",
        false,
    ),
    (
        "FY921",
        "Hill Top Pharmacy",
        "11",
        "Hill Top",
        "LS16 6EG",
        "01134960121",
        false,
    ),
    (
        "FY922",
        "Moortown Pharmacy",
        "5",
        "King Lane",
        "LS17 6AA",
        "01134960122",
        false,
    ),
    (
        "FY923",
        "Horsforth Chemist",
        "60",
        "Town Street",
        "LS18 4RJ",
        "01134960123",
        false,
    ),
    (
        "FY924",
        "Old Market Pharmacy",
        "1",
        "Market Street",
        "LS1 6DT",
        "01134960124",
        true,
    ),
];

/// Who has nominated which pharmacy, by index into `PEOPLE`: Ada, Carl, George (acted for by
/// Hana) and Ian.
const NOMINATIONS: &[(usize, &str)] = &[(0, "FY902"), (2, "FY904"), (6, "FY909"), (8, "FY921")];

/// Seeds the directory's pharmacies it does not have yet (the directory is shared by every
/// practice, so a namespace finds the demo's there), and the nominations (`ids` in the order
/// of `PEOPLE`).
pub(super) async fn seed_pharmacies(pfs: &Pfs, ids: &[String]) -> Result<()> {
    for &(ods, name, house, street, postcode, telephone, closed) in PHARMACIES {
        if pfs
            .store()
            .pharmacy(ods)
            .await
            .context("reading the pharmacy directory")?
            .is_some()
        {
            continue;
        }
        pfs.add_pharmacy(NewPharmacy {
            ods: ods.into(),
            name: name.into(),
            house_name_flat: Some(house.into()),
            street: Some(street.into()),
            village: None,
            town: Some("Leeds".into()),
            county: None,
            postcode: postcode.into(),
            telephone: Some(telephone.into()),
            closed,
        })
        .await
        .context("seeding a demo pharmacy")?;
    }
    for &(person, ods) in NOMINATIONS {
        if let Some(id) = ids.get(person) {
            pfs.nominate_pharmacy_as_practice(id, Some(ods))
                .await
                .context("seeding a demo nomination")?;
        }
    }
    Ok(())
}
