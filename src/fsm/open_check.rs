//! OPEN validation against the peer's configuration (RFC 4271 §6.2, RFC 6286 §2.2, RFC 5492 §5).
//!
//! The codec already refuses what is wrong in any context (version, malformed parameters,
//! unsupported optional parameters); what is left needs the configuration.

use crate::wire::{code, open_subcode, Capability, Notification, Open};

use super::Config;

/// Checks a received OPEN against the configuration, in the order of RFC 4271 §6.2, and returns
/// the NOTIFICATION to send when it is unacceptable:
///
/// * the AS ([`Open::asn`], so the 4-octet AS capability counts) is not `remote_asn`:
///   Bad Peer AS (2/2);
/// * the hold time is 1 or 2 seconds: Unacceptable Hold Time (2/6) — 0 is allowed and turns off
///   keepalives (RFC 4271 §4.2);
/// * the BGP Identifier is 0.0.0.0, or equals ours on an internal session: Bad BGP Identifier
///   (2/3) (RFC 6286 §2.2; on an external session equal identifiers are allowed and collisions
///   are broken by AS number, RFC 6286 §2.3);
/// * with `allow_unknown_capabilities` off, a capability wren does not know: Unsupported
///   Capability (2/7), the data listing each as code, length, value (RFC 5492 §5).
pub fn check_open(config: &Config, open: &Open) -> Result<(), Notification> {
    if open.asn() != config.remote_asn {
        return Err(Notification::new(
            code::OPEN_MESSAGE,
            open_subcode::BAD_PEER_AS,
        ));
    }
    if matches!(open.hold_time, 1 | 2) {
        return Err(Notification::new(
            code::OPEN_MESSAGE,
            open_subcode::UNACCEPTABLE_HOLD_TIME,
        ));
    }
    if open.bgp_id.is_unspecified() || (config.is_ibgp() && open.bgp_id == config.router_id) {
        return Err(Notification::new(
            code::OPEN_MESSAGE,
            open_subcode::BAD_BGP_IDENTIFIER,
        ));
    }
    if !config.allow_unknown_capabilities {
        let mut data = Vec::new();
        for cap in &open.capabilities {
            if let Capability::Unknown { code, value } = cap {
                data.push(*code);
                data.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
                data.extend_from_slice(value.get(..255).unwrap_or(value));
            }
        }
        if !data.is_empty() {
            return Err(Notification::with_data(
                code::OPEN_MESSAGE,
                open_subcode::UNSUPPORTED_CAPABILITY,
                data,
            ));
        }
    }
    Ok(())
}
