//! The pharmacy directory and nominations: [`PharmacyStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{Pharmacy, PharmacySearch, PostalAddress, RecordAccess};
use pfs_core::pharmacy::area_and_district;
use pfs_core::store::{PharmacyStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::sql::{Cols, execute, map_err, ms, query_all, query_opt};

/// Selects a pharmacy's columns (as read by `pharmacy_row`).
macro_rules! select_pharmacies {
    ($rest:literal) => {
        concat!(
            "SELECT ph.ods, ph.name, ph.house_name_flat, ph.street, ph.village, ph.town,
                    ph.county, ph.postcode, ph.telephone, ph.closed_at
             FROM pharmacies ph ",
            $rest
        )
    };
}

fn pharmacy_row(row: &Row<'_>) -> StoreResult<Pharmacy> {
    let c = Cols::new(row, "pharmacies");
    Ok(Pharmacy {
        ods: c.get(0, "ods")?,
        name: c.get(1, "name")?,
        address: PostalAddress {
            house_name_flat: c.get(2, "house_name_flat")?,
            street: c.get(3, "street")?,
            village: c.get(4, "village")?,
            town: c.get(5, "town")?,
            county: c.get(6, "county")?,
            postcode: c.get(7, "postcode")?,
        },
        telephone: c.get(8, "telephone")?,
        closed_at: c.opt_instant(9, "closed_at")?,
    })
}

/// The derived search columns of a pharmacy: (area, district, outward, sector).
fn derived(p: &Pharmacy) -> (String, i32, String, String) {
    let (outward, inward) = p
        .address
        .postcode
        .split_once(' ')
        .unwrap_or((p.address.postcode.as_str(), ""));
    let (area, district) = area_and_district(outward);
    let sector = format!("{outward} {}", inward.chars().next().unwrap_or(' '))
        .trim()
        .to_owned();
    (area, district, outward.to_owned(), sector)
}

/// Inserts a pharmacy; with `replace`, an existing one of the same ODS code is replaced.
fn write_pharmacy(c: &Connection, p: &Pharmacy, replace: bool) -> StoreResult<()> {
    let (area, district, outward, sector) = derived(p);
    let a = &p.address;
    let sql = if replace {
        "INSERT INTO pharmacies (ods, name, name_lower, house_name_flat, street, village, town,
                                 county, postcode, area, district, outward, sector, telephone,
                                 closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (ods) DO UPDATE SET
             name = excluded.name, name_lower = excluded.name_lower,
             house_name_flat = excluded.house_name_flat, street = excluded.street,
             village = excluded.village, town = excluded.town, county = excluded.county,
             postcode = excluded.postcode, area = excluded.area, district = excluded.district,
             outward = excluded.outward, sector = excluded.sector,
             telephone = excluded.telephone, closed_at = excluded.closed_at"
    } else {
        "INSERT INTO pharmacies (ods, name, name_lower, house_name_flat, street, village, town,
                                 county, postcode, area, district, outward, sector, telephone,
                                 closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    };
    execute(
        c,
        "pharmacies",
        sql,
        params![
            p.ods,
            p.name,
            p.name.to_lowercase(),
            a.house_name_flat,
            a.street,
            a.village,
            a.town,
            a.county,
            a.postcode,
            area,
            district,
            outward,
            sector,
            p.telephone,
            p.closed_at.map(ms),
        ],
    )?;
    Ok(())
}

#[async_trait]
impl PharmacyStore for SqliteStore {
    async fn insert_pharmacy(&self, pharmacy: &Pharmacy) -> StoreResult<()> {
        self.write(|c| write_pharmacy(c, pharmacy, false)).await
    }

    async fn upsert_pharmacies(&self, pharmacies: &[Pharmacy]) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("pharmacies"))?;
            for p in pharmacies {
                write_pharmacy(&tx, p, true)?;
            }
            tx.commit().map_err(map_err("pharmacies"))
        })
        .await
    }

    async fn pharmacy(&self, ods: &str) -> StoreResult<Option<Pharmacy>> {
        self.read(|c| {
            query_opt(
                c,
                "pharmacies",
                select_pharmacies!("WHERE ph.ods = ?1"),
                [ods],
                pharmacy_row,
            )
        })
    }

    async fn close_pharmacy(&self, ods: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|c| {
            Ok(execute(
                c,
                "pharmacies",
                "UPDATE pharmacies SET closed_at = ?2 WHERE ods = ?1 AND closed_at IS NULL",
                params![ods, ms(at)],
            )? > 0)
        })
        .await
    }

    async fn count_pharmacies(&self) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .query_row("SELECT COUNT(*) FROM pharmacies", [], |r| r.get(0))
                .map_err(map_err("pharmacies"))?;
            u64::try_from(n).map_err(|_| StoreError::Other("pharmacies: bad count".into()))
        })
    }

    async fn pharmacies_near(
        &self,
        search: &PharmacySearch,
        limit: u32,
    ) -> StoreResult<Vec<Pharmacy>> {
        self.read(|c| {
            query_all(
                c,
                "pharmacies",
                select_pharmacies!(
                    "WHERE ph.area = ?1 AND ph.closed_at IS NULL
                     ORDER BY CASE WHEN ph.postcode = ?2 THEN 0
                                   WHEN ph.sector = ?3 THEN 1 ELSE 2 END,
                              abs(ph.district - ?4), ph.outward, ph.ods
                     LIMIT ?5"
                ),
                params![
                    search.area,
                    search.postcode.as_deref().unwrap_or(""),
                    search.sector.as_deref().unwrap_or(""),
                    search.district,
                    limit,
                ],
                pharmacy_row,
            )
        })
    }

    async fn pharmacies_named(&self, fragment: &str, limit: u32) -> StoreResult<Vec<Pharmacy>> {
        self.read(|c| {
            query_all(
                c,
                "pharmacies",
                select_pharmacies!(
                    "WHERE ph.closed_at IS NULL AND instr(ph.name_lower, ?1) > 0
                     ORDER BY ph.name_lower, ph.ods LIMIT ?2"
                ),
                params![fragment, limit],
                pharmacy_row,
            )
        })
    }

    async fn nominated_pharmacy(&self, patient_id: &str) -> StoreResult<Option<Pharmacy>> {
        self.read(|c| {
            query_opt(
                c,
                "pharmacies",
                select_pharmacies!(
                    "JOIN nominated_pharmacies n ON n.ods = ph.ods WHERE n.patient_id = ?1"
                ),
                [patient_id],
                pharmacy_row,
            )
        })
    }

    async fn set_nominated_pharmacy(
        &self,
        patient_id: &str,
        ods: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("nominated_pharmacies"))?;
            match ods {
                Some(ods) => execute(
                    &tx,
                    "nominated_pharmacies",
                    "INSERT INTO nominated_pharmacies (patient_id, ods, nominated_at)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (patient_id) DO UPDATE
                     SET ods = excluded.ods, nominated_at = excluded.nominated_at",
                    params![patient_id, ods, ms(at)],
                )?,
                None => execute(
                    &tx,
                    "nominated_pharmacies",
                    "DELETE FROM nominated_pharmacies WHERE patient_id = ?1",
                    [patient_id],
                )?,
            };
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("nominated_pharmacies"))
        })
        .await
    }
}
