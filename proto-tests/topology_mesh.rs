//! Topologies of several routers with wren in them, in network namespaces.
//!
//! * A full iBGP mesh of three wren nodes (AS 64512, one IPv4 and one IPv6 session per pair):
//!   each node's originated /26 and /64 become the other two nodes' best paths, learned directly
//!   from the originator and never through the third node (iBGP split horizon); removing a
//!   node's `[[originate]]` and sending SIGHUP withdraws its prefixes everywhere.
//! * wren (a 4-octet AS) between a GoBGP and a BIRD in two other ASes: routes pass through wren
//!   in both directions with wren's AS prepended and wren's own address as next hop, a
//!   withdrawal at GoBGP reaches BIRD, and wren's own prefix reaches both and is withdrawn from
//!   both when a reload removes it.
//! * wren with two iBGP GoBGP peers and an eBGP BIRD: a route from one iBGP peer goes to the
//!   eBGP peer but not to the other iBGP peer, which still gets the eBGP-learned routes.
//!
//! Needs root, `gobgpd` and `bird2`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use lab::bird::{Bird, BirdConfig, BirdSession};
use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::{Wren, WrenConfig, WrenPeer};
use lab::{find_route, wait_for, wait_until, Family, Lab, LabError, Route};

const DEADLINE: Duration = Duration::from_secs(30);
/// How long a route that must not arrive is looked for, after the event that would have sent it.
const ABSENCE_WINDOW: Duration = Duration::from_secs(3);

// ------------------------------------------------------------------------------------------------
// Helpers

/// The `best …` lines wren logs for `prefix`, in order: `Some((next hop, peer name))` for a new
/// best path, `None` for `best P: none`.
fn best_changes(log: &str, prefix: &str) -> Vec<Option<(String, String)>> {
    let with_path = format!("best {prefix} via ");
    let none = format!("best {prefix}: none");
    let mut out = Vec::new();
    for line in log.lines() {
        if line.trim_end().ends_with(&none) {
            out.push(None);
        } else if let Some(at) = line.find(&with_path) {
            let rest = &line[at + with_path.len()..];
            if let Some((nh, peer)) = rest.trim_end().split_once(" from ") {
                out.push(Some((nh.to_owned(), peer.to_owned())));
            }
        }
    }
    out
}

/// Every `peer NAME: received PREFIX via NH` line of a wren log, as `(name, prefix, next hop)`.
fn received(log: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find("peer ") else {
            continue;
        };
        let Some((peer, rest)) = line[at + "peer ".len()..].split_once(": received ") else {
            continue;
        };
        let Some((prefix, nh)) = rest.split_once(" via ") else {
            continue;
        };
        out.push((peer.to_owned(), prefix.to_owned(), nh.trim().to_owned()));
    }
    out
}

/// Waits until wren's latest best path for `prefix` is via `nh` from peer `peer`.
#[track_caller]
fn wait_best(wren: &Wren, prefix: &str, nh: IpAddr, peer: &str) {
    let want = Some((nh.to_string(), peer.to_owned()));
    wait_until(
        DEADLINE,
        &format!(
            "{} to log `best {prefix} via {nh} from {peer}`",
            wren.proc().name()
        ),
        || {
            let log = wren.log();
            let changes = best_changes(&log, prefix);
            if changes.last() == Some(&want) {
                Ok(true)
            } else if !wren.proc().is_running() {
                Err(LabError::new(format!("wren exited; log:\n{log}")))
            } else {
                Err(LabError::new(format!(
                    "best-path changes so far: {changes:?}; log tail:\n{}",
                    wren.proc().log_tail(20)
                )))
            }
        },
    )
    .unwrap();
}

/// Waits until wren's latest best-path change for `prefix` is `best P: none`.
#[track_caller]
fn wait_best_none(wren: &Wren, prefix: &str) {
    wait_until(
        DEADLINE,
        &format!("{} to log `best {prefix}: none`", wren.proc().name()),
        || {
            let changes = best_changes(&wren.log(), prefix);
            if changes.last() == Some(&None) {
                Ok(true)
            } else {
                Err(LabError::new(format!(
                    "best-path changes so far: {changes:?}; log tail:\n{}",
                    wren.proc().log_tail(20)
                )))
            }
        },
    )
    .unwrap();
}

/// Where a route is looked up: a GoBGP's or a BIRD's table.
#[derive(Clone, Copy)]
enum Router<'a> {
    Gobgp(&'a Gobgp),
    Bird(&'a Bird),
}

impl Router<'_> {
    fn name(&self) -> String {
        match self {
            Router::Gobgp(g) => format!("GoBGP in {}", g.node().name()),
            Router::Bird(b) => format!("BIRD in {}", b.node().name()),
        }
    }

    fn route(&self, prefix: &str) -> lab::Result<Option<Route>> {
        let family = Family::of_prefix(prefix);
        let routes = match self {
            Router::Gobgp(g) => g.rib(family)?,
            Router::Bird(b) => b.routes(family)?,
        };
        Ok(find_route(&routes, prefix).cloned())
    }
}

/// Waits until `router`'s best route for `prefix` has exactly this next hop and AS path.
#[track_caller]
fn wait_route(router: Router<'_>, prefix: &str, next_hop: IpAddr, as_path: &[u32]) {
    let want = Route {
        prefix: prefix.to_owned(),
        next_hop: Some(next_hop),
        as_path: as_path.to_vec(),
    };
    wait_until(
        DEADLINE,
        &format!("{} to hold {want:?}", router.name()),
        || match router.route(prefix)? {
            Some(r) if r == want => Ok(true),
            other => Err(LabError::new(format!("it has {other:?}"))),
        },
    )
    .unwrap();
}

/// Waits until `router` has no route for `prefix`.
#[track_caller]
fn wait_gone(router: Router<'_>, prefix: &str) {
    wait_until(
        DEADLINE,
        &format!("{} to drop {prefix}", router.name()),
        || match router.route(prefix)? {
            None => Ok(true),
            Some(r) => Err(LabError::new(format!("it still has {r:?}"))),
        },
    )
    .unwrap();
}

/// Polls `router` for [`ABSENCE_WINDOW`] and fails as soon as it holds a route for `prefix`.
/// Call it only after an event that would have carried the route there if it were sent.
#[track_caller]
fn assert_never_arrives(router: Router<'_>, prefix: &str) {
    let mut query_error = None;
    let arrived = wait_for(
        ABSENCE_WINDOW,
        &format!("{} to get {prefix}", router.name()),
        || match router.route(prefix) {
            Ok(found) => Ok::<_, LabError>(found),
            Err(e) => {
                query_error = Some(e);
                Ok(Some(Route {
                    prefix: String::new(),
                    next_hop: None,
                    as_path: Vec::new(),
                }))
            }
        },
    );
    if let Some(e) = query_error {
        panic!("cannot query {}: {e}", router.name());
    }
    if let Ok(route) = arrived {
        panic!(
            "{} received {prefix}, which must not be sent to it: {route:?}",
            router.name()
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 1. A full iBGP mesh of three wren nodes

const MESH_AS: u32 = 64512;

#[test]
#[ignore = "needs root: run via make test"]
fn a_three_node_wren_full_mesh_spreads_each_nodes_prefix_and_a_withdrawal_everywhere() {
    let lab = Lab::new("topology_mesh_ibgp").unwrap();
    lab::require_binaries(&["ip"]).unwrap();
    let nodes: Vec<lab::Node> = (1..=3)
        .map(|i| lab.add_node(&format!("node{i}")).unwrap())
        .collect();
    // Link 0: node1 .1 - node2 .2; link 1: node1 .1 - node3 .2; link 2: node2 .1 - node3 .2.
    let links = [
        lab.link(&nodes[0], &nodes[1]).unwrap(),
        lab.link(&nodes[0], &nodes[2]).unwrap(),
        lab.link(&nodes[1], &nodes[2]).unwrap(),
    ];
    // Node i's addresses towards node j (indices 0..3): (IPv4, IPv6).
    let addr = |i: usize, j: usize| -> (IpAddr, IpAddr) {
        let l = links
            .iter()
            .find(|l| {
                (l.a == nodes[i].name() && l.b == nodes[j].name())
                    || (l.b == nodes[i].name() && l.a == nodes[j].name())
            })
            .unwrap();
        if l.a == nodes[i].name() {
            (IpAddr::V4(l.a_v4), IpAddr::V6(l.a_v6))
        } else {
            (IpAddr::V4(l.b_v4), IpAddr::V6(l.b_v6))
        }
    };
    let v4_prefix = |i: usize| format!("203.0.113.{}/26", 64 * i);
    let v6_prefix = |i: usize| format!("2001:db8:ffff:{}::/64", i + 1);
    // Each pair holds an IPv4 session (peer `nodeJ`) and an IPv6 one (peer `nodeJ_v6`): wren
    // announces IPv6 routes with its own IPv6 session address as next hop, which an IPv4
    // session does not have. The lower-numbered node of each pair is passive: when two wrens
    // both connect, a connection collision can kill both connections, and since wren's 5 s
    // restart wait has no jitter they collide again in lockstep (seen for 20 s under load).
    let configs: Vec<WrenConfig> = (0..3)
        .map(|i| {
            let mut c = WrenConfig::new(MESH_AS, Ipv4Addr::new(198, 19, 0, i as u8 + 1))
                .originate(&v4_prefix(i))
                .originate(&v6_prefix(i));
            for j in (0..3).filter(|&j| j != i) {
                let (v4, v6) = addr(j, i);
                let other = nodes[j].name();
                for mut peer in [
                    WrenPeer::named(other, v4, MESH_AS),
                    WrenPeer::named(&format!("{other}_v6"), v6, MESH_AS),
                ] {
                    peer.passive = i < j;
                    c = c.peer(peer);
                }
            }
            c
        })
        .collect();
    let wrens: Vec<Wren> = (0..3)
        .map(|i| Wren::start(&lab, &nodes[i], "wren", &configs[i].to_toml()).unwrap())
        .collect();

    // Every node's prefixes become the other two nodes' best paths, learned from the originator.
    for (i, wren) in wrens.iter().enumerate() {
        for j in (0..3).filter(|&j| j != i) {
            let (v4, v6) = addr(j, i);
            let other = nodes[j].name();
            wait_best(wren, &v4_prefix(j), v4, other);
            wait_best(wren, &v6_prefix(j), v6, &format!("{other}_v6"));
        }
        for p in [v4_prefix(i), v6_prefix(i)] {
            assert_eq!(
                best_changes(&wren.log(), &p).last(),
                Some(&Some(("self".to_owned(), "local".to_owned()))),
                "node{} does not log its own {p} as best:\n{}",
                i + 1,
                wren.log()
            );
        }
    }

    // node2 stops originating: a reload without its [[originate]] entries.
    let node2_prefixes = [v4_prefix(1), v6_prefix(1)];
    let mut reduced = configs[1].clone();
    for p in &node2_prefixes {
        reduced = reduced.without_originate(p);
    }
    wrens[1].reload_with(&reduced.to_toml()).unwrap();
    let log2 = wrens[1].log();
    assert!(
        log2.contains("SIGHUP: reloading [[originate]]")
            && log2.contains("originated prefixes: 0 added or changed, 2 withdrawn, 0 in all"),
        "{log2}"
    );
    for i in [0, 2] {
        for p in &node2_prefixes {
            wait_best_none(&wrens[i], p);
        }
    }
    for p in &node2_prefixes {
        wait_best_none(&wrens[1], p);
    }
    // The other prefixes are untouched: still best from their originators.
    for (i, j) in [(0, 2), (2, 0)] {
        for p in [v4_prefix(j), v6_prefix(j)] {
            let latest = best_changes(&wrens[i].log(), &p).last().cloned().flatten();
            assert_eq!(
                latest.map(|(_, peer)| peer.trim_end_matches("_v6").to_owned()),
                Some(nodes[j].name().to_owned()),
                "node{}: {p}:\n{}",
                i + 1,
                wrens[i].log()
            );
        }
    }

    // iBGP split horizon: no node passed a prefix learned from one iBGP peer to another, so every
    // node received each prefix only from its originator, and node1 never had a best path for
    // node3's prefix via node2.
    for (i, wren) in wrens.iter().enumerate() {
        let log = wren.log();
        for (peer, prefix, nh) in received(&log) {
            let from = peer.trim_end_matches("_v6");
            let j = (0..3).find(|&j| nodes[j].name() == from).unwrap();
            assert!(
                prefix == v4_prefix(j) || prefix == v6_prefix(j),
                "node{} received {prefix} via {nh} from {peer}, which did not originate it:\n{log}",
                i + 1
            );
        }
        assert!(wren.proc().is_running(), "{log}");
    }
    let log1 = wrens[0].log();
    let (via_node2_v4, via_node2_v6) = addr(1, 0);
    for (p, nh) in [(v4_prefix(2), via_node2_v4), (v6_prefix(2), via_node2_v6)] {
        for change in best_changes(&log1, &p).into_iter().flatten() {
            assert!(
                change.0 != nh.to_string() && !change.1.starts_with("node2"),
                "node1 had a best path for node3's {p} through node2: {change:?}\n{log1}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// 2. wren between two eBGP peers

const WREN_AS: u32 = 4_200_000_001;
const GOBGP_AS: u32 = 65001;
const BIRD_AS: u32 = 65002;

#[test]
#[ignore = "needs root, gobgpd and bird2: run via make test"]
fn wren_passes_routes_between_two_ebgp_peers_with_its_as_prepended_and_itself_as_next_hop() {
    let lab = Lab::new("topology_mesh_transit").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "bird", "birdc", "ip"]).unwrap();
    let g = lab.add_node("gobgp").unwrap();
    let w = lab.add_node("wren").unwrap();
    let b = lab.add_node("bird").unwrap();
    let gw = lab.link(&g, &w).unwrap(); // gobgp .1 - wren .2
    let wb = lab.link(&w, &b).unwrap(); // wren .1 - bird .2
    let (g4, g6) = (IpAddr::V4(gw.a_v4), IpAddr::V6(gw.a_v6));
    let (wg4, wg6) = (IpAddr::V4(gw.b_v4), IpAddr::V6(gw.b_v6));
    let (wb4, wb6) = (IpAddr::V4(wb.a_v4), IpAddr::V6(wb.a_v6));
    let (b4, b6) = (IpAddr::V4(wb.b_v4), IpAddr::V6(wb.b_v6));

    let gobgp = Gobgp::start(
        &g,
        &GobgpConfig::new(GOBGP_AS, gw.a_v4)
            .neighbor(GobgpNeighbor::new(wg4, WREN_AS).local_address(g4))
            .neighbor(GobgpNeighbor::new(wg6, WREN_AS).local_address(g6)),
    )
    .unwrap();
    let bird = Bird::start(
        &b,
        &BirdConfig::new(wb.b_v4)
            .announce("203.0.113.128/25")
            .announce("2001:db8:b::/48")
            .session(BirdSession::new("wren4", b4, BIRD_AS, wb4, WREN_AS))
            .session(BirdSession::new("wren6", b6, BIRD_AS, wb6, WREN_AS)),
    )
    .unwrap();
    let config = WrenConfig::new(WREN_AS, gw.b_v4)
        .peer(WrenPeer::named("gobgp", g4, GOBGP_AS))
        .peer(WrenPeer::named("gobgp_v6", g6, GOBGP_AS))
        .peer(WrenPeer::named("bird", b4, BIRD_AS))
        .peer(WrenPeer::named("bird_v6", b6, BIRD_AS))
        .originate("203.0.113.0/26")
        .originate("2001:db8:c::/48");
    let wren = Wren::start(&lab, &w, "wren", &config.to_toml()).unwrap();
    gobgp.announce("198.51.100.0/24").unwrap();
    gobgp.announce("2001:db8:a::/48").unwrap();

    // GoBGP -> wren -> BIRD: wren's AS prepended, wren's address on the BIRD link as next hop.
    let (at_gobgp, at_bird) = (Router::Gobgp(&gobgp), Router::Bird(&bird));
    wait_route(at_bird, "198.51.100.0/24", wb4, &[WREN_AS, GOBGP_AS]);
    wait_route(at_bird, "2001:db8:a::/48", wb6, &[WREN_AS, GOBGP_AS]);
    // BIRD -> wren -> GoBGP: likewise with wren's address on the GoBGP link.
    wait_route(at_gobgp, "203.0.113.128/25", wg4, &[WREN_AS, BIRD_AS]);
    wait_route(at_gobgp, "2001:db8:b::/48", wg6, &[WREN_AS, BIRD_AS]);
    // wren's own prefixes reach both with AS path [wren].
    for r in [at_gobgp, at_bird] {
        let (v4, v6) = match r {
            Router::Gobgp(_) => (wg4, wg6),
            Router::Bird(_) => (wb4, wb6),
        };
        wait_route(r, "203.0.113.0/26", v4, &[WREN_AS]);
        wait_route(r, "2001:db8:c::/48", v6, &[WREN_AS]);
    }
    // Neither peer gets its own routes back (its AS is in the path): GoBGP received nothing from
    // wren for them, and BIRD's best routes for them are its own.
    let from_wren = gobgp.adj_rib_in(wg4, Family::Ipv4).unwrap();
    assert!(
        find_route(&from_wren, "198.51.100.0/24").is_none(),
        "wren sent GoBGP its own prefix back: {from_wren:?}"
    );
    let bird_own = at_bird.route("203.0.113.128/25").unwrap();
    assert!(
        bird_own.as_ref().is_some_and(|r| r.as_path.is_empty()),
        "{bird_own:?}"
    );

    // From here on no session may go down (a connection collision at start-up may have cost
    // one an early flap, which is not what this test is about).
    let downs_at_convergence = wren.log().matches("session down").count();

    // A withdrawal at GoBGP removes the prefix at BIRD; the other routes stay.
    gobgp.withdraw("198.51.100.0/24").unwrap();
    wait_gone(at_bird, "198.51.100.0/24");
    wren.wait_for_log("peer gobgp: withdrawn 198.51.100.0/24", 1, DEADLINE)
        .unwrap();
    gobgp.withdraw("2001:db8:a::/48").unwrap();
    wait_gone(at_bird, "2001:db8:a::/48");
    wait_route(at_bird, "203.0.113.0/26", wb4, &[WREN_AS]);

    // wren's own withdrawal: a reload without its [[originate]] entries removes them from both.
    wren.reload_with(
        &config
            .clone()
            .without_originate("203.0.113.0/26")
            .without_originate("2001:db8:c::/48")
            .to_toml(),
    )
    .unwrap();
    for r in [at_gobgp, at_bird] {
        wait_gone(r, "203.0.113.0/26");
        wait_gone(r, "2001:db8:c::/48");
    }
    // The transit routes from BIRD are still at GoBGP, and every session survived.
    wait_route(at_gobgp, "203.0.113.128/25", wg4, &[WREN_AS, BIRD_AS]);
    wait_route(at_gobgp, "2001:db8:b::/48", wg6, &[WREN_AS, BIRD_AS]);
    let log = wren.log();
    assert_eq!(
        log.matches("session down").count(),
        downs_at_convergence,
        "{log}"
    );
    assert!(wren.proc().is_running(), "{log}");
}

// ------------------------------------------------------------------------------------------------
// 3. iBGP split horizon next to an eBGP peer

const IBGP_AS: u32 = 64512;

#[test]
#[ignore = "needs root, gobgpd and bird2: run via make test"]
fn a_route_from_an_ibgp_peer_is_not_sent_to_another_ibgp_peer_but_is_sent_to_an_ebgp_peer() {
    let lab = Lab::new("topology_mesh_split_horizon").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "bird", "birdc", "ip"]).unwrap();
    let w = lab.add_node("wren").unwrap();
    let ga = lab.add_node("gobgpa").unwrap();
    let gb = lab.add_node("gobgpb").unwrap();
    let b = lab.add_node("bird").unwrap();
    let la = lab.link(&w, &ga).unwrap(); // wren .1 - gobgpa .2
    let lb = lab.link(&w, &gb).unwrap(); // wren .1 - gobgpb .2
    let lx = lab.link(&w, &b).unwrap(); // wren .1 - bird .2
    let v4 = IpAddr::V4;
    let (wa, a) = (v4(la.a_v4), v4(la.b_v4));
    let (wb, bb) = (v4(lb.a_v4), v4(lb.b_v4));
    let (wx, x) = (v4(lx.a_v4), v4(lx.b_v4));

    let gobgp_a = Gobgp::start(
        &ga,
        &GobgpConfig::new(IBGP_AS, la.b_v4)
            .neighbor(GobgpNeighbor::new(wa, IBGP_AS).local_address(a)),
    )
    .unwrap();
    let gobgp_b = Gobgp::start(
        &gb,
        &GobgpConfig::new(IBGP_AS, lb.b_v4)
            .neighbor(GobgpNeighbor::new(wb, IBGP_AS).local_address(bb)),
    )
    .unwrap();
    let bird = Bird::start(
        &b,
        &BirdConfig::new(lx.b_v4)
            .announce("203.0.113.128/25")
            .session(BirdSession::new("wren4", x, BIRD_AS, wx, IBGP_AS)),
    )
    .unwrap();
    let wren = Wren::start(
        &lab,
        &w,
        "wren",
        &WrenConfig::new(IBGP_AS, lx.a_v4)
            .peer(WrenPeer::named("gobgpa", a, IBGP_AS))
            .peer(WrenPeer::named("gobgpb", bb, IBGP_AS))
            .peer(WrenPeer::named("bird", x, BIRD_AS))
            .to_toml(),
    )
    .unwrap();
    gobgp_a.announce("198.51.100.0/24").unwrap();

    // A's route goes to the eBGP peer, with wren's AS and wren as next hop.
    wren.wait_for_log(
        &format!("peer gobgpa: received 198.51.100.0/24 via {a}"),
        1,
        DEADLINE,
    )
    .unwrap();
    wait_route(Router::Bird(&bird), "198.51.100.0/24", wx, &[IBGP_AS]);
    // The eBGP route goes to both iBGP peers, next hop unchanged: B's session works and wren has
    // sent B what it should.
    for gobgp in [&gobgp_a, &gobgp_b] {
        wait_route(Router::Gobgp(gobgp), "203.0.113.128/25", x, &[BIRD_AS]);
    }
    // ... but A's route never reaches B.
    assert_never_arrives(Router::Gobgp(&gobgp_b), "198.51.100.0/24");
    let log = wren.log();
    assert!(
        !received(&log)
            .iter()
            .any(|(peer, prefix, _)| peer == "gobgpb" && prefix == "198.51.100.0/24"),
        "{log}"
    );
    assert!(wren.proc().is_running(), "{log}");
}

// ------------------------------------------------------------------------------------------------
// Parsers (unprivileged)

#[test]
fn best_path_and_received_lines_are_parsed_from_wrens_log() {
    let log = "2024 DEBUG wren::session::rib_task: best 203.0.113.0/26 via self from local\n\
               2024 DEBUG wren::session::driver: peer node2: received 203.0.113.64/26 via 198.18.0.2\n\
               2024 DEBUG wren::session::rib_task: best 203.0.113.64/26 via 198.18.0.2 from node2\n\
               2024 DEBUG wren::session::rib_task: best 203.0.113.64/26: none\n\
               2024 DEBUG wren::session::rib_task: best 203.0.113.64/260 via 198.18.0.9 from x\n";
    assert_eq!(
        best_changes(log, "203.0.113.0/26"),
        vec![Some(("self".to_owned(), "local".to_owned()))]
    );
    assert_eq!(
        best_changes(log, "203.0.113.64/26"),
        vec![Some(("198.18.0.2".to_owned(), "node2".to_owned())), None]
    );
    assert_eq!(
        received(log),
        vec![(
            "node2".to_owned(),
            "203.0.113.64/26".to_owned(),
            "198.18.0.2".to_owned()
        )]
    );
    let config = WrenConfig::new(64512, Ipv4Addr::new(198, 19, 0, 1))
        .peer(WrenPeer::named("n2", "198.18.0.2".parse().unwrap(), 64512).families(&[Family::Ipv4]))
        .originate("203.0.113.0/26")
        .originate("2001:db8:ffff:1::/64");
    let toml = config.clone().without_originate("203.0.113.0/26").to_toml();
    assert!(toml.contains("name = \"n2\"\n") && toml.contains("families = [\"ipv4\"]"));
    assert!(!toml.contains("203.0.113.0/26") && toml.contains("2001:db8:ffff:1::/64"));
}
