//! `Request::decode` on any body under any `type`: never panics, and what decodes encodes to a
//! body that decodes again. `sniff_root_ids` (fault rules' matching) on the same body never
//! panics either.
//!
//! Input: the `type` header, a newline, then the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pfs_wire::Request;

fuzz_target!(|data: &[u8]| {
    let (message_type, body) = pfs_fuzz::split_type(data);
    let _ = pfs_wire::sniff_root_ids(body);
    if let Ok(request) = Request::decode(message_type, body) {
        let again = request.encode();
        Request::decode(message_type, again.as_bytes()).expect("an encoded request decodes again");
    }
});
