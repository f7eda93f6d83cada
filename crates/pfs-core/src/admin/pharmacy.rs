//! The community pharmacy directory on the practice side: importing it from CSV, adding and
//! closing single pharmacies, searching it.
//!
//! The CSV format (docs/admin-api.md): UTF-8, one pharmacy per line, a header line naming the
//! columns `ods_code,name,house_name_flat,street,village,town,county,postcode,telephone` and
//! optionally `status` (`open` or `closed`), in that order. Fields may be quoted with `"` (a
//! quote inside doubled); a field may not span lines. Every line is checked before anything is
//! stored, and an import stores every line or none.

use serde::{Deserialize, Serialize};

use super::{AdminError, xml_safe};
use crate::Pfs;
use crate::demographics::{check_address, normalise_telephone};
use crate::model::*;

/// The CSV header, in order (`status` may be left out).
pub const PHARMACY_CSV_COLUMNS: &[&str] = &[
    "ods_code",
    "name",
    "house_name_flat",
    "street",
    "village",
    "town",
    "county",
    "postcode",
    "telephone",
    "status",
];

/// Longest pharmacy name, in characters.
pub const MAX_PHARMACY_NAME: usize = 100;

/// Most pharmacies one import may hold.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// A pharmacy as the practice side sends it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct NewPharmacy {
    /// ODS code: 3 to 10 letters or digits.
    pub ods: String,
    /// Name.
    pub name: String,
    /// House name or number.
    pub house_name_flat: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// Village or locality.
    pub village: Option<String>,
    /// Town.
    pub town: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Postcode.
    pub postcode: String,
    /// Telephone number (UK).
    pub telephone: Option<String>,
    /// Whether it has closed.
    pub closed: bool,
}

/// One line of a CSV import that cannot be used, with why (never the line's values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineError {
    /// The line number, counting the header as line 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Splits one CSV line into fields; `None` if a quoted field is not closed.
fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            (_, c) => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// Checks a pharmacy and gives it its stored form.
pub fn check_pharmacy(p: NewPharmacy) -> Result<Pharmacy, String> {
    let ods = p.ods.trim().to_ascii_uppercase();
    if !(3..=10).contains(&ods.len()) || !ods.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("ods_code must be 3 to 10 letters or digits".into());
    }
    let name = p.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err("name must not be empty".into());
    }
    if name.chars().count() > MAX_PHARMACY_NAME {
        return Err(format!(
            "name is longer than {MAX_PHARMACY_NAME} characters"
        ));
    }
    for (field, value) in [
        ("name", Some(name.as_str())),
        ("house_name_flat", p.house_name_flat.as_deref()),
        ("street", p.street.as_deref()),
        ("village", p.village.as_deref()),
        ("town", p.town.as_deref()),
        ("county", p.county.as_deref()),
    ] {
        if let Some(v) = value {
            xml_safe(field, v).map_err(|e| e.to_string())?;
        }
    }
    let empty_none = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let address = check_address(
        empty_none(p.house_name_flat).as_deref(),
        empty_none(p.street).as_deref(),
        empty_none(p.village).as_deref(),
        empty_none(p.town).as_deref(),
        empty_none(p.county).as_deref(),
        Some(p.postcode.as_str()),
    )
    .map_err(|e| e.technical())?;
    let telephone = match empty_none(p.telephone) {
        None => None,
        Some(t) => Some(
            normalise_telephone(&t)
                .ok_or_else(|| "telephone is not a UK telephone number".to_owned())?,
        ),
    };
    Ok(Pharmacy {
        ods,
        name,
        address,
        telephone,
        closed_at: None,
    })
}

/// Parses and checks a whole CSV directory: every pharmacy (with whether it is closed), or
/// every line that cannot be used. `progress` is called after each line with the number of
/// lines read so far.
pub fn parse_pharmacy_csv(
    text: &str,
    mut progress: impl FnMut(usize),
) -> Result<Vec<(Pharmacy, bool)>, Vec<LineError>> {
    let mut lines = text.lines().enumerate();
    let header_ok = lines.next().is_some_and(|(_, h)| {
        let names: Vec<String> = h
            .trim_start_matches('\u{feff}')
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        names.len() >= PHARMACY_CSV_COLUMNS.len() - 1
            && names.len() <= PHARMACY_CSV_COLUMNS.len()
            && names.iter().zip(PHARMACY_CSV_COLUMNS).all(|(a, b)| a == b)
    });
    if !header_ok {
        return Err(vec![LineError {
            line: 1,
            message: format!(
                "the first line must be the header {} (status optional)",
                PHARMACY_CSV_COLUMNS.join(",")
            ),
        }]);
    }
    let mut errors = Vec::new();
    let mut out: Vec<(Pharmacy, bool)> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in lines {
        let number = i + 1;
        progress(number);
        if line.trim().is_empty() {
            continue;
        }
        if out.len() >= MAX_IMPORT_ROWS {
            errors.push(LineError {
                line: number,
                message: format!("an import holds at most {MAX_IMPORT_ROWS} pharmacies"),
            });
            break;
        }
        let fail = |message: String| LineError {
            line: number,
            message,
        };
        let Some(f) = split_csv_line(line) else {
            errors.push(fail("a quoted field is not closed".into()));
            continue;
        };
        if !(9..=10).contains(&f.len()) {
            errors.push(fail(format!("expected 9 or 10 fields, found {}", f.len())));
            continue;
        }
        let field = |n: usize| f.get(n).cloned().unwrap_or_default();
        let opt = |n: usize| Some(field(n)).filter(|v| !v.trim().is_empty());
        let closed = match field(9).trim().to_ascii_lowercase().as_str() {
            "" | "open" => false,
            "closed" => true,
            _ => {
                errors.push(fail("status must be open or closed".into()));
                continue;
            }
        };
        match check_pharmacy(NewPharmacy {
            ods: field(0),
            name: field(1),
            house_name_flat: opt(2),
            street: opt(3),
            village: opt(4),
            town: opt(5),
            county: opt(6),
            postcode: field(7),
            telephone: opt(8),
            closed,
        }) {
            Ok(p) => {
                if let Some(first) = seen.insert(p.ods.clone(), number) {
                    errors.push(fail(format!(
                        "ods_code appears again (first on line {first})"
                    )));
                } else {
                    out.push((p, closed));
                }
            }
            Err(message) => errors.push(fail(message)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// Pharmacies written (added or replaced).
    pub imported: usize,
    /// How many pharmacies the directory holds afterwards.
    pub directory_size: u64,
}

impl Pfs {
    /// Imports a CSV directory: every line is checked first, then all are stored in one
    /// transaction (added, or replaced by ODS code). Any bad line: nothing is stored and every
    /// bad line is reported.
    pub async fn import_pharmacies(&self, csv: &str) -> Result<ImportSummary, ImportError> {
        let rows = parse_pharmacy_csv(csv, |_| {}).map_err(ImportError::Lines)?;
        let now = self.clock.now();
        let mut pharmacies: Vec<Pharmacy> = rows
            .into_iter()
            .map(|(p, closed)| Pharmacy {
                closed_at: closed.then_some(now),
                ..p
            })
            .collect();
        // Written in postcode order, the pharmacies of one area sit together in the table, so
        // a search reads a few pages rather than one page per pharmacy.
        pharmacies.sort_by(|a, b| a.address.postcode.cmp(&b.address.postcode));
        self.store
            .upsert_pharmacies(&pharmacies)
            .await
            .map_err(|e| ImportError::Admin(e.into()))?;
        Ok(ImportSummary {
            imported: pharmacies.len(),
            directory_size: self
                .store
                .count_pharmacies()
                .await
                .map_err(|e| ImportError::Admin(e.into()))?,
        })
    }

    /// Adds one pharmacy; `Conflict` if its ODS code exists.
    pub async fn add_pharmacy(&self, p: NewPharmacy) -> Result<Pharmacy, AdminError> {
        let closed = p.closed;
        let mut pharmacy = check_pharmacy(p).map_err(AdminError::Invalid)?;
        if closed {
            pharmacy.closed_at = Some(self.clock.now());
        }
        self.store.insert_pharmacy(&pharmacy).await?;
        Ok(pharmacy)
    }

    /// Marks a pharmacy closed: searches no longer find it and it cannot be nominated.
    pub async fn close_pharmacy(&self, ods: &str) -> Result<Pharmacy, AdminError> {
        let ods = ods.trim().to_ascii_uppercase();
        let now = self.clock.now();
        if !self.store.close_pharmacy(&ods, now).await? {
            return match self.store.pharmacy(&ods).await? {
                Some(_) => Err(AdminError::Conflict(
                    "the pharmacy is already closed".into(),
                )),
                None => Err(AdminError::NotFound("pharmacy".into())),
            };
        }
        self.store
            .pharmacy(&ods)
            .await?
            .ok_or_else(|| AdminError::NotFound("pharmacy".into()))
    }

    /// Sets (or with `None` removes) a patient's nominated pharmacy on the practice side, with
    /// an access-log entry (method `Practice`). The pharmacy must be open.
    pub async fn nominate_pharmacy_as_practice(
        &self,
        patient_id: &str,
        ods: Option<&str>,
    ) -> Result<Option<Pharmacy>, AdminError> {
        let patient = self
            .store
            .patient(patient_id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))?;
        let pharmacy = match ods {
            None => None,
            Some(ods) => {
                let p = self.get_pharmacy(ods).await?;
                if p.closed_at.is_some() {
                    return Err(AdminError::Conflict("the pharmacy has closed".into()));
                }
                Some(p)
            }
        };
        let practice = self.store.practice(&patient.ods).await?;
        let name = practice.map(|p| p.name).unwrap_or_default();
        let now = self.clock.now();
        let log = RecordAccess {
            patient_id: patient.id.clone(),
            at: now,
            accessed_by: if name.is_empty() {
                "Practice staff".to_owned()
            } else {
                name.clone()
            },
            organisation: name,
            access_type: if pharmacy.is_some() {
                "Nominated pharmacy".to_owned()
            } else {
                "Removed nominated pharmacy".to_owned()
            },
            method: "Practice".to_owned(),
        };
        self.store
            .set_nominated_pharmacy(
                &patient.id,
                pharmacy.as_ref().map(|p| p.ods.as_str()),
                now,
                &log,
            )
            .await?;
        Ok(pharmacy)
    }

    /// One pharmacy of the directory.
    pub async fn get_pharmacy(&self, ods: &str) -> Result<Pharmacy, AdminError> {
        self.store
            .pharmacy(&ods.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(|| AdminError::NotFound("pharmacy".into()))
    }
}

/// Why an import stored nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// Lines that cannot be used.
    Lines(Vec<LineError>),
    /// The store failed.
    Admin(AdminError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "ods_code,name,house_name_flat,street,village,town,county,postcode,telephone,status";

    #[test]
    fn csv_lines() {
        assert_eq!(
            split_csv_line(r#"FA1,"Smith, ""The"" Chemist",1,,x"#).unwrap(),
            vec!["FA1", r#"Smith, "The" Chemist"#, "1", "", "x"]
        );
        assert!(split_csv_line(r#"FA1,"open"#).is_none());
        let text = format!(
            "{HEADER}\nFA001,Park Pharmacy,1,Park Road,,Leeds,,ls6 3aa,0113 496 0100,open\nFA002,\"Hill, Chemist\",,Hill Top,,Leeds,,LS16 6EF,,closed\n"
        );
        let rows = parse_pharmacy_csv(&text, |_| {}).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.address.postcode, "LS6 3AA");
        assert_eq!(rows[0].0.telephone.as_deref(), Some("01134960100"));
        assert_eq!(rows[1].0.name, "Hill, Chemist");
        assert!(rows[1].1);
    }

    #[test]
    fn csv_errors_name_lines() {
        let text = format!(
            "{HEADER}\nFA001,Park Pharmacy,1,Park Road,,Leeds,,LS6 3AA,,\nFA002,Bad,1,Road,,Leeds,,NOPE,,\nFA001,Again,1,Road,,Leeds,,LS6 3AA,,\nFA003,Short\n"
        );
        let errors = parse_pharmacy_csv(&text, |_| {}).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(errors[0].message.contains("postcode"), "{}", errors[0]);
        assert!(!errors[0].message.contains("NOPE"));
        let errors = parse_pharmacy_csv("ods,name\n", |_| {}).unwrap_err();
        assert_eq!(errors[0].line, 1);
    }
}
