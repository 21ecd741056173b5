//! Property tests of the wire codec through its public API (`wren::wire`).
//!
//! * Round trip: every message the generator in `wire_gen.rs` builds for a random session encodes,
//!   frames, decodes back to the same value with no RFC 7606 fault, and re-encodes to the same bytes.
//! * Robustness: random bytes and mutated valid messages, under random sessions, never make
//!   `frame_len`, `decode` or `encode` panic; every decode error names a NOTIFICATION with an error
//!   code of RFC 4271 §4.5 / RFC 7313 (1..=7); and whatever decodes can be sent on again.
//!
//! Run with `cargo test --test wire_properties`. A failure is shrunk by proptest and printed with
//! the session, the message and the bytes; set `PROPTEST_CASES` to run more cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "wire_gen.rs"]
mod wire_gen;

use proptest::prelude::*;
use wren::wire::{decode, encode_to_vec, frame_len, Ctx, EncodeError, Message};

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes and checks what every decode result must satisfy, whatever the input.
fn check_decode(bytes: &[u8], ctx: &Ctx) -> Result<(), TestCaseError> {
    match decode(bytes, ctx) {
        Err(e) => {
            let n = e.notification();
            prop_assert!(
                (1..=7).contains(&n.code),
                "decode error {e} maps to NOTIFICATION code {} (subcode {}) for {}",
                n.code,
                n.subcode,
                hex(bytes)
            );
            // The NOTIFICATION itself must be sendable on a plain session.
            let sent = encode_to_vec(&Message::Notification(n.clone()), &Ctx::default());
            prop_assert!(
                sent.is_ok() || n.data.len() > 4096 - 21,
                "NOTIFICATION for {e} could not be encoded: {sent:?}"
            );
        }
        Ok(d) => {
            // Whatever was accepted can be passed on: it encodes (or is refused as too long),
            // and what it encodes to decodes again without a session reset.
            match encode_to_vec(&d.message, ctx) {
                Ok(again) => {
                    let back = decode(&again, ctx);
                    prop_assert!(
                        back.is_ok(),
                        "input {} decoded to {:?}, which re-encodes to {} that fails to decode: \
                         {:?}",
                        hex(bytes),
                        d.message,
                        hex(&again),
                        back
                    );
                }
                Err(EncodeError::TooLong { .. }) => {}
                Err(e) => prop_assert!(false, "re-encoding {:?} failed: {e}", d.message),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn every_valid_message_decodes_to_itself_without_faults_and_re_encodes_to_the_same_bytes(
        (ctx, msg) in wire_gen::ctx_and_message()
    ) {
        let bytes = match encode_to_vec(&msg, &ctx) {
            Ok(b) => b,
            // The generator keeps messages small; the rare oversized one is skipped.
            Err(EncodeError::TooLong { .. }) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("encode failed: {e}"))),
        };
        prop_assert!(bytes.len() <= ctx.max_message_len());

        // Framing: the whole message is one frame, one octet less is "need more", and in a
        // stream of two messages the first frame ends where the first message does.
        prop_assert_eq!(frame_len(&bytes, ctx.max_message_len()), Ok(Some(bytes.len())));
        prop_assert_eq!(frame_len(&bytes[..bytes.len() - 1], ctx.max_message_len()), Ok(None));
        let stream = [&bytes[..], &bytes[..]].concat();
        prop_assert_eq!(frame_len(&stream, ctx.max_message_len()), Ok(Some(bytes.len())));

        let d = decode(&bytes, &ctx)
            .map_err(|e| TestCaseError::fail(format!("decode failed: {e} for {}", hex(&bytes))))?;
        prop_assert_eq!(&d.faults, &vec![], "unexpected RFC 7606 faults for {}", hex(&bytes));
        prop_assert_eq!(&d.message, &msg, "decoded message differs; bytes {}", hex(&bytes));
        let again = encode_to_vec(&d.message, &ctx).unwrap();
        prop_assert_eq!(hex(&again), hex(&bytes), "re-encoding changed the bytes");
    }
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn random_and_mutated_input_never_panics_and_every_decode_error_is_a_notification_code_1_to_7(
        (ctx, bytes) in wire_gen::hostile_input()
    ) {
        // Framing on whatever arrived, as the session reader would see it.
        let _ = frame_len(&bytes, ctx.max_message_len());
        let _ = frame_len(&bytes, wren::wire::MAX_EXTENDED_MESSAGE_LEN);
        check_decode(&bytes, &ctx)?;
        // The same bytes under the other AS-number width and the opposite peer type.
        let flipped = Ctx {
            four_octet_as: !ctx.four_octet_as,
            ibgp: !ctx.ibgp,
            ..ctx.clone()
        };
        check_decode(&bytes, &flipped)?;
    }
}
