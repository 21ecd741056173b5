//! OPEN (RFC 4271 §4.2): the fixed fields, the optional parameters in both the classic and the
//! RFC 9072 extended encoding, and the Capabilities parameter they carry (RFC 5492 §4).
//!
//! ```text
//! Classic (RFC 4271 §4.2):
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |  always 4
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |  AS_TRANS (23456) when the AS needs 4 octets (RFC 6793 §4.1)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Parm. Type   | Parm. Length  |  Parameter Value (variable)  ...   repeated
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Extended (RFC 9072 §2), after the BGP Identifier:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Non-Ext OP Len.|Non-Ext OP Type|  Extended Opt. Parm. Length   |
//! |     (255)     |     (255)     |          (2 octets)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Parm. Type   |  Parameter Length (2 oct.)    | Value ...         repeated
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The only parameter type BGP still defines is 2, Capabilities (RFC 5492 §4); any other is an
//! Unsupported Optional Parameter (RFC 4271 §6.2). Checking the hold time, peer AS and BGP
//! Identifier against configuration belongs to the session FSM, not here.

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::as_path::AS_TRANS;
use super::capability::{
    capability_len, decode_capabilities, encode_capability, AddPathFamily, AddPathMode, Capability,
    GracefulRestart, MAX_CAPABILITY_VALUE,
};
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::family::Family;
use super::reader::Reader;

/// The only BGP version (RFC 4271 §4.2).
const BGP_VERSION: u8 = 4;
/// Optional parameter type Capabilities (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// Non-Ext OP Len and Non-Ext OP Type value announcing the extended encoding (RFC 9072 §2).
const EXTENDED_MARKER: u8 = 255;
/// The classic optional parameters length is one octet (RFC 4271 §4.2).
const MAX_CLASSIC_OPT_LEN: usize = 255;

/// An OPEN message (RFC 4271 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// My Autonomous System: the sender's AS, or AS_TRANS (23456) when it needs 4 octets
    /// (RFC 6793 §4.1). [`Open::asn`] gives the real one.
    pub my_as: u16,
    /// Proposed hold time in seconds; 0 or at least 3 (checked by the FSM, RFC 4271 §6.2).
    pub hold_time: u16,
    /// BGP Identifier (RFC 4271 §4.2, RFC 6286).
    pub bgp_id: Ipv4Addr,
    /// Every capability from every Capabilities parameter, in the order received (RFC 5492 §4).
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for a speaker in `asn`. `my_as` is `asn` when it fits in 2 octets and AS_TRANS
    /// otherwise, and a [`Capability::FourOctetAs`]`(asn)` replaces any such capability in
    /// `capabilities` (RFC 6793 §4.1).
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Open {
        let my_as = u16::try_from(asn).unwrap_or(AS_TRANS as u16);
        let mut capabilities = capabilities;
        capabilities.retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        capabilities.push(Capability::FourOctetAs(asn));
        Open {
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The AS number in the 4-octet AS capability, if the speaker sent one (RFC 6793 §3). With
    /// several, the first counts.
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    /// The speaker's AS: the one in the 4-octet AS capability when present, else `my_as`
    /// (RFC 6793 §4.1).
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    /// The families announced with Multiprotocol capabilities, in order and without repeats. A
    /// speaker that sends none supports IPv4 unicast only (RFC 4760 §8, RFC 4271 §4.3).
    pub fn families(&self) -> Vec<Family> {
        let mut v: Vec<Family> = Vec::new();
        for c in &self.capabilities {
            if let Capability::Multiprotocol(f) = c {
                if !v.contains(f) {
                    v.push(*f);
                }
            }
        }
        if v.is_empty() {
            v.push(Family::IPV4_UNICAST);
        }
        v
    }

    /// The Graceful Restart capability, if sent (RFC 4724 §3). With several, the first counts.
    pub fn graceful_restart(&self) -> Option<&GracefulRestart> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr),
            _ => None,
        })
    }

    /// Every ADD-PATH entry from every ADD-PATH capability, in order (RFC 7911 §4).
    pub fn add_path(&self) -> Vec<AddPathFamily> {
        self.capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::AddPath(v) => Some(v.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The ADD-PATH mode announced for `family`, if any (RFC 7911 §4). RFC 7911 does not say what a
    /// repeated family means; the last entry counts.
    pub fn add_path_mode(&self, family: Family) -> Option<AddPathMode> {
        self.add_path()
            .iter()
            .rev()
            .find(|a| a.family == family)
            .map(|a| a.mode)
    }

    /// Whether the speaker accepts ROUTE-REFRESH: it sent Route Refresh (RFC 2918 §2) or Enhanced
    /// Route Refresh (RFC 7313 §3.1).
    pub fn supports_route_refresh(&self) -> bool {
        self.capabilities.iter().any(|c| {
            matches!(
                c,
                Capability::RouteRefresh | Capability::EnhancedRouteRefresh
            )
        })
    }

    /// Whether the speaker sent Enhanced Route Refresh (RFC 7313 §3.1).
    pub fn supports_enhanced_route_refresh(&self) -> bool {
        self.capabilities
            .contains(&Capability::EnhancedRouteRefresh)
    }

    /// Whether the speaker sent Extended Message (RFC 8654 §3).
    pub fn supports_extended_message(&self) -> bool {
        self.capabilities.contains(&Capability::ExtendedMessage)
    }

    /// Decodes the body of an OPEN (everything after the 19-octet header, which starts at `base` in
    /// the message, for error offsets) (RFC 4271 §4.2, §6.2; RFC 9072 §2).
    ///
    /// * A body shorter than the 10 fixed octets is a Bad Message Length (RFC 4271 §6.1).
    /// * A version other than 4 is Unsupported Version Number (RFC 4271 §6.2).
    /// * The optional parameters must fill the rest of the body exactly, and each parameter must
    ///   fit inside them; otherwise OPEN Message Error (unspecific). When Non-Ext OP Len and the
    ///   octet after it are both 255, the RFC 9072 encoding is used (2-octet lengths).
    /// * A parameter other than Capabilities is Unsupported Optional Parameter (RFC 4271 §6.2).
    pub(crate) fn decode_body(body: &[u8], base: usize) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body, base);
        let short = || {
            let len = u16::try_from(base.saturating_add(body.len())).unwrap_or(u16::MAX);
            DecodeError::with_data(
                base.saturating_sub(3),
                DecodeErrorKind::BadMessageLength(len),
                len.to_be_bytes().to_vec(),
            )
        };
        let version = r.u8().ok_or_else(short)?;
        let my_as = r.u16().ok_or_else(short)?;
        let hold_time = r.u16().ok_or_else(short)?;
        let bgp_id = Ipv4Addr::from(r.u32().ok_or_else(short)?);
        let opt_len_offset = r.offset();
        let opt_len = r.u8().ok_or_else(short)?;
        if version != BGP_VERSION {
            return Err(DecodeError::new(
                base,
                DecodeErrorKind::UnsupportedVersion(version),
            ));
        }
        let malformed = |offset| DecodeError::new(offset, DecodeErrorKind::MalformedOpen);

        let extended = opt_len == EXTENDED_MARKER && r.rest().first() == Some(&EXTENDED_MARKER);
        let mut params = if extended {
            let _non_ext_type = r.u8();
            let len_offset = r.offset();
            let len = r.u16().ok_or_else(|| malformed(len_offset))?;
            if usize::from(len) != r.remaining() {
                return Err(malformed(len_offset));
            }
            r.sub(usize::from(len))
                .ok_or_else(|| malformed(len_offset))?
        } else {
            if usize::from(opt_len) != r.remaining() {
                return Err(malformed(opt_len_offset));
            }
            r.sub(usize::from(opt_len))
                .ok_or_else(|| malformed(opt_len_offset))?
        };

        let mut capabilities = Vec::new();
        while !params.is_empty() {
            let offset = params.offset();
            let kind = params.u8().ok_or_else(|| malformed(offset))?;
            let len = if extended {
                params.u16().ok_or_else(|| malformed(offset))?
            } else {
                u16::from(params.u8().ok_or_else(|| malformed(offset))?)
            };
            let value = params
                .sub(usize::from(len))
                .ok_or_else(|| malformed(offset))?;
            if kind != PARAM_CAPABILITIES {
                return Err(DecodeError::new(
                    offset,
                    DecodeErrorKind::UnsupportedOptionalParameter(kind),
                ));
            }
            decode_capabilities(value, &mut capabilities)?;
        }
        Ok(Open {
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        })
    }

    /// Encodes the body of an OPEN: version 4, the fixed fields, and every capability in a single
    /// Capabilities parameter (RFC 4271 §4.2, RFC 5492 §4). When that parameter does not fit the
    /// one-octet Optional Parameters Length, the RFC 9072 §2 extended encoding is used.
    ///
    /// Fails with [`EncodeError::OpenTooLong`], leaving `out` untouched, when a capability value is
    /// longer than 255 octets or the parameters exceed even the extended encoding.
    pub(crate) fn encode_body(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        if self
            .capabilities
            .iter()
            .any(|c| c.value_len() > MAX_CAPABILITY_VALUE)
        {
            return Err(EncodeError::OpenTooLong);
        }
        let caps_len: usize = self.capabilities.iter().map(capability_len).sum();
        // Classic: type (1) + length (1) + capabilities, all counted by one octet.
        let classic = caps_len + 2 <= MAX_CLASSIC_OPT_LEN;
        // Extended: type (1) + length (2) + capabilities, counted by two octets.
        let ext_len = u16::try_from(caps_len + 3).map_err(|_| EncodeError::OpenTooLong)?;

        out.put_u8(BGP_VERSION);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        if self.capabilities.is_empty() {
            out.put_u8(0);
            return Ok(());
        }
        if classic {
            out.put_u8((caps_len + 2) as u8);
            out.put_u8(PARAM_CAPABILITIES);
            out.put_u8(caps_len as u8);
        } else {
            out.put_u8(EXTENDED_MARKER);
            out.put_u8(EXTENDED_MARKER);
            out.put_u16(ext_len);
            out.put_u8(PARAM_CAPABILITIES);
            out.put_u16(ext_len - 3);
        }
        for c in &self.capabilities {
            encode_capability(c, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::capability::GracefulRestartFamily;
    use super::*;

    fn decode(body: &[u8]) -> Result<Open, DecodeError> {
        Open::decode_body(body, 19)
    }

    fn encode(open: &Open) -> Vec<u8> {
        let mut out = BytesMut::new();
        open.encode_body(&mut out).unwrap();
        out.to_vec()
    }

    fn both_ways(body: &[u8], want: &Open) {
        assert_eq!(&decode(body).unwrap(), want);
        assert_eq!(encode(want), body);
    }

    /// The fixed part: version 4, `my_as`, `hold`, BGP Identifier 192.0.2.1 (RFC 4271 §4.2).
    fn fixed(my_as: u16, hold: u16) -> Vec<u8> {
        let mut v = vec![4];
        v.extend_from_slice(&my_as.to_be_bytes());
        v.extend_from_slice(&hold.to_be_bytes());
        v.extend_from_slice(&[192, 0, 2, 1]);
        v
    }

    fn notification(body: &[u8]) -> (u8, u8, Vec<u8>) {
        let n = decode(body).unwrap_err().notification();
        (n.code, n.subcode, n.data.to_vec())
    }

    /// What GoBGP and BIRD typically send to a Calico peer with a 4-octet AS.
    fn realistic() -> Open {
        Open {
            my_as: 23456,
            hold_time: 90,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::FourOctetAs(4_200_000_001),
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: false,
                    notification: true,
                    restart_time: 120,
                    families: vec![
                        GracefulRestartFamily {
                            family: Family::IPV4_UNICAST,
                            forwarding_preserved: true,
                        },
                        GracefulRestartFamily {
                            family: Family::IPV6_UNICAST,
                            forwarding_preserved: true,
                        },
                    ],
                }),
                Capability::AddPath(vec![
                    AddPathFamily {
                        family: Family::IPV4_UNICAST,
                        mode: AddPathMode::Both,
                    },
                    AddPathFamily {
                        family: Family::IPV6_UNICAST,
                        mode: AddPathMode::Both,
                    },
                ]),
                Capability::ExtendedMessage,
            ],
        }
    }

    #[rustfmt::skip]
    const REALISTIC: [u8; 58] = [
        4,                      // version 4 (RFC 4271 §4.2)
        0x5b, 0xa0,             // my AS 23456 = AS_TRANS (RFC 6793 §4.1)
        0, 90,                  // hold time 90 s
        192, 0, 2, 1,           // BGP identifier
        48,                     // optional parameters length
        2, 46,                  // parameter type 2 (capabilities, RFC 5492 §4), length 46
        1, 4, 0, 1, 0, 1,       // MP: AFI 1, reserved, SAFI 1 (RFC 4760 §8)
        1, 4, 0, 2, 0, 1,       // MP: AFI 2, reserved, SAFI 1
        2, 0,                   // route refresh (RFC 2918 §2)
        70, 0,                  // enhanced route refresh (RFC 7313 §3.1)
        65, 4, 0xfa, 0x56, 0xea, 0x01, // 4-octet AS 4200000001 (RFC 6793 §3)
        64, 10,                 // graceful restart, length 2 + 2*4 (RFC 4724 §3)
        0x40, 0x78,             //   R=0 N=1 (RFC 8538 §2), restart time 120
        0, 1, 1, 0x80,          //   AFI 1 SAFI 1 F=1
        0, 2, 1, 0x80,          //   AFI 2 SAFI 1 F=1
        69, 8,                  // ADD-PATH, length 2*4 (RFC 7911 §4)
        0, 1, 1, 3,             //   AFI 1 SAFI 1 send/receive both
        0, 2, 1, 3,             //   AFI 2 SAFI 1 send/receive both
        6, 0,                   // extended message (RFC 8654 §3)
    ];

    #[test]
    fn a_realistic_open_with_every_capability_wren_uses_round_trips_rfc4271_4_2_rfc5492_4() {
        let open = realistic();
        both_ways(&REALISTIC, &open);
        assert_eq!(open.asn(), 4_200_000_001);
        assert_eq!(
            open.families(),
            [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        );
        assert!(open.supports_route_refresh());
        assert!(open.supports_enhanced_route_refresh());
        assert!(open.supports_extended_message());
        assert_eq!(open.graceful_restart().map(|g| g.restart_time), Some(120));
        assert_eq!(
            open.add_path_mode(Family::IPV6_UNICAST),
            Some(AddPathMode::Both)
        );
        assert_eq!(open.add_path_mode(Family::new(1, 2)), None);
    }

    #[test]
    fn the_whole_message_frames_and_decodes_through_the_dispatcher_rfc4271_4_1() {
        let mut msg = vec![0xff; 16];
        msg.extend_from_slice(&(19 + REALISTIC.len() as u16).to_be_bytes());
        msg.push(1);
        msg.extend_from_slice(&REALISTIC);
        let m = super::super::Message::Open(realistic());
        let ctx = super::super::Ctx::default();
        assert_eq!(super::super::encode_to_vec(&m, &ctx).unwrap(), msg);
        assert_eq!(super::super::decode(&msg, &ctx).unwrap().message, m);
    }

    #[test]
    fn an_open_without_optional_parameters_has_no_capabilities_and_speaks_ipv4_only_rfc4271_4_2() {
        let mut body = fixed(65000, 180);
        body.push(0); // optional parameters length 0
        let open = Open {
            my_as: 65000,
            hold_time: 180,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: vec![],
        };
        both_ways(&body, &open);
        assert_eq!(open.asn(), 65000);
        assert_eq!(open.families(), [Family::IPV4_UNICAST]);
        assert!(!open.supports_route_refresh());
    }

    #[test]
    fn several_capability_parameters_are_collected_in_order_rfc5492_4() {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[
            18, // optional parameters length: 8 + 4 + 2 + 4
            2, 6, 1, 4, 0, 1, 0, 1, // capabilities: MP ipv4 unicast
            2, 2, 2, 0, // capabilities: route refresh
            2, 0, // an empty capabilities parameter
            2, 2, 6, 0, // capabilities: extended message
        ]);
        let open = decode(&body).unwrap();
        assert_eq!(
            open.capabilities,
            [
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage
            ]
        );
    }

    #[test]
    fn an_extended_optional_parameters_open_decodes_rfc9072_2() {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[
            255, // Non-Ext OP Len: 255
            255, // Non-Ext OP Type: 255, so the extended encoding follows
            0, 17, // Extended Opt. Parm. Length: 17
            2, 0, 14, // parameter type 2 (capabilities), 2-octet parameter length 14
            1, 4, 0, 1, 0, 1, // MP ipv4 unicast
            2, 0, // route refresh
            65, 4, 0, 0, 0xfd, 0xe8, // 4-octet AS 65000
        ]);
        let open = decode(&body).unwrap();
        assert_eq!(
            open,
            Open {
                my_as: 65000,
                hold_time: 180,
                bgp_id: Ipv4Addr::new(192, 0, 2, 1),
                capabilities: vec![
                    Capability::Multiprotocol(Family::IPV4_UNICAST),
                    Capability::RouteRefresh,
                    Capability::FourOctetAs(65000),
                ],
            }
        );
        // Short enough for the classic encoding, which the encoder prefers.
        assert_eq!(encode(&open)[9..12], [16, 2, 14]);
    }

    /// An OPEN whose capabilities total `raw + 2 + 12` octets: MP ipv4, 4-octet AS 65000 and one
    /// unknown capability (code 200) of `raw` octets.
    fn with_raw_capability(raw: usize) -> Open {
        Open {
            my_as: 65000,
            hold_time: 180,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::FourOctetAs(65000),
                Capability::Unknown {
                    code: 200,
                    value: Bytes::from(vec![0xab; raw]),
                },
            ],
        }
    }

    #[test]
    fn capabilities_too_long_for_one_octet_use_the_extended_encoding_both_ways_rfc9072_2() {
        // 6 + 6 + 257 = 269 octets of capabilities: more than 253, so extended.
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[
            255, // Non-Ext OP Len
            255, // Non-Ext OP Type
            0x01, 0x10, // Extended Opt. Parm. Length 272 = 1 + 2 + 269
            2,    // parameter type 2 (capabilities)
            0x01, 0x0d, // parameter length 269 (2 octets)
            1, 4, 0, 1, 0, 1, // MP ipv4 unicast
            65, 4, 0, 0, 0xfd, 0xe8, // 4-octet AS 65000
            200, 255, // unknown capability 200, length 255
        ]);
        body.extend_from_slice(&[0xab; 255]);
        both_ways(&body, &with_raw_capability(255));
    }

    #[test]
    fn the_classic_encoding_is_used_up_to_253_octets_of_capabilities_rfc4271_4_2_rfc9072_2() {
        // 12 + 2 + 239 = 253: parameter header (2) + 253 = 255 fits the one-octet length.
        let open = with_raw_capability(239);
        let body = encode(&open);
        assert_eq!(body[9..12], [255, 2, 253]);
        assert_eq!(body.len(), 10 + 255);
        assert_eq!(decode(&body).unwrap(), open);
        // One more octet needs the extended encoding.
        let open = with_raw_capability(240);
        let body = encode(&open);
        assert_eq!(body[9..15], [255, 255, 1, 1, 2, 0]);
        assert_eq!(body[15], 254);
        assert_eq!(decode(&body).unwrap(), open);
    }

    #[test]
    fn a_capability_value_over_255_octets_is_refused_by_the_encoder_rfc5492_4() {
        let open = with_raw_capability(256);
        let mut out = BytesMut::from(&b"xy"[..]);
        assert_eq!(open.encode_body(&mut out), Err(EncodeError::OpenTooLong));
        assert_eq!(&out[..], b"xy");
    }

    #[test]
    fn new_puts_as_trans_in_my_as_and_always_sends_the_four_octet_as_capability_rfc6793_4_1() {
        let id = Ipv4Addr::new(10, 0, 0, 1);
        let big = Open::new(
            4_200_000_001,
            90,
            id,
            vec![Capability::RouteRefresh, Capability::FourOctetAs(1)],
        );
        assert_eq!(big.my_as, 23456);
        assert_eq!(big.asn(), 4_200_000_001);
        assert_eq!(
            big.capabilities,
            [
                Capability::RouteRefresh,
                Capability::FourOctetAs(4_200_000_001)
            ]
        );
        let small = Open::new(64512, 90, id, vec![]);
        assert_eq!(small.my_as, 64512);
        assert_eq!(small.capabilities, [Capability::FourOctetAs(64512)]);
    }

    #[test]
    fn version_3_is_unsupported_version_with_4_as_data_rfc4271_6_2() {
        let mut body = fixed(65000, 180);
        body[0] = 3;
        body.push(0);
        assert_eq!(notification(&body), (2, 1, vec![0, 4]));
        assert_eq!(
            decode(&body).unwrap_err().kind,
            DecodeErrorKind::UnsupportedVersion(3)
        );
    }

    #[test]
    fn an_optional_parameter_other_than_capabilities_is_unsupported_rfc4271_6_2() {
        let mut body = fixed(65000, 180);
        // Parameter type 1 (deprecated Authentication Information), length 2.
        body.extend_from_slice(&[4, 1, 2, 0, 0]);
        assert_eq!(notification(&body), (2, 4, vec![]));
        let e = decode(&body).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (DecodeErrorKind::UnsupportedOptionalParameter(1), 29)
        );
    }

    #[test]
    fn an_optional_parameters_length_past_the_end_is_malformed_rfc4271_6_2() {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[8, 2, 2, 2, 0]); // says 8, has 4
        assert_eq!(notification(&body), (2, 0, vec![]));
        // Short of the end, too: the parameters must fill the message.
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[2, 2, 0, 2, 0]);
        assert_eq!(notification(&body), (2, 0, vec![]));
    }

    #[test]
    fn a_parameter_length_past_the_optional_parameters_is_malformed_rfc4271_6_2() {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[4, 2, 3, 2, 0]); // parameter says 3, 2 remain
        assert_eq!(notification(&body), (2, 0, vec![]));
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[1, 2]); // type without length
        assert_eq!(notification(&body), (2, 0, vec![]));
    }

    #[test]
    fn an_open_ending_at_the_optional_parameters_length_octet_is_a_clean_error_cve_2022_43681() {
        for opt_len in [1u8, 2, 254, 255] {
            let mut body = fixed(65000, 180);
            body.push(opt_len);
            assert_eq!(notification(&body), (2, 0, vec![]), "opt len {opt_len}");
        }
        // As a whole 29-octet message through the dispatcher.
        let mut msg = vec![0xff; 16];
        msg.extend_from_slice(&[0, 29, 1]);
        msg.extend_from_slice(&fixed(65000, 180));
        msg.push(255);
        let e = super::super::decode(&msg, &super::super::Ctx::default()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::MalformedOpen);
    }

    #[test]
    fn a_body_shorter_than_the_fixed_fields_is_bad_message_length_rfc4271_6_1() {
        for len in 0..10 {
            let body = &fixed(65000, 180)[..len.min(9)];
            let n = decode(body).unwrap_err().notification();
            assert_eq!((n.code, n.subcode), (1, 2));
            assert_eq!(n.data.to_vec(), ((19 + body.len()) as u16).to_be_bytes());
        }
    }

    #[test]
    fn extended_lengths_disagreeing_with_the_message_are_clean_errors_rfc9072_2_cve_2022_40302() {
        let cases: &[&[u8]] = &[
            &[255, 255],                       // no Extended Opt. Parm. Length
            &[255, 255, 0],                    // half of it
            &[255, 255, 0, 5, 2, 0, 2, 2],     // says 5, has 4
            &[255, 255, 0, 3, 2, 0, 2, 2, 0],  // says 3, has 5
            &[255, 255, 0xff, 0xff, 2, 0, 0],  // says 65535
            &[255, 255, 0, 5, 2, 0, 4, 2, 0],  // parameter length 4 past the 5 octets
            &[255, 255, 0, 2, 2, 0],           // parameter length cut in half
            &[255, 255, 0, 5, 2, 0, 2, 65, 4], // capability overruns its parameter
        ];
        for tail in cases {
            let mut body = fixed(65000, 180);
            body.extend_from_slice(tail);
            let (c, s, _) = notification(&body);
            assert_eq!((c, s), (2, 0), "{tail:?}");
        }
    }

    #[test]
    fn a_first_parameter_of_type_255_without_non_ext_len_255_is_an_unsupported_parameter_rfc9072_2()
    {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[4, 255, 2, 0, 0]);
        assert_eq!(notification(&body), (2, 4, vec![]));
    }

    #[test]
    fn a_malformed_capability_inside_an_open_carries_its_bytes_and_message_offset_rfc5492_4() {
        let mut body = fixed(65000, 180);
        body.extend_from_slice(&[
            10, 2, 8, //
            2, 0, // route refresh
            69, 4, 0, 1, 1, 0, // ADD-PATH with send/receive 0
        ]);
        let e = decode(&body).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::MalformedCapability(69));
        assert_eq!(e.offset, 19 + 10 + 2 + 2);
        assert_eq!(notification(&body), (2, 0, vec![69, 4, 0, 1, 1, 0]));
    }

    fn arb_family() -> impl Strategy<Value = Family> {
        (
            prop_oneof![Just(1u16), Just(2), any::<u16>()],
            prop_oneof![Just(1u8), Just(2), any::<u8>()],
        )
            .prop_map(|(a, s)| Family::new(a, s))
    }

    fn arb_capability() -> impl Strategy<Value = Capability> {
        let mode = prop_oneof![
            Just(AddPathMode::Receive),
            Just(AddPathMode::Send),
            Just(AddPathMode::Both)
        ];
        let gr_family = (arb_family(), any::<bool>()).prop_map(|(family, forwarding_preserved)| {
            GracefulRestartFamily {
                family,
                forwarding_preserved,
            }
        });
        prop_oneof![
            arb_family().prop_map(Capability::Multiprotocol),
            Just(Capability::RouteRefresh),
            Just(Capability::EnhancedRouteRefresh),
            Just(Capability::ExtendedMessage),
            any::<u32>().prop_map(Capability::FourOctetAs),
            (
                any::<bool>(),
                any::<bool>(),
                0u16..4096,
                prop::collection::vec(gr_family, 0..=63)
            )
                .prop_map(|(restart_state, notification, restart_time, families)| {
                    Capability::GracefulRestart(GracefulRestart {
                        restart_state,
                        notification,
                        restart_time,
                        families,
                    })
                }),
            prop::collection::vec(
                (arb_family(), mode).prop_map(|(family, mode)| AddPathFamily { family, mode }),
                0..=63
            )
            .prop_map(Capability::AddPath),
            (
                any::<u8>().prop_filter("not a code wren interprets", |c| {
                    ![1, 2, 6, 64, 65, 69, 70].contains(c)
                }),
                prop::collection::vec(any::<u8>(), 0..=255)
            )
                .prop_map(|(code, v)| Capability::Unknown {
                    code,
                    value: Bytes::from(v)
                }),
        ]
    }

    fn arb_open() -> impl Strategy<Value = Open> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            prop::collection::vec(arb_capability(), 0..24),
        )
            .prop_map(|(my_as, hold_time, id, capabilities)| Open {
                my_as,
                hold_time,
                bgp_id: Ipv4Addr::from(id),
                capabilities,
            })
    }

    proptest! {
        #[test]
        fn any_open_encodes_and_decodes_back_equal_rfc4271_4_2_rfc9072_2(open in arb_open()) {
            let body = encode(&open);
            prop_assert_eq!(decode(&body).unwrap(), open);
        }

        #[test]
        fn random_bytes_never_make_the_open_decoder_panic(
            body in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let _ = decode(&body);
        }

        #[test]
        fn random_optional_parameters_never_make_the_open_decoder_panic(
            opt_len in prop_oneof![Just(255u8), any::<u8>()],
            tail in prop::collection::vec(
                prop_oneof![Just(255u8), Just(2u8), Just(0u8), any::<u8>()],
                0..300,
            ),
        ) {
            let mut body = fixed(65000, 180);
            body.push(opt_len);
            body.extend_from_slice(&tail);
            let _ = decode(&body);
        }

        #[test]
        fn corrupting_one_octet_of_a_valid_open_never_panics(i in 0usize..58, v in any::<u8>()) {
            let mut body = REALISTIC;
            body[i] = v;
            if let Ok(open) = decode(&body) {
                // Whatever decodes re-encodes to something that decodes the same.
                prop_assert_eq!(decode(&encode(&open)).unwrap(), open);
            }
        }
    }
}
