//! The odd scalars of the PFS wire: GUIDs, `y`/`n` flags and the several date formats.
//!
//! Times on the wire are UK local wall-clock times with a decorative `Z` or `+00:00`; this module
//! only reads and writes the text. Turning wall-clock time into instants (Europe/London) happens
//! in one place in pfs-core.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A value that is not in the expected form (the caller knows which form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadForm;

/// A GUID as used in `uuid` attributes: parsed strictly, written lower-case and hyphenated.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub uuid::Uuid);

impl Guid {
    /// A fresh random GUID.
    pub fn new_v4() -> Self {
        Guid(uuid::Uuid::new_v4())
    }
}

impl FromStr for Guid {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        // .NET writes the hyphenated form; accept braces too, which Guid.Parse accepts.
        let s = s.trim();
        let s = s
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(s);
        if s.len() != 36 {
            return Err(());
        }
        uuid::Uuid::parse_str(s).map(Guid).map_err(|_| ())
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A lower-case `y`/`n` flag (`read`, `requestable`, `retrieveOnly`, …).
///
/// Reading accepts either case, as the real client compares case-insensitively where it reads
/// such flags; writing is always lower-case, which the strict readers require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct YesNo(pub bool);

impl YesNo {
    /// The wire text: `y` or `n`.
    pub fn as_str(self) -> &'static str {
        if self.0 { "y" } else { "n" }
    }
}

impl FromStr for YesNo {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "y" | "Y" => Ok(YesNo(true)),
            "n" | "N" => Ok(YesNo(false)),
            _ => Err(()),
        }
    }
}

/// An upper-case `Y`/`N` flag: `ViewAppointments/@futureAppointments` (wire reference §1.7).
///
/// The real client sends upper case; reading accepts either case so that a hand-written call
/// with `y`/`n` still works, and writing is always upper case (`Y` or `N`), the spelling the
/// real API uses. Kept apart from [`YesNo`] so that no flag can be written in the wrong case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UpperYesNo(pub bool);

impl UpperYesNo {
    /// The wire text: `Y` or `N`.
    pub fn as_str(self) -> &'static str {
        if self.0 { "Y" } else { "N" }
    }
}

impl FromStr for UpperYesNo {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.parse::<YesNo>().map(|YesNo(b)| UpperYesNo(b))
    }
}

/// Parses a UK wall-clock date-time in any form the real clients send or read:
/// `2024-06-03T09:30:00`, with a fraction (`.3`, `.0`, `.123`), with a decorative `Z`, or with
/// a decorative offset such as `+00:00` (the booking format writes `+00:00` even in summer).
pub fn parse_wall_clock(s: &str) -> Result<NaiveDateTime, BadForm> {
    let s = s.trim();
    let s = strip_decoration(s);
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| BadForm)
}

/// Parses a date: `1985-05-29`, or any date-time form [`parse_wall_clock`] accepts (the time of
/// day, normally midnight, is ignored).
pub fn parse_date(s: &str) -> Result<NaiveDate, BadForm> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d);
    }
    parse_wall_clock(t).map(|dt| dt.date())
}

/// Writes a wall-clock time the way replies carry it: `2024-06-03T09:30:00.0Z`.
pub fn format_wall_clock(t: NaiveDateTime) -> String {
    // Written by hand: replies carry many of these and strftime parses its pattern every call.
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes a date as an `xs:dateTime` at midnight, as `Person/@dateOfBirth` requires.
pub fn format_date_as_datetime(d: NaiveDate) -> String {
    format_wall_clock(d.and_time(NaiveTime::MIN))
}

/// Writes a date the way the .NET serializer sends `LinkAccount/@dateOfBirth`: `1985-05-29T00:00:00`.
pub fn format_date_sortable(d: NaiveDate) -> String {
    d.and_time(NaiveTime::MIN)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Writes the booking format: UK local time with a literal `+00:00`.
pub fn format_booking(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Writes the `ListSlots`/`TestResultsView` request format: one fractional digit and a literal `Z`.
pub fn format_request_time(t: NaiveDateTime) -> String {
    let tenth = t.and_utc().timestamp_subsec_millis() / 100;
    format!("{}.{tenth}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

fn strip_decoration(s: &str) -> &str {
    if let Some(x) = s.strip_suffix(['Z', 'z']) {
        return x;
    }
    // A trailing `+HH:MM` / `-HH:MM` (or `+HHMM`) offset is decoration on this wire.
    let bytes = s.as_bytes();
    for len in [6usize, 5] {
        if bytes.len() > len + 10 {
            let tail = &s[s.len() - len..];
            let sign_ok = tail.starts_with('+') || tail.starts_with('-');
            let digits = tail[1..].chars().filter(|c| c.is_ascii_digit()).count();
            let shape_ok = if len == 6 {
                digits == 4 && tail.as_bytes()[3] == b':'
            } else {
                digits == 4
            };
            if sign_ok && shape_ok {
                return &s[..s.len() - len];
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn wall_clock_accepts_every_client_form() {
        let want = dt("2024-06-03 09:30:00");
        for s in [
            "2024-06-03T09:30:00",
            "2024-06-03T09:30:00+00:00",
            "2024-06-03T09:30:00+01:00",
            "2024-06-03T09:30:00.0Z",
            "2024-06-03T09:30:00Z",
            "2024-06-03T09:30:00.000",
            " 2024-06-03T09:30:00.0Z ",
        ] {
            assert_eq!(parse_wall_clock(s), Ok(want), "{s}");
        }
        assert_eq!(
            parse_wall_clock("2024-06-03T14:07:12.3Z")
                .unwrap()
                .and_utc()
                .timestamp_subsec_millis(),
            300
        );
        for bad in [
            "2024-06-03",
            "03/06/2024 09:30",
            "2024-13-03T09:30:00",
            "",
            "2024-06-03T09:30:00+0",
        ] {
            assert!(parse_wall_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_accept_plain_and_datetime_forms() {
        let want = NaiveDate::from_ymd_opt(1985, 5, 29).unwrap();
        for s in [
            "1985-05-29",
            "1985-05-29T00:00:00",
            "1985-05-29T00:00:00.0Z",
            "1985-05-29T00:00:00+00:00",
        ] {
            assert_eq!(parse_date(s), Ok(want), "{s}");
        }
        assert!(parse_date("29/05/1985").is_err());
    }

    #[test]
    fn formats_match_the_wire() {
        let t = dt("2024-06-03 09:30:00");
        assert_eq!(format_wall_clock(t), "2024-06-03T09:30:00.0Z");
        assert_eq!(format_booking(t), "2024-06-03T09:30:00+00:00");
        assert_eq!(format_request_time(t), "2024-06-03T09:30:00.0Z");
        let d = t.date();
        assert_eq!(format_date_as_datetime(d), "2024-06-03T00:00:00.0Z");
        assert_eq!(format_date_sortable(d), "2024-06-03T00:00:00");
    }

    #[test]
    fn guids_and_flags() {
        let g: Guid = "0F5A2C8E-3B7D-4E61-9A20-5C1D8E4F7B93".parse().unwrap();
        assert_eq!(g.to_string(), "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93");
        assert!(
            "{0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93}"
                .parse::<Guid>()
                .is_ok()
        );
        assert!("0f5a2c8e3b7d4e619a205c1d8e4f7b93".parse::<Guid>().is_err());
        assert!("not-a-guid".parse::<Guid>().is_err());
        assert_eq!("Y".parse::<YesNo>(), Ok(YesNo(true)));
        assert_eq!(YesNo(false).as_str(), "n");
        assert!("yes".parse::<YesNo>().is_err());
        for (s, want) in [("Y", true), ("y", true), ("N", false), ("n", false)] {
            assert_eq!(s.parse::<UpperYesNo>(), Ok(UpperYesNo(want)), "{s}");
        }
        assert_eq!(UpperYesNo(true).as_str(), "Y");
        assert_eq!(UpperYesNo(false).as_str(), "N");
        for bad in ["", "yes", "No", "1", "true"] {
            assert!(bad.parse::<UpperYesNo>().is_err(), "{bad}");
        }
    }
}
