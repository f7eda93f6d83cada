//! The whole request path after TLS (`Pfs::serve`: decode, provider, session, dispatch, every
//! operation, the reply) on a real SQLite store with the demo practice, inside a live session:
//! never panics, and every answer is a well-formed reply or `Error`.
//!
//! Input: the `type` header, a newline, then the body; `$P` and `$Q` in the body stand for the
//! session's patient and a patient it may act for.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pfs_wire::{Element, WireMessage};

fuzz_target!(|data: &[u8]| {
    let world = pfs_fuzz::world();
    let (message_type, body) = pfs_fuzz::split_type(data);
    let body = world.fill(body);
    // Logoff and ResetOnlineAccount would end the one session; every other message may run.
    if message_type == "Logoff" || message_type == "ResetOnlineAccount" {
        return;
    }
    let served = world.runtime.block_on(world.pfs().serve(
        Some(&world.fingerprint),
        Some(message_type),
        Some(&world.suid),
        &body,
    ));
    let written = match served.result {
        Ok(reply) => reply.body.to_document(),
        Err(e) => e.to_reply(Some(message_type), served.uuid).encode(),
    };
    Element::parse(written.as_bytes()).expect("every reply is well-formed XML");
});
