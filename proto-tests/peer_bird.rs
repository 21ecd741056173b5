//! Interop: `wren run` holds real BGP sessions with BIRD 2 in two namespaces.
//!
//! * eBGP with 4-octet ASes on both sides, over IPv4 and IPv6: BIRD's sessions reach Established,
//!   BIRD learns wren's originated prefixes with AS path [wren's AS] and wren's link addresses as
//!   next hops, wren receives BIRD's static prefixes, a withdrawal on BIRD's side (disabling the
//!   static protocol that holds the IPv4 prefix) reaches wren, and a BIRD restart takes both
//!   sessions down and back up.
//! * iBGP: the session reaches Established, BIRD sees an empty AS path and LOCAL_PREF 100, and wren
//!   receives BIRD's prefix.
//!
//! Needs root and `bird2`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::time::Duration;

use lab::bird::{Bird, BirdConfig, BirdSession};
use lab::wren::Wren;
use lab::{find_route, wait_until, Family, Lab, LabError, Route};

const WREN_AS: u32 = 4_200_000_001;
const BIRD_AS: u32 = 4_200_000_002;
const IBGP_AS: u32 = 64512;
const DEADLINE: Duration = Duration::from_secs(30);

#[track_caller]
fn wait_established(bird: &Bird, protocols: &[&str]) {
    for proto in protocols {
        bird.wait_established(proto, DEADLINE).unwrap();
    }
}

/// Waits until BIRD's preferred route for `prefix` has exactly this next hop and AS path.
#[track_caller]
fn wait_for_route(bird: &Bird, prefix: &str, next_hop: IpAddr, as_path: &[u32]) {
    let want = Route {
        prefix: prefix.to_owned(),
        next_hop: Some(next_hop),
        as_path: as_path.to_vec(),
    };
    wait_until(DEADLINE, &format!("BIRD to hold {want:?}"), || {
        let routes = bird.routes(Family::of_prefix(prefix))?;
        match find_route(&routes, prefix) {
            Some(r) if *r == want => Ok(true),
            other => Err(LabError::new(format!("BIRD has {other:?}"))),
        }
    })
    .unwrap();
}

#[test]
#[ignore = "needs root and bird2: run via make test"]
fn wren_and_bird_exchange_prefixes_over_ebgp_ipv4_and_ipv6_with_4_octet_asns() {
    let lab = Lab::new("peer_bird_ebgp").unwrap();
    lab::require_binaries(&["bird", "birdc", "ip"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    let (a4, b4, a6, b6) = (
        IpAddr::V4(link.a_v4),
        IpAddr::V4(link.b_v4),
        IpAddr::V6(link.a_v6),
        IpAddr::V6(link.b_v6),
    );

    // BIRD on a: static4 holds only 198.51.100.0/24, so disabling it withdraws exactly that.
    let bcfg = BirdConfig::new(link.a_v4)
        .announce("198.51.100.0/24")
        .announce("2001:db8:b::/48")
        .session(BirdSession::new("wren4", a4, BIRD_AS, b4, WREN_AS))
        .session(BirdSession::new("wren6", a6, BIRD_AS, b6, WREN_AS));
    let bird = Bird::start(&a, &bcfg).unwrap();
    let wren = Wren::start(
        &lab,
        &b,
        "wren",
        &lab::wren::config(
            WREN_AS,
            &link.b_v4.to_string(),
            &[(a4, BIRD_AS), (a6, BIRD_AS)],
            &["203.0.113.0/24", "2001:db8:a::/48"],
        ),
    )
    .unwrap();

    wait_established(&bird, &["wren4", "wren6"]);
    wait_for_route(&bird, "203.0.113.0/24", b4, &[WREN_AS]);
    wait_for_route(&bird, "2001:db8:a::/48", b6, &[WREN_AS]);
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 1, DEADLINE)
        .unwrap();
    wren.wait_for_log(&format!("received 2001:db8:b::/48 via {a6}"), 1, DEADLINE)
        .unwrap();
    let log = wren.log();
    assert_eq!(log.matches("session established").count(), 2, "{log}");
    assert_eq!(log.matches("session down").count(), 0, "{log}");

    // A withdrawal on BIRD's side reaches wren; the IPv6 prefix and both sessions stay.
    bird.cli(&["disable", "static4"]).unwrap();
    wren.wait_for_log("withdrawn 198.51.100.0/24", 1, DEADLINE)
        .unwrap();
    let log = wren.log();
    assert!(!log.contains("withdrawn 2001:db8:b::/48"), "{log}");
    assert_eq!(log.matches("session down").count(), 0, "{log}");
    wait_established(&bird, &["wren4", "wren6"]);

    // Stopping BIRD takes both sessions down; restarting it brings them and the routes back.
    bird.proc().kill().unwrap();
    wren.wait_for_log("session down", 2, DEADLINE).unwrap();
    let bird = Bird::start(&a, &bcfg).unwrap();
    wren.wait_for_log("session established", 4, DEADLINE)
        .unwrap();
    wait_established(&bird, &["wren4", "wren6"]);
    wait_for_route(&bird, "203.0.113.0/24", b4, &[WREN_AS]);
    wait_for_route(&bird, "2001:db8:a::/48", b6, &[WREN_AS]);
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 2, DEADLINE)
        .unwrap();
    wren.wait_for_log(&format!("received 2001:db8:b::/48 via {a6}"), 2, DEADLINE)
        .unwrap();
    assert!(wren.proc().is_running(), "{}", wren.log());
}

#[test]
#[ignore = "needs root and bird2: run via make test"]
fn wren_and_bird_hold_an_ibgp_session() {
    let lab = Lab::new("peer_bird_ibgp").unwrap();
    lab::require_binaries(&["bird", "birdc", "ip"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    let (a4, b4) = (IpAddr::V4(link.a_v4), IpAddr::V4(link.b_v4));

    // BIRD treats iBGP sessions as multihop, whose next hops resolve recursively through an IGP
    // table, and this BIRD has no IGP routes. `direct` (protocol level; `gateway direct` is a
    // channel option the helper cannot place) makes the session direct, so wren's next hop is
    // taken as directly connected and the route is valid.
    let mut session = BirdSession::new("wren4", a4, IBGP_AS, b4, IBGP_AS);
    session.extra = "direct;".to_owned();
    let bird = Bird::start(
        &a,
        &BirdConfig::new(link.a_v4)
            .announce("198.51.100.0/24")
            .session(session),
    )
    .unwrap();
    let wren = Wren::start(
        &lab,
        &b,
        "wren",
        &lab::wren::config(
            IBGP_AS,
            &link.b_v4.to_string(),
            &[(a4, IBGP_AS)],
            &["203.0.113.0/24"],
        ),
    )
    .unwrap();

    wait_established(&bird, &["wren4"]);
    wait_for_route(&bird, "203.0.113.0/24", b4, &[]);
    let raw = bird
        .cli(&["show", "route", "all", "for", "203.0.113.0/24"])
        .unwrap();
    let local_pref = raw
        .lines()
        .find_map(|l| l.trim().strip_prefix("BGP.local_pref:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no BGP.local_pref in {raw}"));
    assert_eq!(local_pref, "100", "{raw}");
    assert!(
        raw.contains("BGP.as_path: \n") || raw.contains("BGP.as_path:\n"),
        "{raw}"
    );
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 1, DEADLINE)
        .unwrap();
}
