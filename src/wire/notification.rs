//! NOTIFICATION (RFC 4271 §4.5) with the error codes of RFC 4271 §6, the Cease subcodes of
//! RFC 4486 and RFC 8538, and the shutdown communication of RFC 9003.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! For Cease/Administrative Shutdown and Cease/Administrative Reset, RFC 9003 puts a length octet
//! and up to 255 octets of UTF-8 text at the start of the data.

use std::fmt;

use bytes::{BufMut, Bytes};

use super::reader::Reader;

/// Error codes (RFC 4271 §4.5, RFC 2918 / RFC 7313 for route refresh).
pub mod code {
    /// Message Header Error (RFC 4271 §6.1).
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error (RFC 4271 §6.2).
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error (RFC 4271 §6.3).
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired (RFC 4271 §6.5).
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error (RFC 4271 §6.6, subcodes RFC 6608).
    pub const FSM: u8 = 5;
    /// Cease (RFC 4271 §6.7, subcodes RFC 4486).
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (RFC 7313 §5).
    pub const ROUTE_REFRESH: u8 = 7;
}

/// Message Header Error subcodes (RFC 4271 §6.1).
pub mod header_subcode {
    /// The marker is not all ones.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    /// Length out of range for the message type; data is the 2-octet length.
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    /// Unknown message type; data is the type octet.
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5).
pub mod open_subcode {
    /// Unsupported version number; data is the largest supported version (2 octets).
    pub const UNSUPPORTED_VERSION: u8 = 1;
    /// Bad peer AS.
    pub const BAD_PEER_AS: u8 = 2;
    /// Bad BGP identifier.
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    /// Unsupported optional parameter.
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Unacceptable hold time.
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    /// Unsupported capability (RFC 5492 §5); data lists the capabilities.
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
}

/// UPDATE Message Error subcodes (RFC 4271 §6.3).
pub mod update_subcode {
    /// Malformed Attribute List.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    /// Unrecognized Well-known Attribute; data is the attribute.
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    /// Missing Well-known Attribute; data is the type code.
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    /// Attribute Flags Error.
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    /// Attribute Length Error.
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    /// Invalid ORIGIN Attribute.
    pub const INVALID_ORIGIN: u8 = 6;
    /// Invalid NEXT_HOP Attribute.
    pub const INVALID_NEXT_HOP: u8 = 8;
    /// Optional Attribute Error.
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    /// Invalid Network Field.
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    /// Malformed AS_PATH.
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Cease subcodes (RFC 4486 §4, RFC 8538 §5).
pub mod cease_subcode {
    /// Maximum Number of Prefixes Reached; data: AFI (2), SAFI (1), limit (4).
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown (RFC 9003 shutdown communication allowed).
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset (RFC 9003 shutdown communication allowed).
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    /// Connection Rejected.
    pub const CONNECTION_REJECTED: u8 = 5;
    /// Other Configuration Change.
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    /// Connection Collision Resolution (RFC 4271 §6.8).
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    /// Out of Resources.
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// Hard Reset (RFC 8538 §5): graceful-restart state must not be retained.
    pub const HARD_RESET: u8 = 9;
}

/// A NOTIFICATION message (RFC 4271 §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Error code ([`code`]).
    pub code: u8,
    /// Error subcode, meaning depends on `code`.
    pub subcode: u8,
    /// Diagnostic data.
    pub data: Bytes,
}

/// The longest shutdown communication RFC 9003 §2 allows, in octets.
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

impl Notification {
    /// A NOTIFICATION without data.
    pub fn new(code: u8, subcode: u8) -> Notification {
        Notification {
            code,
            subcode,
            data: Bytes::new(),
        }
    }

    /// A NOTIFICATION with diagnostic data.
    pub fn with_data(code: u8, subcode: u8, data: impl Into<Bytes>) -> Notification {
        Notification {
            code,
            subcode,
            data: data.into(),
        }
    }

    /// Cease with `subcode` (RFC 4486).
    pub fn cease(subcode: u8) -> Notification {
        Notification::new(code::CEASE, subcode)
    }

    /// Cease/Administrative Shutdown or Reset carrying an RFC 9003 shutdown communication. Text
    /// beyond 255 octets is cut at a character boundary.
    pub fn cease_with_communication(subcode: u8, text: &str) -> Notification {
        let mut end = text.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let msg = text.get(..end).unwrap_or("");
        let mut data = Vec::with_capacity(1 + msg.len());
        data.push(msg.len() as u8);
        data.extend_from_slice(msg.as_bytes());
        Notification::with_data(code::CEASE, subcode, data)
    }

    /// The RFC 9003 shutdown communication, when this is a Cease/Administrative Shutdown or Reset
    /// whose data starts with a valid length and UTF-8 text. `None` otherwise (the RFC says a
    /// malformed communication is only logged as such).
    pub fn shutdown_communication(&self) -> Option<&str> {
        if self.code != code::CEASE
            || !matches!(
                self.subcode,
                cease_subcode::ADMINISTRATIVE_SHUTDOWN | cease_subcode::ADMINISTRATIVE_RESET
            )
        {
            return None;
        }
        let mut r = Reader::new(&self.data, 0);
        let len = r.u8()?;
        std::str::from_utf8(r.take(usize::from(len))?).ok()
    }

    /// Decodes the body of a NOTIFICATION (everything after the 19-octet header).
    pub(crate) fn decode_body(body: &[u8]) -> Option<Notification> {
        let mut r = Reader::new(body, 0);
        let code = r.u8()?;
        let subcode = r.u8()?;
        Some(Notification {
            code,
            subcode,
            data: Bytes::copy_from_slice(r.take_rest()),
        })
    }

    /// Encodes the body of a NOTIFICATION.
    pub(crate) fn encode_body(&self, out: &mut impl BufMut) {
        out.put_u8(self.code);
        out.put_u8(self.subcode);
        out.put_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (self.code, self.subcode) {
            (code::MESSAGE_HEADER, 1) => "Message Header Error / Connection Not Synchronized",
            (code::MESSAGE_HEADER, 2) => "Message Header Error / Bad Message Length",
            (code::MESSAGE_HEADER, 3) => "Message Header Error / Bad Message Type",
            (code::MESSAGE_HEADER, _) => "Message Header Error",
            (code::OPEN_MESSAGE, 1) => "OPEN Message Error / Unsupported Version Number",
            (code::OPEN_MESSAGE, 2) => "OPEN Message Error / Bad Peer AS",
            (code::OPEN_MESSAGE, 3) => "OPEN Message Error / Bad BGP Identifier",
            (code::OPEN_MESSAGE, 4) => "OPEN Message Error / Unsupported Optional Parameter",
            (code::OPEN_MESSAGE, 6) => "OPEN Message Error / Unacceptable Hold Time",
            (code::OPEN_MESSAGE, 7) => "OPEN Message Error / Unsupported Capability",
            (code::OPEN_MESSAGE, _) => "OPEN Message Error",
            (code::UPDATE_MESSAGE, 1) => "UPDATE Message Error / Malformed Attribute List",
            (code::UPDATE_MESSAGE, 2) => "UPDATE Message Error / Unrecognized Well-known Attribute",
            (code::UPDATE_MESSAGE, 3) => "UPDATE Message Error / Missing Well-known Attribute",
            (code::UPDATE_MESSAGE, 4) => "UPDATE Message Error / Attribute Flags Error",
            (code::UPDATE_MESSAGE, 5) => "UPDATE Message Error / Attribute Length Error",
            (code::UPDATE_MESSAGE, 6) => "UPDATE Message Error / Invalid ORIGIN Attribute",
            (code::UPDATE_MESSAGE, 8) => "UPDATE Message Error / Invalid NEXT_HOP Attribute",
            (code::UPDATE_MESSAGE, 9) => "UPDATE Message Error / Optional Attribute Error",
            (code::UPDATE_MESSAGE, 10) => "UPDATE Message Error / Invalid Network Field",
            (code::UPDATE_MESSAGE, 11) => "UPDATE Message Error / Malformed AS_PATH",
            (code::UPDATE_MESSAGE, _) => "UPDATE Message Error",
            (code::HOLD_TIMER_EXPIRED, _) => "Hold Timer Expired",
            (code::FSM, _) => "Finite State Machine Error",
            (code::CEASE, 1) => "Cease / Maximum Number of Prefixes Reached",
            (code::CEASE, 2) => "Cease / Administrative Shutdown",
            (code::CEASE, 3) => "Cease / Peer De-configured",
            (code::CEASE, 4) => "Cease / Administrative Reset",
            (code::CEASE, 5) => "Cease / Connection Rejected",
            (code::CEASE, 6) => "Cease / Other Configuration Change",
            (code::CEASE, 7) => "Cease / Connection Collision Resolution",
            (code::CEASE, 8) => "Cease / Out of Resources",
            (code::CEASE, 9) => "Cease / Hard Reset",
            (code::CEASE, _) => "Cease",
            (code::ROUTE_REFRESH, 1) => "ROUTE-REFRESH Message Error / Invalid Message Length",
            (code::ROUTE_REFRESH, _) => "ROUTE-REFRESH Message Error",
            _ => "Unknown error",
        };
        write!(f, "{name} ({}/{})", self.code, self.subcode)?;
        if let Some(text) = self.shutdown_communication() {
            write!(f, ": \"{}\"", text.escape_debug())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_round_trips_rfc9003_2() {
        let n = Notification::cease_with_communication(
            cease_subcode::ADMINISTRATIVE_SHUTDOWN,
            "maintenance, back at 14:00",
        );
        assert_eq!(n.data[0] as usize, "maintenance, back at 14:00".len());
        assert_eq!(
            n.shutdown_communication(),
            Some("maintenance, back at 14:00")
        );
        assert!(n.to_string().contains("maintenance"));
    }

    #[test]
    fn an_over_long_communication_is_cut_at_255_octets_on_a_char_boundary() {
        let text = "é".repeat(200); // 400 octets
        let n = Notification::cease_with_communication(cease_subcode::ADMINISTRATIVE_RESET, &text);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication().map(str::len), Some(254));
    }

    #[test]
    fn a_communication_whose_length_overruns_the_data_is_not_shown() {
        let n = Notification::with_data(
            code::CEASE,
            cease_subcode::ADMINISTRATIVE_SHUTDOWN,
            vec![10, b'a'],
        );
        assert_eq!(n.shutdown_communication(), None);
        // and a subcode without communications never has one
        let n =
            Notification::with_data(code::CEASE, cease_subcode::PEER_DECONFIGURED, vec![1, b'a']);
        assert_eq!(n.shutdown_communication(), None);
    }
}
