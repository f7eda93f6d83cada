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

/// The earliest year a date or time on the wire may have.
pub const MIN_YEAR: i32 = 1900;
/// The latest year a date or time on the wire may have. Together with [`MIN_YEAR`] this keeps
/// every date far inside chrono's range, so no arithmetic on a date read from the wire
/// (booking windows, slot grids, ages) can overflow.
pub const MAX_YEAR: i32 = 2199;
/// The most digits a fraction of a second may have (nanoseconds, chrono's precision).
pub const MAX_FRACTION_DIGITS: usize = 9;

/// Whether `year` is in the range dates and times on the wire may have
/// ([`MIN_YEAR`]–[`MAX_YEAR`]).
pub fn is_supported_year(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

/// Parses a UK wall-clock date-time in any form the real clients send or read:
/// `2024-06-03T09:30:00`, with a fraction of 1 to 9 digits (`.3`, `.0`, `.123`), with a
/// decorative `Z`, or with a decorative offset `+HH:MM`, `-HH:MM`, `+HHMM` or `-HHMM` (the
/// booking format writes `+00:00` even in summer). Fields have exactly the digits shown, the
/// year is within [`MIN_YEAR`]–[`MAX_YEAR`], and seconds run to 59 (no leap seconds).
pub fn parse_wall_clock(s: &str) -> Result<NaiveDateTime, BadForm> {
    let b = s.trim().as_bytes();
    let date = date_at(b)?;
    if b.get(10) != Some(&b'T') {
        return Err(BadForm);
    }
    let hour = number(b, 11, 2)?;
    let minute = after(b, 13, b':', 2)?;
    let second = after(b, 16, b':', 2)?;
    let mut rest = b.get(19..).ok_or(BadForm)?;
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=MAX_FRACTION_DIGITS).contains(&digits) {
            return Err(BadForm);
        }
        let value = number(fraction, 0, digits)?;
        let scale = 10u32.pow((MAX_FRACTION_DIGITS - digits) as u32);
        nanos = value * scale;
        rest = fraction.get(digits..).ok_or(BadForm)?;
    }
    if !is_decoration(rest) {
        return Err(BadForm);
    }
    // Seconds above 59 are refused here: the nanoseconds never reach chrono's leap-second range.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or(BadForm)?;
    Ok(date.and_time(time))
}

/// Parses a date: `1985-05-29`, or any date-time form [`parse_wall_clock`] accepts (the time of
/// day, normally midnight, is ignored). The year is within [`MIN_YEAR`]–[`MAX_YEAR`].
pub fn parse_date(s: &str) -> Result<NaiveDate, BadForm> {
    let t = s.trim();
    if t.len() == 10 {
        return date_at(t.as_bytes());
    }
    parse_wall_clock(t).map(|dt| dt.date())
}

/// `YYYY-MM-DD` at the start of `b`, with the year in the supported range.
fn date_at(b: &[u8]) -> Result<NaiveDate, BadForm> {
    let year = i32::try_from(number(b, 0, 4)?).map_err(|_| BadForm)?;
    let month = after(b, 4, b'-', 2)?;
    let day = after(b, 7, b'-', 2)?;
    if !is_supported_year(year) {
        return Err(BadForm);
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(BadForm)
}

/// Exactly `len` ASCII digits at `at` (at most 9, so the value fits).
fn number(b: &[u8], at: usize, len: usize) -> Result<u32, BadForm> {
    let digits = b.get(at..at + len).ok_or(BadForm)?;
    if len == 0 || len > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(BadForm);
    }
    Ok(digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// The separator `sep` at `at`, then exactly `len` digits.
fn after(b: &[u8], at: usize, sep: u8, len: usize) -> Result<u32, BadForm> {
    if b.get(at) != Some(&sep) {
        return Err(BadForm);
    }
    number(b, at + 1, len)
}

/// What may follow the seconds (and fraction): nothing, `Z`/`z`, or an offset `+HH:MM`,
/// `-HH:MM`, `+HHMM`, `-HHMM`; the offset is decoration on this wire and is not applied.
fn is_decoration(rest: &[u8]) -> bool {
    match rest {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] | [b'+' | b'-', h1, h2, m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
        }
        _ => false,
    }
}

/// Writes a wall-clock time the way replies carry it: `2024-06-03T09:30:00.0Z`.
pub fn format_wall_clock(t: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
        // Never stored (the wire's years are MIN_YEAR..=MAX_YEAR), but written all the same.
        return t.format("%Y-%m-%dT%H:%M:%S.0Z").to_string();
    };
    // Digit by digit: replies carry many of these, and `format!` with padded fields took ten
    // times as many instructions (docs/benchmarks.md, "Instructions per request").
    let mut out = String::with_capacity(22);
    let fields = [
        (year, 4, '-'),
        (t.month(), 2, '-'),
        (t.day(), 2, 'T'),
        (t.hour(), 2, ':'),
        (t.minute(), 2, ':'),
        (t.second(), 2, '.'),
    ];
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(then);
    }
    out.push_str("0Z");
    out
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn wall_clock_is_strict_and_total() {
        // Fractions: 1 to 9 digits, kept to the nanosecond.
        let t = parse_wall_clock("2024-06-03T09:30:00.123456789Z").unwrap();
        assert_eq!(t.and_utc().timestamp_subsec_nanos(), 123_456_789);
        let t = parse_wall_clock("2024-06-03T09:30:00.5-05:00").unwrap();
        assert_eq!(t.and_utc().timestamp_subsec_millis(), 500);
        assert!(parse_wall_clock("2024-06-03T09:30:00+0100").is_ok());
        assert!(parse_wall_clock("1900-01-01T00:00:00").is_ok());
        assert!(parse_wall_clock("2199-12-31T23:59:59.999999999").is_ok());
        for bad in [
            "2024-06-03T09:30:00.1234567890",
            "2024-06-03T09:30:00.123456789012345678901234567890Z",
            "2024-06-03T09:30:00.",
            "2024-06-03T09:30:00.Z",
            "2024-06-03T09:30:60",
            "2024-06-03T24:00:00",
            "2024-06-03T09:60:00",
            "2024-02-30T09:30:00",
            "2024-6-3T9:30:00",
            "2024-06-03 09:30:00",
            "2024-06-03t09:30:00",
            "+2024-06-03T09:30:00",
            "12024-06-03T09:30:00",
            "1899-12-31T23:59:59",
            "2200-01-01T00:00:00",
            "9999-12-31T00:00:00",
            "2024-06-03T09:30:00ZZ",
            "2024-06-03T09:30:00+00:0",
            "2024-06-03T09:30:00+0a:00",
            "2024-06-03T09:30:00 Z",
            "2024-06-03é12345",
            "2024-06-03T09:30:00+00:00é",
            "éééééééééééééééééééé",
            "2024-06-03T09:30:0é",
            "２０２４-06-03T09:30:00",
        ] {
            assert_eq!(parse_wall_clock(bad), Err(BadForm), "{bad}");
            assert_eq!(parse_date(bad), Err(BadForm), "{bad}");
        }
    }

    #[test]
    fn dates_are_in_the_supported_range() {
        assert!(parse_date("1900-01-01").is_ok());
        assert!(parse_date("2199-12-31").is_ok());
        for bad in [
            "1899-12-31",
            "2200-01-01",
            "0000-01-01",
            "9999-12-31",
            "2024-13-01",
        ] {
            assert_eq!(parse_date(bad), Err(BadForm), "{bad}");
        }
        // Multi-byte text of every length around the date's 10 bytes.
        for n in 0..16 {
            assert_eq!(parse_date(&"é".repeat(n)), Err(BadForm));
            assert_eq!(
                parse_date(&format!("2024-06-0{}", "é".repeat(n))),
                Err(BadForm)
            );
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

    proptest::proptest! {
        /// The hand-written formatter writes what chrono's pattern does, for every time.
        #[test]
        fn wall_clock_is_written_as_chrono_writes_it(secs in -80_000_000_000i64..300_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            let want = t.format("%Y-%m-%dT%H:%M:%S.0Z").to_string();
            proptest::prop_assert_eq!(format_wall_clock(t), want);
        }
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
