//! Interop: `wren run` holds real BGP sessions with GoBGP in two namespaces.
//!
//! * eBGP with a 4-octet AS on wren's side, over IPv4 and IPv6: both sessions reach Established,
//!   GoBGP learns wren's originated prefixes with AS path [wren's AS] and wren's link addresses as
//!   next hops, wren receives GoBGP's prefixes, and a GoBGP restart takes the sessions down and
//!   back up.
//! * iBGP: the session reaches Established and GoBGP sees LOCAL_PREF 100 and an empty AS path.
//!
//! Needs root and `gobgpd`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::time::Duration;

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Family, Lab, LabError, Node, Route};

const WREN_AS: u32 = 4_200_000_001;
const GOBGP_AS: u32 = 64513;
const DEADLINE: Duration = Duration::from_secs(30);

#[track_caller]
fn wait_for_route(gobgp: &Gobgp, family: Family, prefix: &str, next_hop: IpAddr, path: &[u32]) {
    let want = Route {
        prefix: prefix.to_owned(),
        next_hop: Some(next_hop),
        as_path: path.to_vec(),
    };
    gobgp.wait_for_route(family, &want, DEADLINE).unwrap();
}

fn gobgp_config(
    asn: u32,
    link: &lab::Link,
    wren_v4: IpAddr,
    wren_v6: Option<IpAddr>,
    peer_as: u32,
) -> GobgpConfig {
    let mut c = GobgpConfig::new(asn, link.a_v4)
        .neighbor(GobgpNeighbor::new(wren_v4, peer_as).local_address(IpAddr::V4(link.a_v4)));
    if let Some(v6) = wren_v6 {
        c = c.neighbor(GobgpNeighbor::new(v6, peer_as).local_address(IpAddr::V6(link.a_v6)));
    }
    c
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn wren_and_gobgp_exchange_prefixes_over_ebgp_and_survive_a_gobgp_restart() {
    let lab = Lab::new("peer_gobgp_ebgp").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    let (a4, b4, a6, b6) = (
        IpAddr::V4(link.a_v4),
        IpAddr::V4(link.b_v4),
        IpAddr::V6(link.a_v6),
        IpAddr::V6(link.b_v6),
    );

    let gcfg = gobgp_config(GOBGP_AS, &link, b4, Some(b6), WREN_AS);
    let gobgp = Gobgp::start(&a, &gcfg).unwrap();
    gobgp.announce("198.51.100.0/24").unwrap();
    gobgp.announce("2001:db8:b::/48").unwrap();

    let wren = Wren::start(
        &lab,
        &b,
        "wren",
        &lab::wren::config(
            WREN_AS,
            &link.b_v4.to_string(),
            &[(a4, GOBGP_AS), (a6, GOBGP_AS)],
            &["203.0.113.0/24", "2001:db8:a::/48"],
        ),
    )
    .unwrap();

    gobgp.wait_established(b4, DEADLINE).unwrap();
    gobgp.wait_established(b6, DEADLINE).unwrap();
    wait_for_route(&gobgp, Family::Ipv4, "203.0.113.0/24", b4, &[WREN_AS]);
    wait_for_route(&gobgp, Family::Ipv6, "2001:db8:a::/48", b6, &[WREN_AS]);
    // GoBGP's prefixes reach wren's Adj-RIB-In.
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 1, DEADLINE)
        .unwrap();
    wren.wait_for_log(&format!("received 2001:db8:b::/48 via {a6}"), 1, DEADLINE)
        .unwrap();
    let log = wren.log();
    assert_eq!(log.matches("session established").count(), 2, "{log}");

    // Stopping GoBGP takes both sessions down; restarting it brings them back.
    gobgp.proc().kill().unwrap();
    wren.wait_for_log("session down", 2, DEADLINE).unwrap();
    let gobgp = Gobgp::start(&a, &gcfg).unwrap();
    gobgp.announce("198.51.100.0/24").unwrap();
    wren.wait_for_log("session established", 4, DEADLINE)
        .unwrap();
    gobgp.wait_established(b4, DEADLINE).unwrap();
    gobgp.wait_established(b6, DEADLINE).unwrap();
    wait_for_route(&gobgp, Family::Ipv4, "203.0.113.0/24", b4, &[WREN_AS]);
    wait_for_route(&gobgp, Family::Ipv6, "2001:db8:a::/48", b6, &[WREN_AS]);
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 2, DEADLINE)
        .unwrap();
    assert!(wren.proc().is_running(), "{}", wren.log());
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn wren_and_gobgp_hold_an_ibgp_session_with_local_pref_and_empty_as_path() {
    let lab = Lab::new("peer_gobgp_ibgp").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    let (a4, b4) = (IpAddr::V4(link.a_v4), IpAddr::V4(link.b_v4));

    let gobgp = Gobgp::start(&a, &gobgp_config(GOBGP_AS, &link, b4, None, GOBGP_AS)).unwrap();
    gobgp.announce("198.51.100.0/24").unwrap();
    let wren = Wren::start(
        &lab,
        &b,
        "wren",
        &lab::wren::config(
            GOBGP_AS,
            &link.b_v4.to_string(),
            &[(a4, GOBGP_AS)],
            &["203.0.113.0/24"],
        ),
    )
    .unwrap();

    gobgp.wait_established(b4, DEADLINE).unwrap();
    wait_for_route(&gobgp, Family::Ipv4, "203.0.113.0/24", b4, &[]);
    let json = gobgp
        .cli(&["global", "rib", "-a", "ipv4", "-j"])
        .unwrap()
        .replace(' ', "");
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let attrs = v["203.0.113.0/24"][0]["attrs"].as_array().unwrap();
    let local_pref = attrs
        .iter()
        .find(|a| a["type"] == 5)
        .unwrap_or_else(|| panic!("no LOCAL_PREF in {json}"));
    assert_eq!(local_pref["value"], 100, "{json}");
    wren.wait_for_log(&format!("received 198.51.100.0/24 via {a4}"), 1, DEADLINE)
        .unwrap();
}

/// Reads a kernel TCP counter (e.g. `TcpExtTCPMD5Failure`) inside a namespace with `nstat`.
fn tcp_counter(node: &Node, name: &str) -> Result<u64, LabError> {
    let out = node.exec(&["nstat", "-az", name])?;
    out.lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some(name)).then(|| f.next().and_then(|v| v.parse().ok()))?
        })
        .ok_or_else(|| LabError::new(format!("no {name} in nstat output:\n{out}")))
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn tcp_md5_with_the_same_password_forms_a_session_and_a_wrong_one_is_dropped_by_the_kernel() {
    let lab = Lab::new("peer_gobgp_md5").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip", "nstat"]).unwrap();
    let a = lab.add_node("a").unwrap();
    let b = lab.add_node("b").unwrap();
    let link = lab.link(&a, &b).unwrap();
    let (a4, b4) = (IpAddr::V4(link.a_v4), IpAddr::V4(link.b_v4));
    let config = lab::wren::config(
        WREN_AS,
        &link.b_v4.to_string(),
        &[(a4, GOBGP_AS)],
        &["203.0.113.0/24"],
    )
    .replace(
        "hold_time = 9\n",
        "hold_time = 9\npassword = \"calico-md5\"\n",
    );

    // Same password on both sides: the session forms and routes flow.
    let neighbor = GobgpNeighbor::new(b4, WREN_AS).local_address(a4);
    let gcfg =
        GobgpConfig::new(GOBGP_AS, link.a_v4).neighbor(neighbor.clone().password("calico-md5"));
    let gobgp = Gobgp::start(&a, &gcfg).unwrap();
    let wren = Wren::start(&lab, &b, "wren", &config).unwrap();
    gobgp.wait_established(b4, DEADLINE).unwrap();
    wait_for_route(&gobgp, Family::Ipv4, "203.0.113.0/24", b4, &[WREN_AS]);
    gobgp.proc().kill().unwrap();
    wren.wait_for_log("session down", 1, DEADLINE).unwrap();

    // A wrong password: the kernel drops the segments and counts them; no session forms.
    let before = tcp_counter(&b, "TcpExtTCPMD5Failure").unwrap();
    let gcfg = GobgpConfig::new(GOBGP_AS, link.a_v4).neighbor(neighbor.password("wrong-secret"));
    let gobgp = Gobgp::start(&a, &gcfg).unwrap();
    wait_until(DEADLINE, "wren's kernel to count MD5 failures", || {
        let n = tcp_counter(&b, "TcpExtTCPMD5Failure")?;
        if n > before {
            Ok(true)
        } else {
            Err(LabError::new(format!("TcpExtTCPMD5Failure still {n}")))
        }
    })
    .unwrap();
    assert_ne!(gobgp.neighbor_state(b4).unwrap(), "established");
    assert_eq!(
        wren.log().matches("session established").count(),
        1,
        "{}",
        wren.log()
    );
}
