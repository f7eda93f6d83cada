//! `pfs bench pharmacy-search`: a synthetic national directory (`--pharmacies`, 15,000 by
//! default, about England's number) imported through the admin API, timed, then
//! `RequestCommunityPharmacy` by postcode at full tilt.
//!
//! The directory spreads the pharmacies over 120 real postcode areas and up to 30 districts
//! each (so an area holds about as many as a real one, ~125); searches cycle through full
//! postcodes and outward codes of those areas.

use std::time::Instant;

use anyhow::{Context, Result};

use super::{Args, Job};

/// Postcode areas, as Royal Mail names them.
const AREAS: &[&str] = &[
    "AB", "AL", "B", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "CA", "CB", "CF", "CH", "CM",
    "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT", "DY", "E", "EC",
    "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "HA", "HD", "HG", "HP", "HR", "HS", "HU", "HX",
    "IG", "IP", "IV", "KA", "KT", "KW", "KY", "L", "LA", "LD", "LE", "LL", "LN", "LS", "LU", "M",
    "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW", "OL", "OX", "PA", "PE", "PH", "PL",
    "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG", "SK", "SL", "SM", "SN", "SO", "SP", "SR",
    "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR", "TS", "TW", "UB", "W", "WA", "WC",
    "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
];

/// Letters that may end a postcode.
const UNIT: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// The `i`-th synthetic pharmacy's postcode.
fn postcode(i: usize) -> String {
    let area = AREAS[i % AREAS.len()];
    let district = (i / AREAS.len()) % 30 + 1;
    let sector = i % 10;
    let a = UNIT[i % UNIT.len()] as char;
    let b = UNIT[(i / UNIT.len()) % UNIT.len()] as char;
    format!("{area}{district} {sector}{a}{b}")
}

/// The synthetic directory as CSV.
pub(super) fn directory_csv(n: usize) -> String {
    let mut csv = String::from(
        "ods_code,name,house_name_flat,street,village,town,county,postcode,telephone,status\n",
    );
    for i in 0..n {
        csv.push_str(&format!(
            "FB{i:06},Bench Pharmacy {i},{},High Street,,Benchtown,,{},01632 {:06},open\n",
            i % 200 + 1,
            postcode(i),
            960_000 + i % 1000,
        ));
    }
    csv
}

/// Imports the directory through the admin API and reports how long it took.
pub(super) async fn import(a: &Args) -> Result<()> {
    let csv = directory_csv(a.pharmacies);
    let started = Instant::now();
    let summary = crate::admin::request_text(
        &a.data_dir,
        "POST",
        "/api/pharmacies/import",
        "text/csv",
        csv,
    )
    .await
    .context("importing the bench directory through the admin API")?;
    println!(
        "pharmacy-import rows: {}  seconds: {:.2}  directory size: {}",
        a.pharmacies,
        started.elapsed().as_secs_f64(),
        summary["directorySize"]
    );
    Ok(())
}

/// The postcodes worker `i` searches, in turn: full postcodes and outward codes of the
/// directory, each worker from its own starting point.
pub(super) fn give_postcodes(job: &mut Job, i: usize, n: usize) {
    let n = n.max(1);
    job.postcodes = (0..500)
        .map(|k| {
            let p = postcode((i * 7919 + k * 104_729) % n);
            if k % 2 == 0 {
                p
            } else {
                p.split(' ').next().unwrap_or(&p).to_owned()
            }
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_valid() {
        let csv = directory_csv(3000);
        let rows = pfs_core::admin::parse_pharmacy_csv(&csv, |_| {}).expect("valid");
        assert_eq!(rows.len(), 3000);
    }
}
