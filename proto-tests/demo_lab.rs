//! The README's main job (`make demo`): a small lab in network namespaces with a GoBGP "ToR
//! router" (AS 65000) and two wren nodes (AS 64512), like a Calico rack.
//!
//! * `tor` runs GoBGP and announces the data-centre network 198.51.100.0/24.
//! * `node1` and `node2` run `wren run`; each originates its Calico IPAM "pod block"
//!   (203.0.113.0/26 and 203.0.113.64/26). Each has an eBGP session with the ToR and an iBGP
//!   session with the other node over their direct link.
//!
//! The test waits until GoBGP has both pod blocks (AS path [64512], next hop one of the nodes:
//! each node also passes the other's block on to the ToR, as BGP does) and each wren has received the ToR's network and the other node's block over
//! iBGP, then prints a summary a newcomer can read (`--nocapture`). The lab is torn down when
//! `Lab` drops, also on failure.
//!
//! Needs root and `gobgpd`, so `#[ignore]`d and run by `make demo` / `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Family, Lab, LabError};

const TOR_AS: u32 = 65000;
const NODE_AS: u32 = 64512;
const DC_NETWORK: &str = "198.51.100.0/24";
const NODE1_BLOCK: &str = "203.0.113.0/26";
const NODE2_BLOCK: &str = "203.0.113.64/26";
const DEADLINE: Duration = Duration::from_secs(30);

/// A wren node's configuration: named peers `(name, address, AS)` and one originated block.
fn wren_config(router_id: IpAddr, peers: &[(&str, IpAddr, u32)], block: &str) -> String {
    let mut s = format!(
        "[global]\nasn = {NODE_AS}\nrouter_id = \"{router_id}\"\nlisten_address = \"::\"\n\n\
         [control]\nsocket = \"/nonexistent/wren.ctl\"\n\n"
    );
    for (name, addr, asn) in peers {
        s.push_str(&format!(
            "[[peer]]\nname = \"{name}\"\naddress = \"{addr}\"\nasn = {asn}\n\
             connect_retry = 3\nhold_time = 9\n\n"
        ));
    }
    s.push_str(&format!("[[originate]]\nprefix = \"{block}\"\n"));
    s
}

/// What a wren node has logged receiving: `(peer name, prefix, next hop)`, in order, no repeats.
fn received(log: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("peer ") else {
            continue;
        };
        let rest = &line[at + "peer ".len()..];
        let Some((peer, rest)) = rest.split_once(": received ") else {
            continue;
        };
        let Some((prefix, nh)) = rest.split_once(" via ") else {
            continue;
        };
        let entry = (peer.to_owned(), prefix.to_owned(), nh.trim().to_owned());
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Number of sessions wren has logged as established, per peer name.
fn established(log: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for line in log.lines() {
        if let Some(at) = line.find("peer ") {
            if let Some((peer, _)) = line[at + 5..].split_once(": session established") {
                *m.entry(peer.to_owned()).or_insert(0) += 1;
            }
        }
    }
    m
}

#[track_caller]
fn wait_received(wren: &Wren, peer: &str, prefix: &str, nh: IpAddr) {
    let want = (peer.to_owned(), prefix.to_owned(), nh.to_string());
    wait_until(
        DEADLINE,
        &format!(
            "wren ({}) to receive {prefix} via {nh} from {peer}",
            wren.proc().name()
        ),
        || {
            let log = wren.log();
            if received(&log).contains(&want) {
                Ok(true)
            } else if !wren.proc().is_running() {
                Err(LabError::new(format!(
                    "wren exited ({:?}); log:\n{log}",
                    wren.proc().exit_status()
                )))
            } else {
                Err(LabError::new(format!(
                    "not yet; log tail:\n{}",
                    wren.proc().log_tail(20)
                )))
            }
        },
    )
    .unwrap();
}

/// Words for a prefix, for the summary.
fn describe(prefix: &str) -> &'static str {
    match prefix {
        DC_NETWORK => "the data-centre network",
        NODE1_BLOCK => "node1's pod block",
        NODE2_BLOCK => "node2's pod block",
        _ => "other",
    }
}

fn as_path_text(path: &[u32]) -> String {
    if path.is_empty() {
        "(none: its own)".to_owned()
    } else {
        path.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[test]
#[ignore = "needs root and gobgpd: run via make demo / make test"]
fn the_demo_lab_brings_up_two_wren_nodes_and_a_gobgp_tor_and_they_learn_each_others_routes() {
    let lab = Lab::new("demo_lab").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip"]).unwrap();
    let tor = lab.add_node("tor").unwrap();
    let node1 = lab.add_node("node1").unwrap();
    let node2 = lab.add_node("node2").unwrap();
    // Link 0: tor 198.18.0.1 <-> node1 198.18.0.2; link 1: tor 198.18.1.1 <-> node2 198.18.1.2;
    // link 2: node1 198.18.2.1 <-> node2 198.18.2.2.
    let up1 = lab.link(&tor, &node1).unwrap();
    let up2 = lab.link(&tor, &node2).unwrap();
    let side = lab.link(&node1, &node2).unwrap();
    let v4 = IpAddr::V4;
    let (tor_n1, n1_tor) = (v4(up1.a_v4), v4(up1.b_v4));
    let (tor_n2, n2_tor) = (v4(up2.a_v4), v4(up2.b_v4));
    let (n1_n2, n2_n1) = (v4(side.a_v4), v4(side.b_v4));

    // The ToR: GoBGP, eBGP to both nodes, announcing the data-centre network.
    let gobgp = Gobgp::start(
        &tor,
        &GobgpConfig::new(TOR_AS, up1.a_v4)
            .neighbor(GobgpNeighbor::new(n1_tor, NODE_AS).local_address(tor_n1))
            .neighbor(GobgpNeighbor::new(n2_tor, NODE_AS).local_address(tor_n2)),
    )
    .unwrap();
    gobgp.announce(DC_NETWORK).unwrap();

    // The nodes: wren, eBGP to the ToR and iBGP to each other, each originating its pod block.
    let wren1 = Wren::start(
        &lab,
        &node1,
        "wren",
        &wren_config(
            n1_tor,
            &[("tor", tor_n1, TOR_AS), ("node2", n2_n1, NODE_AS)],
            NODE1_BLOCK,
        ),
    )
    .unwrap();
    let wren2 = Wren::start(
        &lab,
        &node2,
        "wren",
        &wren_config(
            n2_tor,
            &[("tor", tor_n2, TOR_AS), ("node1", n1_n2, NODE_AS)],
            NODE2_BLOCK,
        ),
    )
    .unwrap();

    gobgp.wait_established(n1_tor, DEADLINE).unwrap();
    gobgp.wait_established(n2_tor, DEADLINE).unwrap();
    // Each node originates its block and also passes the other's (learned over iBGP) to the
    // ToR, so the ToR sees two eBGP paths per block and its own decision picks one; either is
    // right, both carry AS path [64512].
    for block in [NODE1_BLOCK, NODE2_BLOCK] {
        wait_until(
            DEADLINE,
            &format!("GoBGP to have {block} with AS path [{NODE_AS}] via node1 or node2"),
            || -> Result<bool, LabError> {
                let routes = gobgp.rib(Family::Ipv4)?;
                Ok(routes.iter().any(|r| {
                    r.prefix == block
                        && r.as_path == vec![NODE_AS]
                        && (r.next_hop == Some(n1_tor) || r.next_hop == Some(n2_tor))
                }))
            },
        )
        .unwrap();
    }
    wait_received(&wren1, "tor", DC_NETWORK, tor_n1);
    wait_received(&wren2, "tor", DC_NETWORK, tor_n2);
    wait_received(&wren1, "node2", NODE2_BLOCK, n2_n1);
    wait_received(&wren2, "node1", NODE1_BLOCK, n1_n2);
    let (log1, log2) = (wren1.log(), wren2.log());
    for (log, peers) in [(&log1, ["node2", "tor"]), (&log2, ["node1", "tor"])] {
        let up = established(log);
        for p in peers {
            assert!(up.contains_key(p), "no session with {p} logged:\n{log}");
        }
    }

    // The summary.
    println!();
    println!(
        "wren demo lab: a GoBGP \"ToR router\" (AS {TOR_AS}) and two wren nodes (AS {NODE_AS}),"
    );
    println!("each in its own network namespace, wired tor-node1, tor-node2 and node1-node2.");
    println!();
    println!("Sessions (all Established)");
    let sessions = [
        ("tor", "node1", "eBGP", tor_n1, n1_tor),
        ("tor", "node2", "eBGP", tor_n2, n2_tor),
        ("node1", "node2", "iBGP", n1_n2, n2_n1),
    ];
    for (a, b, kind, aa, ba) in sessions {
        println!("  {a:<5} <-> {b:<5}  {kind}  {aa:<10} <-> {ba:<10}  Established");
    }
    println!();
    println!("Routes the ToR learned (GoBGP's table)");
    let mut rib = gobgp.rib(Family::Ipv4).unwrap();
    rib.sort_by(|x, y| x.prefix.cmp(&y.prefix));
    for r in &rib {
        let nh = match r.next_hop {
            Some(h) if !h.is_unspecified() => h.to_string(),
            _ => "(itself)".to_owned(),
        };
        println!(
            "  {:<16} via {:<10}  AS path {:<24} ({})",
            r.prefix,
            nh,
            as_path_text(&r.as_path),
            describe(&r.prefix)
        );
    }
    println!();
    println!("Routes each wren node received from its peers");
    for (name, log) in [("node1", &log1), ("node2", &log2)] {
        println!("  {name}:");
        let mut got = received(log);
        // The ToR first, then the other node.
        got.sort_by_key(|(peer, prefix, _)| (peer != "tor", prefix.clone()));
        for (peer, prefix, nh) in got {
            let how = if peer == "tor" {
                "from the ToR, eBGP".to_owned()
            } else {
                format!("from {peer}, iBGP")
            };
            println!(
                "    {prefix:<16} via {nh:<10}  {how:<20} ({})",
                describe(&prefix)
            );
        }
    }
    println!();
    println!("The ToR does not pass one node's pod block on to the other: GoBGP leaves out routes");
    println!(
        "whose AS path already holds the receiving peer's AS ({NODE_AS}), so each node learns"
    );
    println!("the other's block over their direct iBGP session only.");
    println!();
    println!("Tearing the lab down (namespaces and processes are removed).");
    for (log, other_block) in [(&log1, NODE2_BLOCK), (&log2, NODE1_BLOCK)] {
        assert!(
            !received(log)
                .iter()
                .any(|(p, pfx, _)| p == "tor" && pfx == other_block),
            "the ToR passed {other_block} back into AS {NODE_AS}:\n{log}"
        );
    }
    assert!(wren1.proc().is_running(), "{log1}");
    assert!(wren2.proc().is_running(), "{log2}");
}

#[test]
fn received_lines_are_parsed_from_wrens_log() {
    let log = "2024 DEBUG wren: peer tor: received 198.51.100.0/24 via 198.18.0.1\n\
               2024 INFO wren: peer tor: session established (Active, AS 65000, hold 9 s, families ipv4)\n\
               2024 DEBUG wren: peer tor: received 198.51.100.0/24 via 198.18.0.1\n\
               2024 DEBUG wren: peer node2: UPDATE +1 -0; received 2 prefixes\n";
    assert_eq!(
        received(log),
        vec![(
            "tor".to_owned(),
            "198.51.100.0/24".to_owned(),
            "198.18.0.1".to_owned()
        )]
    );
    assert_eq!(established(log).get("tor"), Some(&1));
}
