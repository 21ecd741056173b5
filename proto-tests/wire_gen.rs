//! Generators shared by the wire property tests (`wire_properties.rs`) and the allocation bound
//! test (`wire_alloc.rs`): valid messages for a random session [`Ctx`], and mutations of their
//! bytes. Included with `#[path = "wire_gen.rs"] mod wire_gen;`.
//!
//! "Valid" means that `encode` then `decode` under the same `Ctx` must give back the very same
//! value with no RFC 7606 fault. The generator therefore respects what the wire can express:
//!
//! * every UPDATE carries ORIGIN and AS_PATH, and NEXT_HOP when the NLRI field holds prefixes;
//! * prefixes have their host bits clear, and carry a path identifier exactly when ADD-PATH is
//!   negotiated for their family (the encoder sends a missing one as 0);
//! * AS_PATH segments hold 1..=255 numbers (longer ones are split on encode, empty ones are
//!   malformed);
//! * LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST only on internal sessions (they are discarded from
//!   external peers, RFC 7606 §7.5, §7.9, §7.10);
//! * unknown attributes are optional transitive with Partial set (0xe0, as the decoder stores
//!   them), of distinct types in ascending order (the encoder places them by type code);
//! * on a 2-octet-AS session (RFC 6793): AS_TRANS never appears; a path that needs AS4_PATH (some
//!   number above 65535) has no confederation segments (AS4_PATH cannot carry them) and no two
//!   adjacent AS_SEQUENCEs (the merge joins them); and with such a path an AGGREGATOR must itself
//!   be above 65535, because a real 2-octet AGGREGATOR marks AS4_PATH as stale (§4.2.3).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use thin_vec::ThinVec;
use wren::wire::{
    Aggregator, AsPath, Community, Ctx, ExtCommunity, Family, LargeCommunity, Message, MpReach,
    MpUnreach, NextHop, Nlri, Notification, Origin, PathAttributes, RawAttribute, Segment,
    SegmentType, Update, AS_TRANS,
};

/// The families wren parses: IPv4/IPv6, unicast/multicast.
pub const FAMILIES: [Family; 4] = [
    Family::IPV4_UNICAST,
    Family::IPV6_UNICAST,
    Family::new(1, 2),
    Family::new(2, 2),
];

/// Attribute type codes wren interprets; everything else is "unknown".
pub const KNOWN_TYPES: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32];

/// A random session: 2- or 4-octet AS, extended messages or not, internal or external, and the
/// same random set of ADD-PATH families in both directions.
pub fn ctx() -> impl Strategy<Value = Ctx> {
    (
        any::<bool>(),
        prop::bool::weighted(0.2),
        any::<bool>(),
        subsequence(FAMILIES.to_vec(), 0..=FAMILIES.len()),
    )
        .prop_map(|(four_octet_as, extended_message, ibgp, ap)| Ctx {
            four_octet_as,
            extended_message,
            add_path_rx: ap.clone(),
            add_path_tx: ap,
            ibgp,
        })
}

fn prefix_len(max: u8, typical: u8) -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(typical), 2 => 0..=max]
}

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), prefix_len(32, 24)).prop_map(|(a, l)| {
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    })
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), prefix_len(128, 48)).prop_map(|(a, l)| {
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(a), l)
                .unwrap_or_default()
                .trunc(),
        )
    })
}

/// Prefixes of `family`, with path identifiers when ADD-PATH is on for it.
pub fn nlri(family: Family, ctx: &Ctx, max: usize) -> impl Strategy<Value = Vec<Nlri>> {
    let add_path = ctx.add_path_tx.contains(&family);
    let prefix = if family.afi.0 == 2 {
        v6_prefix().boxed()
    } else {
        v4_prefix().boxed()
    };
    vec(
        (prefix, any::<u32>()).prop_map(move |(p, id)| {
            if add_path {
                Nlri::with_path_id(p, id)
            } else {
                Nlri::new(p)
            }
        }),
        0..=max,
    )
}

fn next_hop(family: Family) -> impl Strategy<Value = NextHop> {
    let v6 = (any::<u128>(), prop::option::of(any::<u128>())).prop_map(|(g, ll)| NextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: ll.map(|l| Ipv6Addr::from((0xfe80_u128 << 112) | (l & u128::from(u64::MAX)))),
    });
    if family.afi.0 == 2 {
        v6.boxed()
    } else {
        // IPv4 NLRI with an IPv4 next hop, or an IPv6 one (RFC 8950).
        prop_oneof![
            3 => any::<u32>().prop_map(|a| NextHop::V4(Ipv4Addr::from(a))),
            1 => v6,
        ]
        .boxed()
    }
}

fn mp_reach(ctx: &Ctx) -> impl Strategy<Value = MpReach> {
    let ctx = ctx.clone();
    select(FAMILIES.to_vec()).prop_flat_map(move |family| {
        (next_hop(family), nlri(family, &ctx, 24)).prop_map(move |(next_hop, nlri)| MpReach {
            family,
            next_hop,
            nlri,
        })
    })
}

fn mp_unreach(ctx: &Ctx) -> impl Strategy<Value = MpUnreach> {
    let ctx = ctx.clone();
    select(FAMILIES.to_vec())
        .prop_flat_map(move |family| {
            nlri(family, &ctx, 24).prop_map(move |nlri| MpUnreach { family, nlri })
        })
        .boxed()
}

fn segment_kind() -> impl Strategy<Value = SegmentType> {
    prop_oneof![
        6 => Just(SegmentType::Sequence),
        2 => Just(SegmentType::Set),
        1 => Just(SegmentType::ConfedSequence),
        1 => Just(SegmentType::ConfedSet),
    ]
}

fn asn_any() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => 64512u32..=65534,
        1 => 1u32..=65535,
        2 => 4_200_000_000u32..=4_294_967_294,
        1 => any::<u32>(),
    ]
}

fn segments(
    kind: BoxedStrategy<SegmentType>,
    asn: BoxedStrategy<u32>,
) -> impl Strategy<Value = Vec<Segment>> {
    vec(
        (kind, vec(asn, 1..=8)).prop_map(|(kind, asns)| Segment { kind, asns }),
        0..=4,
    )
}

/// AS_PATH for a session, following the 2-octet rules in the module docs.
pub fn as_path(four_octet_as: bool) -> BoxedStrategy<AsPath> {
    if four_octet_as {
        return segments(segment_kind().boxed(), asn_any().boxed())
            .prop_map(|segments| AsPath { segments })
            .boxed();
    }
    let not_trans = |a: &u32| *a != AS_TRANS;
    // Numbers that fit in two octets: any shape, no AS4_PATH is sent.
    let small = segments(
        segment_kind().boxed(),
        (0u32..=65535).prop_filter("AS_TRANS", not_trans).boxed(),
    )
    .prop_map(|segments| AsPath { segments });
    // Any numbers: no confederation segments, adjacent sequences joined.
    let kind = prop_oneof![3 => Just(SegmentType::Sequence), 1 => Just(SegmentType::Set)];
    let big = segments(
        kind.boxed(),
        asn_any().prop_filter("AS_TRANS", not_trans).boxed(),
    )
    .prop_map(|segs| {
        let mut out: Vec<Segment> = Vec::new();
        for s in segs {
            match out.last_mut() {
                Some(last)
                    if last.kind == SegmentType::Sequence && s.kind == SegmentType::Sequence =>
                {
                    last.asns.extend(s.asns)
                }
                _ => out.push(s),
            }
        }
        AsPath { segments: out }
    });
    prop_oneof![small, big].boxed()
}

fn unknown_attrs() -> impl Strategy<Value = ThinVec<RawAttribute>> {
    let unknown_types: Vec<u8> = (0..=255u8).filter(|t| !KNOWN_TYPES.contains(t)).collect();
    let value = prop_oneof![
        9 => vec(any::<u8>(), 0..=24),
        1 => vec(any::<u8>(), 250..=300), // around the extended-length boundary
    ];
    proptest::collection::btree_map(select(unknown_types), value, 0..=3).prop_map(
        |m: BTreeMap<u8, Vec<u8>>| {
            m.into_iter()
                .map(|(type_code, v)| RawAttribute {
                    flags: 0xe0,
                    type_code,
                    value: Bytes::from(v),
                })
                .collect()
        },
    )
}

/// Path attributes valid for `ctx`; NEXT_HOP is forced when `needs_next_hop`.
pub fn path_attrs(ctx: &Ctx, needs_next_hop: bool) -> impl Strategy<Value = PathAttributes> {
    let four = ctx.four_octet_as;
    let ibgp = ctx.ibgp;
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let ipv4 = || any::<u32>().prop_map(Ipv4Addr::from);
    let aggregator = prop::option::of((asn_any(), ipv4())).prop_map(move |a| {
        a.map(|(asn, address)| Aggregator {
            asn: if !four && asn == AS_TRANS {
                asn + 1
            } else {
                asn
            },
            address,
        })
    });
    let first = (
        origin,
        as_path(four),
        prop::option::of(ipv4()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        any::<bool>(),
        aggregator,
    );
    let second = (
        vec(any::<u32>().prop_map(Community), 0..=6),
        prop::option::of(ipv4()),
        vec(ipv4(), 0..=4),
        vec(any::<[u8; 8]>().prop_map(ExtCommunity), 0..=4),
        vec(
            any::<[u32; 3]>().prop_map(|[global, local1, local2]| LargeCommunity {
                global,
                local1,
                local2,
            }),
            0..=3,
        ),
        unknown_attrs(),
    );
    (first, second).prop_map(
        move |(
            (origin, as_path, next_hop, med, local_pref, atomic_aggregate, mut aggregator),
            (communities, originator_id, cluster_list, ext_communities, large_communities, unknown),
        )| {
            if !four && as_path.needs_as4() {
                // A real 2-octet AGGREGATOR would make the receiver ignore AS4_PATH.
                if let Some(a) = aggregator.as_mut().filter(|a| a.asn <= 0xffff) {
                    a.asn += 0x1_0000;
                }
            }
            PathAttributes {
                origin: Some(origin),
                as_path: Some(as_path),
                next_hop: if needs_next_hop {
                    Some(next_hop.unwrap_or(Ipv4Addr::new(192, 0, 2, 1)))
                } else {
                    next_hop
                },
                med,
                local_pref: local_pref.filter(|_| ibgp),
                atomic_aggregate,
                aggregator,
                communities: communities.into(),
                originator_id: originator_id.filter(|_| ibgp),
                cluster_list: if ibgp {
                    cluster_list.into()
                } else {
                    ThinVec::new()
                },
                ext_communities: ext_communities.into(),
                large_communities: large_communities.into(),
                unknown,
            }
        },
    )
}

/// An UPDATE valid for `ctx` (see the module docs).
pub fn update(ctx: &Ctx) -> impl Strategy<Value = Update> {
    let c = ctx.clone();
    (
        nlri(Family::IPV4_UNICAST, ctx, 24),
        nlri(Family::IPV4_UNICAST, ctx, 24),
        prop::option::of(mp_reach(ctx)),
        prop::option::of(mp_unreach(ctx)),
    )
        .prop_flat_map(move |(withdrawn, nlri, mp_reach, mp_unreach)| {
            let needs_next_hop = !nlri.is_empty();
            path_attrs(&c, needs_next_hop).prop_map(move |attrs| Update {
                withdrawn: withdrawn.clone(),
                attrs,
                mp_reach: mp_reach.clone(),
                mp_unreach: mp_unreach.clone(),
                nlri: nlri.clone(),
            })
        })
}

/// A message valid for `ctx`: mostly UPDATEs, some KEEPALIVEs and NOTIFICATIONs.
pub fn message(ctx: &Ctx) -> impl Strategy<Value = Message> {
    prop_oneof![
        8 => update(ctx).prop_map(Message::Update),
        1 => Just(Message::Keepalive),
        1 => (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..=64))
            .prop_map(|(c, s, d)| Message::Notification(Notification::with_data(c, s, d))),
    ]
}

/// A session and a message valid for it.
pub fn ctx_and_message() -> impl Strategy<Value = (Ctx, Message)> {
    ctx().prop_flat_map(|ctx| (Just(ctx.clone()), message(&ctx)))
}

/// One edit of a message's bytes.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR a byte after the marker with `mask`.
    Flip { at: usize, mask: u8 },
    /// Insert `byte` before `at % (len + 1)`.
    Insert { at: usize, byte: u8 },
    /// Delete the byte at `at % len`.
    Delete { at: usize },
    /// Cut the message to `at % (len + 1)` bytes.
    Truncate { at: usize },
    /// Overwrite two bytes after the marker with `value`: hits length fields (message, withdrawn,
    /// attribute list, attribute, segment, next hop) at random.
    WriteU16 { at: usize, value: u16 },
    /// Overwrite one byte at one of the UPDATE length fields or the first attribute's length with
    /// a small value.
    SetLength { which: usize, value: u8 },
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let small = prop_oneof![3 => 0u16..=64, 1 => any::<u16>()];
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Delete { at }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        2 => (any::<usize>(), small).prop_map(|(at, value)| Mutation::WriteU16 { at, value }),
        2 => (0usize..6, any::<u8>()).prop_map(|(which, value)| Mutation::SetLength { which, value }),
    ]
}

/// Applies `m` to `bytes`.
pub fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        // Flips and overwrites spare the marker, whose damage is caught first and so would hide
        // the rest of the message from the decoder.
        Mutation::Flip { at, mask } if len > 16 => {
            if let Some(b) = bytes.get_mut(16 + at % (len - 16)) {
                *b ^= mask;
            }
        }
        Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
        Mutation::Delete { at } if len > 0 => {
            bytes.remove(at % len);
        }
        Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        Mutation::WriteU16 { at, value } if len > 17 => {
            let i = 16 + at % (len - 17);
            if let Some(s) = bytes.get_mut(i..i + 2) {
                s.copy_from_slice(&value.to_be_bytes());
            }
        }
        Mutation::SetLength { which, value } => {
            // 17: message length low byte; 20: withdrawn length low byte; 22 + wlen: attribute
            // list length low byte; then the first attribute's flags and length.
            let wlen = bytes
                .get(19..21)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            let at = [17, 20, 22 + wlen, 23 + wlen, 25 + wlen, 26 + wlen][which % 6];
            if let Some(b) = bytes.get_mut(at) {
                *b = value;
            }
        }
        _ => {}
    }
}

/// Writes the real length into the header, so that framing passes and the body parsers run.
pub fn fix_header_length(bytes: &mut [u8]) {
    let len = bytes.len().min(usize::from(u16::MAX)) as u16;
    if let Some(l) = bytes.get_mut(16..18) {
        l.copy_from_slice(&len.to_be_bytes());
    }
}

/// Input for the robustness properties: a valid message mutated a few times (header length
/// usually fixed up afterwards), or plain random bytes, sometimes behind a valid marker.
pub fn hostile_input() -> impl Strategy<Value = (Ctx, Vec<u8>)> {
    let mutated = (
        ctx_and_message(),
        ctx(),
        any::<bool>(),
        vec(mutation(), 1..=6),
        prop::bool::weighted(0.8),
    )
        .prop_map(|((ctx, msg), other_ctx, same_ctx, muts, fix)| {
            let mut bytes = wren::wire::encode_to_vec(&msg, &ctx).unwrap_or_default();
            for m in &muts {
                apply(&mut bytes, m);
            }
            if fix {
                fix_header_length(&mut bytes);
            }
            (if same_ctx { ctx } else { other_ctx }, bytes)
        });
    let random = (
        ctx(),
        vec(any::<u8>(), 0..5000),
        any::<bool>(),
        prop::option::of(any::<u8>()),
    )
        .prop_map(|(ctx, mut bytes, marker, kind)| {
            if marker && bytes.len() >= 19 {
                bytes[..16].fill(0xff);
                fix_header_length(&mut bytes);
                if let Some(k) = kind {
                    bytes[18] = 1 + k % 5;
                }
            }
            (ctx, bytes)
        });
    prop_oneof![3 => mutated, 1 => random]
}
