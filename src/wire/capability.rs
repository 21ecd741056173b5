//! Capabilities advertised in the OPEN message (RFC 5492) and the layout of each capability wren
//! interprets; any other capability is kept as raw bytes.
//!
//! **Owns:** the capability TLV and the values of Multiprotocol (RFC 4760 §8), Route Refresh
//! (RFC 2918), Extended Message (RFC 8654), Graceful Restart (RFC 4724 §3, RFC 8538), 4-octet AS
//! (RFC 6793), ADD-PATH (RFC 7911 §4) and Enhanced Route Refresh (RFC 7313). What the two sides
//! agree on is [`super::negotiate`]'s business.
//!
//! ```text
//! Capability TLV (RFC 5492 §4), a run of which fills a Capabilities optional parameter:
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//!
//! Multiprotocol, code 1, length 4 (RFC 4760 §8):
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Rsvd  | SAFI  |
//! +-------+-------+-------+-------+
//!
//! 4-octet AS, code 65, length 4 (RFC 6793 §3):
//! +-------+-------+-------+-------+
//! |        AS number (4 octets)   |
//! +-------+-------+-------+-------+
//!
//! Graceful Restart, code 64, length 2 + 4n (RFC 4724 §3, N bit RFC 8538 §2):
//! +--------+-----------------------+
//! |R|N|0|0 | Restart Time (12 bits)|   R = 0x8000, N = 0x4000 of the first 2 octets
//! +--------+-----------------------+
//! |      AFI      | SAFI  |F|0000000|  repeated n times; F = 0x80 (forwarding state preserved)
//! +-------+-------+-------+-------+
//!
//! ADD-PATH, code 69, length 4n (RFC 7911 §4):
//! +-------+-------+-------+-------+
//! |      AFI      | SAFI  |Snd/Rcv|  repeated n times; Send/Receive is 1, 2 or 3
//! +-------+-------+-------+-------+
//!
//! Route Refresh (2), Extended Message (6), Enhanced Route Refresh (70): length 0, no value.
//! ```

use bytes::{BufMut, Bytes};

use super::error::{DecodeError, DecodeErrorKind};
use super::family::Family;
use super::reader::Reader;

/// Capability codes (IANA "Capability Codes").
const MULTIPROTOCOL: u8 = 1;
const ROUTE_REFRESH: u8 = 2;
const EXTENDED_MESSAGE: u8 = 6;
const GRACEFUL_RESTART: u8 = 64;
const FOUR_OCTET_AS: u8 = 65;
const ADD_PATH: u8 = 69;
const ENHANCED_ROUTE_REFRESH: u8 = 70;

/// Restart State bit of the Graceful Restart flags (RFC 4724 §3).
const GR_RESTART_STATE: u16 = 0x8000;
/// Graceful Notification bit of the Graceful Restart flags (RFC 8538 §2).
const GR_NOTIFICATION: u16 = 0x4000;
/// The 12-bit Restart Time (RFC 4724 §3).
const GR_TIME_MASK: u16 = 0x0fff;
/// Forwarding State bit of a Graceful Restart family's flags (RFC 4724 §3).
const GR_FORWARDING: u8 = 0x80;

/// The largest value a capability can carry: its length is one octet (RFC 5492 §4).
pub(crate) const MAX_CAPABILITY_VALUE: usize = 255;

/// One capability from an OPEN's Capabilities optional parameter (RFC 5492 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Multiprotocol Extensions for one AFI/SAFI, code 1 (RFC 4760 §8). The reserved octet is
    /// ignored on receipt and sent as 0.
    Multiprotocol(Family),
    /// Route Refresh, code 2 (RFC 2918 §2).
    RouteRefresh,
    /// Enhanced Route Refresh, code 70 (RFC 7313 §3.1).
    EnhancedRouteRefresh,
    /// Support for 4-octet AS numbers, carrying the speaker's AS, code 65 (RFC 6793 §3).
    FourOctetAs(u32),
    /// Graceful Restart, code 64 (RFC 4724 §3, RFC 8538 §2).
    GracefulRestart(GracefulRestart),
    /// ADD-PATH per family, code 69 (RFC 7911 §4).
    AddPath(Vec<AddPathFamily>),
    /// Extended Message (messages up to 65535 octets), code 6 (RFC 8654 §3).
    ExtendedMessage,
    /// A capability wren does not interpret, kept as raw bytes (RFC 5492 §4). `code` should not be
    /// one of the codes above: such a value would decode as the known capability.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value, at most 255 octets.
        value: Bytes,
    },
}

/// The Graceful Restart capability value (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GracefulRestart {
    /// Restart State (R) bit: the sender has restarted (RFC 4724 §3).
    pub restart_state: bool,
    /// Graceful Notification (N) bit: NOTIFICATIONs other than Hard Reset keep the graceful
    /// restart state (RFC 8538 §2).
    pub notification: bool,
    /// Seconds the sender expects to take to come back after a restart; 12 bits, so at most 4095
    /// (RFC 4724 §3). Higher bits are dropped on encode.
    pub restart_time: u16,
    /// Families for which the sender can preserve forwarding state across a restart.
    pub families: Vec<GracefulRestartFamily>,
}

/// One family entry of the Graceful Restart capability (RFC 4724 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GracefulRestartFamily {
    /// The AFI/SAFI.
    pub family: Family,
    /// Forwarding State (F) bit: forwarding state was preserved across the last restart.
    pub forwarding_preserved: bool,
}

/// One family entry of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddPathFamily {
    /// The AFI/SAFI.
    pub family: Family,
    /// Whether the sender can send, receive, or both.
    pub mode: AddPathMode,
}

/// The Send/Receive field of an ADD-PATH family entry (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AddPathMode {
    /// The sender can receive multiple paths (value 1).
    Receive = 1,
    /// The sender can send multiple paths (value 2).
    Send = 2,
    /// Both (value 3).
    Both = 3,
}

impl AddPathMode {
    /// The mode for a Send/Receive value; `None` outside 1..=3 (RFC 7911 §4).
    pub fn from_u8(v: u8) -> Option<AddPathMode> {
        match v {
            1 => Some(AddPathMode::Receive),
            2 => Some(AddPathMode::Send),
            3 => Some(AddPathMode::Both),
            _ => None,
        }
    }

    /// The Send/Receive value on the wire (RFC 7911 §4).
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// Whether the advertiser is able to send multiple paths (Send or Both, RFC 7911 §4).
    pub fn can_send(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }

    /// Whether the advertiser is able to receive multiple paths (Receive or Both, RFC 7911 §4).
    pub fn can_receive(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
}

impl Capability {
    /// The capability code (IANA "Capability Codes"; RFC 5492 §4).
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => MULTIPROTOCOL,
            Capability::RouteRefresh => ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => ENHANCED_ROUTE_REFRESH,
            Capability::FourOctetAs(_) => FOUR_OCTET_AS,
            Capability::GracefulRestart(_) => GRACEFUL_RESTART,
            Capability::AddPath(_) => ADD_PATH,
            Capability::ExtendedMessage => EXTENDED_MESSAGE,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Length of the capability value, before any limit (RFC 5492 §4). Above
    /// 255 octets the capability cannot be encoded whole.
    pub fn value_len(&self) -> usize {
        match self {
            Capability::Multiprotocol(_) | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => 0,
            Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Capability::AddPath(v) => 4 * v.len(),
            Capability::Unknown { value, .. } => value.len(),
        }
    }
}

/// Encoded size of one capability: code, length and value (RFC 5492 §4), with the value cut as
/// [`encode_capability`] cuts it.
pub(crate) fn capability_len(cap: &Capability) -> usize {
    2 + encoded_value_len(cap)
}

/// The value length actually written: [`Capability::value_len`] cut to what a one-octet length can
/// describe, in whole entries.
fn encoded_value_len(cap: &Capability) -> usize {
    match cap {
        Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len().min(gr_max_families()),
        Capability::AddPath(v) => 4 * v.len().min(MAX_CAPABILITY_VALUE / 4),
        other => other.value_len().min(MAX_CAPABILITY_VALUE),
    }
}

/// Most Graceful Restart families that fit in one capability.
const fn gr_max_families() -> usize {
    (MAX_CAPABILITY_VALUE - 2) / 4
}

/// Appends one capability TLV (RFC 5492 §4). A value longer than 255 octets cannot be described by
/// the length octet and is cut to the entries that fit; callers that must not lose anything check
/// [`Capability::value_len`] first, as [`super::Open`]'s encoder does.
pub(crate) fn encode_capability(cap: &Capability, out: &mut impl BufMut) {
    let len = encoded_value_len(cap);
    out.put_u8(cap.code());
    out.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
    match cap {
        Capability::Multiprotocol(f) => put_family_reserved(*f, out),
        Capability::FourOctetAs(asn) => out.put_u32(*asn),
        Capability::RouteRefresh
        | Capability::EnhancedRouteRefresh
        | Capability::ExtendedMessage => {}
        Capability::GracefulRestart(gr) => {
            let mut word = gr.restart_time & GR_TIME_MASK;
            if gr.restart_state {
                word |= GR_RESTART_STATE;
            }
            if gr.notification {
                word |= GR_NOTIFICATION;
            }
            out.put_u16(word);
            for f in gr.families.iter().take(gr_max_families()) {
                out.put_u16(f.family.afi.0);
                out.put_u8(f.family.safi.0);
                out.put_u8(if f.forwarding_preserved {
                    GR_FORWARDING
                } else {
                    0
                });
            }
        }
        Capability::AddPath(v) => {
            for f in v.iter().take(MAX_CAPABILITY_VALUE / 4) {
                out.put_u16(f.family.afi.0);
                out.put_u8(f.family.safi.0);
                out.put_u8(f.mode.to_u8());
            }
        }
        Capability::Unknown { value, .. } => {
            out.put_slice(value.get(..len).unwrap_or(value));
        }
    }
}

/// AFI (2), reserved (1), SAFI (1), the Multiprotocol layout (RFC 4760 §8).
fn put_family_reserved(f: Family, out: &mut impl BufMut) {
    out.put_u16(f.afi.0);
    out.put_u8(0);
    out.put_u8(f.safi.0);
}

/// Decodes a run of capability TLVs filling the whole reader — the value of one Capabilities
/// optional parameter (RFC 5492 §4) — appending them to `out` in order.
///
/// A TLV whose length overruns the parameter, or a known capability whose value has the wrong
/// length or an invalid field (an ADD-PATH Send/Receive value outside 1..=3), is
/// [`DecodeErrorKind::MalformedCapability`] with the capability's bytes as NOTIFICATION data
/// (RFC 5492 defines no subcode for it, so OPEN Message Error / unspecific is sent).
pub(crate) fn decode_capabilities(
    mut r: Reader<'_>,
    out: &mut Vec<Capability>,
) -> Result<(), DecodeError> {
    while !r.is_empty() {
        let offset = r.offset();
        let whole = r.rest();
        let code = r.u8().unwrap_or(0);
        let malformed = |data: &[u8]| {
            DecodeError::with_data(
                offset,
                DecodeErrorKind::MalformedCapability(code),
                Bytes::copy_from_slice(data),
            )
        };
        let Some(len) = r.u8() else {
            return Err(malformed(whole));
        };
        let Some(value) = r.take(usize::from(len)) else {
            return Err(malformed(whole));
        };
        let tlv = whole.get(..2 + value.len()).unwrap_or(whole);
        let cap = decode_value(code, value).ok_or_else(|| malformed(tlv))?;
        out.push(cap);
    }
    Ok(())
}

/// Interprets one capability value; `None` when a known capability is malformed.
fn decode_value(code: u8, value: &[u8]) -> Option<Capability> {
    let mut r = Reader::new(value, 0);
    let cap = match code {
        MULTIPROTOCOL => {
            let afi = r.u16()?;
            let _reserved = r.u8()?;
            let safi = r.u8()?;
            Capability::Multiprotocol(Family::new(afi, safi))
        }
        ROUTE_REFRESH => Capability::RouteRefresh,
        ENHANCED_ROUTE_REFRESH => Capability::EnhancedRouteRefresh,
        EXTENDED_MESSAGE => Capability::ExtendedMessage,
        FOUR_OCTET_AS => Capability::FourOctetAs(r.u32()?),
        GRACEFUL_RESTART => {
            let word = r.u16()?;
            if r.remaining() % 4 != 0 {
                return None;
            }
            let mut families = Vec::with_capacity(r.remaining() / 4);
            while !r.is_empty() {
                let afi = r.u16()?;
                let safi = r.u8()?;
                let flags = r.u8()?;
                families.push(GracefulRestartFamily {
                    family: Family::new(afi, safi),
                    forwarding_preserved: flags & GR_FORWARDING != 0,
                });
            }
            Capability::GracefulRestart(GracefulRestart {
                restart_state: word & GR_RESTART_STATE != 0,
                notification: word & GR_NOTIFICATION != 0,
                restart_time: word & GR_TIME_MASK,
                families,
            })
        }
        ADD_PATH => {
            if r.remaining() % 4 != 0 {
                return None;
            }
            let mut families = Vec::with_capacity(r.remaining() / 4);
            while !r.is_empty() {
                let afi = r.u16()?;
                let safi = r.u8()?;
                let mode = AddPathMode::from_u8(r.u8()?)?;
                families.push(AddPathFamily {
                    family: Family::new(afi, safi),
                    mode,
                });
            }
            Capability::AddPath(families)
        }
        _ => {
            return Some(Capability::Unknown {
                code,
                value: Bytes::copy_from_slice(r.take_rest()),
            })
        }
    };
    // Every known capability has an exact length: nothing may be left over.
    r.is_empty().then_some(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Vec<Capability>, DecodeError> {
        let mut v = Vec::new();
        decode_capabilities(Reader::new(bytes, 0), &mut v).map(|()| v)
    }

    fn encode(caps: &[Capability]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in caps {
            encode_capability(c, &mut out);
        }
        out
    }

    /// Decodes `bytes` to exactly `want`, and encodes `want` to exactly `bytes`.
    fn both_ways(bytes: &[u8], want: &[Capability]) {
        assert_eq!(decode(bytes).unwrap(), want);
        assert_eq!(encode(want), bytes);
        assert_eq!(want.iter().map(capability_len).sum::<usize>(), bytes.len());
    }

    fn malformed(bytes: &[u8]) -> DecodeError {
        let e = decode(bytes).unwrap_err();
        let n = e.notification();
        assert_eq!(
            (n.code, n.subcode),
            (2, 0),
            "OPEN Message Error, unspecific"
        );
        e
    }

    #[test]
    fn multiprotocol_is_afi_reserved_safi_rfc4760_8() {
        both_ways(
            &[
                1, 4, // code 1 (Multiprotocol), length 4
                0, 1, // AFI 1 (IPv4)
                0, // reserved
                1, // SAFI 1 (unicast)
                1, 4, // code 1, length 4
                0, 2, 0, 1, // AFI 2 (IPv6), reserved, SAFI 1
            ],
            &[
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
            ],
        );
    }

    #[test]
    fn a_nonzero_reserved_octet_in_multiprotocol_is_ignored_rfc4760_8() {
        let caps = decode(&[1, 4, 0, 2, 0xaa, 2]).unwrap();
        assert_eq!(caps, [Capability::Multiprotocol(Family::new(2, 2))]);
    }

    #[test]
    fn route_refresh_enhanced_rr_and_extended_message_have_no_value_rfc2918_rfc7313_rfc8654() {
        both_ways(
            &[
                2, 0, // code 2 (Route Refresh, RFC 2918 §2), length 0
                70, 0, // code 70 (Enhanced Route Refresh, RFC 7313 §3.1), length 0
                6, 0, // code 6 (Extended Message, RFC 8654 §3), length 0
            ],
            &[
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::ExtendedMessage,
            ],
        );
    }

    #[test]
    fn four_octet_as_carries_the_as_number_rfc6793_3() {
        both_ways(
            &[
                65, 4, // code 65, length 4
                0xfa, 0x56, 0xea, 0x01, // AS 4200000001
            ],
            &[Capability::FourOctetAs(4_200_000_001)],
        );
    }

    #[test]
    fn graceful_restart_with_r_and_n_bits_and_two_families_rfc4724_3_rfc8538_2() {
        both_ways(
            &[
                64, 10, // code 64 (Graceful Restart), length 2 + 2*4
                0xc0, 0x78, // R=1, N=1, reserved 00, restart time 0x078 = 120 s
                0, 1, 1, 0x80, // AFI 1, SAFI 1, F=1
                0, 2, 1, 0x00, // AFI 2, SAFI 1, F=0
            ],
            &[Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![
                    GracefulRestartFamily {
                        family: Family::IPV4_UNICAST,
                        forwarding_preserved: true,
                    },
                    GracefulRestartFamily {
                        family: Family::IPV6_UNICAST,
                        forwarding_preserved: false,
                    },
                ],
            })],
        );
    }

    #[test]
    fn graceful_restart_without_families_and_the_full_12_bit_time_rfc4724_3() {
        both_ways(
            &[
                64, 2, // code 64, length 2
                0x0f, 0xff, // R=0, N=0, restart time 4095
            ],
            &[Capability::GracefulRestart(GracefulRestart {
                restart_time: 4095,
                ..GracefulRestart::default()
            })],
        );
    }

    #[test]
    fn add_path_with_two_families_rfc7911_4() {
        both_ways(
            &[
                69, 8, // code 69 (ADD-PATH), length 2*4
                0, 1, 1, 3, // AFI 1, SAFI 1, send/receive 3 (both)
                0, 2, 1, 1, // AFI 2, SAFI 1, send/receive 1 (receive)
            ],
            &[Capability::AddPath(vec![
                AddPathFamily {
                    family: Family::IPV4_UNICAST,
                    mode: AddPathMode::Both,
                },
                AddPathFamily {
                    family: Family::IPV6_UNICAST,
                    mode: AddPathMode::Receive,
                },
            ])],
        );
    }

    #[test]
    fn add_path_modes_say_who_can_send_and_receive_rfc7911_4() {
        assert!(AddPathMode::Receive.can_receive() && !AddPathMode::Receive.can_send());
        assert!(AddPathMode::Send.can_send() && !AddPathMode::Send.can_receive());
        assert!(AddPathMode::Both.can_send() && AddPathMode::Both.can_receive());
        for v in 0..=255u8 {
            assert_eq!(
                AddPathMode::from_u8(v).map(AddPathMode::to_u8),
                (1..=3).contains(&v).then_some(v)
            );
        }
    }

    #[test]
    fn an_unknown_capability_is_kept_raw_rfc5492_4() {
        both_ways(
            &[
                73, 5, // code 73 (FQDN, not interpreted), length 5
                3, b'w', b'r', b'n', 0, // opaque value
                128, 0, // code 128 (pre-standard Cisco route refresh), length 0
            ],
            &[
                Capability::Unknown {
                    code: 73,
                    value: Bytes::from_static(&[3, b'w', b'r', b'n', 0]),
                },
                Capability::Unknown {
                    code: 128,
                    value: Bytes::new(),
                },
            ],
        );
    }

    #[test]
    fn a_capability_length_overrunning_the_parameter_is_malformed_with_its_bytes_as_data_rfc5492_4()
    {
        let e = malformed(&[2, 0, 65, 6, 0, 0, 0xfd, 0xe8]);
        assert_eq!(e.kind, DecodeErrorKind::MalformedCapability(65));
        assert_eq!(e.offset, 2);
        assert_eq!(&e.data[..], &[65, 6, 0, 0, 0xfd, 0xe8]);
        // A lone code octet with no length.
        let e = malformed(&[2, 0, 70]);
        assert_eq!(e.kind, DecodeErrorKind::MalformedCapability(70));
        assert_eq!(&e.data[..], &[70]);
    }

    #[test]
    fn a_four_octet_as_capability_of_length_2_is_malformed_rfc6793_3() {
        let e = malformed(&[65, 2, 0xfd, 0xe8]);
        assert_eq!(e.kind, DecodeErrorKind::MalformedCapability(65));
        assert_eq!(&e.data[..], &[65, 2, 0xfd, 0xe8]);
    }

    #[test]
    fn add_path_send_receive_0_or_4_is_malformed_rfc7911_4() {
        for mode in [0u8, 4, 255] {
            let bytes = [69, 8, 0, 1, 1, 1, 0, 2, 1, mode];
            let e = malformed(&bytes);
            assert_eq!(e.kind, DecodeErrorKind::MalformedCapability(69));
            assert_eq!(&e.data[..], &bytes);
        }
    }

    #[test]
    fn known_capabilities_of_the_wrong_length_are_malformed_rfc5492_4() {
        for bytes in [
            &[1u8, 3, 0, 1, 0][..],  // Multiprotocol needs 4
            &[1, 5, 0, 1, 0, 1, 0],  // ... exactly
            &[2, 1, 0],              // Route Refresh has no value
            &[6, 1, 0],              // nor Extended Message
            &[70, 2, 0, 0],          // nor Enhanced Route Refresh
            &[64, 0],                // Graceful Restart needs at least the flags/time
            &[64, 5, 0, 0, 0, 1, 1], // and whole 4-octet families
            &[69, 3, 0, 1, 1],       // ADD-PATH needs whole 4-octet families
            &[65, 5, 0, 0, 0, 1, 0], // 4-octet AS needs 4
        ] {
            let e = malformed(bytes);
            assert_eq!(
                e.kind,
                DecodeErrorKind::MalformedCapability(bytes[0]),
                "{bytes:?}"
            );
            assert_eq!(&e.data[..], bytes);
        }
    }

    #[test]
    fn an_empty_parameter_holds_no_capabilities_rfc5492_4() {
        assert_eq!(decode(&[]).unwrap(), []);
    }

    #[test]
    fn over_long_values_are_cut_to_whole_entries_that_fit_one_length_octet_rfc5492_4() {
        let many: Vec<AddPathFamily> = (0..70)
            .map(|i| AddPathFamily {
                family: Family::new(i, 1),
                mode: AddPathMode::Both,
            })
            .collect();
        let cap = Capability::AddPath(many.clone());
        assert_eq!(cap.value_len(), 280);
        let bytes = encode(std::slice::from_ref(&cap));
        assert_eq!(bytes.len(), capability_len(&cap));
        assert_eq!(
            decode(&bytes).unwrap(),
            [Capability::AddPath(many[..63].to_vec())]
        );

        let raw = Capability::Unknown {
            code: 200,
            value: Bytes::from(vec![7u8; 300]),
        };
        let bytes = encode(std::slice::from_ref(&raw));
        assert_eq!(bytes.len(), 257);
        assert_eq!(bytes[1], 255);
    }
}
