//! The BGP-4 wire codec (RFC 4271 §4): every message and path attribute wren exchanges with Calico
//! nodes, route reflectors and border routers, and the RFC 7606 error actions for bad input.
//!
//! **Owns:** byte layouts, their decode and encode, and the mapping of decode faults to
//! NOTIFICATIONs or RFC 7606 actions. **Must not depend on:** any other wren module, tokio, sockets,
//! clocks, or routing policy (next-hop rewriting, AS_PATH prepending and the like belong to `rib`).
//!
//! ## Shape
//!
//! * Framing first: [`frame_len`] looks at the 19-octet header and says whether a whole message is
//!   buffered. Then [`decode`] turns exactly one framed message into a [`Message`].
//! * Decoding depends on what was negotiated ([`Ctx`], from [`negotiate`]): 2- or 4-octet AS numbers,
//!   ADD-PATH per family, extended message length, and whether the peer is internal.
//! * [`decode`] either fails with a [`DecodeError`] — a session reset, carrying the NOTIFICATION to
//!   send — or returns a [`Decoded`] message with the RFC 7606 [`AttrFault`]s it survived: attributes
//!   discarded, or the whole UPDATE turned into a withdrawal of its prefixes.
//! * Nothing panics on any input, and allocation is bounded by the input length.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      Marker (16 octets of 0xff)               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |   RFC 4271 §4.1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The reader is hand-written (`reader.rs`) rather than built on nom: BGP's layouts are fixed-width
//! fields and length-prefixed runs, a checked cursor handles them in a few lines, and errors stay
//! ours (with byte offsets) instead of a parser library's (the lesson of NetGauze, which dropped nom).

mod as_path;
mod attr;
mod capability;
mod error;
mod family;
mod negotiate;
mod nlri;
mod notification;
mod open;
mod reader;
mod route_refresh;
mod update;
#[cfg(test)]
mod update_tests;

use bytes::{BufMut, BytesMut};

pub use as_path::{AsPath, Segment, SegmentType, AS_TRANS};
pub use attr::{
    attr_type, flags, Aggregator, AttrFault, AttrFaultKind, Community, ExtCommunity,
    LargeCommunity, Origin, PathAttributes, RawAttribute, Rfc7606Action,
};
pub use capability::{
    AddPathFamily, AddPathMode, Capability, GracefulRestart, GracefulRestartFamily,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use family::{Afi, Family, Safi};
pub use negotiate::{negotiate, Negotiated};
pub use nlri::Nlri;
pub use notification::{
    cease_subcode, code, header_subcode, open_subcode, update_subcode, Notification,
};
pub use open::Open;
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::{MpReach, MpUnreach, NextHop, Update};

use reader::Reader;

/// Length of the fixed header: marker, length, type (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// Largest message without the Extended Message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message with the Extended Message capability (RFC 8654 §3).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
pub mod msg_type {
    /// OPEN (RFC 4271 §4.2).
    pub const OPEN: u8 = 1;
    /// UPDATE (RFC 4271 §4.3).
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION (RFC 4271 §4.5).
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE (RFC 4271 §4.4).
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918 §3).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A BGP message (RFC 4271 §4).
///
/// `Update` is much larger than the other variants; it is kept inline because boxing it would cost
/// an allocation per received UPDATE, the hot path, while messages are moved rarely.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// OPEN (RFC 4271 §4.2).
    Open(Open),
    /// UPDATE (RFC 4271 §4.3).
    Update(Update),
    /// NOTIFICATION (RFC 4271 §4.5).
    Notification(Notification),
    /// KEEPALIVE (RFC 4271 §4.4).
    Keepalive,
    /// ROUTE-REFRESH (RFC 2918, RFC 7313).
    RouteRefresh(RouteRefresh),
}

/// What was negotiated for a session, as far as the codec cares (RFC 6793, RFC 7911, RFC 8654).
///
/// Built by [`negotiate`] from the two OPENs; `Ctx::default()` is a 4-octet-AS eBGP session without
/// ADD-PATH or extended messages, which is what OPENs themselves are exchanged under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// Both sides sent the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet numbers and
    /// AS4_PATH / AS4_AGGREGATOR are not used (RFC 6793 §4.1).
    pub four_octet_as: bool,
    /// Both sides sent the Extended Message capability: UPDATEs and the like may be up to 65535
    /// octets (RFC 8654 §3).
    pub extended_message: bool,
    /// Families in which received NLRI carry path identifiers (RFC 7911 §4).
    pub add_path_rx: Vec<Family>,
    /// Families in which sent NLRI carry path identifiers (RFC 7911 §4).
    pub add_path_tx: Vec<Family>,
    /// The peer is in our AS; decides some RFC 7606 actions (LOCAL_PREF, ORIGINATOR_ID,
    /// CLUSTER_LIST from an external peer are discarded, RFC 7606 §7.5, §7.9, §7.10).
    pub ibgp: bool,
}

impl Default for Ctx {
    fn default() -> Ctx {
        Ctx {
            four_octet_as: true,
            extended_message: false,
            add_path_rx: Vec::new(),
            add_path_tx: Vec::new(),
            ibgp: false,
        }
    }
}

impl Ctx {
    /// The largest message allowed on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    pub(crate) fn add_path_rx(&self, family: Family) -> bool {
        self.add_path_rx.contains(&family)
    }

    pub(crate) fn add_path_tx(&self, family: Family) -> bool {
        self.add_path_tx.contains(&family)
    }
}

/// A decoded message and the RFC 7606 faults that were handled without a session reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message. After treat-as-withdraw, an UPDATE holds only withdrawals.
    pub message: Message,
    /// Attribute faults found in an UPDATE (empty for every other message).
    pub faults: Vec<AttrFault>,
}

impl Decoded {
    /// The strongest RFC 7606 action taken, if any (RFC 7606 §3(h)).
    pub fn action(&self) -> Option<Rfc7606Action> {
        self.faults.iter().map(|f| f.action).max()
    }
}

/// Checks the header at the start of `buf` and returns the length of the first message once it is
/// wholly buffered, `Ok(None)` while more bytes are needed (RFC 4271 §4.1, §6.1).
///
/// `max_len` is [`Ctx::max_message_len`]. A bad marker or a length outside `19..=max_len` is an
/// error that resets the session.
pub fn frame_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut r = Reader::new(header, 0);
    let marker: [u8; 16] = r.array().unwrap_or_default();
    if marker != [0xff; 16] {
        return Err(DecodeError::new(
            0,
            DecodeErrorKind::ConnectionNotSynchronized,
        ));
    }
    let len = r.u16().unwrap_or(0);
    if usize::from(len) < HEADER_LEN || usize::from(len) > max_len {
        return Err(DecodeError::with_data(
            16,
            DecodeErrorKind::BadMessageLength(len),
            len.to_be_bytes().to_vec(),
        ));
    }
    Ok((buf.len() >= usize::from(len)).then_some(usize::from(len)))
}

/// Decodes exactly one framed message (header included), as cut by [`frame_len`].
pub fn decode(frame: &[u8], ctx: &Ctx) -> Result<Decoded, DecodeError> {
    let len = frame_len(frame, ctx.max_message_len())?.ok_or(DecodeError::new(
        frame.len(),
        DecodeErrorKind::BadMessageLength(frame.len() as u16),
    ))?;
    let bad_len = |l: usize| {
        DecodeError::with_data(
            16,
            DecodeErrorKind::BadMessageLength(l as u16),
            (l as u16).to_be_bytes().to_vec(),
        )
    };
    if len != frame.len() {
        return Err(bad_len(frame.len()));
    }
    let mut r = Reader::new(frame, 0);
    let _ = r.take(18);
    let kind = r.u8().unwrap_or(0);
    let body = r.rest();
    let plain = |message| {
        Ok(Decoded {
            message,
            faults: Vec::new(),
        })
    };
    // Per-type length limits (RFC 4271 §6.1; RFC 8654 §4 keeps OPEN and KEEPALIVE at 4096).
    match kind {
        msg_type::OPEN => {
            if !(29..=MAX_MESSAGE_LEN).contains(&len) {
                return Err(bad_len(len));
            }
            plain(Message::Open(Open::decode_body(body, HEADER_LEN)?))
        }
        msg_type::UPDATE => {
            if len < 23 {
                return Err(bad_len(len));
            }
            let (update, faults) = update::decode_body(body, HEADER_LEN, ctx)?;
            Ok(Decoded {
                message: Message::Update(update),
                faults,
            })
        }
        msg_type::NOTIFICATION => match Notification::decode_body(body) {
            Some(n) => plain(Message::Notification(n)),
            None => Err(bad_len(len)),
        },
        msg_type::KEEPALIVE => {
            if len != HEADER_LEN {
                return Err(bad_len(len));
            }
            plain(Message::Keepalive)
        }
        msg_type::ROUTE_REFRESH => plain(Message::RouteRefresh(RouteRefresh::decode_body(
            body, frame,
        )?)),
        other => Err(DecodeError::with_data(
            18,
            DecodeErrorKind::BadMessageType(other),
            vec![other],
        )),
    }
}

/// Appends one encoded message to `out`. On error `out` is left as it was.
pub fn encode(msg: &Message, ctx: &Ctx, out: &mut BytesMut) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_slice(&[0xff; 16]);
    out.put_u16(0);
    let kind = match msg {
        Message::Open(_) => msg_type::OPEN,
        Message::Update(_) => msg_type::UPDATE,
        Message::Notification(_) => msg_type::NOTIFICATION,
        Message::Keepalive => msg_type::KEEPALIVE,
        Message::RouteRefresh(_) => msg_type::ROUTE_REFRESH,
    };
    out.put_u8(kind);
    let res = match msg {
        Message::Open(o) => o.encode_body(out),
        Message::Update(u) => update::encode_body(u, ctx, out),
        Message::Notification(n) => {
            n.encode_body(out);
            Ok(())
        }
        Message::Keepalive => Ok(()),
        Message::RouteRefresh(rr) => {
            rr.encode_body(out);
            Ok(())
        }
    };
    let len = out.len() - start;
    let max = match msg {
        Message::Open(_) | Message::Keepalive => MAX_MESSAGE_LEN,
        _ => ctx.max_message_len(),
    };
    let res = match res {
        Ok(()) if len > max => Err(EncodeError::TooLong { len, max }),
        other => other,
    };
    match res {
        Ok(()) => {
            if let Some(l) = out.get_mut(start + 16..start + 18) {
                l.copy_from_slice(&(len as u16).to_be_bytes());
            }
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Encodes one message into a fresh buffer.
pub fn encode_to_vec(msg: &Message, ctx: &Ctx) -> Result<Vec<u8>, EncodeError> {
    let mut out = BytesMut::with_capacity(MAX_MESSAGE_LEN);
    encode(msg, ctx, &mut out)?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u16, kind: u8) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(kind);
        v
    }

    #[test]
    fn keepalive_is_the_bare_19_octet_header_rfc4271_4_4() {
        let bytes = header(19, 4);
        assert_eq!(
            encode_to_vec(&Message::Keepalive, &Ctx::default()).unwrap(),
            bytes
        );
        assert_eq!(
            decode(&bytes, &Ctx::default()).unwrap().message,
            Message::Keepalive
        );
    }

    #[test]
    fn notification_with_a_shutdown_communication_round_trips_rfc4271_4_5_rfc9003_2() {
        let mut bytes = header(19 + 2 + 1 + 5, 3);
        bytes.extend_from_slice(&[6, 2]); // Cease / Administrative Shutdown
        bytes.push(5); // communication length
        bytes.extend_from_slice(b"drain");
        let want =
            Notification::cease_with_communication(cease_subcode::ADMINISTRATIVE_SHUTDOWN, "drain");
        let d = decode(&bytes, &Ctx::default()).unwrap();
        assert_eq!(d.message, Message::Notification(want.clone()));
        assert_eq!(
            encode_to_vec(&Message::Notification(want), &Ctx::default()).unwrap(),
            bytes
        );
    }

    #[test]
    fn notification_without_data_round_trips_and_a_one_octet_body_is_bad_length_rfc4271_4_5() {
        let mut bytes = header(21, 3);
        bytes.extend_from_slice(&[4, 0]); // Hold Timer Expired
        let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0);
        assert_eq!(
            decode(&bytes, &Ctx::default()).unwrap().message,
            Message::Notification(n.clone())
        );
        assert_eq!(
            encode_to_vec(&Message::Notification(n), &Ctx::default()).unwrap(),
            bytes
        );
        let mut short = header(20, 3);
        short.push(4);
        let e = decode(&short, &Ctx::default()).unwrap_err().notification();
        assert_eq!((e.code, e.subcode), (1, 2));
    }

    #[test]
    fn frame_len_waits_for_the_whole_header_and_body() {
        let mut bytes = header(23, 2);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(frame_len(&bytes[..18], 4096), Ok(None));
        assert_eq!(frame_len(&bytes[..22], 4096), Ok(None));
        assert_eq!(frame_len(&bytes, 4096), Ok(Some(23)));
    }

    #[test]
    fn a_bad_marker_is_connection_not_synchronized_rfc4271_6_1() {
        let mut bytes = header(19, 4);
        bytes[3] = 0;
        let e = frame_len(&bytes, 4096).unwrap_err();
        assert_eq!((e.notification().code, e.notification().subcode), (1, 1));
    }

    #[test]
    fn lengths_outside_19_to_4096_are_bad_message_length_with_the_length_as_data() {
        for len in [0u16, 18, 4097, 65535] {
            let e = frame_len(&header(len, 2), 4096).unwrap_err();
            let n = e.notification();
            assert_eq!((n.code, n.subcode), (1, 2));
            assert_eq!(&n.data[..], &len.to_be_bytes());
        }
        assert_eq!(frame_len(&header(65535, 2), 65535), Ok(None));
    }

    #[test]
    fn per_type_minimum_lengths_are_enforced_rfc4271_6_1() {
        // KEEPALIVE with a body, UPDATE shorter than 23, OPEN shorter than 29.
        for (len, kind) in [(20u16, 4u8), (22, 2), (28, 1), (20, 3)] {
            let mut bytes = header(len, kind);
            bytes.resize(usize::from(len), 0);
            let n = decode(&bytes, &Ctx::default()).unwrap_err().notification();
            assert_eq!((n.code, n.subcode), (1, 2), "type {kind} length {len}");
        }
    }

    #[test]
    fn an_unknown_message_type_is_bad_message_type_with_the_type_as_data() {
        let n = decode(&header(19, 9), &Ctx::default())
            .unwrap_err()
            .notification();
        assert_eq!((n.code, n.subcode, &n.data[..]), (1, 3, &[9u8][..]));
    }

    #[test]
    fn an_oversized_message_is_refused_by_the_encoder_and_leaves_the_buffer_untouched() {
        let n = Notification::with_data(6, 2, vec![0u8; 5000]);
        let mut out = BytesMut::from(&b"xy"[..]);
        let e = encode(&Message::Notification(n), &Ctx::default(), &mut out).unwrap_err();
        assert!(matches!(
            e,
            EncodeError::TooLong {
                len: 5021,
                max: 4096
            }
        ));
        assert_eq!(&out[..], b"xy");
    }
}
