//! Path attributes (RFC 4271 §4.3 and §5) and their RFC 7606 error handling.
//!
//! ```text
//! +----------------+----------------+-------------------------------+-----------------+
//! | flags (1)      | type code (1)  | length (1, or 2 when flag     | value (length)  |
//! | O T P E 0 0 0 0|                |  Extended Length is set)      |                 |
//! +----------------+----------------+-------------------------------+-----------------+
//! ```
//!
//! Known attributes are decoded into [`PathAttributes`]; MP_REACH_NLRI and MP_UNREACH_NLRI are
//! handed to `update`, which owns NLRI. Unknown optional transitive attributes are kept (with the
//! Partial bit set) to be passed on; unknown optional non-transitive ones are dropped (RFC 4271 §5).
//!
//! Faults follow RFC 7606 (`reliability-anchors.md` §1.2–1.3): each becomes an [`AttrFault`] with
//! the action taken, or, where the RFC demands a session reset, a [`DecodeError`].

use std::fmt;
use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};
use thin_vec::ThinVec;

use super::as_path::{merge_as4_path, AsPath, AS_TRANS};
use super::error::{DecodeError, DecodeErrorKind, EncodeError};
use super::reader::Reader;
use super::update::{self, MpReach, MpUnreach};
use super::Ctx;

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    /// Optional (1) or well-known (0).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive (1) or non-transitive (0).
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: some speaker on the path did not recognise this optional transitive attribute.
    pub const PARTIAL: u8 = 0x20;
    /// The length field is two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod attr_type {
    /// ORIGIN (RFC 4271 §5.1.1).
    pub const ORIGIN: u8 = 1;
    /// AS_PATH (RFC 4271 §5.1.2).
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP (RFC 4271 §5.1.3).
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    pub const MULTI_EXIT_DISC: u8 = 4;
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE (RFC 4271 §5.1.6).
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR (RFC 4271 §5.1.7).
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// ORIGINATOR_ID (RFC 4456 §8).
    pub const ORIGINATOR_ID: u8 = 9;
    /// CLUSTER_LIST (RFC 4456 §8).
    pub const CLUSTER_LIST: u8 = 10;
    /// MP_REACH_NLRI (RFC 4760 §3).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760 §4).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// ORIGIN values (RFC 4271 §5.1.1); lower is preferred in the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// IGP (0), `i` in BIRD and GoBGP output.
    Igp,
    /// EGP (1), `e`.
    Egp,
    /// INCOMPLETE (2), `?`.
    Incomplete,
}

/// AGGREGATOR / AS4_AGGREGATOR value (RFC 4271 §5.1.7, RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aggregator {
    /// AS of the aggregating speaker.
    pub asn: u32,
    /// BGP identifier of the aggregating speaker.
    pub address: Ipv4Addr,
}

/// A standard community (RFC 1997), shown as `asn:value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// NO_EXPORT: not advertised outside the AS or confederation (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    /// NO_ADVERTISE: not advertised to any peer (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    /// NO_EXPORT_SUBCONFED: not advertised to external peers, even in the confederation (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    /// NOPEER (RFC 3765).
    pub const NO_PEER: Community = Community(0xffff_ff04);

    /// `asn:value`.
    pub const fn new(asn: u16, value: u16) -> Community {
        Community(((asn as u32) << 16) | value as u32)
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

/// An extended community (RFC 4360 §2), eight octets: type, sub-type, value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl ExtCommunity {
    /// Two-octet-AS route target `rt:asn:value` (RFC 4360 §4, type 0x00 sub-type 0x02).
    pub fn route_target(asn: u16, value: u32) -> ExtCommunity {
        let [a, b] = asn.to_be_bytes();
        let [c, d, e, g] = value.to_be_bytes();
        ExtCommunity([0x00, 0x02, a, b, c, d, e, g])
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [t, st, a, b, c, d, e, g] = self.0;
        match (t, st) {
            (0x00, 0x02) => write!(
                f,
                "rt:{}:{}",
                u16::from_be_bytes([a, b]),
                u32::from_be_bytes([c, d, e, g])
            ),
            (0x00, 0x03) => write!(
                f,
                "ro:{}:{}",
                u16::from_be_bytes([a, b]),
                u32::from_be_bytes([c, d, e, g])
            ),
            _ => write!(
                f,
                "0x{}",
                self.0
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        }
    }
}

/// A large community (RFC 8092 §3), shown as `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (an AS number).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// An attribute wren does not interpret, kept to be passed on (RFC 4271 §5: optional transitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawAttribute {
    /// Flags as received, with Partial set and Extended Length cleared (it is recomputed).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Bytes,
}

/// The path attributes of an UPDATE, other than MP_REACH_NLRI / MP_UNREACH_NLRI (see `Update`).
///
/// AS numbers are 4-octet values whatever the session: AS4_PATH / AS4_AGGREGATOR received from a
/// 2-octet speaker are merged into `as_path` / `aggregator` (RFC 6793 §4.2.3), and generated again
/// when sending to one.
///
/// The list attributes are [`ThinVec`]s: 8 octets and no allocation when absent (a `Vec` is 24),
/// which matters because a real table holds an interned set per ~2 prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathAttributes {
    /// ORIGIN (well-known mandatory).
    pub origin: Option<Origin>,
    /// AS_PATH (well-known mandatory).
    pub as_path: Option<AsPath>,
    /// NEXT_HOP (mandatory with IPv4 NLRI in the NLRI field).
    pub next_hop: Option<Ipv4Addr>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (internal peers only).
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE present.
    pub atomic_aggregate: bool,
    /// AGGREGATOR.
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES; empty means absent.
    pub communities: ThinVec<Community>,
    /// ORIGINATOR_ID (RFC 4456).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456); empty means absent.
    pub cluster_list: ThinVec<Ipv4Addr>,
    /// EXTENDED COMMUNITIES; empty means absent.
    pub ext_communities: ThinVec<ExtCommunity>,
    /// LARGE_COMMUNITY; empty means absent.
    pub large_communities: ThinVec<LargeCommunity>,
    /// Unrecognised optional transitive attributes, in received order.
    pub unknown: ThinVec<RawAttribute>,
}

/// The RFC 7606 approaches short of a session reset, weakest first (RFC 7606 §2, §3(h)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rfc7606Action {
    /// The attribute was dropped and the UPDATE used without it.
    AttributeDiscard,
    /// The UPDATE's prefixes were treated as withdrawn.
    TreatAsWithdraw,
}

/// What was wrong with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrFaultKind {
    /// Optional or Transitive bit conflicts with the attribute's definition (RFC 7606 §3(c)).
    BadFlags(u8),
    /// Length does not fit the attribute (RFC 7606 §7).
    BadLength(u16),
    /// Value is not valid (unknown ORIGIN value, malformed AS_PATH segment; RFC 7606 §7.1–7.2).
    BadValue,
    /// Second occurrence of the attribute; the first was kept (RFC 7606 §3(g)).
    Duplicate,
    /// A well-known mandatory attribute is missing (RFC 7606 §3(d)).
    Missing,
    /// The attribute overruns the attribute list (RFC 7606 §4).
    Framing,
    /// The attribute is not accepted from this kind of peer, e.g. LOCAL_PREF from an external peer
    /// (RFC 7606 §7.5, §7.9, §7.10) or AS4_PATH from a 4-octet speaker (RFC 6793 §4.1).
    Unexpected,
    /// MP_REACH_NLRI / MP_UNREACH_NLRI for a family wren does not parse (RFC 4760 §7).
    UnsupportedFamily,
}

/// One attribute fault handled without resetting the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttrFault {
    /// Attribute type code.
    pub type_code: u8,
    /// What was wrong.
    pub kind: AttrFaultKind,
    /// What was done about it.
    pub action: Rfc7606Action,
    /// Octet offset of the attribute in the message.
    pub offset: usize,
}

impl fmt::Display for AttrFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attribute {} {:?} at octet {}: {:?}",
            self.type_code, self.kind, self.offset, self.action
        )
    }
}

/// Expected Optional and Transitive bits for known attributes (RFC 4271 §5 and each RFC).
fn expected_flags(type_code: u8) -> Option<u8> {
    use attr_type::*;
    const WK: u8 = flags::TRANSITIVE;
    const ON: u8 = flags::OPTIONAL;
    const OT: u8 = flags::OPTIONAL | flags::TRANSITIVE;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => WK,
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => ON,
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | LARGE_COMMUNITY => OT,
        _ => return None,
    })
}

/// Everything the attribute list of one UPDATE yielded.
#[derive(Debug, Default)]
pub(crate) struct DecodedAttrs {
    pub attrs: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub faults: Vec<AttrFault>,
}

/// A 256-bit set of seen attribute type codes.
#[derive(Default)]
struct Seen([u64; 4]);

impl Seen {
    /// Marks `t`; returns whether it was already marked.
    fn insert(&mut self, t: u8) -> bool {
        let (word, bit) = (usize::from(t >> 6), 1u64 << (t & 63));
        match self.0.get_mut(word) {
            Some(w) => {
                let had = *w & bit != 0;
                *w |= bit;
                had
            }
            None => false,
        }
    }
}

/// Decodes the path attribute list of an UPDATE (RFC 4271 §4.3, RFC 7606).
///
/// `has_nlri_field` says whether the NLRI field holds prefixes, which makes NEXT_HOP mandatory.
pub(crate) fn decode_attributes(
    mut r: Reader<'_>,
    ctx: &Ctx,
    has_nlri_field: bool,
) -> Result<DecodedAttrs, DecodeError> {
    use attr_type::*;
    let mut d = DecodedAttrs::default();
    let mut seen = Seen::default();
    let mut as4_path = None;
    let mut as4_aggregator = None;
    let fault = |d: &mut DecodedAttrs, type_code, kind, action, offset| {
        d.faults.push(AttrFault {
            type_code,
            kind,
            action,
            offset,
        })
    };
    let withdraw = Rfc7606Action::TreatAsWithdraw;
    let discard = Rfc7606Action::AttributeDiscard;

    while !r.is_empty() {
        let offset = r.offset();
        let before = r.rest();
        // RFC 7606 §4: an attribute header or value that overruns the list is a framing error.
        let header = (|| {
            let fl = r.u8()?;
            let t = r.u8()?;
            let len = if fl & flags::EXTENDED_LENGTH != 0 {
                r.u16()?
            } else {
                u16::from(r.u8()?)
            };
            Some((fl, t, len, r.sub(usize::from(len))?))
        })();
        let Some((fl, t, len, v)) = header else {
            let t = before.get(1).copied().unwrap_or(0);
            fault(&mut d, t, AttrFaultKind::Framing, withdraw, offset);
            break;
        };
        if seen.insert(t) {
            if t == MP_REACH_NLRI || t == MP_UNREACH_NLRI {
                return Err(DecodeError::new(
                    offset,
                    DecodeErrorKind::MalformedAttributeList,
                ));
            }
            fault(&mut d, t, AttrFaultKind::Duplicate, discard, offset);
            continue;
        }
        let Some(expected) = expected_flags(t) else {
            // Unknown attribute (RFC 4271 §5, §6.3).
            if fl & flags::OPTIONAL == 0 {
                let raw = before
                    .get(..v.offset() + v.remaining() - offset)
                    .unwrap_or(before);
                return Err(DecodeError::with_data(
                    offset,
                    DecodeErrorKind::UnrecognizedWellKnownAttribute(t),
                    Bytes::copy_from_slice(raw),
                ));
            }
            if fl & flags::TRANSITIVE != 0 {
                d.attrs.unknown.push(RawAttribute {
                    flags: (fl | flags::PARTIAL) & !flags::EXTENDED_LENGTH,
                    type_code: t,
                    value: Bytes::copy_from_slice(v.rest()),
                });
            }
            continue;
        };
        if fl & (flags::OPTIONAL | flags::TRANSITIVE) != expected {
            if t == MP_REACH_NLRI || t == MP_UNREACH_NLRI {
                return Err(DecodeError::new(
                    offset,
                    DecodeErrorKind::MalformedMpAttribute(t),
                ));
            }
            fault(&mut d, t, AttrFaultKind::BadFlags(fl), withdraw, offset);
            continue;
        }
        let value = v.rest();
        let bad_len = AttrFaultKind::BadLength(len);
        match t {
            ORIGIN => match value {
                [0] => d.attrs.origin = Some(Origin::Igp),
                [1] => d.attrs.origin = Some(Origin::Egp),
                [2] => d.attrs.origin = Some(Origin::Incomplete),
                [_] => fault(&mut d, t, AttrFaultKind::BadValue, withdraw, offset),
                _ => fault(&mut d, t, bad_len, withdraw, offset),
            },
            AS_PATH => match AsPath::decode(v, ctx.four_octet_as) {
                Ok(p) => d.attrs.as_path = Some(p),
                Err(()) => fault(&mut d, t, AttrFaultKind::BadValue, withdraw, offset),
            },
            NEXT_HOP => match ipv4(value) {
                Some(a) => d.attrs.next_hop = Some(a),
                None => fault(&mut d, t, bad_len, withdraw, offset),
            },
            MULTI_EXIT_DISC => match be_u32(value) {
                Some(m) => d.attrs.med = Some(m),
                None => fault(&mut d, t, bad_len, withdraw, offset),
            },
            LOCAL_PREF => match (ctx.ibgp, be_u32(value)) {
                (false, _) => fault(&mut d, t, AttrFaultKind::Unexpected, discard, offset),
                (true, Some(lp)) => d.attrs.local_pref = Some(lp),
                (true, None) => fault(&mut d, t, bad_len, withdraw, offset),
            },
            ATOMIC_AGGREGATE => {
                if value.is_empty() {
                    d.attrs.atomic_aggregate = true;
                } else {
                    fault(&mut d, t, bad_len, discard, offset);
                }
            }
            AGGREGATOR => match aggregator(value, ctx.four_octet_as) {
                Some(a) => d.attrs.aggregator = Some(a),
                None => fault(&mut d, t, bad_len, discard, offset),
            },
            COMMUNITIES => match fixed_chunks::<4>(value) {
                Some(it) => {
                    d.attrs.communities = it.map(|c| Community(u32::from_be_bytes(c))).collect()
                }
                None => fault(&mut d, t, bad_len, withdraw, offset),
            },
            ORIGINATOR_ID => match (ctx.ibgp, ipv4(value)) {
                (false, _) => fault(&mut d, t, AttrFaultKind::Unexpected, discard, offset),
                (true, Some(a)) => d.attrs.originator_id = Some(a),
                (true, None) => fault(&mut d, t, bad_len, withdraw, offset),
            },
            CLUSTER_LIST => match (ctx.ibgp, fixed_chunks::<4>(value)) {
                (false, _) => fault(&mut d, t, AttrFaultKind::Unexpected, discard, offset),
                (true, Some(it)) => d.attrs.cluster_list = it.map(Ipv4Addr::from).collect(),
                (true, None) => fault(&mut d, t, bad_len, withdraw, offset),
            },
            MP_REACH_NLRI => match update::decode_mp_reach(v, ctx)? {
                Some(mp) => d.mp_reach = Some(mp),
                None => fault(&mut d, t, AttrFaultKind::UnsupportedFamily, discard, offset),
            },
            MP_UNREACH_NLRI => match update::decode_mp_unreach(v, ctx)? {
                Some(mp) => d.mp_unreach = Some(mp),
                None => fault(&mut d, t, AttrFaultKind::UnsupportedFamily, discard, offset),
            },
            EXTENDED_COMMUNITIES => match fixed_chunks::<8>(value) {
                Some(it) => d.attrs.ext_communities = it.map(ExtCommunity).collect(),
                None => fault(&mut d, t, bad_len, withdraw, offset),
            },
            LARGE_COMMUNITY => match fixed_chunks::<12>(value) {
                Some(it) => {
                    d.attrs.large_communities = it
                        .map(|c| {
                            let w = |i: usize| {
                                u32::from_be_bytes(
                                    c.get(i..i + 4)
                                        .and_then(|s| s.try_into().ok())
                                        .unwrap_or_default(),
                                )
                            };
                            LargeCommunity {
                                global: w(0),
                                local1: w(4),
                                local2: w(8),
                            }
                        })
                        .collect()
                }
                None => fault(&mut d, t, bad_len, withdraw, offset),
            },
            // RFC 6793 §4.1: a 4-octet speaker ignores these from another 4-octet speaker; errors
            // in them are handled by attribute discard (RFC 6793 §6, RFC 7606 §7).
            AS4_PATH if ctx.four_octet_as => {
                fault(&mut d, t, AttrFaultKind::Unexpected, discard, offset)
            }
            AS4_PATH => match AsPath::decode(v, true) {
                Ok(p) => as4_path = Some(p),
                Err(()) => fault(&mut d, t, AttrFaultKind::BadValue, discard, offset),
            },
            AS4_AGGREGATOR if ctx.four_octet_as => {
                fault(&mut d, t, AttrFaultKind::Unexpected, discard, offset)
            }
            AS4_AGGREGATOR => match aggregator(value, true) {
                Some(a) => as4_aggregator = Some(a),
                None => fault(&mut d, t, bad_len, discard, offset),
            },
            _ => {}
        }
    }

    // RFC 6793 §4.2.3: rebuild the real path from a 2-octet speaker's AS4_PATH / AS4_AGGREGATOR,
    // unless an AGGREGATOR with a real (non-AS_TRANS) AS says they are stale.
    if !ctx.four_octet_as {
        let stale = d.attrs.aggregator.is_some_and(|a| a.asn != AS_TRANS);
        if !stale {
            if let Some(a4) = as4_aggregator {
                d.attrs.aggregator = Some(a4);
            }
            if let (Some(p), Some(p4)) = (&d.attrs.as_path, &as4_path) {
                d.attrs.as_path = Some(merge_as4_path(p, p4));
            }
        }
    }

    // RFC 7606 §3(d): missing well-known mandatory attributes. They are only required when the
    // UPDATE announces something; NEXT_HOP only for the NLRI field (RFC 4760 §3).
    let announces = has_nlri_field || d.mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
    if announces {
        let tainted = |d: &DecodedAttrs, t: u8| d.faults.iter().any(|f| f.type_code == t);
        for (t, present) in [
            (ORIGIN, d.attrs.origin.is_some()),
            (AS_PATH, d.attrs.as_path.is_some()),
            (NEXT_HOP, d.attrs.next_hop.is_some() || !has_nlri_field),
        ] {
            if !present && !tainted(&d, t) {
                fault(&mut d, t, AttrFaultKind::Missing, withdraw, 0);
            }
        }
    }
    Ok(d)
}

fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    let a: [u8; 4] = v.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

fn be_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

fn aggregator(v: &[u8], four_octet: bool) -> Option<Aggregator> {
    let mut r = Reader::new(v, 0);
    let asn = if four_octet {
        r.u32()?
    } else {
        u32::from(r.u16()?)
    };
    let address = Ipv4Addr::from(r.array::<4>()?);
    r.is_empty().then_some(Aggregator { asn, address })
}

/// Splits `v` into `N`-octet chunks; `None` when empty or not a multiple of `N` (RFC 7606 §7.8).
fn fixed_chunks<const N: usize>(v: &[u8]) -> Option<impl Iterator<Item = [u8; N]> + '_> {
    (!v.is_empty() && v.len() % N == 0)
        .then(|| v.chunks_exact(N).map(|c| c.try_into().unwrap_or([0; N])))
}

/// Writes one attribute header and value, choosing the length width (RFC 4271 §4.3).
fn put_attr(
    out: &mut BytesMut,
    fl: u8,
    type_code: u8,
    len: usize,
    value: impl FnOnce(&mut BytesMut),
) -> Result<(), EncodeError> {
    if len > 0xffff {
        return Err(EncodeError::AttributeTooLong(type_code));
    }
    if len > 0xff {
        out.put_u8(fl | flags::EXTENDED_LENGTH);
        out.put_u8(type_code);
        out.put_u16(len as u16);
    } else {
        out.put_u8(fl & !flags::EXTENDED_LENGTH);
        out.put_u8(type_code);
        out.put_u8(len as u8);
    }
    value(out);
    Ok(())
}

/// Encodes the attribute list in ascending type order (RFC 4271 §5), with MP_REACH_NLRI and
/// MP_UNREACH_NLRI in their places. On a 2-octet session, AS4_PATH and AS4_AGGREGATOR are added
/// when the real values do not fit (RFC 6793 §4.2.2).
pub(crate) fn encode_attributes(
    a: &PathAttributes,
    mp_reach: Option<&MpReach>,
    mp_unreach: Option<&MpUnreach>,
    ctx: &Ctx,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    use attr_type::*;
    const WK: u8 = flags::TRANSITIVE;
    const ON: u8 = flags::OPTIONAL;
    const OT: u8 = flags::OPTIONAL | flags::TRANSITIVE;
    let four = ctx.four_octet_as;
    let mut unknown = a.unknown.iter().peekable();
    let mut flush = |upto: u8, out: &mut BytesMut| -> Result<(), EncodeError> {
        while let Some(u) = unknown.next_if(|u| u.type_code < upto) {
            put_attr(out, u.flags, u.type_code, u.value.len(), |o| {
                o.put_slice(&u.value)
            })?;
        }
        Ok(())
    };

    if let Some(o) = a.origin {
        flush(ORIGIN, out)?;
        put_attr(out, WK, ORIGIN, 1, |out| out.put_u8(o as u8))?;
    }
    if let Some(p) = &a.as_path {
        flush(AS_PATH, out)?;
        put_attr(out, WK, AS_PATH, p.encoded_len(four, false), |out| {
            p.encode(four, false, out)
        })?;
    }
    if let Some(nh) = a.next_hop {
        flush(NEXT_HOP, out)?;
        put_attr(out, WK, NEXT_HOP, 4, |out| out.put_slice(&nh.octets()))?;
    }
    if let Some(m) = a.med {
        flush(MULTI_EXIT_DISC, out)?;
        put_attr(out, ON, MULTI_EXIT_DISC, 4, |out| out.put_u32(m))?;
    }
    if let Some(lp) = a.local_pref {
        flush(LOCAL_PREF, out)?;
        put_attr(out, WK, LOCAL_PREF, 4, |out| out.put_u32(lp))?;
    }
    if a.atomic_aggregate {
        flush(ATOMIC_AGGREGATE, out)?;
        put_attr(out, WK, ATOMIC_AGGREGATE, 0, |_| {})?;
    }
    if let Some(ag) = a.aggregator {
        flush(AGGREGATOR, out)?;
        let len = if four { 8 } else { 6 };
        put_attr(out, OT, AGGREGATOR, len, |out| {
            if four {
                out.put_u32(ag.asn);
            } else {
                out.put_u16(u16::try_from(ag.asn).unwrap_or(AS_TRANS as u16));
            }
            out.put_slice(&ag.address.octets());
        })?;
    }
    if !a.communities.is_empty() {
        flush(COMMUNITIES, out)?;
        put_attr(out, OT, COMMUNITIES, 4 * a.communities.len(), |out| {
            a.communities.iter().for_each(|c| out.put_u32(c.0))
        })?;
    }
    if let Some(id) = a.originator_id {
        flush(ORIGINATOR_ID, out)?;
        put_attr(out, ON, ORIGINATOR_ID, 4, |out| out.put_slice(&id.octets()))?;
    }
    if !a.cluster_list.is_empty() {
        flush(CLUSTER_LIST, out)?;
        put_attr(out, ON, CLUSTER_LIST, 4 * a.cluster_list.len(), |out| {
            a.cluster_list
                .iter()
                .for_each(|c| out.put_slice(&c.octets()))
        })?;
    }
    if let Some(mp) = mp_reach {
        flush(MP_REACH_NLRI, out)?;
        let len = update::mp_reach_len(mp, ctx);
        put_attr(out, ON, MP_REACH_NLRI, len, |out| {
            update::encode_mp_reach(mp, ctx, out)
        })?;
    }
    if let Some(mp) = mp_unreach {
        flush(MP_UNREACH_NLRI, out)?;
        let len = update::mp_unreach_len(mp, ctx);
        put_attr(out, ON, MP_UNREACH_NLRI, len, |out| {
            update::encode_mp_unreach(mp, ctx, out)
        })?;
    }
    if !a.ext_communities.is_empty() {
        flush(EXTENDED_COMMUNITIES, out)?;
        put_attr(
            out,
            OT,
            EXTENDED_COMMUNITIES,
            8 * a.ext_communities.len(),
            |out| a.ext_communities.iter().for_each(|c| out.put_slice(&c.0)),
        )?;
    }
    if !four {
        if let Some(p) = a.as_path.as_ref().filter(|p| p.needs_as4()) {
            flush(AS4_PATH, out)?;
            put_attr(out, OT, AS4_PATH, p.encoded_len(true, true), |out| {
                p.encode(true, true, out)
            })?;
        }
        if let Some(ag) = a.aggregator.filter(|ag| ag.asn > 0xffff) {
            flush(AS4_AGGREGATOR, out)?;
            put_attr(out, OT, AS4_AGGREGATOR, 8, |out| {
                out.put_u32(ag.asn);
                out.put_slice(&ag.address.octets());
            })?;
        }
    }
    if !a.large_communities.is_empty() {
        flush(LARGE_COMMUNITY, out)?;
        put_attr(
            out,
            OT,
            LARGE_COMMUNITY,
            12 * a.large_communities.len(),
            |out| {
                for c in &a.large_communities {
                    out.put_u32(c.global);
                    out.put_u32(c.local1);
                    out.put_u32(c.local2);
                }
            },
        )?;
    }
    flush(u8::MAX, out)?;
    // Type 255 itself, if some peer sent it.
    for u in unknown {
        put_attr(out, u.flags, u.type_code, u.value.len(), |o| {
            o.put_slice(&u.value)
        })?;
    }
    Ok(())
}
