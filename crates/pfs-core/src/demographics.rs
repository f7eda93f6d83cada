//! Demographics: `RetrieveDemographics` and `ChangeDemographics` (wire reference B.10, B.11),
//! and the rules for UK postcodes, UK telephone numbers and e-mail addresses that the practice
//! side and the pharmacy directory share.
//!
//! A change replaces any of the address, the telephone numbers and the e-mail address. It is
//! checked whole before anything is stored (one bad number refuses the whole change), in a fixed
//! order so that each refusal has its own code: name or date of birth named, nothing to change,
//! lengths, address complete, postcode, telephone numbers, e-mail address. The practice's
//! `demographicsApproval` setting decides whether it applies at once (`Applied`) or waits
//! (`PendingApproval`); a new change replaces one still waiting (`Superseded`).

use chrono::{DateTime, Utc};
use pfs_wire::codes::{MAX_ADDRESS_PART, MAX_EMAIL_ADDRESS, MAX_TELEPHONE_NUMBERS};
use pfs_wire::{
    Address, ChangeDemographics, ChangeDemographicsReply, ChangeStatus, DemographicsChange,
    DemographicsPerson, PersonName, RetrieveDemographics, RetrieveDemographicsReply,
    TelephoneNumber,
};

use crate::error::DomainError;
use crate::model::{
    ContactChange, ContactDetails, ContactWrite, DemographicsChangeRecord, Patient, PostalAddress,
    Telephone,
};
use crate::operation::{Access, Call, Operation};
use crate::secrets::{Attempt, with_fresh_id};
use crate::uktime::to_wall_clock;
use crate::{Pfs, StoreError};

/// Digits of a new change id.
const CHANGE_ID_DIGITS: usize = 9;

/// How many of a patient's changes `RetrieveDemographicsReply` lists.
pub const LISTED_CHANGES: u32 = 10;

/// The `addressType` written for a patient's address.
const HOME: &str = "Home";

// ---------------------------------------------------------------------------------------------
// UK postcodes
// ---------------------------------------------------------------------------------------------

/// Postcodes of the British Overseas Territories and the other non-geographic forms Royal Mail
/// accepts besides `GIR 0AA`, without their space.
const SPECIAL_POSTCODES: &[(&str, &str)] = &[
    ("GIR0AA", "GIR 0AA"),
    ("SANTA1", "SAN TA1"),
    ("ASCN1ZZ", "ASCN 1ZZ"),
    ("BBND1ZZ", "BBND 1ZZ"),
    ("BIQQ1ZZ", "BIQQ 1ZZ"),
    ("FIQQ1ZZ", "FIQQ 1ZZ"),
    ("PCRN1ZZ", "PCRN 1ZZ"),
    ("SIQQ1ZZ", "SIQQ 1ZZ"),
    ("STHL1ZZ", "STHL 1ZZ"),
    ("TDCU1ZZ", "TDCU 1ZZ"),
    ("TKCA1ZZ", "TKCA 1ZZ"),
];

/// Letters that may stand first in a postcode area.
fn first_letter(c: char) -> bool {
    c.is_ascii_uppercase() && !matches!(c, 'Q' | 'V' | 'X')
}

/// Letters that may stand second in a postcode area.
fn second_letter(c: char) -> bool {
    c.is_ascii_uppercase() && !matches!(c, 'I' | 'J' | 'Z')
}

/// The outward code (area and district: `LS6`, `EC1A`, `W1`) in upper case without spaces, if
/// `s` is one.
fn outward_shape(s: &[char]) -> bool {
    let digit = |c: &char| c.is_ascii_digit();
    match s {
        // A9, A99, A9A
        [a, d] => first_letter(*a) && digit(d),
        [a, d, x] => {
            first_letter(*a)
                && digit(d)
                && (digit(x) || matches!(x, 'A'..='H' | 'J' | 'K' | 'P' | 'S' | 'T' | 'U' | 'W'))
                || first_letter(*a) && second_letter(*d) && digit(x)
        }
        // AA99, AA9A
        [a, b, d, x] => {
            first_letter(*a)
                && second_letter(*b)
                && digit(d)
                && (digit(x)
                    || matches!(
                        x,
                        'A' | 'B' | 'E' | 'H' | 'M' | 'N' | 'P' | 'R' | 'V' | 'W' | 'X' | 'Y'
                    ))
        }
        _ => false,
    }
}

/// Letters that may end a postcode (the inward unit).
fn unit_letter(c: char) -> bool {
    c.is_ascii_uppercase() && !matches!(c, 'C' | 'I' | 'K' | 'M' | 'O' | 'V')
}

/// `s` as a UK postcode in its normal form (upper case, one space before the last three
/// characters: `LS6 3AA`), if it is one: any case and any spacing are accepted, as are the
/// special forms (`GIR 0AA`, the overseas territories' `ASCN 1ZZ` and the like, `SAN TA1`).
pub fn normalise_postcode(s: &str) -> Option<String> {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if let Some((_, normal)) = SPECIAL_POSTCODES.iter().find(|(k, _)| *k == compact) {
        return Some((*normal).to_owned());
    }
    let chars: Vec<char> = compact.chars().collect();
    if !(5..=7).contains(&chars.len()) {
        return None;
    }
    let (outward, inward) = chars.split_at(chars.len() - 3);
    let inward_ok =
        matches!(inward, [d, x, y] if d.is_ascii_digit() && unit_letter(*x) && unit_letter(*y));
    if !inward_ok || !outward_shape(outward) {
        return None;
    }
    let outward: String = outward.iter().collect();
    let inward: String = inward.iter().collect();
    Some(format!("{outward} {inward}"))
}

/// `s` as an outward code (`LS6`, `EC1A`) in upper case, if it is one.
pub fn normalise_outward_code(s: &str) -> Option<String> {
    let chars: Vec<char> = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    outward_shape(&chars).then(|| chars.iter().collect())
}

// ---------------------------------------------------------------------------------------------
// UK telephone numbers
// ---------------------------------------------------------------------------------------------

/// `s` as a UK telephone number in its normal form, the national digits (`07700900123`), if
/// it is one. Spaces, hyphens, dots and brackets are allowed; `+44` and `0044` stand for the
/// leading `0` (with an optional `(0)` after them). The number must be `0` then 9 or 10 digits,
/// not `00`, `04` or `06`; numbers starting `02`, `03`, `05`, `07`, `08` or `09` have 11 digits,
/// except freephone `0800` numbers, which may have 10.
pub fn normalise_telephone(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'))
        || s.chars().skip(1).any(|c| c == '+')
    {
        return None;
    }
    let international = s.starts_with('+') || s.starts_with("00");
    let s = if international {
        s.replacen("(0)", "", 1)
    } else {
        s.to_owned()
    };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let national = if s.starts_with('+') {
        format!("0{}", digits.strip_prefix("44")?)
    } else if let Some(rest) = digits.strip_prefix("0044") {
        format!("0{rest}")
    } else {
        digits
    };
    let mut chars = national.chars();
    if chars.next() != Some('0') {
        return None;
    }
    let len = national.len();
    match chars.next()? {
        '1' if len == 10 || len == 11 => Some(national),
        '2' | '3' | '5' | '7' | '8' | '9' if len == 11 => Some(national),
        // Some freephone numbers are 0800 and six digits.
        '8' if len == 10 && national.starts_with("0800") => Some(national),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses
// ---------------------------------------------------------------------------------------------

/// `s` as an e-mail address (surrounding space removed, domain in lower case), if it has the
/// shape local-part@domain: a dot-atom local part of at most 64 characters, and a domain of at
/// least two labels of letters, digits and inner hyphens, the last all letters.
pub fn normalise_email(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.split_once('@')?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(atext));
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()));
    (local_ok && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok)
        .then(|| format!("{local}@{domain}"))
}

// ---------------------------------------------------------------------------------------------
// Checking a change
// ---------------------------------------------------------------------------------------------

/// Text with runs of white space made one space and the ends trimmed; `None` when empty.
fn tidy(s: Option<&str>) -> Option<String> {
    let t = s?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

/// An address part, tidied and within [`MAX_ADDRESS_PART`].
fn part(field: &'static str, s: Option<&str>) -> Result<Option<String>, DomainError> {
    let t = tidy(s);
    if t.as_ref()
        .is_some_and(|t| t.chars().count() > MAX_ADDRESS_PART)
    {
        return Err(DomainError::DemographicsFieldTooLong {
            field,
            max: MAX_ADDRESS_PART,
        });
    }
    Ok(t)
}

/// The parts of an address checked: lengths, completeness, postcode. `address` (the one-line
/// form) is not read: the server writes it from the parts.
pub fn check_address(
    house_name_flat: Option<&str>,
    street: Option<&str>,
    village: Option<&str>,
    town: Option<&str>,
    county: Option<&str>,
    postcode: Option<&str>,
) -> Result<PostalAddress, DomainError> {
    let house_name_flat = part("houseNameFlat", house_name_flat)?;
    let street = part("street", street)?;
    let village = part("village", village)?;
    let town = part("town", town)?;
    let county = part("county", county)?;
    if tidy(postcode).is_some_and(|p| p.chars().count() > 10) {
        return Err(DomainError::DemographicsFieldTooLong {
            field: "postcode",
            max: 10,
        });
    }
    if house_name_flat.is_none() && street.is_none() {
        return Err(DomainError::AddressIncomplete(
            "Address needs houseNameFlat or street",
        ));
    }
    let postcode = tidy(postcode).ok_or(DomainError::AddressIncomplete(
        "Address/@postcode is required",
    ))?;
    let postcode = normalise_postcode(&postcode).ok_or(DomainError::InvalidPostcode(
        "Address/@postcode is not a UK postcode",
    ))?;
    Ok(PostalAddress {
        house_name_flat,
        street,
        village,
        town,
        county,
        postcode,
    })
}

/// Telephone numbers checked and normalised: at most [`MAX_TELEPHONE_NUMBERS`], each a UK
/// number (a number given twice is kept once).
pub fn check_telephones(
    numbers: impl IntoIterator<Item = (String, pfs_wire::TelephoneType)>,
) -> Result<Vec<Telephone>, DomainError> {
    let mut out: Vec<Telephone> = Vec::new();
    for (number, number_type) in numbers {
        let number = normalise_telephone(&number).ok_or(DomainError::InvalidTelephoneNumber(
            "a TelephoneNumber/@number is not a UK telephone number",
        ))?;
        if !out.iter().any(|t| t.number == number) {
            out.push(Telephone {
                number,
                number_type,
            });
        }
    }
    if out.len() > MAX_TELEPHONE_NUMBERS {
        return Err(DomainError::InvalidTelephoneNumber(
            "TelephoneNumbers holds more than 5 numbers",
        ));
    }
    Ok(out)
}

/// An e-mail address checked and normalised.
pub fn check_email(email: &str) -> Result<String, DomainError> {
    if email.trim().chars().count() > MAX_EMAIL_ADDRESS {
        return Err(DomainError::DemographicsFieldTooLong {
            field: "EmailAddress/@address",
            max: MAX_EMAIL_ADDRESS,
        });
    }
    normalise_email(email).ok_or(DomainError::InvalidEmailAddress(
        "EmailAddress/@address is not of the form local-part@domain",
    ))
}

/// The change a `ChangeDemographics` asks for, checked whole.
pub fn check_change(m: &ChangeDemographics) -> Result<ContactChange, DomainError> {
    if m.person_name.is_some() {
        return Err(DomainError::DemographicsNotChangeable(
            "PersonName cannot be changed online; the patient must ask the practice",
        ));
    }
    if m.date_of_birth.is_some() {
        return Err(DomainError::DemographicsNotChangeable(
            "dateOfBirth cannot be changed online; the patient must ask the practice",
        ));
    }
    if m.address.is_none() && m.telephone_numbers.is_none() && m.email_address.is_none() {
        return Err(DomainError::NothingToChange);
    }
    let address = m
        .address
        .as_ref()
        .map(|a: &Address| {
            check_address(
                a.house_name_flat.as_deref(),
                a.street.as_deref(),
                a.village.as_deref(),
                a.town.as_deref(),
                a.county.as_deref(),
                a.postcode.as_deref(),
            )
        })
        .transpose()?;
    let telephones = m
        .telephone_numbers
        .as_ref()
        .map(|t| {
            check_telephones(
                t.iter()
                    .map(|n: &TelephoneNumber| (n.number.clone(), n.number_type)),
            )
        })
        .transpose()?;
    let email = match &m.email_address {
        None => None,
        Some(None) => Some(None),
        Some(Some(e)) => Some(Some(check_email(e)?)),
    };
    Ok(ContactChange {
        address,
        telephones,
        email,
    })
}

/// The contact details and one-line address a patient has after `change`.
pub fn contact_write(
    patient: &Patient,
    held: &ContactDetails,
    change: &ContactChange,
    at: DateTime<Utc>,
) -> ContactWrite {
    let details = change.applied_to(held);
    ContactWrite {
        at,
        patient_id: patient.id.clone(),
        one_line_address: details
            .address
            .as_ref()
            .map(PostalAddress::one_line)
            .unwrap_or_else(|| patient.address.clone()),
        details,
    }
}

// ---------------------------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------------------------

impl Operation for RetrieveDemographics {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<RetrieveDemographicsReply, DomainError> {
        pfs.retrieve_demographics(call).await
    }
}

impl Operation for ChangeDemographics {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ChangeDemographicsReply, DomainError> {
        pfs.change_demographics(call, self).await
    }
}

/// The `Person` of a `RetrieveDemographicsReply`.
pub fn demographics_person(patient: &Patient, details: &ContactDetails) -> DemographicsPerson {
    let address = match &details.address {
        Some(a) => Address {
            address: patient.address.clone(),
            house_name_flat: a.house_name_flat.clone(),
            street: a.street.clone(),
            village: a.village.clone(),
            town: a.town.clone(),
            county: a.county.clone(),
            postcode: Some(a.postcode.clone()),
            address_type: Some(HOME.to_owned()),
        },
        None => Address {
            address: patient.address.clone(),
            address_type: Some(HOME.to_owned()),
            ..Address::default()
        },
    };
    DemographicsPerson {
        patient_id: patient.id.clone(),
        date_of_birth: patient.date_of_birth,
        gender: patient.gender.clone(),
        nhs_number: Some(patient.nhs_number.clone()),
        name: PersonName {
            name: patient.display_name(),
            title: patient.title.clone().filter(|t| !t.is_empty()),
            forenames: Some(patient.first_name.clone()),
            surname: Some(patient.last_name.clone()),
        },
        address: Some(address),
        telephone_numbers: details
            .telephones
            .iter()
            .map(|t| TelephoneNumber {
                number: t.number.clone(),
                number_type: t.number_type,
            })
            .collect(),
        email_address: details.email.clone(),
    }
}

/// A stored change as the patient sees it.
fn listed_change(c: &DemographicsChangeRecord) -> DemographicsChange {
    DemographicsChange {
        change_id: c.id.clone(),
        date_requested: to_wall_clock(c.requested_at),
        status: c.status,
        status_date: to_wall_clock(c.status_at),
        practice_comment: c.practice_comment.clone(),
    }
}

impl Pfs {
    pub(crate) async fn retrieve_demographics(
        &self,
        call: &Call<'_>,
    ) -> Result<RetrieveDemographicsReply, DomainError> {
        let context = call.patient()?;
        let patient = &context.patient;
        let details = self
            .store
            .contact_details(&patient.id)
            .await?
            .unwrap_or_default();
        let changes = self
            .store
            .demographics_changes(&patient.id, LISTED_CHANGES)
            .await?;
        self.log_online_read(call, "Viewed demographics").await?;
        Ok(RetrieveDemographicsReply {
            scope: None,
            uuid: None,
            person: demographics_person(patient, &details),
            changes: changes.iter().map(listed_change).collect(),
        })
    }

    pub(crate) async fn change_demographics(
        &self,
        call: &Call<'_>,
        m: &ChangeDemographics,
    ) -> Result<ChangeDemographicsReply, DomainError> {
        let s = call.session()?;
        let change = check_change(m)?;
        let context = call.patient()?;
        let patient = &context.patient;
        let apply_now = !context.practice.settings.demographics_approval;
        let now = self.clock.now();
        let (status, write, access_type) = if apply_now {
            let held = self
                .store
                .contact_details(&patient.id)
                .await?
                .unwrap_or_default();
            (
                ChangeStatus::Applied,
                Some(contact_write(patient, &held, &change, now)),
                "Changed contact details",
            )
        } else {
            (
                ChangeStatus::PendingApproval,
                None,
                "Asked to change contact details",
            )
        };
        let log = self
            .online_access(s, call.caller, patient, &context.practice, access_type)
            .await?;
        let stored = with_fresh_id(CHANGE_ID_DIGITS, |id| {
            let record = DemographicsChangeRecord {
                id,
                patient_id: patient.id.clone(),
                requested_by: s.record.online_user_id.clone(),
                requested_at: now,
                change: change.clone(),
                status,
                status_at: now,
                practice_comment: None,
            };
            let write = write.clone();
            let log = log.clone();
            async move {
                match self
                    .store
                    .insert_demographics_change(&record, write.as_ref(), &log)
                    .await
                {
                    Ok(()) => Ok(Attempt::Done(record.id)),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(DomainError::from(e)),
                }
            }
        })
        .await?
        .ok_or_else(|| DomainError::Unavailable("no free change id".into()))?;
        Ok(ChangeDemographicsReply {
            scope: None,
            uuid: None,
            status,
            change_id: stored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes() {
        for (given, normal) in [
            ("LS6 3AA", "LS6 3AA"),
            ("ls63aa", "LS6 3AA"),
            ("  sw1a   1aa ", "SW1A 1AA"),
            ("EC1A 1BB", "EC1A 1BB"),
            ("W1A 0AX", "W1A 0AX"),
            ("M1 1AE", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("gir 0aa", "GIR 0AA"),
            ("GIR0AA", "GIR 0AA"),
            ("ASCN 1ZZ", "ASCN 1ZZ"),
            ("stHL1zz", "STHL 1ZZ"),
            ("SAN TA1", "SAN TA1"),
        ] {
            assert_eq!(
                normalise_postcode(given).as_deref(),
                Some(normal),
                "{given}"
            );
        }
        for bad in [
            "", "LS6", "LS6 3A", "LS6 3AAA", "QS6 3AA", "LS6 3CA", "LS6 AAA", "6LS 3AA", "LS6-3AA",
            "L 3AA", "LSS6 3AA", "AZ1 1AA", "LS6 3ÄA", "12345", "GIR 0AB",
        ] {
            assert_eq!(normalise_postcode(bad), None, "{bad}");
        }
        assert_eq!(normalise_outward_code("ls6").as_deref(), Some("LS6"));
        assert_eq!(normalise_outward_code("EC1A").as_deref(), Some("EC1A"));
        assert_eq!(normalise_outward_code("LS6 3AA"), None);
    }

    #[test]
    fn telephones() {
        for (given, normal) in [
            ("07700 900123", "07700900123"),
            ("+44 7700 900123", "07700900123"),
            ("+44 (0)7700 900123", "07700900123"),
            ("0044 7700 900123", "07700900123"),
            ("(0113) 496-0000", "01134960000"),
            ("020 7946 0000", "02079460000"),
            ("01632 960000", "01632960000"),
            ("016977 3456", "0169773456"),
            ("0300.123.4567", "03001234567"),
            ("0800 123 456", "0800123456"),
            ("0800 123 4567", "08001234567"),
        ] {
            assert_eq!(
                normalise_telephone(given).as_deref(),
                Some(normal),
                "{given}"
            );
        }
        for bad in [
            "",
            "12345",
            "0770090012",
            "077009001234",
            "+33 1 23 45 67 89",
            "0044",
            "00 1234",
            "07700 9OO123",
            "0620 123 4567",
            "0420 123 4567",
            "+44+7700900123",
            "999",
            "0800 12345a",
            "0845 123 456",
            "0800 12 345",
        ] {
            assert_eq!(normalise_telephone(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails() {
        for (given, normal) in [
            ("ada@example.org", "ada@example.org"),
            (
                " Ada.Lovelace+pfs@Example.CO.UK ",
                "Ada.Lovelace+pfs@example.co.uk",
            ),
            (
                "o'neil@mail-server.example.com",
                "o'neil@mail-server.example.com",
            ),
        ] {
            assert_eq!(normalise_email(given).as_deref(), Some(normal), "{given}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "ada@@example.org",
            "ada@example..org",
            ".ada@example.org",
            "ada.@example.org",
            "a..b@example.org",
            "ada@-example.org",
            "ada@example.org-",
            "ada example@example.org",
            "ada@example.c0m",
            "ada@exa_mple.org",
            "ada@example.o",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn one_line_address() {
        let a = PostalAddress {
            house_name_flat: Some("14".into()),
            street: Some("Mill Lane".into()),
            village: None,
            town: Some("Leeds".into()),
            county: None,
            postcode: "LS6 3AA".into(),
        };
        assert_eq!(a.one_line(), "14 Mill Lane, Leeds, LS6 3AA");
    }
}
