//! Every scalar parser of the wire on any text: never panics, and what parses formats to text
//! that parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pfs_wire::scalar::{
    Guid, UpperYesNo, YesNo, format_booking, format_date_as_datetime, format_request_time,
    format_wall_clock, parse_date, parse_wall_clock,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = parse_wall_clock(text) {
        for written in [
            format_wall_clock(t),
            format_booking(t),
            format_request_time(t),
        ] {
            let back = parse_wall_clock(&written).expect("a written time parses");
            // Replies carry one digit of a second's fraction; requests and bookings more.
            assert!((back - t).num_milliseconds().abs() < 1000, "{written}");
        }
    }
    if let Ok(d) = parse_date(text) {
        let written = format_date_as_datetime(d);
        assert_eq!(parse_date(&written).ok(), Some(d), "{written}");
    }
    if let Ok(g) = text.parse::<Guid>() {
        assert_eq!(g.to_string().parse::<Guid>().ok(), Some(g));
    }
    let _ = text.parse::<YesNo>();
    let _ = text.parse::<UpperYesNo>();
});
