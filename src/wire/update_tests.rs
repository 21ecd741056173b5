//! UPDATE byte vectors checked both ways, and the RFC 7606 action table, one row per case.
//!
//! Vectors are written by hand from the RFC layouts (each field commented), never produced by the
//! encoder under test.

use std::net::{Ipv4Addr, Ipv6Addr};

use thin_vec::{thin_vec, ThinVec};

use super::*;

const ORIGIN_IGP: [u8; 4] = [0x40, 1, 1, 0];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 198, 51, 100, 1];
const NLRI_24: [u8; 4] = [24, 198, 51, 100];

fn as_path4(asns: &[u32]) -> Vec<u8> {
    if asns.is_empty() {
        return vec![0x40, 2, 0];
    }
    let mut v = vec![0x40, 2, (2 + 4 * asns.len()) as u8, 2, asns.len() as u8];
    for a in asns {
        v.extend_from_slice(&a.to_be_bytes());
    }
    v
}

/// Header + UPDATE body from its three parts.
fn update_msg(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let len = 19 + 2 + withdrawn.len() + 2 + attrs.len() + nlri.len();
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.push(2);
    v.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    v.extend_from_slice(withdrawn);
    v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    v.extend_from_slice(attrs);
    v.extend_from_slice(nlri);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn pfx(s: &str) -> Nlri {
    Nlri::new(s.parse().unwrap())
}

fn ibgp() -> Ctx {
    Ctx {
        ibgp: true,
        ..Ctx::default()
    }
}

fn two_octet() -> Ctx {
    Ctx {
        four_octet_as: false,
        ..Ctx::default()
    }
}

/// Decodes, expects no faults, compares, and re-encodes to the same bytes.
fn both_ways(bytes: &[u8], ctx: &Ctx, want: &Update) {
    let d = decode(bytes, ctx).unwrap();
    assert_eq!(d.faults, vec![], "unexpected faults");
    assert_eq!(d.message, Message::Update(want.clone()));
    assert_eq!(
        encode_to_vec(&Message::Update(want.clone()), ctx).unwrap(),
        bytes
    );
}

#[test]
fn ipv4_update_with_every_rfc4271_and_rfc4456_attribute_round_trips() {
    let attrs = cat(&[
        &ORIGIN_IGP,                                               // ORIGIN IGP (RFC 4271 §5.1.1)
        &as_path4(&[64512, 4200000001]),                           // AS_PATH (§5.1.2, RFC 6793)
        &NEXT_HOP,                                                 // NEXT_HOP 198.51.100.1 (§5.1.3)
        &[0x80, 4, 4, 0, 0, 0, 10],                                // MED 10 (§5.1.4)
        &[0x40, 5, 4, 0, 0, 0, 100],                               // LOCAL_PREF 100 (§5.1.5)
        &[0x40, 6, 0],                                             // ATOMIC_AGGREGATE (§5.1.6)
        &[0xc0, 7, 8, 0, 0, 0xfc, 0, 198, 51, 100, 9], // AGGREGATOR 64512 198.51.100.9 (§5.1.7)
        &[0xc0, 8, 8, 0xff, 0xff, 0xff, 0x01, 0xfc, 0x00, 0, 100], // COMMUNITIES NO_EXPORT 64512:100 (RFC 1997)
        &[0x80, 9, 4, 198, 51, 100, 2],                            // ORIGINATOR_ID (RFC 4456 §8)
        &[0x80, 10, 8, 198, 51, 100, 3, 198, 51, 100, 4],          // CLUSTER_LIST (RFC 4456 §8)
        &[0xc0, 16, 8, 0, 2, 0xfc, 0, 0, 0, 0, 7], // EXT COMMUNITIES rt:64512:7 (RFC 4360)
        &[0xe0, 23, 2, 0xde, 0xad],                // unknown optional transitive, Partial set
        &[0xc0, 32, 12, 0xfa, 0x56, 0xea, 1, 0, 0, 0, 1, 0, 0, 0, 2], // LARGE 4200000001:1:2 (RFC 8092)
    ]);
    let bytes = update_msg(
        &[16, 198, 18],
        &attrs,
        &cat(&[&NLRI_24, &[32, 203, 0, 113, 5]]),
    );
    let want = Update {
        withdrawn: vec![pfx("198.18.0.0/16")],
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([64512, 4200000001])),
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            med: Some(10),
            local_pref: Some(100),
            atomic_aggregate: true,
            aggregator: Some(Aggregator {
                asn: 64512,
                address: Ipv4Addr::new(198, 51, 100, 9),
            }),
            communities: thin_vec![Community::NO_EXPORT, Community::new(64512, 100)],
            originator_id: Some(Ipv4Addr::new(198, 51, 100, 2)),
            cluster_list: thin_vec![
                Ipv4Addr::new(198, 51, 100, 3),
                Ipv4Addr::new(198, 51, 100, 4),
            ],
            ext_communities: thin_vec![ExtCommunity::route_target(64512, 7)],
            large_communities: thin_vec![LargeCommunity {
                global: 4200000001,
                local1: 1,
                local2: 2,
            }],
            unknown: thin_vec![RawAttribute {
                flags: 0xe0,
                type_code: 23,
                value: bytes::Bytes::from_static(&[0xde, 0xad]),
            }],
        },
        nlri: vec![pfx("198.51.100.0/24"), pfx("203.0.113.5/32")],
        ..Update::default()
    };
    both_ways(&bytes, &ibgp(), &want);
}

#[test]
fn mp_reach_ipv6_with_global_and_link_local_next_hop_round_trips_rfc2545_3() {
    let mut mp = vec![0x80, 14, 0, 0, 2, 1, 32]; // MP_REACH, len patched, AFI 2 SAFI 1, NH len 32
    mp.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    mp.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
    mp.push(0); // reserved
    mp.extend_from_slice(&[48, 0x20, 0x01, 0x0d, 0xb8, 0, 0xa]); // 2001:db8:a::/48
    mp.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 0xb, 0, 1]); // 2001:db8:b:1::/64
    mp[2] = (mp.len() - 3) as u8;
    let bytes = update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[64513]), &mp]), &[]);
    let want = Update {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([64513])),
            ..Default::default()
        },
        mp_reach: Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: NextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: Some("fe80::1".parse().unwrap()),
            },
            nlri: vec![pfx("2001:db8:a::/48"), pfx("2001:db8:b:1::/64")],
        }),
        ..Update::default()
    };
    both_ways(&bytes, &Ctx::default(), &want);
}

#[test]
fn mp_unreach_ipv6_with_add_path_ids_round_trips_rfc4760_4_and_rfc7911_3() {
    // MP_UNREACH AFI 2 SAFI 1, path id 9 + 2001:db8:a::/48
    let attrs = [
        0x80, 15, 14, 0, 2, 1, 0, 0, 0, 9, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 0xa,
    ];
    let bytes = update_msg(&[], &attrs, &[]);
    let ctx = Ctx {
        add_path_rx: vec![Family::IPV6_UNICAST],
        add_path_tx: vec![Family::IPV6_UNICAST],
        ..Ctx::default()
    };
    let want = Update {
        mp_unreach: Some(MpUnreach {
            family: Family::IPV6_UNICAST,
            nlri: vec![Nlri::with_path_id("2001:db8:a::/48".parse().unwrap(), 9)],
        }),
        ..Update::default()
    };
    both_ways(&bytes, &ctx, &want);
    assert_eq!(want.as_end_of_rib(), None);
}

#[test]
fn ipv4_nlri_with_add_path_ids_round_trips_rfc7911_3() {
    let ctx = Ctx {
        add_path_rx: vec![Family::IPV4_UNICAST],
        add_path_tx: vec![Family::IPV4_UNICAST],
        ..Ctx::default()
    };
    let bytes = update_msg(
        &[0, 0, 0, 3, 24, 203, 0, 113],
        &cat(&[&ORIGIN_IGP, &as_path4(&[64513]), &NEXT_HOP]),
        &[0, 0, 0, 1, 24, 198, 51, 100, 0, 0, 0, 2, 24, 198, 51, 100],
    );
    let want = Update {
        withdrawn: vec![Nlri::with_path_id("203.0.113.0/24".parse().unwrap(), 3)],
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([64513])),
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            ..Default::default()
        },
        nlri: vec![
            Nlri::with_path_id("198.51.100.0/24".parse().unwrap(), 1),
            Nlri::with_path_id("198.51.100.0/24".parse().unwrap(), 2),
        ],
        ..Update::default()
    };
    both_ways(&bytes, &ctx, &want);
}

#[test]
fn a_two_octet_session_carries_as4_path_and_as4_aggregator_rfc6793_4_2() {
    let attrs = cat(&[
        &ORIGIN_IGP,
        &[0x40, 2, 6, 2, 2, 0x5b, 0xa0, 0xfd, 0xe9], // AS_PATH (2-octet): AS_TRANS 65001
        &NEXT_HOP,
        &[0xc0, 7, 6, 0x5b, 0xa0, 198, 51, 100, 9], // AGGREGATOR AS_TRANS 198.51.100.9
        &[0xc0, 17, 10, 2, 2, 0xfa, 0x56, 0xea, 1, 0, 0, 0xfd, 0xe9], // AS4_PATH 4200000001 65001
        &[0xc0, 18, 8, 0xfa, 0x56, 0xea, 1, 198, 51, 100, 9], // AS4_AGGREGATOR
    ]);
    let bytes = update_msg(&[], &attrs, &NLRI_24);
    let want = Update {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([4200000001, 65001])),
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            aggregator: Some(Aggregator {
                asn: 4200000001,
                address: Ipv4Addr::new(198, 51, 100, 9),
            }),
            ..Default::default()
        },
        nlri: vec![pfx("198.51.100.0/24")],
        ..Update::default()
    };
    both_ways(&bytes, &two_octet(), &want);
}

#[test]
fn end_of_rib_markers_for_ipv4_and_ipv6_are_recognised_rfc4724_2() {
    let v4 = update_msg(&[], &[], &[]);
    assert_eq!(v4.len(), 23);
    both_ways(
        &v4,
        &Ctx::default(),
        &Update::end_of_rib(Family::IPV4_UNICAST),
    );
    let v6 = update_msg(&[], &[0x80, 15, 3, 0, 2, 1], &[]);
    both_ways(
        &v6,
        &Ctx::default(),
        &Update::end_of_rib(Family::IPV6_UNICAST),
    );
    assert_eq!(
        Update::end_of_rib(Family::IPV6_UNICAST).as_end_of_rib(),
        Some(Family::IPV6_UNICAST)
    );
    assert_eq!(
        Update::end_of_rib(Family::IPV4_UNICAST).as_end_of_rib(),
        Some(Family::IPV4_UNICAST)
    );
}

#[test]
fn an_attribute_over_255_octets_uses_the_extended_length_flag_rfc4271_4_3() {
    let mut comm = vec![0xd0, 8, 0x01, 0x18]; // flags O|T|E, COMMUNITIES, length 280
    let communities: ThinVec<Community> = (0..70).map(|i| Community::new(64512, i)).collect();
    for c in &communities {
        comm.extend_from_slice(&c.0.to_be_bytes());
    }
    let bytes = update_msg(
        &[],
        &cat(&[&ORIGIN_IGP, &as_path4(&[]), &NEXT_HOP, &comm]),
        &NLRI_24,
    );
    let want = Update {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            communities,
            ..Default::default()
        },
        nlri: vec![pfx("198.51.100.0/24")],
        ..Update::default()
    };
    both_ways(&bytes, &Ctx::default(), &want);
}

// ---------------------------------------------------------------------------------------------
// RFC 7606 action table (reliability-anchors.md §1.2–1.3, §1.5).

#[derive(Debug, PartialEq)]
enum Want {
    /// Accepted with no fault.
    Clean,
    /// Attribute `t` discarded, UPDATE otherwise used.
    Discard(u8),
    /// UPDATE turned into a withdrawal, because of attribute `t`.
    Withdraw(u8),
    /// Session reset with this NOTIFICATION code and subcode.
    Reset(u8, u8),
}

fn outcome(bytes: &[u8], ctx: &Ctx) -> Want {
    match decode(bytes, ctx) {
        Err(e) => {
            let n = e.notification();
            Want::Reset(n.code, n.subcode)
        }
        Ok(d) => {
            let Message::Update(u) = &d.message else {
                panic!("not an update")
            };
            match d.action() {
                None => Want::Clean,
                Some(Rfc7606Action::AttributeDiscard) => Want::Discard(d.faults[0].type_code),
                Some(Rfc7606Action::TreatAsWithdraw) => {
                    assert!(
                        u.nlri.is_empty() && u.mp_reach.is_none(),
                        "withdraw keeps no routes"
                    );
                    assert_eq!(u.attrs, PathAttributes::default());
                    let f = d
                        .faults
                        .iter()
                        .find(|f| f.action == Rfc7606Action::TreatAsWithdraw);
                    Want::Withdraw(f.unwrap().type_code)
                }
            }
        }
    }
}

/// A valid IPv4 UPDATE for 198.51.100.0/24 with `extra` attributes appended.
fn with_attrs(extra: &[u8]) -> Vec<u8> {
    update_msg(
        &[],
        &cat(&[&ORIGIN_IGP, &as_path4(&[64513]), &NEXT_HOP, extra]),
        &NLRI_24,
    )
}

/// A valid IPv4 UPDATE whose mandatory attribute `t` is replaced by `replacement`.
fn replacing(t: u8, replacement: &[u8]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = vec![ORIGIN_IGP.to_vec(), as_path4(&[64513]), NEXT_HOP.to_vec()];
    let attrs: Vec<u8> = parts
        .into_iter()
        .enumerate()
        .flat_map(|(i, p)| {
            if i + 1 == usize::from(t) {
                replacement.to_vec()
            } else {
                p
            }
        })
        .collect();
    update_msg(&[], &attrs, &NLRI_24)
}

fn mp_reach_v6(nh_len: u8, nh: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 14, 0, 0, 2, 1, nh_len];
    v.extend_from_slice(nh);
    v.push(0);
    v.extend_from_slice(&[48, 0x20, 0x01, 0x0d, 0xb8, 0, 0xa]);
    v[2] = (v.len() - 3) as u8;
    v
}

#[test]
fn rfc7606_action_table() {
    let e = Ctx::default();
    let i = ibgp();
    let two = two_octet();
    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<u8>, &Ctx, Want)> = vec![
        ("valid base update", with_attrs(&[]), &e, Want::Clean),
        // §7.1 ORIGIN
        ("7.1 ORIGIN length 2", replacing(1, &[0x40, 1, 2, 0, 0]), &e, Want::Withdraw(1)),
        ("7.1 ORIGIN value 3", replacing(1, &[0x40, 1, 1, 3]), &e, Want::Withdraw(1)),
        // §7.2 AS_PATH
        ("7.2 AS_PATH unknown segment type", replacing(2, &[0x40, 2, 6, 9, 1, 0, 0, 0xfc, 1]), &e, Want::Withdraw(2)),
        ("7.2 AS_PATH zero-length segment", replacing(2, &[0x40, 2, 2, 2, 0]), &e, Want::Withdraw(2)),
        ("7.2 AS_PATH segment overrun", replacing(2, &[0x40, 2, 6, 2, 2, 0, 0, 0xfc, 1]), &e, Want::Withdraw(2)),
        ("7.2 AS_PATH trailing octet", replacing(2, &[0x40, 2, 7, 2, 1, 0, 0, 0xfc, 1, 2]), &e, Want::Withdraw(2)),
        // §7.3 NEXT_HOP
        ("7.3 NEXT_HOP length 5", replacing(3, &[0x40, 3, 5, 1, 2, 3, 4, 5]), &e, Want::Withdraw(3)),
        // §7.4 MED
        ("7.4 MED length 3", with_attrs(&[0x80, 4, 3, 0, 0, 1]), &e, Want::Withdraw(4)),
        // §7.5 LOCAL_PREF
        ("7.5 LOCAL_PREF from eBGP", with_attrs(&[0x40, 5, 4, 0, 0, 0, 100]), &e, Want::Discard(5)),
        ("7.5 LOCAL_PREF from iBGP length 2", with_attrs(&[0x40, 5, 2, 0, 100]), &i, Want::Withdraw(5)),
        // §7.6 ATOMIC_AGGREGATE
        ("7.6 ATOMIC_AGGREGATE length 1", with_attrs(&[0x40, 6, 1, 0]), &e, Want::Discard(6)),
        // §7.7 AGGREGATOR
        ("7.7 AGGREGATOR length 6 on 4-octet session", with_attrs(&[0xc0, 7, 6, 0, 1, 1, 2, 3, 4]), &e, Want::Discard(7)),
        ("7.7 AGGREGATOR length 8 on 2-octet session", update_msg(&[], &cat(&[&ORIGIN_IGP, &[0x40, 2, 4, 2, 1, 0xfd, 0xe9], &NEXT_HOP, &[0xc0, 7, 8, 0, 0, 0, 1, 1, 2, 3, 4]]), &NLRI_24), &two, Want::Discard(7)),
        // §7.8 COMMUNITIES
        ("7.8 COMMUNITIES length 5", with_attrs(&[0xc0, 8, 5, 0, 0, 0, 1, 2]), &e, Want::Withdraw(8)),
        ("7.8 COMMUNITIES length 0", with_attrs(&[0xc0, 8, 0]), &e, Want::Withdraw(8)),
        // §7.9 ORIGINATOR_ID
        ("7.9 ORIGINATOR_ID from eBGP", with_attrs(&[0x80, 9, 4, 1, 2, 3, 4]), &e, Want::Discard(9)),
        ("7.9 ORIGINATOR_ID from iBGP length 3", with_attrs(&[0x80, 9, 3, 1, 2, 3]), &i, Want::Withdraw(9)),
        // §7.10 CLUSTER_LIST
        ("7.10 CLUSTER_LIST from eBGP", with_attrs(&[0x80, 10, 4, 1, 2, 3, 4]), &e, Want::Discard(10)),
        ("7.10 CLUSTER_LIST from iBGP length 6", with_attrs(&[0x80, 10, 6, 1, 2, 3, 4, 5, 6]), &i, Want::Withdraw(10)),
        // §7.11 MP_REACH_NLRI next hop length
        ("7.11 MP_REACH IPv6 next hop length 20", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &mp_reach_v6(20, &[0; 20])]), &[]), &e, Want::Reset(3, 9)),
        ("7.11 MP_REACH next hop overruns (CVE-2023-46752)", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &[0x80, 14, 6, 0, 2, 1, 32, 0x20, 0x01]]), &[]), &e, Want::Reset(3, 9)),
        ("7.11 MP_REACH NLRI prefix length 200", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &[0x80, 14, 22, 0, 2, 1, 16], &[0x20, 1, 0xd, 0xb8, 0,0,0,0,0,0,0,0,0,0,0,1], &[0, 200, 1]]), &[]), &e, Want::Reset(3, 9)),
        // §7.14 extended communities, RFC 8092 large communities
        ("7.14 EXT_COMMUNITIES length 7", with_attrs(&[0xc0, 16, 7, 0, 2, 0, 0, 0, 0, 1]), &e, Want::Withdraw(16)),
        ("LARGE_COMMUNITY length 11", with_attrs(&[0xc0, 32, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 3]), &e, Want::Withdraw(32)),
        // RFC 6793 §6: AS4 attributes are discarded when malformed
        ("AS4_PATH malformed on 2-octet session", update_msg(&[], &cat(&[&ORIGIN_IGP, &[0x40, 2, 4, 2, 1, 0xfd, 0xe9], &NEXT_HOP, &[0xc0, 17, 2, 2, 0]]), &NLRI_24), &two, Want::Discard(17)),
        ("AS4_AGGREGATOR length 6", update_msg(&[], &cat(&[&ORIGIN_IGP, &[0x40, 2, 4, 2, 1, 0xfd, 0xe9], &NEXT_HOP, &[0xc0, 18, 6, 0, 1, 1, 2, 3, 4]]), &NLRI_24), &two, Want::Discard(18)),
        ("AS4_PATH from a 4-octet speaker is ignored", with_attrs(&[0xc0, 17, 6, 2, 1, 0, 0, 0xfd, 0xe9]), &e, Want::Discard(17)),
        // §3(c) flags conflicts
        ("3(c) ORIGIN marked optional", replacing(1, &[0xc0, 1, 1, 0]), &e, Want::Withdraw(1)),
        ("3(c) MED marked transitive", with_attrs(&[0xc0, 4, 4, 0, 0, 0, 1]), &e, Want::Withdraw(4)),
        ("3(c) COMMUNITIES marked well-known", with_attrs(&[0x40, 8, 4, 0, 0, 0, 1]), &e, Want::Withdraw(8)),
        ("3(c) MP_REACH marked transitive", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &[0xc0], &mp_reach_v6(16, &[0x20; 16])[1..]]), &[]), &e, Want::Reset(3, 9)),
        // §3(d) missing well-known mandatory attributes
        ("3(d) ORIGIN missing", update_msg(&[], &cat(&[&as_path4(&[1]), &NEXT_HOP]), &NLRI_24), &e, Want::Withdraw(1)),
        ("3(d) AS_PATH missing", update_msg(&[], &cat(&[&ORIGIN_IGP, &NEXT_HOP]), &NLRI_24), &e, Want::Withdraw(2)),
        ("3(d) NEXT_HOP missing with NLRI field", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1])]), &NLRI_24), &e, Want::Withdraw(3)),
        ("3(d) NEXT_HOP not needed for MP_REACH only", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &mp_reach_v6(16, &[0x20; 16])]), &[]), &e, Want::Clean),
        // §3(g) duplicates
        ("3(g) duplicate ORIGIN keeps the first", with_attrs(&[0x40, 1, 1, 2]), &e, Want::Discard(1)),
        ("3(g) duplicate MP_REACH", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &mp_reach_v6(16, &[0x20; 16]), &mp_reach_v6(16, &[0x20; 16])]), &[]), &e, Want::Reset(3, 1)),
        ("3(g) duplicate MP_UNREACH", update_msg(&[], &[0x80, 15, 3, 0, 2, 1, 0x80, 15, 3, 0, 2, 1], &[]), &e, Want::Reset(3, 1)),
        // §4 framing
        ("4 last attribute overruns the list", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &NEXT_HOP, &[0xc0, 8, 9, 0, 0, 0, 1]]), &NLRI_24), &e, Want::Withdraw(8)),
        ("4 fewer than 3 octets left", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &NEXT_HOP, &[0xc0, 8]]), &NLRI_24), &e, Want::Withdraw(8)),
        ("4 extended length header cut short", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &NEXT_HOP, &[0xd0, 8, 0]]), &NLRI_24), &e, Want::Withdraw(8)),
        // §5.2 attributes but no NLRI
        ("5.2 malformed attribute and no NLRI", update_msg(&[], &[0x40, 1, 1, 7], &[]), &e, Want::Reset(3, 1)),
        ("5.2 with withdrawn routes only", update_msg(&NLRI_24, &[0x40, 1, 1, 7], &[]), &e, Want::Reset(3, 1)),
        ("5.2 discard-only fault and no NLRI is fine", update_msg(&[], &[0x40, 6, 1, 0], &[]), &e, Want::Discard(6)),
        // RFC 4271 §6.3 message-level errors
        ("6.3 withdrawn length overruns the message", { let mut m = update_msg(&[], &[], &[]); m[20] = 9; m }, &e, Want::Reset(3, 1)),
        ("6.3 total attribute length overruns", { let mut m = update_msg(&[], &[], &[]); m[22] = 1; m }, &e, Want::Reset(3, 1)),
        ("5.3 NLRI prefix length 33", update_msg(&[], &cat(&[&ORIGIN_IGP, &as_path4(&[1]), &NEXT_HOP]), &[33, 1, 2, 3, 4, 5]), &e, Want::Reset(3, 10)),
        ("5.3 withdrawn prefix truncated", update_msg(&[24, 198], &[], &[]), &e, Want::Reset(3, 10)),
        ("6.3 unrecognized well-known attribute", with_attrs(&[0x40, 99, 1, 0]), &e, Want::Reset(3, 2)),
        // unknown optional attributes
        ("unknown optional non-transitive is dropped", with_attrs(&[0x80, 99, 1, 0]), &e, Want::Clean),
        ("unknown optional transitive is kept", with_attrs(&[0xc0, 99, 1, 0]), &e, Want::Clean),
    ];
    let mut failures = Vec::new();
    for (name, bytes, ctx, want) in rows {
        let got = outcome(&bytes, ctx);
        if got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "RFC 7606 rows failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn an_unrecognized_well_known_attribute_notification_carries_the_attribute_rfc4271_6_3() {
    let e = decode(&with_attrs(&[0x40, 99, 2, 7, 8]), &Ctx::default()).unwrap_err();
    assert_eq!(&e.notification().data[..], &[0x40, 99, 2, 7, 8]);
}

#[test]
fn treat_as_withdraw_moves_mp_reach_prefixes_into_mp_unreach_rfc7606_2() {
    let bytes = update_msg(
        &[],
        &cat(&[
            &[0x40, 1, 1, 9],
            &as_path4(&[1]),
            &mp_reach_v6(16, &[0x20; 16]),
        ]),
        &[],
    );
    let d = decode(&bytes, &Ctx::default()).unwrap();
    let Message::Update(u) = d.message else {
        panic!()
    };
    assert_eq!(
        u.mp_unreach,
        Some(MpUnreach {
            family: Family::IPV6_UNICAST,
            nlri: vec![pfx("2001:db8:a::/48")]
        })
    );
    assert_eq!(u.withdrawals().count(), 1);
}

#[test]
fn unknown_transitive_attributes_pass_through_with_partial_set_rfc4271_5() {
    let d = decode(&with_attrs(&[0xc0, 99, 1, 0]), &Ctx::default()).unwrap();
    let Message::Update(u) = &d.message else {
        panic!()
    };
    assert_eq!(u.attrs.unknown[0].flags, 0xe0);
    let out = encode_to_vec(&d.message, &Ctx::default()).unwrap();
    assert!(out.windows(4).any(|w| w == [0xe0, 99, 1, 0]));
}

/// Published CVE and incident triggers (reliability-anchors.md §1.5): each gets the RFC 7606
/// action, and none panics.
#[test]
fn published_cve_triggers_get_the_right_action_and_never_panic() {
    let e = Ctx::default();
    let two = two_octet();
    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<u8>, &Ctx, Want)> = vec![
        // CVE-2023-38802: corrupt attribute 23 (Tunnel Encapsulation) must not reset; wren does
        // not interpret it, so it passes through as an optional transitive attribute.
        ("CVE-2023-38802 attr 23", with_attrs(&[0xc0, 23, 3, 0xff, 0xff, 0xff]), &e, Want::Clean),
        // 2023 Junos incident: attribute 28 (entropy label) on routes.
        ("attr 28 entropy label", with_attrs(&[0xc0, 28, 0]), &e, Want::Clean),
        // 2025 BIRD incident: attribute 35 (OTC) with a bad length.
        ("attr 35 OTC bad length", with_attrs(&[0xc0, 35, 1, 0]), &e, Want::Clean),
        // 2025 incident: attribute 40 (Prefix-SID) all zeros.
        ("attr 40 prefix-sid zeros", with_attrs(&[0xc0, 40, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), &e, Want::Clean),
        // CVE-2023-41358: attribute length zero with NLRI present.
        ("CVE-2023-41358 no attributes", update_msg(&[], &[], &NLRI_24), &e, Want::Withdraw(1)),
        // CVE-2023-46753: only an unknown transitive attribute, no mandatory ones.
        ("CVE-2023-46753 only unknown attr", update_msg(&[], &[0xc0, 99, 1, 0], &NLRI_24), &e, Want::Withdraw(1)),
        // CVE-2023-47235: malformed UPDATE that looks like an End-of-RIB.
        ("CVE-2023-47235 malformed EoR", update_msg(&[], &[0x80, 15, 3, 0, 2, 1, 0x40, 1, 1, 5], &[]), &e, Want::Reset(3, 1)),
        // CVE-2023-47234: MP_UNREACH plus NLRI, mandatory attributes missing.
        ("CVE-2023-47234 unreach plus nlri", update_msg(&[], &[0x80, 15, 3, 0, 2, 1], &NLRI_24), &e, Want::Withdraw(1)),
        // CVE-2026-41642: unrecognized attribute with Optional = 0.
        ("CVE-2026-41642 unknown well-known", with_attrs(&[0x00, 200, 0]), &e, Want::Reset(3, 2)),
        // CVE-2026-41643: both AS_PATH and AS4_PATH, on either kind of session.
        ("CVE-2026-41643 as4 on 4-octet", with_attrs(&[0xc0, 17, 10, 2, 2, 0, 0, 0, 1, 0, 0, 0, 2]), &e, Want::Discard(17)),
        ("CVE-2026-41643 longer as4 on 2-octet", update_msg(&[], &cat(&[&ORIGIN_IGP, &[0x40, 2, 4, 2, 1, 0, 1], &NEXT_HOP, &[0xc0, 17, 10, 2, 2, 0, 0, 0, 1, 0, 0, 0, 2]]), &NLRI_24), &two, Want::Clean),
        // GHSA-frrj-87jh-2772: zero-length AS_PATH (valid: an empty path).
        ("GHSA zero-length AS_PATH", replacing(2, &[0x40, 2, 0]), &e, Want::Clean),
        // CVE-2022-40302 family is about OPEN; the UPDATE analogue: attribute length field alone.
        ("attribute ending at its length octet", update_msg(&[], &[0x40, 1], &NLRI_24), &e, Want::Withdraw(1)),
    ];
    let mut failures = Vec::new();
    for (name, bytes, ctx, want) in rows {
        let got = outcome(&bytes, ctx);
        if got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "CVE rows failed:\n{}",
        failures.join("\n")
    );
}
