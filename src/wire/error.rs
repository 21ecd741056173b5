//! Decode and encode errors, and their NOTIFICATION mapping (RFC 4271 §6, RFC 7606).
//!
//! A [`DecodeError`] always means "session reset": it carries the NOTIFICATION to send. Errors that
//! RFC 7606 handles without a reset (treat-as-withdraw, attribute discard) are not errors at this
//! level; they come back as [`super::AttrFault`]s next to a usable message.

use bytes::Bytes;

use super::notification::{code, header_subcode, open_subcode, update_subcode, Notification};

/// A message that cannot be used and requires the session to be reset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at octet {offset})")]
pub struct DecodeError {
    /// Octet offset in the message (header included) where the fault was found.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// The NOTIFICATION data field the RFC asks for, when any.
    pub data: Bytes,
}

/// What made a message unusable. Each maps to one NOTIFICATION code and subcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The 16-octet marker is not all ones (RFC 4271 §6.1).
    #[error("connection not synchronized: marker is not all ones")]
    ConnectionNotSynchronized,
    /// The length field is outside what the message type allows (RFC 4271 §6.1, RFC 8654 §4).
    #[error("bad message length {0}")]
    BadMessageLength(u16),
    /// Unknown message type (RFC 4271 §6.1).
    #[error("bad message type {0}")]
    BadMessageType(u8),
    /// OPEN version is not 4 (RFC 4271 §6.2).
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    /// OPEN optional parameters are malformed (RFC 4271 §6.2, RFC 9072).
    #[error("malformed OPEN optional parameters")]
    MalformedOpen,
    /// An optional parameter other than capabilities (RFC 4271 §6.2, RFC 5492).
    #[error("unsupported optional parameter {0}")]
    UnsupportedOptionalParameter(u8),
    /// A capability's value does not fit its definition (RFC 5492; no subcode is defined, so the
    /// unspecific OPEN Message Error is sent, as BIRD does).
    #[error("malformed capability {0}")]
    MalformedCapability(u8),
    /// Withdrawn Routes Length or Total Attribute Length overruns the message, or MP_REACH_NLRI /
    /// MP_UNREACH_NLRI appears twice (RFC 4271 §6.3, RFC 7606 §3(g)).
    #[error("malformed attribute list")]
    MalformedAttributeList,
    /// An attribute with the Optional bit clear whose type is unknown (RFC 4271 §6.3).
    #[error("unrecognized well-known attribute {0}")]
    UnrecognizedWellKnownAttribute(u8),
    /// A prefix in the withdrawn routes or NLRI field is malformed (RFC 4271 §6.3, RFC 7606 §5.3).
    #[error("invalid network field")]
    InvalidNetworkField,
    /// MP_REACH_NLRI / MP_UNREACH_NLRI cannot be parsed, so its NLRI cannot be located
    /// (RFC 7606 §7.11, §3(j)).
    #[error("malformed multiprotocol attribute {0}")]
    MalformedMpAttribute(u8),
    /// An attribute error that would be treat-as-withdraw in an UPDATE that carries no NLRI to
    /// withdraw (RFC 7606 §5.2).
    #[error("attribute {0} malformed in an UPDATE without NLRI")]
    MalformedAttributeWithoutNlri(u8),
    /// ROUTE-REFRESH of the wrong length (RFC 7313 §5).
    #[error("bad ROUTE-REFRESH length {0}")]
    BadRouteRefreshLength(u16),
}

impl DecodeError {
    /// An error without NOTIFICATION data.
    pub fn new(offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset,
            kind,
            data: Bytes::new(),
        }
    }

    /// An error with NOTIFICATION data.
    pub fn with_data(offset: usize, kind: DecodeErrorKind, data: impl Into<Bytes>) -> DecodeError {
        DecodeError {
            offset,
            kind,
            data: data.into(),
        }
    }

    /// The NOTIFICATION to send before closing the session (RFC 4271 §6).
    pub fn notification(&self) -> Notification {
        use DecodeErrorKind::*;
        let (c, s, data) = match self.kind {
            ConnectionNotSynchronized => (
                code::MESSAGE_HEADER,
                header_subcode::CONNECTION_NOT_SYNCHRONIZED,
                Bytes::new(),
            ),
            BadMessageLength(len) => (
                code::MESSAGE_HEADER,
                header_subcode::BAD_MESSAGE_LENGTH,
                Bytes::copy_from_slice(&len.to_be_bytes()),
            ),
            BadMessageType(t) => (
                code::MESSAGE_HEADER,
                header_subcode::BAD_MESSAGE_TYPE,
                Bytes::copy_from_slice(&[t]),
            ),
            UnsupportedVersion(_) => (
                code::OPEN_MESSAGE,
                open_subcode::UNSUPPORTED_VERSION,
                Bytes::from_static(&[0, 4]),
            ),
            MalformedOpen | MalformedCapability(_) => (code::OPEN_MESSAGE, 0, self.data.clone()),
            UnsupportedOptionalParameter(_) => (
                code::OPEN_MESSAGE,
                open_subcode::UNSUPPORTED_OPTIONAL_PARAMETER,
                Bytes::new(),
            ),
            MalformedAttributeList | MalformedAttributeWithoutNlri(_) => (
                code::UPDATE_MESSAGE,
                update_subcode::MALFORMED_ATTRIBUTE_LIST,
                Bytes::new(),
            ),
            UnrecognizedWellKnownAttribute(_) => (
                code::UPDATE_MESSAGE,
                update_subcode::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                self.data.clone(),
            ),
            InvalidNetworkField => (
                code::UPDATE_MESSAGE,
                update_subcode::INVALID_NETWORK_FIELD,
                Bytes::new(),
            ),
            MalformedMpAttribute(_) => (
                code::UPDATE_MESSAGE,
                update_subcode::OPTIONAL_ATTRIBUTE_ERROR,
                self.data.clone(),
            ),
            BadRouteRefreshLength(_) => (code::ROUTE_REFRESH, 1, self.data.clone()),
        };
        Notification::with_data(c, s, data)
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoded message would exceed the negotiated maximum (4096, or 65535 with RFC 8654).
    #[error("message of {len} octets exceeds the maximum of {max}")]
    TooLong {
        /// Length the message would have had.
        len: usize,
        /// The maximum allowed on this session.
        max: usize,
    },
    /// An attribute value longer than 65535 octets.
    #[error("attribute {0} is longer than 65535 octets")]
    AttributeTooLong(u8),
    /// OPEN optional parameters longer than 255 octets without RFC 9072 support.
    #[error("OPEN optional parameters too long")]
    OpenTooLong,
}
