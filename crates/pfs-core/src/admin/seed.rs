//! Seeding synthetic practices and patients in bulk, deterministically from a seed number:
//! the same seed gives the same practices and patients, byte for byte, whatever batches they
//! are written in.
//!
//! Seeded identifiers are built, not drawn, so that they never collide within a seed:
//!
//! * practice `p` (1 to 99): ODS code `S` + the seed's last three digits + `p` in two digits,
//!   e.g. `S04201`;
//! * patient `i` (0 to 99,998) of practice `p`: patient id `5` + the seed's last three digits
//!   + `p` in two + `i` in five (11 digits);
//! * NHS number: the seed's last digit, `p` in two digits, `i` in five, one digit chosen to make
//!   the modulus-11 check work, and the check digit.
//!
//! So two seeds that share their last three digits (for NHS numbers: their last digit) cannot
//! both be seeded into one database: the second is refused as a conflict.

use chrono::{Datelike, Days, NaiveDate};

use super::AdminError;
use crate::model::{Patient, Practice, PracticeSettings};
use crate::{Pfs, StoreError, nhs};

/// Most practices one seed makes.
pub const MAX_SEED_PRACTICES: u32 = 99;
/// Most patients one seed makes per practice.
pub const MAX_SEED_PATIENTS_PER_PRACTICE: u32 = 99_999;
/// Most patients one call writes (one transaction).
pub const MAX_SEED_BATCH: u32 = 10_000;

const FIRST_NAMES: &[&str] = &[
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo",
    "Freya", "Arthur", "Lily", "Muhammad", "Grace", "Oscar", "Sophia", "Charlie", "Rosie", "Jacob",
    "Evie", "Thomas", "Poppy", "Alfie", "Ella", "Henry", "Willow", "Theo", "Florence", "Priya",
    "Aarav", "Fatima", "Kwame", "Siobhan", "Rhys", "Eilidh", "Tomasz", "Zara", "Callum",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Khan", "Ali", "Okafor", "Nowak", "Murphy", "O'Neill", "Campbell",
    "MacLeod", "Singh", "Begum",
];
const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Church Lane",
    "Mill Lane",
    "Park Avenue",
    "Victoria Road",
    "Queen Street",
    "Green Lane",
    "Manor Road",
    "Kings Road",
    "The Crescent",
    "Chapel Street",
];
const TOWNS: &[(&str, &str)] = &[
    ("Leeds", "LS"),
    ("Bradford", "BD"),
    ("Wakefield", "WF"),
    ("Harrogate", "HG"),
    ("York", "YO"),
    ("Halifax", "HX"),
    ("Huddersfield", "HD"),
    ("Sheffield", "S"),
];

/// The ODS code of practice `p` of `seed`.
pub fn seeded_ods(seed: u64, p: u32) -> String {
    format!("S{:03}{p:02}", seed % 1000)
}

/// Practice `p` (1 to [`MAX_SEED_PRACTICES`]) of `seed`.
pub fn seeded_practice(seed: u64, p: u32) -> Practice {
    let (town, area) = pick(&mut rng(seed, p, u32::MAX), TOWNS);
    Practice {
        ods: seeded_ods(seed, p),
        name: format!("{town} Seeded Practice {p}"),
        address: format!("{p} Surgery Road, {town}, {area}{p} 1AA"),
        settings: PracticeSettings::default(),
    }
}

/// Patient `i` (0 to [`MAX_SEED_PATIENTS_PER_PRACTICE`] − 1) of practice `p` of `seed`, born
/// between 0 and 95 years before `today`.
pub fn seeded_patient(seed: u64, p: u32, i: u32, today: NaiveDate) -> Patient {
    let mut r = rng(seed, p, i);
    let female = r.bool();
    let born = today
        .checked_sub_days(Days::new(r.u64(0..95 * 365)))
        .unwrap_or(today);
    let (town, area) = pick(&mut r, TOWNS);
    let title = match (female, today.year() - born.year()) {
        (_, ..=15) => None,
        (true, _) => Some(pick(&mut r, &["Mrs", "Ms", "Miss", "Dr"])),
        (false, _) => Some(pick(&mut r, &["Mr", "Mr", "Mr", "Dr"])),
    };
    Patient {
        id: format!("5{:03}{p:02}{i:05}", seed % 1000),
        ods: seeded_ods(seed, p),
        nhs_number: seeded_nhs_number(seed, p, i),
        title: title.map(str::to_owned),
        first_name: pick(&mut r, FIRST_NAMES).to_owned(),
        last_name: pick(&mut r, LAST_NAMES).to_owned(),
        date_of_birth: born,
        gender: if female { "Female" } else { "Male" }.to_owned(),
        address: format!(
            "{} {}, {town}, {area}{} {}{}{}",
            r.u32(1..200),
            pick(&mut r, STREETS),
            r.u32(1..30),
            r.u32(1..10),
            r.alphabetic().to_ascii_uppercase(),
            r.alphabetic().to_ascii_uppercase(),
        ),
    }
}

/// The NHS number of patient `i` of practice `p` of `seed` (see the module docs).
fn seeded_nhs_number(seed: u64, p: u32, i: u32) -> String {
    let stem = format!("{}{p:02}{i:05}", seed % 10);
    // Changing the free digit (weight 2) moves the sum through ten different residues, so at
    // least nine of the ten choices give a valid check digit.
    (0..10)
        .find_map(|free| nhs::complete(&format!("{stem}{free}")))
        .unwrap_or_default()
}

/// The random stream of one seeded thing: the same for the same (seed, practice, patient).
fn rng(seed: u64, p: u32, i: u32) -> fastrand::Rng {
    fastrand::Rng::with_seed(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(p) << 32 | u64::from(i)),
    )
}

fn pick<T: Copy + Default>(r: &mut fastrand::Rng, from: &[T]) -> T {
    from.get(r.usize(..from.len())).copied().unwrap_or_default()
}

impl Pfs {
    /// Adds practices 1 to `count` of `seed` that do not exist yet; returns their ODS codes,
    /// all `count` of them.
    pub async fn seed_practices(&self, seed: u64, count: u32) -> Result<Vec<String>, AdminError> {
        if !(1..=MAX_SEED_PRACTICES).contains(&count) {
            return Err(AdminError::Invalid(format!(
                "practices must be 1 to {MAX_SEED_PRACTICES}"
            )));
        }
        let mut codes = Vec::new();
        for p in 1..=count {
            let practice = seeded_practice(seed, p);
            if self.store.practice(&practice.ods).await?.is_none() {
                match self.store.insert_practice(&practice).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            codes.push(practice.ods);
        }
        Ok(codes)
    }

    /// Writes patients `from` to `from + count − 1` of practice `p` of `seed`, in one
    /// transaction. `Conflict` if any of them exists (seeded before, or by a seed that shares
    /// its last digits).
    pub async fn seed_patients(
        &self,
        seed: u64,
        p: u32,
        from: u32,
        count: u32,
    ) -> Result<u32, AdminError> {
        if !(1..=MAX_SEED_PRACTICES).contains(&p) {
            return Err(AdminError::Invalid(format!(
                "practice must be 1 to {MAX_SEED_PRACTICES}"
            )));
        }
        if !(1..=MAX_SEED_BATCH).contains(&count) {
            return Err(AdminError::Invalid(format!(
                "count must be 1 to {MAX_SEED_BATCH}"
            )));
        }
        if from.saturating_add(count) > MAX_SEED_PATIENTS_PER_PRACTICE {
            return Err(AdminError::Invalid(format!(
                "a seeded practice holds at most {MAX_SEED_PATIENTS_PER_PRACTICE} patients"
            )));
        }
        if self.store.practice(&seeded_ods(seed, p)).await?.is_none() {
            return Err(AdminError::NotFound(
                "practice (seed the practices first)".into(),
            ));
        }
        let today = crate::uktime::uk_date(self.clock.now());
        let patients: Vec<Patient> = (from..from + count)
            .map(|i| seeded_patient(seed, p, i, today))
            .collect();
        match self.store.insert_patients(&patients).await {
            Ok(()) => Ok(count),
            Err(StoreError::Conflict(_)) => Err(AdminError::Conflict(
                "seeded patients: some exist already (this seed, or one sharing its last digits, was seeded before)".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_patients_and_another_seed_others() {
        let a = seeded_patient(42, 3, 1234, today());
        assert_eq!(a, seeded_patient(42, 3, 1234, today()));
        let b = seeded_patient(43, 3, 1234, today());
        assert_ne!(a.id, b.id);
        assert_ne!(a.nhs_number, b.nhs_number);
        assert_eq!(a.id, "50420301234");
        assert_eq!(a.ods, "S04203");
        assert_eq!(seeded_practice(42, 3), seeded_practice(42, 3));
    }

    #[test]
    fn seeded_nhs_numbers_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for p in [1, 2, 99] {
            for i in (0..MAX_SEED_PATIENTS_PER_PRACTICE).step_by(7) {
                let n = seeded_nhs_number(7, p, i);
                assert!(nhs::is_valid(&n), "{n}");
                assert!(seen.insert(n));
            }
        }
    }

    #[test]
    fn seeded_patients_are_plausible() {
        for i in 0..2_000 {
            let p = seeded_patient(1, 1, i, today());
            assert!(p.date_of_birth <= today());
            assert!(p.date_of_birth >= today() - Days::new(95 * 365));
            assert!(crate::admin::xml_safe("address", &p.address).is_ok());
            assert!(!p.first_name.is_empty() && !p.last_name.is_empty());
        }
    }
}
