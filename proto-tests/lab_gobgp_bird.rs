//! Proves the namespace lab harness: GoBGP and BIRD exchange IPv4 and IPv6 prefixes over eBGP
//! (4-octet AS on the BIRD side) between two namespaces, and a withdrawal propagates.
//!
//! The lab test needs root, `gobgpd` and `bird2`, so it is `#[ignore]`d and run by `make test`
//! (`cargo test -- --include-ignored` as root). The parser tests below run everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::time::Duration;

use lab::bird::{Bird, BirdConfig, BirdSession};
use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::{find_route, wait_until, Family, Lab, LabError, Route};

const GOBGP_AS: u32 = 64512;
const BIRD_AS: u32 = 4_200_000_001;
const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `fetch()` holds `prefix` with exactly `next_hop` and `as_path`; on timeout the
/// error shows what the table looked like at the last poll.
#[track_caller]
fn wait_for_route(
    who: &str,
    prefix: &str,
    next_hop: IpAddr,
    as_path: &[u32],
    mut fetch: impl FnMut() -> Result<Vec<Route>, LabError>,
) {
    let want = Route {
        prefix: prefix.to_owned(),
        next_hop: Some(next_hop),
        as_path: as_path.to_vec(),
    };
    wait_until(DEADLINE, &format!("{who} to have {want:?}"), || {
        let routes = fetch()?;
        match find_route(&routes, prefix) {
            Some(r) if *r == want => Ok(true),
            found => Err(LabError::new(format!(
                "{who} has {found:?}; whole table: {routes:#?}"
            ))),
        }
    })
    .unwrap();
}

#[test]
#[ignore = "needs root, gobgpd and bird2: run via make test"]
fn gobgp_and_bird_exchange_ipv4_and_ipv6_prefixes_over_ebgp_in_namespaces() {
    let lab = Lab::new("gobgp_bird_ebgp").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "bird", "birdc", "ip"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    // The address plan (proto-tests/README.md): link 0 is 198.18.0.0/24 and 2001:db8::/64.
    assert_eq!(
        (
            link.a_v4.to_string(),
            link.b_v6.to_string(),
            link.a_if.as_str()
        ),
        ("198.18.0.1".to_owned(), "2001:db8::2".to_owned(), "to-b"),
        "{link:?}"
    );
    let (a4, b4, a6, b6) = (
        IpAddr::V4(link.a_v4),
        IpAddr::V4(link.b_v4),
        IpAddr::V6(link.a_v6),
        IpAddr::V6(link.b_v6),
    );

    let gobgp = Gobgp::start(
        &a,
        &GobgpConfig::new(GOBGP_AS, link.a_v4)
            .neighbor(GobgpNeighbor::new(b4, BIRD_AS).local_address(a4))
            .neighbor(GobgpNeighbor::new(b6, BIRD_AS).local_address(a6)),
    )
    .unwrap();
    let bird = Bird::start(
        &b,
        &BirdConfig::new(link.b_v4)
            .announce("198.51.100.0/24")
            .announce("2001:db8:b::/48")
            .session(BirdSession::new("gobgp4", b4, BIRD_AS, a4, GOBGP_AS))
            .session(BirdSession::new("gobgp6", b6, BIRD_AS, a6, GOBGP_AS)),
    )
    .unwrap();

    // Both sessions established on both sides.
    for peer in [b4, b6] {
        gobgp.wait_established(peer, DEADLINE).unwrap();
    }
    for proto in ["gobgp4", "gobgp6"] {
        bird.wait_established(proto, DEADLINE).unwrap();
    }

    gobgp.announce("203.0.113.0/24").unwrap();
    gobgp.announce("2001:db8:a::/48").unwrap();

    // BIRD learns GoBGP's prefixes: AS path [64512], next hop GoBGP's link address.
    wait_for_route("BIRD", "203.0.113.0/24", a4, &[GOBGP_AS], || {
        bird.routes(Family::Ipv4)
    });
    wait_for_route("BIRD", "2001:db8:a::/48", a6, &[GOBGP_AS], || {
        bird.routes(Family::Ipv6)
    });
    // GoBGP learns BIRD's: AS path [4200000001] (4-octet), next hop BIRD's link address.
    wait_for_route("GoBGP", "198.51.100.0/24", b4, &[BIRD_AS], || {
        gobgp.rib(Family::Ipv4)
    });
    wait_for_route("GoBGP", "2001:db8:b::/48", b6, &[BIRD_AS], || {
        gobgp.rib(Family::Ipv6)
    });

    // A withdrawal propagates; the other prefixes stay.
    gobgp.withdraw("203.0.113.0/24").unwrap();
    wait_until(DEADLINE, "BIRD to drop withdrawn 203.0.113.0/24", || {
        let routes = bird.routes(Family::Ipv4)?;
        match find_route(&routes, "203.0.113.0/24") {
            None => Ok(true),
            Some(r) => Err(LabError::new(format!("BIRD still has {r:?}"))),
        }
    })
    .unwrap();
    let v6 = bird.routes(Family::Ipv6).unwrap();
    assert!(
        find_route(&v6, "2001:db8:a::/48").is_some(),
        "2001:db8:a::/48 must survive the IPv4 withdrawal; BIRD master6: {v6:#?}"
    );
    assert_eq!(gobgp.neighbor_state(b4).unwrap(), "established");

    // Stopping a peer mid-test: BIRD goes away, GoBGP drops the sessions and BIRD's routes.
    bird.proc().kill().unwrap();
    assert!(!bird.proc().is_running());
    wait_until(
        DEADLINE,
        "GoBGP to leave established and flush BIRD's routes",
        || {
            let state = gobgp.neighbor_state(b4)?;
            let rib = gobgp.rib(Family::Ipv4)?;
            if state != "established" && find_route(&rib, "198.51.100.0/24").is_none() {
                Ok(true)
            } else {
                Err(LabError::new(format!(
                    "GoBGP session {state:?}, RIB {rib:?}"
                )))
            }
        },
    )
    .unwrap();
}

// ---- parsers on canned output (captured from gobgp 3.10 and BIRD 2.0.12) ----

const GOBGP_RIB_V4: &str = r#"{"198.51.100.0/24":[{"nlri":{"prefix":"198.51.100.0/24"},"age":1795423127,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[4200000001]}]},{"type":3,"nexthop":"198.18.0.2"}],"stale":false,"source-id":"198.18.0.2","neighbor-ip":"198.18.0.2"}],"203.0.113.0/24":[{"nlri":{"prefix":"203.0.113.0/24"},"age":1795423127,"best":true,"attrs":[{"type":1,"value":2},{"type":3,"nexthop":"0.0.0.0"}],"stale":false}]}"#;

const GOBGP_RIB_V6: &str = r#"{"2001:db8:b::/48":[{"nlri":{"prefix":"2001:db8:b::/48"},"age":1795423126,"best":false,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65001]}]},{"type":14,"nexthop":"2001:db8::3","afi":2,"safi":1,"value":[{"prefix":"2001:db8:b::/48"}]}],"stale":false},{"nlri":{"prefix":"2001:db8:b::/48"},"age":1795423126,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[4200000001,65000]},{"segment_type":1,"num":2,"asns":[1,2]}]},{"type":14,"nexthop":"2001:db8::2","afi":2,"safi":1,"value":[{"prefix":"2001:db8:b::/48"}]}],"stale":false}]}"#;

const BIRD_ROUTES: &str = "BIRD 2.0.12 ready.
Table master4:
198.51.100.0/24      unreachable [s4 08:38:42.510] * (200)
\tType: static univ
203.0.113.0/24       unicast [gobgp4 08:38:47.539] * (100) [AS64512?]
\tvia 198.18.0.1 on to-a
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 64512
\tBGP.next_hop: 198.18.0.1
\tBGP.local_pref: 100
                     unicast [other 08:38:48.000] (100) [AS65001i]
\tvia 198.18.1.1 on to-c
\tType: BGP univ
\tBGP.as_path: 65001 {1 2}
\tBGP.next_hop: 198.18.1.1

Table master6:
2001:db8:a::/48      unicast [gobgp6 2025-11-23 08:38:47] * (100) [AS64512?]
\tvia 2001:db8::1 on to-a
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 64512 4200000001
\tBGP.next_hop: 2001:db8::1 fe80::1
\tBGP.local_pref: 100
";

const BIRD_PROTOCOLS: &str = "BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
gobgp6     BGP        ---        up     08:38:46.527  Established
  BGP state:          Established
    Neighbor address: 2001:db8::1
    Neighbor AS:      64512
";

#[test]
fn parsers_understand_canned_gobgp_and_birdc_output() {
    let v4 = lab::gobgp::parse_rib_json(GOBGP_RIB_V4).unwrap();
    assert_eq!(
        v4,
        vec![
            Route {
                prefix: "198.51.100.0/24".into(),
                next_hop: Some("198.18.0.2".parse().unwrap()),
                as_path: vec![4_200_000_001],
            },
            Route {
                prefix: "203.0.113.0/24".into(),
                next_hop: Some("0.0.0.0".parse().unwrap()),
                as_path: vec![],
            },
        ]
    );
    let v6 = lab::gobgp::parse_rib_json(GOBGP_RIB_V6).unwrap();
    assert_eq!(
        v6,
        vec![Route {
            prefix: "2001:db8:b::/48".into(),
            next_hop: Some("2001:db8::2".parse().unwrap()),
            as_path: vec![4_200_000_001, 65000, 1, 2],
        }],
        "the best path is chosen and AS_SETs are flattened"
    );
    assert!(lab::gobgp::parse_rib_json("{}").unwrap().is_empty());
    assert!(lab::gobgp::parse_rib_json("").unwrap().is_empty());
    assert!(lab::gobgp::parse_rib_json("context deadline exceeded").is_err());

    assert_eq!(
        lab::gobgp::parse_neighbor_state_json(r#"{"state":{"session_state":6,"peer_asn":1}}"#)
            .unwrap(),
        "established"
    );
    assert_eq!(
        lab::gobgp::parse_neighbor_state_json(r#"{"state":{"session_state":"ACTIVE"}}"#).unwrap(),
        "active"
    );
    assert_eq!(
        lab::gobgp::parse_neighbor_state_json(r#"{"state":{}}"#).unwrap(),
        "unknown"
    );
    assert!(lab::gobgp::parse_neighbor_state_json(r#"{"error":"not found"}"#).is_err());

    let routes = lab::bird::parse_show_route(BIRD_ROUTES).unwrap();
    assert_eq!(
        routes,
        vec![
            Route {
                prefix: "198.51.100.0/24".into(),
                next_hop: None,
                as_path: vec![],
            },
            Route {
                prefix: "2001:db8:a::/48".into(),
                next_hop: Some("2001:db8::1".parse().unwrap()),
                as_path: vec![64512, 4_200_000_001],
            },
            Route {
                prefix: "203.0.113.0/24".into(),
                next_hop: Some("198.18.0.1".parse().unwrap()),
                as_path: vec![64512],
            },
        ]
    );
    assert!(lab::bird::parse_show_route("BIRD 2.0.12 ready.\nsyntax error\n").is_err());
    assert!(lab::bird::parse_show_route("BIRD 2.0.12 ready.\n")
        .unwrap()
        .is_empty());

    assert_eq!(
        lab::bird::parse_protocol_state(BIRD_PROTOCOLS, "gobgp6").unwrap(),
        "Established"
    );
    let static_proto = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\ns4         Static     master4    up     08:38:42.510\n  Channel ipv4\n";
    assert_eq!(
        lab::bird::parse_protocol_state(static_proto, "s4").unwrap(),
        "up"
    );
    assert!(lab::bird::parse_protocol_state("BIRD 2.0.12 ready.\n", "nope").is_err());
}
