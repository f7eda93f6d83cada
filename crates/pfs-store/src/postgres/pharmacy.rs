//! The pharmacy directory and nominations: [`PharmacyStore`].
//!
//! An import is one statement over arrays (`unnest`), so the whole directory is written in
//! one round trip and one transaction; a nomination is one data-modifying CTE with its
//! access-log entry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{Pharmacy, PharmacySearch, PostalAddress, RecordAccess};
use pfs_core::pharmacy::area_and_district;
use pfs_core::store::{PharmacyStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::sql::{AccessParams, Cols, execute, ms, query_all, query_opt};
use super::{Params, PostgresStore};

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

fn pharmacy_row(row: &Row) -> StoreResult<Pharmacy> {
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

/// The pharmacies as column arrays, in the column order of the insert below.
#[derive(Default)]
struct Columns {
    ods: Vec<String>,
    name: Vec<String>,
    name_lower: Vec<String>,
    house_name_flat: Vec<Option<String>>,
    street: Vec<Option<String>>,
    village: Vec<Option<String>>,
    town: Vec<Option<String>>,
    county: Vec<Option<String>>,
    postcode: Vec<String>,
    area: Vec<String>,
    district: Vec<i32>,
    outward: Vec<String>,
    sector: Vec<String>,
    telephone: Vec<Option<String>>,
    closed_at: Vec<Option<i64>>,
}

impl Columns {
    fn of(pharmacies: &[Pharmacy]) -> Self {
        let mut c = Columns::default();
        for p in pharmacies {
            let a = &p.address;
            let (outward, inward) = a.postcode.split_once(' ').unwrap_or((&a.postcode, ""));
            let (area, district) = area_and_district(outward);
            c.ods.push(p.ods.clone());
            c.name.push(p.name.clone());
            c.name_lower.push(p.name.to_lowercase());
            c.house_name_flat.push(a.house_name_flat.clone());
            c.street.push(a.street.clone());
            c.village.push(a.village.clone());
            c.town.push(a.town.clone());
            c.county.push(a.county.clone());
            c.postcode.push(a.postcode.clone());
            c.area.push(area);
            c.district.push(district);
            c.outward.push(outward.to_owned());
            c.sector.push(
                format!("{outward} {}", inward.chars().next().unwrap_or(' '))
                    .trim()
                    .to_owned(),
            );
            c.telephone.push(p.telephone.clone());
            c.closed_at.push(p.closed_at.map(ms));
        }
        c
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 15] {
        [
            &self.ods,
            &self.name,
            &self.name_lower,
            &self.house_name_flat,
            &self.street,
            &self.village,
            &self.town,
            &self.county,
            &self.postcode,
            &self.area,
            &self.district,
            &self.outward,
            &self.sector,
            &self.telephone,
            &self.closed_at,
        ]
    }
}

const INSERT: &str = "INSERT INTO pharmacies
        (ods, name, name_lower, house_name_flat, street, village, town, county, postcode, area,
         district, outward, sector, telephone, closed_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::int4[], $12::text[], $13::text[], $14::text[], $15::int8[])";

#[async_trait]
impl PharmacyStore for PostgresStore {
    async fn insert_pharmacy(&self, pharmacy: &Pharmacy) -> StoreResult<()> {
        let columns = Columns::of(std::slice::from_ref(pharmacy));
        execute(&self.db, "pharmacies", INSERT, &columns.params()).await?;
        Ok(())
    }

    async fn upsert_pharmacies(&self, pharmacies: &[Pharmacy]) -> StoreResult<()> {
        let columns = Columns::of(pharmacies);
        execute(
            &self.db,
            "pharmacies",
            "INSERT INTO pharmacies
                 (ods, name, name_lower, house_name_flat, street, village, town, county,
                  postcode, area, district, outward, sector, telephone, closed_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                  $11::int4[], $12::text[], $13::text[], $14::text[],
                                  $15::int8[])
             ON CONFLICT (ods) DO UPDATE SET
                 name = excluded.name, name_lower = excluded.name_lower,
                 house_name_flat = excluded.house_name_flat, street = excluded.street,
                 village = excluded.village, town = excluded.town, county = excluded.county,
                 postcode = excluded.postcode, area = excluded.area,
                 district = excluded.district, outward = excluded.outward,
                 sector = excluded.sector, telephone = excluded.telephone,
                 closed_at = excluded.closed_at",
            &columns.params(),
        )
        .await?;
        Ok(())
    }

    async fn pharmacy(&self, ods: &str) -> StoreResult<Option<Pharmacy>> {
        query_opt(
            &self.db,
            "pharmacies",
            select_pharmacies!("WHERE ph.ods = $1"),
            &[&ods],
            pharmacy_row,
        )
        .await
    }

    async fn close_pharmacy(&self, ods: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "pharmacies",
            "UPDATE pharmacies SET closed_at = $2 WHERE ods = $1 AND closed_at IS NULL",
            &[&ods, &ms(at)],
        )
        .await?
            > 0)
    }

    async fn count_pharmacies(&self) -> StoreResult<u64> {
        let rows = query_all(
            &self.db,
            "pharmacies",
            "SELECT COUNT(*) FROM pharmacies",
            &[],
            |r| Cols::new(r, "pharmacies").get::<i64>(0, "count"),
        )
        .await?;
        let n = rows.first().copied().unwrap_or(0);
        u64::try_from(n).map_err(|_| StoreError::Other("pharmacies: bad count".into()))
    }

    async fn pharmacies_near(
        &self,
        search: &PharmacySearch,
        limit: u32,
    ) -> StoreResult<Vec<Pharmacy>> {
        let postcode = search.postcode.as_deref().unwrap_or("");
        let sector = search.sector.as_deref().unwrap_or("");
        let limit = i64::from(limit);
        let params: Params = &[&search.area, &postcode, &sector, &search.district, &limit];
        // The order is decided on the narrow index alone (an index-only scan once the table
        // is vacuumed); only the 20 pharmacies chosen are read from the table.
        query_all(
            &self.db,
            "pharmacies",
            "WITH near AS (
                 SELECT ods,
                        CASE WHEN postcode = $2 THEN 0 WHEN sector = $3 THEN 1 ELSE 2 END AS rank,
                        abs(district - $4) AS distance, outward
                 FROM pharmacies
                 WHERE area = $1 AND closed_at IS NULL
                 ORDER BY rank, distance, outward, ods
                 LIMIT $5)
             SELECT ph.ods, ph.name, ph.house_name_flat, ph.street, ph.village, ph.town,
                    ph.county, ph.postcode, ph.telephone, ph.closed_at
             FROM near JOIN pharmacies ph ON ph.ods = near.ods
             ORDER BY near.rank, near.distance, near.outward, near.ods",
            params,
            pharmacy_row,
        )
        .await
    }

    async fn pharmacies_named(&self, fragment: &str, limit: u32) -> StoreResult<Vec<Pharmacy>> {
        let limit = i64::from(limit);
        query_all(
            &self.db,
            "pharmacies",
            select_pharmacies!(
                "WHERE ph.closed_at IS NULL AND strpos(ph.name_lower, $1) > 0
                 ORDER BY ph.name_lower, ph.ods LIMIT $2"
            ),
            &[&fragment, &limit],
            pharmacy_row,
        )
        .await
    }

    async fn nominated_pharmacy(&self, patient_id: &str) -> StoreResult<Option<Pharmacy>> {
        query_opt(
            &self.db,
            "pharmacies",
            select_pharmacies!(
                "JOIN nominated_pharmacies n ON n.ods = ph.ods WHERE n.patient_id = $1"
            ),
            &[&patient_id],
            pharmacy_row,
        )
        .await
    }

    async fn set_nominated_pharmacy(
        &self,
        patient_id: &str,
        ods: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let at = ms(at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        match ods {
            Some(ods) => {
                let params: Params = &[&patient_id, &ods, &at, a1, a2, a3, a4, a5, a6];
                execute(
                    &self.db,
                    "nominated_pharmacies",
                    "WITH log AS (
                         INSERT INTO record_accesses
                             (patient_id, at_ms, accessed_by, organisation, access_type, method)
                         SELECT $4, $5, $6, $7, $8, $9
                         WHERE EXISTS (SELECT 1 FROM patients WHERE id = $4))
                     INSERT INTO nominated_pharmacies (patient_id, ods, nominated_at)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (patient_id) DO UPDATE
                     SET ods = excluded.ods, nominated_at = excluded.nominated_at",
                    params,
                )
                .await?;
            }
            None => {
                let params: Params = &[&patient_id, a1, a2, a3, a4, a5, a6];
                execute(
                    &self.db,
                    "nominated_pharmacies",
                    "WITH log AS (
                         INSERT INTO record_accesses
                             (patient_id, at_ms, accessed_by, organisation, access_type, method)
                         SELECT $2, $3, $4, $5, $6, $7
                         WHERE EXISTS (SELECT 1 FROM patients WHERE id = $2))
                     DELETE FROM nominated_pharmacies WHERE patient_id = $1",
                    params,
                )
                .await?;
            }
        }
        Ok(())
    }
}
