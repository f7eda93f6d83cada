//! Calendar dates as both backends store them in text: `YYYY-MM-DD`.
//!
//! Written and read by hand rather than through chrono's format strings, which interpret the
//! pattern on every call: a medication list reads two dates per course, and the pattern
//! parser was a twentieth of the whole request's instructions (callgrind, docs/benchmarks.md).

use chrono::{Datelike, NaiveDate};

/// `date` as `YYYY-MM-DD` (years 0–9999, which is all the store holds).
pub(crate) fn date_text(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// A `YYYY-MM-DD` date; `None` for anything else, including a day the calendar lacks.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_agree_with_chrono() {
        for text in [
            "2026-11-25",
            "2024-02-29",
            "0001-01-01",
            "9999-12-31",
            "2000-01-09",
        ] {
            let date = parse_date(text).unwrap();
            assert_eq!(date_text(date), text);
            assert_eq!(date, NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap());
        }
        for bad in [
            "",
            "2026-11-2",
            "2026-11-250",
            "2026/11/25",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-11-00",
            "+026-11-25",
            "2026-1a-25",
            "２０２６-11-25",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }
}
