//! The one place that turns instants into UK wall-clock time and back.
//!
//! The PFS wire speaks Europe/London local time with a decorative `Z`; the store keeps instants.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;

/// The UK wall-clock time of an instant.
pub fn to_wall_clock(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&London).naive_local()
}

/// The UK calendar date of an instant.
pub fn uk_date(t: DateTime<Utc>) -> NaiveDate {
    to_wall_clock(t).date()
}

/// The instant of a UK wall-clock time. In the autumn hour that happens twice the earlier
/// (BST) instant is taken; a time in the skipped spring hour is read as if the clocks had not
/// yet gone forward (GMT), which lands one hour later in BST.
pub fn to_instant(t: NaiveDateTime) -> DateTime<Utc> {
    match London.from_local_datetime(&t) {
        LocalResult::Single(x) => x.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => Utc.from_utc_datetime(&t),
    }
}

/// Whole years from `birth` to `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    today.years_since(birth).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn summer_and_winter() {
        let summer = to_instant(wall("2024-06-03 09:30"));
        assert_eq!(summer.to_rfc3339(), "2024-06-03T08:30:00+00:00");
        assert_eq!(to_wall_clock(summer), wall("2024-06-03 09:30"));
        let winter = to_instant(wall("2024-12-03 09:30"));
        assert_eq!(winter.to_rfc3339(), "2024-12-03T09:30:00+00:00");
    }

    #[test]
    fn across_the_changes() {
        // 31 March 2024: 01:00 GMT -> 02:00 BST (local 01:00-02:00 skipped). 27 October 2024: 02:00 BST -> 01:00 GMT.
        assert_eq!(
            to_instant(wall("2024-03-31 00:30")).to_rfc3339(),
            "2024-03-31T00:30:00+00:00"
        );
        // 01:30 does not exist that morning: read as GMT.
        assert_eq!(
            to_instant(wall("2024-03-31 01:30")).to_rfc3339(),
            "2024-03-31T01:30:00+00:00"
        );
        assert_eq!(
            to_instant(wall("2024-03-31 02:30")).to_rfc3339(),
            "2024-03-31T01:30:00+00:00"
        );
        assert_eq!(
            to_instant(wall("2024-10-27 01:30")).to_rfc3339(),
            "2024-10-27T00:30:00+00:00"
        );
        assert_eq!(
            to_instant(wall("2024-10-27 02:30")).to_rfc3339(),
            "2024-10-27T02:30:00+00:00"
        );
    }

    #[test]
    fn ages() {
        let b = NaiveDate::from_ymd_opt(2010, 5, 29).unwrap();
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 5, 28).unwrap()), 15);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 5, 29).unwrap()), 16);
    }
}
