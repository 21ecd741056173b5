//! Fuzz target `decode`: the first input byte picks a session (`Ctx`), the rest is what the peer
//! sent. The stream is cut with `frame_len` and every frame decoded; the whole rest is also decoded
//! as one frame. Nothing may panic; every decode error must name a NOTIFICATION with an error code
//! of 1..=7; every decoded message must encode without panicking, and what it encodes to (unless
//! too long) must decode again without a session reset.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wren::wire::{decode, encode_to_vec, frame_len, Ctx, EncodeError, Family};

const FAMILIES: [Family; 4] = [
    Family::IPV4_UNICAST,
    Family::IPV6_UNICAST,
    Family::new(1, 2),
    Family::new(2, 2),
];

/// Bit 0: 4-octet AS; bit 1: iBGP; bit 2: extended messages; bits 3..=6: ADD-PATH per family.
fn ctx_for(sel: u8) -> Ctx {
    let add_path: Vec<Family> = FAMILIES
        .iter()
        .enumerate()
        .filter(|(i, _)| sel & (8 << i) != 0)
        .map(|(_, f)| *f)
        .collect();
    Ctx {
        four_octet_as: sel & 1 != 0,
        ibgp: sel & 2 != 0,
        extended_message: sel & 4 != 0,
        add_path_rx: add_path.clone(),
        add_path_tx: add_path,
    }
}

fn check(frame: &[u8], ctx: &Ctx) {
    match decode(frame, ctx) {
        Err(e) => {
            let n = e.notification();
            assert!(
                (1..=7).contains(&n.code),
                "decode error {e} maps to NOTIFICATION code {}",
                n.code
            );
        }
        Ok(d) => match encode_to_vec(&d.message, ctx) {
            Ok(bytes) => {
                if let Err(e) = decode(&bytes, ctx) {
                    panic!(
                        "decoded {:?} re-encodes to bytes that fail to decode: {e}",
                        d.message
                    );
                }
            }
            Err(EncodeError::TooLong { .. }) => {}
            Err(e) => panic!("decoded {:?} fails to encode: {e}", d.message),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let ctx = ctx_for(sel);
    let mut buf = rest;
    while let Ok(Some(n)) = frame_len(buf, ctx.max_message_len()) {
        let Some((frame, tail)) = buf.split_at_checked(n) else {
            panic!("frame_len returned {n} for a buffer of {}", buf.len());
        };
        check(frame, &ctx);
        buf = tail;
    }
    check(rest, &ctx);
});
