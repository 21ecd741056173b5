//! SIGHUP applies peer changes without touching the other sessions.
//!
//! wren starts with one GoBGP peer (tor1). A reload adds a second (tor2): tor2's session comes up
//! and learns tor1's prefix, while tor1's session is not reset (wren logs exactly one
//! `session established` for it). A second reload removes tor1: tor1's session goes down (wren
//! sends Cease/Peer De-configured) and tor2 loses tor1's prefix; tor2's session stays up.
//!
//! Needs root and `gobgpd`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::time::Duration;

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Family, Lab, LabError};

const WREN_AS: u32 = 64512;
const DEADLINE: Duration = Duration::from_secs(30);
const P1: &str = "198.51.100.0/24";

fn peer(name: &str, addr: IpAddr, asn: u32) -> String {
    format!(
        "[[peer]]\nname = \"{name}\"\naddress = \"{addr}\"\nasn = {asn}\nconnect_retry = 3\nhold_time = 9\n\n"
    )
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn a_reload_adds_and_removes_peers_without_resetting_the_others() {
    let lab = Lab::new("reload_peers").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip"]).unwrap();
    let w = lab.add_node("w").unwrap();
    let t1 = lab.add_node("tor1").unwrap();
    let t2 = lab.add_node("tor2").unwrap();
    let l1 = lab.link(&t1, &w).unwrap();
    let l2 = lab.link(&t2, &w).unwrap();
    let (tor1, tor2) = (IpAddr::V4(l1.a_v4), IpAddr::V4(l2.a_v4));

    let g1 = Gobgp::start(
        &t1,
        &GobgpConfig::new(65001, l1.a_v4)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(l1.b_v4), WREN_AS)),
    )
    .unwrap();
    g1.announce(P1).unwrap();
    let g2 = Gobgp::start(
        &t2,
        &GobgpConfig::new(65002, l2.a_v4)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(l2.b_v4), WREN_AS)),
    )
    .unwrap();

    let head = format!(
        "[global]\nasn = {WREN_AS}\nrouter_id = \"{}\"\n\n[control]\nsocket = \"{}\"\n\n",
        l1.b_v4,
        lab::wren::PLACEHOLDER_SOCKET
    );
    let one = format!("{head}{}", peer("tor1", tor1, 65001));
    let wren = Wren::start(&lab, &w, "wren", &one).unwrap();
    wren.wait_for_log("peer tor1: session established", 1, DEADLINE)
        .unwrap();

    // Add tor2.
    let two = format!("{one}{}", peer("tor2", tor2, 65002));
    wren.reload_with(&two).unwrap();
    g2.wait_established(IpAddr::V4(l2.b_v4), DEADLINE).unwrap();
    let has_p1 = |g: &Gobgp| -> Result<bool, LabError> {
        Ok(g.rib(Family::Ipv4)?.iter().any(|r| r.prefix == P1))
    };
    wait_until(DEADLINE, "tor2 to learn tor1's prefix", || has_p1(&g2)).unwrap();
    assert_eq!(
        wren.log().matches("peer tor1: session established").count(),
        1,
        "adding tor2 must not reset tor1:\n{}",
        wren.log()
    );

    // Remove tor1.
    let only_two = format!("{head}{}", peer("tor2", tor2, 65002));
    wren.reload_with(&only_two).unwrap();
    wait_until(DEADLINE, "tor1's session to go down", || {
        Ok::<_, LabError>(g1.neighbor_state(IpAddr::V4(l1.b_v4))? != "established")
    })
    .unwrap();
    wait_until(DEADLINE, "tor2 to lose tor1's prefix", || {
        has_p1(&g2).map(|b| !b)
    })
    .unwrap();
    assert_eq!(
        g2.neighbor_state(IpAddr::V4(l2.b_v4)).unwrap(),
        "established",
        "removing tor1 must not reset tor2"
    );
    assert_eq!(
        wren.log().matches("peer tor2: session established").count(),
        1,
        "{}",
        wren.log()
    );
    assert!(
        wren.log().contains("SIGHUP: peer tor1 removed"),
        "{}",
        wren.log()
    );
    assert!(wren.proc().is_running(), "{}", wren.log());
}
