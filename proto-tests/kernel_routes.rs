//! `wren run` programs the Linux kernel of its namespace, checked with `ip -j route` as the
//! independent reader (GoBGP peers in other namespaces announce the routes):
//!
//! 1. Routes learned over eBGP (IPv4 and IPv6) appear in table main with protocol 12 (`bird`), the
//!    peer's link address as gateway, wren's veth as device and no flags, and disappear when the
//!    peer withdraws them.
//! 2. With `[global] multipath = true`, two ToRs in one AS announcing a prefix with equal
//!    attributes give one kernel route with two `nexthops`, whichever path arrives first; the
//!    ToR that is not the best path withdrawing leaves a single-path route, replaced in place.
//! 3. A `[[kernel.tunnel]]` pool (`mode = "always"`) gives `via <peer> dev tunl0 onlink`, and a
//!    TCP handshake with GoBGP's listener (and a ping, when `ping` is installed) crosses that
//!    route into the other namespace. `tunl0` is an IP-in-IP device when the kernel has `ipip`;
//!    otherwise a veth named `tunl0` (which is all an `onlink` route needs; the encapsulation
//!    itself is then not exercised, and a NOTE says so). `WREN_REQUIRE_IPIP=1` turns the
//!    fallback into a failure (the convention of `fib_netlink.rs`).
//! 4. Routes of other protocols (`proto static`, Felix's `proto 80`) for prefixes a peer also
//!    announces are left exactly as they were.
//! 5. `[[originate]] blackhole = true` installs a `blackhole` route of protocol 12 (IPv4 and
//!    IPv6), and a SIGHUP reload that drops the flag, then the prefix, removes it.
//! 6. wren killed with SIGKILL and started again: its routes persist, a route still announced is
//!    never absent from the kernel (`ip -j route` polled every 20 ms, and no `Deleted` line in
//!    `ip -ts monitor route`), and the route withdrawn while wren was down is deleted once GoBGP's
//!    End-of-RIB settles the restart (well before `restart_wait`).
//! 7. Routes BIRD 2 left behind (its kernel protocol with `persist`, plus one added with
//!    `ip route add … proto bird`) are adopted: the one still announced is not touched at all (no
//!    monitor event, no replace), the other is deleted after End-of-RIB.
//! 8. `[[kernel.learn]] interface = "cali*"`: a Felix-like route to a `cali*` veth is exported to
//!    BGP with wren's AS path, withdrawn when the route is deleted, and a route added while wren
//!    runs is learned from the netlink event within two seconds (no periodic scan).
//!
//! Needs root and `gobgpd` (test 7 also `bird2`), so `#[ignore]`d and run by
//! `make test` (`--include-ignored`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use lab::bird::{Bird, BirdConfig};
use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::{Wren, WrenConfig, WrenPeer};
use lab::{
    assert_holds_for, find_route, wait_until, Family, Lab, LabError, Link, Node, ProcHandle, Route,
};

const WREN_AS: u32 = 4_200_000_001;
const GOBGP_AS: u32 = 64513;
const DEADLINE: Duration = Duration::from_secs(30);
/// GoBGP sends End-of-RIB only to peers with Graceful Restart, so the tests that wait for the
/// restart to settle through End-of-RIB enable it with this restart time.
const GOBGP_RESTART_TIME: u32 = 30;
/// `[kernel] restart_wait` of the tests where settling must come from End-of-RIB.
const RESTART_WAIT: u64 = 30;

// ------------------------------------------------------------------------------------------------
// Reading the kernel's routes (`ip -j route`)

/// One next hop of a kernel route.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Hop {
    /// `gateway` (empty for a device route).
    gateway: String,
    /// `dev`.
    dev: String,
    /// `flags` contains `onlink`.
    onlink: bool,
}

impl Hop {
    fn new(gateway: impl ToString, dev: &str, onlink: bool) -> Self {
        Self {
            gateway: gateway.to_string(),
            dev: dev.to_owned(),
            onlink,
        }
    }
}

/// One route of `ip -j route show table main`.
#[derive(Clone, Debug, PartialEq)]
struct KernelRoute {
    /// Destination with its length, also for host routes (`ip` omits `/32` and `/128`).
    dst: String,
    /// `type`: `unicast` when `ip` omits it, `blackhole`, …
    kind: String,
    /// `protocol` as `ip` names it: `bird` (or `12` without `/etc/iproute2/rt_protos`),
    /// `static`, `80`, `kernel`, …
    protocol: String,
    /// `metric` (absent = 0).
    metric: u64,
    /// Next hops, sorted: the `nexthops` array of an ECMP route, else the route's own
    /// gateway / device; empty for a blackhole.
    hops: Vec<Hop>,
    /// Route-level `flags`.
    flags: Vec<String>,
    /// The object as `ip` printed it, for exact before/after comparisons.
    json: Value,
}

impl KernelRoute {
    /// Protocol 12: wren's routes (and BIRD's).
    fn is_wren(&self) -> bool {
        self.protocol == "bird" || self.protocol == "12"
    }
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn flags_of(v: &Value) -> Vec<String> {
    v.get("flags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn hop_of(v: &Value) -> Hop {
    Hop {
        gateway: str_field(v, "gateway"),
        dev: str_field(v, "dev"),
        onlink: flags_of(v).iter().any(|f| f == "onlink"),
    }
}

/// Parses the output of `ip -j route show …`.
fn parse_routes(raw: &str) -> Result<Vec<KernelRoute>, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| format!("bad `ip -j` JSON ({e}):\n{raw}"))?;
    let list = value
        .as_array()
        .ok_or_else(|| format!("`ip -j route` did not print an array:\n{raw}"))?;
    let mut out = Vec::new();
    for v in list {
        let mut dst = str_field(v, "dst");
        if dst.is_empty() {
            return Err(format!("route without dst: {v}"));
        }
        if dst != "default" && !dst.contains('/') {
            dst.push_str(if dst.contains(':') { "/128" } else { "/32" });
        }
        let kind = match str_field(v, "type") {
            t if t.is_empty() => "unicast".to_owned(),
            t => t,
        };
        let protocol = match v.get("protocol") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let metric = v.get("metric").and_then(Value::as_u64).unwrap_or(0);
        let mut hops: Vec<Hop> = match v.get("nexthops").and_then(Value::as_array) {
            Some(list) => list.iter().map(hop_of).collect(),
            None if kind == "unicast" => vec![hop_of(v)],
            None => Vec::new(),
        };
        hops.sort();
        out.push(KernelRoute {
            dst,
            kind,
            protocol,
            metric,
            hops,
            flags: flags_of(v),
            json: v.clone(),
        });
    }
    Ok(out)
}

/// Every route of table main in `node` for the family of `prefix` (all protocols).
fn kernel_table(node: &Node, prefix: &str) -> lab::Result<Vec<KernelRoute>> {
    let family = match Family::of_prefix(prefix) {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    };
    let raw = node.ip(&[family, "-j", "route", "show", "table", "main"])?;
    parse_routes(&raw).map_err(LabError::new)
}

/// Every route of table main in `node` to exactly `prefix` (all protocols).
fn kernel_routes_to(node: &Node, prefix: &str) -> lab::Result<Vec<KernelRoute>> {
    Ok(kernel_table(node, prefix)?
        .into_iter()
        .filter(|r| r.dst == prefix)
        .collect())
}

/// wren's (protocol 12) route to `prefix` in table main, if any.
fn wren_route(node: &Node, prefix: &str) -> lab::Result<Option<KernelRoute>> {
    Ok(kernel_routes_to(node, prefix)?
        .into_iter()
        .find(KernelRoute::is_wren))
}

/// `ip -j` objects of `routes`, one per line, for failure messages.
fn show(routes: &[KernelRoute]) -> String {
    if routes.is_empty() {
        return "(none)".to_owned();
    }
    routes
        .iter()
        .map(|r| r.json.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until wren's route to `prefix` is a unicast route with exactly `hops` (any order) and
/// returns it.
fn try_wait_kernel_route(node: &Node, prefix: &str, hops: &[Hop]) -> lab::Result<KernelRoute> {
    let mut want = hops.to_vec();
    want.sort();
    lab::wait_for(
        DEADLINE,
        &format!("a protocol-12 route {prefix} with next hops {want:?} in {node:?}"),
        || {
            let all = kernel_routes_to(node, prefix)?;
            match all.iter().find(|r| r.is_wren()) {
                Some(r) if r.kind == "unicast" && r.hops == want => Ok(Some(r.clone())),
                _ => Err(LabError::new(format!(
                    "the kernel's routes to {prefix}:\n{}",
                    show(&all)
                ))),
            }
        },
    )
}

/// [`try_wait_kernel_route`], panicking on a timeout.
#[track_caller]
fn wait_kernel_route(node: &Node, prefix: &str, hops: &[Hop]) -> KernelRoute {
    try_wait_kernel_route(node, prefix, hops).unwrap()
}

/// Waits until `node` has no route of any protocol to `prefix`.
#[track_caller]
fn wait_no_kernel_route(node: &Node, prefix: &str) {
    wait_until(
        DEADLINE,
        &format!("no route to {prefix} in {node:?}"),
        || match kernel_routes_to(node, prefix)?.as_slice() {
            [] => Ok(true),
            left => Err(LabError::new(format!("still there:\n{}", show(left)))),
        },
    )
    .unwrap();
}

/// The lines of wren's log that mention `needle`, for failure messages.
fn log_lines(wren: &Wren, needle: &str) -> String {
    wren.log()
        .lines()
        .filter(|l| l.contains(needle))
        .collect::<Vec<_>>()
        .join("\n")
}

// ------------------------------------------------------------------------------------------------
// `ip -ts monitor route`

/// `ip -ts monitor route` running in a node, its output in the lab log directory.
struct RouteMonitor {
    proc: ProcHandle,
}

impl RouteMonitor {
    /// Starts the monitor in `node` and returns once it demonstrably reports changes: a marker
    /// blackhole route (198.19.255.1/32, protocol `boot`, which nothing learns) is added (again
    /// on every poll until the monitor, which subscribes some time after it is spawned, prints
    /// it) and deleted.
    fn start(node: &Node) -> RouteMonitor {
        const MARKER: &str = "198.19.255.1";
        let proc = node
            .spawn("route-monitor", &["ip", "-ts", "monitor", "route"])
            .unwrap();
        let monitor = RouteMonitor { proc };
        wait_until(
            Duration::from_secs(10),
            "`ip monitor route` to report the marker route",
            || {
                if monitor
                    .lines()
                    .iter()
                    .any(|l| l.contains(MARKER) && !l.contains("Deleted"))
                {
                    return Ok(true);
                }
                let _ = node.ip(&["route", "del", "blackhole", MARKER]);
                node.ip(&["route", "add", "blackhole", MARKER])?;
                Ok::<_, LabError>(false)
            },
        )
        .unwrap();
        node.ip(&["route", "del", "blackhole", MARKER]).unwrap();
        monitor
    }

    /// Every line printed so far (without the harness's spawn banner).
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.proc.log_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("=== [lab"))
            .map(str::to_owned)
            .collect()
    }

    /// The lines about routes to `prefix` (`ip` prints host routes without `/32`).
    fn lines_about(&self, prefix: &str) -> Vec<String> {
        let bare = prefix.strip_suffix("/32").unwrap_or(prefix);
        self.lines()
            .into_iter()
            .filter(|l| {
                l.split_whitespace()
                    .any(|word| word == prefix || word == bare)
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------
// Setups

/// A GoBGP neighbor for wren at `wren_addr`, sourced from `local`; with Graceful Restart when
/// `gr` (so GoBGP sends End-of-RIB).
fn gobgp_neighbor(wren_addr: IpAddr, local: IpAddr, gr: bool) -> GobgpNeighbor {
    let n = GobgpNeighbor::new(wren_addr, WREN_AS).local_address(local);
    if gr {
        n.graceful_restart(GOBGP_RESTART_TIME)
    } else {
        n
    }
}

/// Two namespaces, `gobgp` and `wren`, one link between them.
struct Pair {
    lab: Lab,
    g: Node,
    w: Node,
    link: Link,
}

impl Pair {
    fn new(test: &str, binaries: &[&str]) -> Pair {
        let lab = Lab::new(test).unwrap();
        lab::require_binaries(binaries).unwrap();
        let g = lab.add_node("gobgp").unwrap();
        let w = lab.add_node("wren").unwrap();
        let link = lab.link(&g, &w).unwrap();
        Pair { lab, g, w, link }
    }

    fn a4(&self) -> IpAddr {
        IpAddr::V4(self.link.a_v4)
    }

    fn b4(&self) -> IpAddr {
        IpAddr::V4(self.link.b_v4)
    }

    fn a6(&self) -> IpAddr {
        IpAddr::V6(self.link.a_v6)
    }

    fn b6(&self) -> IpAddr {
        IpAddr::V6(self.link.b_v6)
    }

    /// GoBGP (AS 64513) with an IPv4 session to wren, and an IPv6 one when `v6`.
    fn gobgp(&self, v6: bool, gr: bool) -> Gobgp {
        let mut c = GobgpConfig::new(GOBGP_AS, self.link.a_v4).neighbor(gobgp_neighbor(
            self.b4(),
            self.a4(),
            gr,
        ));
        if v6 {
            c = c.neighbor(gobgp_neighbor(self.b6(), self.a6(), gr));
        }
        Gobgp::start(&self.g, &c).unwrap()
    }

    /// wren's configuration: peer GoBGP over IPv4 (and IPv6 when `v6`), plus `extra` TOML.
    fn wren_config(&self, v6: bool, extra: &str) -> WrenConfig {
        let mut c =
            WrenConfig::new(WREN_AS, self.link.b_v4).peer(WrenPeer::new(self.a4(), GOBGP_AS));
        if v6 {
            c = c.peer(WrenPeer::new(self.a6(), GOBGP_AS));
        }
        if extra.is_empty() {
            c
        } else {
            c.extra(extra)
        }
    }
}

/// `[kernel] restart_wait = RESTART_WAIT`.
fn kernel_restart_wait() -> String {
    format!("[kernel]\nrestart_wait = {RESTART_WAIT}\n")
}

// ------------------------------------------------------------------------------------------------
// 1. Install and withdraw

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn routes_from_a_gobgp_peer_are_installed_with_protocol_bird_and_its_address_as_gateway_and_go_on_withdrawal(
) {
    let p = Pair::new("kernel_routes_install", &["gobgpd", "gobgp"]);
    let gobgp = p.gobgp(true, false);
    gobgp.announce("198.51.100.0/24").unwrap();
    gobgp.announce("2001:db8:b::/48").unwrap();
    let wren = Wren::start(&p.lab, &p.w, "wren", &p.wren_config(true, "").to_toml()).unwrap();

    let dev = p.link.b_if.as_str();
    for (prefix, gateway) in [("198.51.100.0/24", p.a4()), ("2001:db8:b::/48", p.a6())] {
        let r = wait_kernel_route(&p.w, prefix, &[Hop::new(gateway, dev, false)]);
        println!("{prefix}: {}", r.json);
        assert_eq!(r.kind, "unicast", "{r:#?}");
        assert!(r.flags.is_empty(), "no flags expected: {r:#?}");
        assert_eq!(str_field(&r.json, "gateway"), gateway.to_string());
        assert_eq!(str_field(&r.json, "dev"), dev);
        assert!(r.json.get("nexthops").is_none(), "{r:#?}");
        // Metric 0; the kernel stores an IPv6 route without one under 1024.
        let want_metric = if prefix.contains(':') { 1024 } else { 0 };
        assert_eq!(r.metric, want_metric, "{r:#?}");
        // Only wren's route for the prefix.
        assert_eq!(kernel_routes_to(&p.w, prefix).unwrap().len(), 1);
        assert!(
            wren.log().contains(&format!("kernel: add {prefix}"))
                || wren.log().contains(&format!("kernel: replace {prefix}")),
            "{}",
            log_lines(&wren, "kernel:")
        );
    }
    // The same through the `proto` filter, as the issue puts it.
    let by_proto =
        p.w.ip(&["-j", "route", "show", "table", "main", "proto", "12"])
            .unwrap();
    let by_proto = parse_routes(&by_proto).unwrap();
    assert!(
        by_proto.iter().any(|r| r.dst == "198.51.100.0/24"),
        "{by_proto:#?}"
    );

    gobgp.withdraw("198.51.100.0/24").unwrap();
    gobgp.withdraw("2001:db8:b::/48").unwrap();
    wait_no_kernel_route(&p.w, "198.51.100.0/24");
    wait_no_kernel_route(&p.w, "2001:db8:b::/48");
    let log = wren.log();
    for prefix in ["198.51.100.0/24", "2001:db8:b::/48"] {
        assert!(
            log.contains(&format!("kernel: delete {prefix}")),
            "{}",
            log_lines(&wren, "kernel:")
        );
    }
    assert!(wren.proc().is_running());
}

// ------------------------------------------------------------------------------------------------
// 2. ECMP

/// What wren logged about `prefix` (paths received and withdrawn, best-path changes, kernel
/// operations), for failure messages.
fn rib_story(wren: &Wren, prefix: &str) -> String {
    let lines: Vec<String> = wren
        .log()
        .lines()
        .filter(|l| {
            l.contains(&format!("received {prefix} "))
                || l.contains(&format!("withdrawn {prefix}"))
                || l.contains(&format!("best {prefix} "))
                || l.contains(&format!("best {prefix}:"))
                || l.contains(&format!("kernel: replace {prefix} "))
                || l.contains(&format!("kernel: add {prefix} "))
                || l.contains(&format!("kernel: delete {prefix}"))
        })
        .map(str::to_owned)
        .collect();
    format!("wren's log about {prefix}:\n{}", lines.join("\n"))
}

/// tor1 (router id 198.18.0.1) wins the final tie-break over tor2 (198.18.1.1), so tor2's
/// withdrawal changes only the multipath set, not the best path.
#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn two_tors_announcing_a_prefix_give_one_ecmp_route_and_a_single_path_after_one_withdraws() {
    let lab = Lab::new("kernel_routes_ecmp").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp"]).unwrap();
    let tor1 = lab.add_node("tor1").unwrap();
    let tor2 = lab.add_node("tor2").unwrap();
    let w = lab.add_node("wren").unwrap();
    let l1 = lab.link(&tor1, &w).unwrap();
    let l2 = lab.link(&tor2, &w).unwrap();

    let mut config = WrenConfig::new(WREN_AS, l1.b_v4);
    config.global_extra = "multipath = true".to_owned();
    let mut tors = Vec::new();
    for (node, link) in [(&tor1, &l1), (&tor2, &l2)] {
        let (a4, b4) = (IpAddr::V4(link.a_v4), IpAddr::V4(link.b_v4));
        let (a6, b6) = (IpAddr::V6(link.a_v6), IpAddr::V6(link.b_v6));
        let g = Gobgp::start(
            node,
            &GobgpConfig::new(GOBGP_AS, link.a_v4)
                .neighbor(gobgp_neighbor(b4, a4, false))
                .neighbor(gobgp_neighbor(b6, a6, false)),
        )
        .unwrap();
        g.announce("198.51.100.0/24").unwrap();
        g.announce("2001:db8:b::/48").unwrap();
        tors.push(g);
        config = config
            .peer(WrenPeer::new(a4, GOBGP_AS))
            .peer(WrenPeer::new(a6, GOBGP_AS));
    }
    let wren = Wren::start(&lab, &w, "wren", &config.to_toml()).unwrap();

    for (prefix, v6) in [("198.51.100.0/24", false), ("2001:db8:b::/48", true)] {
        let gw = |l: &Link| -> IpAddr {
            if v6 {
                IpAddr::V6(l.a_v6)
            } else {
                IpAddr::V4(l.a_v4)
            }
        };
        let both = [
            Hop::new(gw(&l1), &l1.b_if, false),
            Hop::new(gw(&l2), &l2.b_if, false),
        ];
        let r = try_wait_kernel_route(&w, prefix, &both)
            .unwrap_or_else(|e| panic!("{e}\n{}", rib_story(&wren, prefix)));
        println!("ECMP {prefix}: {}", r.json);
        let nexthops = r.json.get("nexthops").and_then(Value::as_array);
        assert_eq!(
            nexthops.map(Vec::len),
            Some(2),
            "one route with a nexthops array of two: {r:#?}"
        );
        assert_eq!(
            kernel_routes_to(&w, prefix)
                .unwrap()
                .iter()
                .filter(|r| r.is_wren())
                .count(),
            1,
            "one route, not two"
        );
    }

    tors[1].withdraw("198.51.100.0/24").unwrap();
    tors[1].withdraw("2001:db8:b::/48").unwrap();
    for (prefix, gw) in [
        ("198.51.100.0/24", IpAddr::V4(l1.a_v4)),
        ("2001:db8:b::/48", IpAddr::V6(l1.a_v6)),
    ] {
        let r = try_wait_kernel_route(&w, prefix, &[Hop::new(gw, &l1.b_if, false)])
            .unwrap_or_else(|e| panic!("{e}\n{}", rib_story(&wren, prefix)));
        println!("single path {prefix}: {}", r.json);
        assert!(r.json.get("nexthops").is_none(), "{r:#?}");
        assert!(
            !wren.log().contains(&format!("kernel: delete {prefix}")),
            "the route is replaced in place, never deleted:\n{}",
            log_lines(&wren, "kernel:")
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 3. IP-in-IP

/// Address of `tunl0` in wren's namespace (the source of the ping).
const TUNL0_ADDR: &str = "198.18.200.2";
/// What the ping reaches, on `lo` of the announcing namespace, inside the announced /26.
const TUNNEL_TARGET: &str = "203.0.113.65";

fn ip_ok(node: &Node, args: &[&str]) -> bool {
    node.ip(args).is_ok()
}

/// Creates `tunl0` in `w` (and the return path in `g`): IP-in-IP when the kernel has it, else
/// a veth named `tunl0` whose peer end `tunp` is in `g`. Returns true for real IP-in-IP.
fn make_tunl0(w: &Node, g: &Node, link: &Link) -> bool {
    let ipip =
        ip_ok(w, &["link", "show", "tunl0"]) || ip_ok(w, &["link", "add", "tunl0", "type", "ipip"]);
    if ipip {
        println!("tunl0: an ipip device");
        w.ip(&["link", "set", "tunl0", "up"]).unwrap();
        w.add_address("tunl0", &format!("{TUNL0_ADDR}/32")).unwrap();
        // The other side decapsulates on its own tunl0 and answers through it.
        if !ip_ok(g, &["link", "show", "tunl0"]) {
            g.ip(&["link", "add", "tunl0", "type", "ipip"]).unwrap();
        }
        g.ip(&["link", "set", "tunl0", "up"]).unwrap();
        g.ip(&[
            "route",
            "add",
            &format!("{TUNL0_ADDR}/32"),
            "via",
            &link.b_v4.to_string(),
            "dev",
            "tunl0",
            "onlink",
        ])
        .unwrap();
        return true;
    }
    assert!(
        std::env::var_os("WREN_REQUIRE_IPIP").is_none(),
        "WREN_REQUIRE_IPIP is set but `ip link add tunl0 type ipip` fails: this kernel has no ipip"
    );
    println!(
        "NOTE: no ipip in this kernel; tunl0 is a veth, so encapsulation itself is not exercised"
    );
    w.ip(&[
        "link",
        "add",
        "tunl0",
        "type",
        "veth",
        "peer",
        "name",
        "tunp",
        "netns",
        g.ns(),
    ])
    .unwrap();
    w.add_address("tunl0", &format!("{TUNL0_ADDR}/32")).unwrap();
    w.ip(&["link", "set", "tunl0", "up"]).unwrap();
    g.ip(&["link", "set", "tunp", "up"]).unwrap();
    g.ip(&["route", "add", &format!("{TUNL0_ADDR}/32"), "dev", "tunp"])
        .unwrap();
    false
}

/// Packets sent by `dev` in `node` (`ip -s -j link show DEV`).
fn tx_packets(node: &Node, dev: &str) -> u64 {
    let raw = node.ip(&["-s", "-j", "link", "show", dev]).unwrap();
    let v: Value = serde_json::from_str(raw.trim()).unwrap();
    v[0]["stats64"]["tx"]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("no stats64.tx.packets in {raw}"))
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn a_prefix_in_an_ipip_pool_is_routed_via_the_peer_dev_tunl0_onlink_and_traffic_crosses_it() {
    let p = Pair::new("kernel_routes_ipip", &["gobgpd", "gobgp", "bash"]);
    let ipip = make_tunl0(&p.w, &p.g, &p.link);
    p.g.add_address("lo", &format!("{TUNNEL_TARGET}/32"))
        .unwrap();
    let gobgp = p.gobgp(false, false);
    gobgp.announce("203.0.113.64/26").unwrap();
    gobgp.announce("198.51.100.0/24").unwrap();
    let config = p.wren_config(
        false,
        "[[kernel.tunnel]]\npool = \"203.0.113.0/24\"\nmode = \"always\"\n",
    );
    let _wren = Wren::start(&p.lab, &p.w, "wren", &config.to_toml()).unwrap();

    let r = wait_kernel_route(&p.w, "203.0.113.64/26", &[Hop::new(p.a4(), "tunl0", true)]);
    println!("pool route: {}", r.json);
    assert!(
        flags_of(&r.json).iter().any(|f| f == "onlink"),
        "flags must contain onlink: {r:#?}"
    );
    // Outside the pool: the ordinary route over the link.
    let outside = wait_kernel_route(
        &p.w,
        "198.51.100.0/24",
        &[Hop::new(p.a4(), &p.link.b_if, false)],
    );
    assert!(outside.flags.is_empty(), "{outside:#?}");

    let get = p.w.ip(&["route", "get", TUNNEL_TARGET]).unwrap();
    assert!(
        get.contains(&format!("via {} dev tunl0", p.a4())),
        "`ip route get {TUNNEL_TARGET}` does not use the onlink route: {get}"
    );
    let before = tx_packets(&p.w, "tunl0");
    // A TCP handshake with GoBGP's listener (it binds 0.0.0.0:179) on the address behind the
    // tunnel: needs nothing but bash. Then a ping when `ping` is installed.
    let connect = format!("exec 3<>/dev/tcp/{TUNNEL_TARGET}/179");
    p.w.exec(&["timeout", "10", "bash", "-c", &connect])
        .unwrap_or_else(|e| panic!("no TCP handshake with {TUNNEL_TARGET}:179 across tunl0: {e}"));
    if lab::find_binary("ping").is_some() {
        let ping =
            p.w.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", TUNNEL_TARGET])
                .unwrap();
        println!("{ping}");
    } else {
        println!("NOTE: `ping` (Debian package iputils-ping) is not installed; only the TCP handshake crossed the tunnel");
    }
    let after = tx_packets(&p.w, "tunl0");
    assert!(
        after > before,
        "the packets did not leave through tunl0 (tx packets {before} -> {after})"
    );
    println!(
        "traffic across `203.0.113.64/26 via {} dev tunl0 onlink` ({}): ok",
        p.a4(),
        if ipip { "ipip" } else { "veth named tunl0" }
    );
}

// ------------------------------------------------------------------------------------------------
// 4. Other protocols' routes

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn routes_of_other_protocols_to_prefixes_a_peer_announces_are_left_untouched() {
    let p = Pair::new("kernel_routes_foreign", &["gobgpd", "gobgp"]);
    let (a4, a6) = (p.a4().to_string(), p.a6().to_string());
    // Felix-like and static routes, there before wren starts.
    let foreign: [(&str, Vec<&str>); 3] = [
        (
            "203.0.113.128/26",
            vec![
                "route",
                "add",
                "203.0.113.128/26",
                "via",
                &a4,
                "proto",
                "static",
            ],
        ),
        (
            "203.0.113.192/26",
            vec![
                "route",
                "add",
                "203.0.113.192/26",
                "via",
                &a4,
                "proto",
                "80",
            ],
        ),
        (
            "2001:db8:c::/48",
            vec![
                "-6",
                "route",
                "add",
                "2001:db8:c::/48",
                "via",
                &a6,
                "proto",
                "static",
            ],
        ),
    ];
    let mut before = Vec::new();
    for (prefix, cmd) in &foreign {
        p.w.ip(cmd).unwrap();
        let routes = kernel_routes_to(&p.w, prefix).unwrap();
        assert_eq!(routes.len(), 1, "{routes:#?}");
        before.push((*prefix, routes));
    }

    let gobgp = p.gobgp(true, true);
    for prefix in [
        "203.0.113.128/26",
        "203.0.113.192/26",
        "2001:db8:c::/48",
        "198.51.100.0/24",
        "2001:db8:b::/48",
    ] {
        gobgp.announce(prefix).unwrap();
    }
    let config = p.wren_config(true, &kernel_restart_wait());
    let wren = Wren::start(&p.lab, &p.w, "wren", &config.to_toml()).unwrap();
    // Settled by End-of-RIB from both sessions, with the control prefixes installed.
    wren.wait_for_log("kernel: restart settled", 1, DEADLINE)
        .unwrap();
    wait_kernel_route(
        &p.w,
        "198.51.100.0/24",
        &[Hop::new(p.a4(), &p.link.b_if, false)],
    );
    wait_kernel_route(
        &p.w,
        "2001:db8:b::/48",
        &[Hop::new(p.a6(), &p.link.b_if, false)],
    );
    for prefix in ["203.0.113.128/26", "203.0.113.192/26", "2001:db8:c::/48"] {
        wren.wait_for_log(&format!("received {prefix} via"), 1, DEADLINE)
            .unwrap();
    }

    let check = |phase: &str| {
        for (prefix, want) in &before {
            let now = kernel_routes_to(&p.w, prefix).unwrap();
            assert!(
                now == *want,
                "{phase}: the {} route to {prefix} changed (wren may touch only protocol 12).\n\
                 before:\n{}\nnow:\n{}\nwren's log about it:\n{}",
                want[0].protocol,
                show(want),
                show(&now),
                log_lines(&wren, prefix)
            );
        }
    };
    // Some time for any late operation, checked all along.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        check("after wren settled");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (prefix, _) in &before {
        let failed = log_lines(&wren, prefix)
            .lines()
            .filter(|l| l.contains("failed"))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        println!("{prefix}: untouched; wren's failed operations on it: {failed:?}");
    }

    // A withdrawal does not delete them either.
    for (prefix, _) in &before {
        gobgp.withdraw(prefix).unwrap();
    }
    for (prefix, _) in &before {
        wait_until(
            DEADLINE,
            &format!("wren to log `best {prefix}: none`"),
            || Ok::<_, LabError>(wren.log().contains(&format!("best {prefix}: none"))),
        )
        .unwrap();
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        check("after GoBGP withdrew them");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------------------------------------
// 5. Blackholes

fn blackholes_toml(prefixes: &[&str]) -> String {
    prefixes
        .iter()
        .map(|p| format!("[[originate]]\nprefix = \"{p}\"\nblackhole = true\n\n"))
        .collect()
}

/// Waits until `node` has a protocol-12 blackhole route to `prefix`.
#[track_caller]
fn wait_blackhole(node: &Node, prefix: &str) -> KernelRoute {
    lab::wait_for(
        DEADLINE,
        &format!("a protocol-12 blackhole route {prefix} in {node:?}"),
        || {
            let all = kernel_routes_to(node, prefix)?;
            match all.iter().find(|r| r.is_wren() && r.kind == "blackhole") {
                Some(r) => Ok(Some(r.clone())),
                None => Err(LabError::new(format!(
                    "the kernel's routes to {prefix}:\n{}",
                    show(&all)
                ))),
            }
        },
    )
    .unwrap()
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn an_originated_prefix_marked_blackhole_gets_a_blackhole_route_until_a_reload_removes_it() {
    let p = Pair::new("kernel_routes_blackhole", &["gobgpd", "gobgp"]);
    let gobgp = p.gobgp(false, false);
    let plain = p.wren_config(false, "").originate("198.51.100.0/24");
    let with_blackholes = plain
        .clone()
        .extra(&blackholes_toml(&["203.0.113.0/26", "2001:db8:c::/48"]));
    let wren = Wren::start(&p.lab, &p.w, "wren", &with_blackholes.to_toml()).unwrap();

    for prefix in ["203.0.113.0/26", "2001:db8:c::/48"] {
        let r = wait_blackhole(&p.w, prefix);
        println!("{prefix}: {}", r.json);
        assert!(r.hops.is_empty(), "{r:#?}");
    }
    let announced = Route {
        prefix: "203.0.113.0/26".to_owned(),
        next_hop: Some(p.b4()),
        as_path: vec![WREN_AS],
    };
    gobgp
        .wait_for_route(Family::Ipv4, &announced, DEADLINE)
        .unwrap();
    // An originated prefix without the flag gets no kernel route at all.
    assert!(
        kernel_routes_to(&p.w, "198.51.100.0/24")
            .unwrap()
            .is_empty(),
        "{:#?}",
        kernel_table(&p.w, "198.51.100.0/24").unwrap()
    );

    // Reload 1: 203.0.113.0/26 still originated, without `blackhole`: the route goes, the
    // announcement stays.
    let without_flag = plain.clone().originate("203.0.113.0/26");
    wren.reload_with(&without_flag.to_toml()).unwrap();
    wait_no_kernel_route(&p.w, "203.0.113.0/26");
    wait_no_kernel_route(&p.w, "2001:db8:c::/48");
    gobgp
        .wait_for_route(Family::Ipv4, &announced, DEADLINE)
        .unwrap();

    // Reload 2: the blackhole comes back with the flag, then the prefix is dropped altogether.
    wren.reload_with(&with_blackholes.to_toml()).unwrap();
    wait_blackhole(&p.w, "203.0.113.0/26");
    wren.reload_with(&plain.to_toml()).unwrap();
    wait_no_kernel_route(&p.w, "203.0.113.0/26");
    wait_no_kernel_route(&p.w, "2001:db8:c::/48");
    wait_until(DEADLINE, "GoBGP to lose 203.0.113.0/26", || {
        let rib = gobgp.rib(Family::Ipv4)?;
        match find_route(&rib, "203.0.113.0/26") {
            None => Ok(true),
            Some(r) => Err(LabError::new(format!("still has {r:?}"))),
        }
    })
    .unwrap();
}

// ------------------------------------------------------------------------------------------------
// 6. Restart without loss

/// Polls `ip -j route` in a node every 20 ms on a thread, recording every poll in which a
/// prefix was missing.
struct PresencePoller {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<PollReport>>,
}

#[derive(Debug, Default)]
struct PollReport {
    polls: u32,
    /// (seconds since the poller started, what the table held) for each poll without it.
    absent: Vec<(f64, String)>,
    errors: Vec<String>,
}

impl PresencePoller {
    /// Upper bound of a poller's life, whatever the test does.
    const MAX_LIFE: Duration = Duration::from_secs(90);

    fn start(node: &Node, prefix: &str) -> PresencePoller {
        let stop = Arc::new(AtomicBool::new(false));
        let (node, prefix, flag) = (node.clone(), prefix.to_owned(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut report = PollReport::default();
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Self::MAX_LIFE {
                report.polls += 1;
                match kernel_table(&node, &prefix) {
                    Ok(routes) => {
                        if !routes.iter().any(|r| r.dst == prefix && r.is_wren()) {
                            let held: Vec<String> =
                                routes.iter().map(|r| r.json.to_string()).collect();
                            report
                                .absent
                                .push((start.elapsed().as_secs_f64(), held.join(" ")));
                        }
                    }
                    Err(e) => report.errors.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            report
        });
        PresencePoller {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> PollReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for PresencePoller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn after_a_sigkill_and_restart_a_wanted_route_never_leaves_the_kernel_and_a_stale_one_goes_after_end_of_rib(
) {
    const P1: &str = "198.51.100.0/24";
    const P2: &str = "203.0.113.0/24";
    let p = Pair::new("kernel_routes_restart", &["gobgpd", "gobgp"]);
    let gobgp = p.gobgp(false, true);
    gobgp.announce(P1).unwrap();
    gobgp.announce(P2).unwrap();
    let config = p.wren_config(false, &kernel_restart_wait()).to_toml();
    let wren1 = Wren::start(&p.lab, &p.w, "wren1", &config).unwrap();
    let hop = [Hop::new(p.a4(), &p.link.b_if, false)];
    let p1_before = wait_kernel_route(&p.w, P1, &hop);
    wait_kernel_route(&p.w, P2, &hop);

    let monitor = RouteMonitor::start(&p.w);
    let poller = PresencePoller::start(&p.w, P1);

    wren1.sigkill().unwrap();
    // The routes persist without wren.
    assert!(wren_route(&p.w, P1).unwrap().is_some());
    assert!(wren_route(&p.w, P2).unwrap().is_some());
    // While wren is down, GoBGP stops announcing P2.
    gobgp.withdraw(P2).unwrap();

    let restarted = Instant::now();
    let wren2 = Wren::start(&p.lab, &p.w, "wren2", &config).unwrap();
    wren2
        .wait_for_log("kernel: adopted 2 routes", 1, DEADLINE)
        .unwrap();
    wren2
        .wait_for_log(
            "kernel: restart settled; deleting 1 adopted routes nothing wants",
            1,
            DEADLINE,
        )
        .unwrap();
    let settled_after = restarted.elapsed();
    wait_no_kernel_route(&p.w, P2);
    // Keep watching P1 a little after the sweep.
    assert_holds_for(Duration::from_secs(1), "P1 in the kernel", || {
        Ok(wren_route(&p.w, P1)?.is_some())
    });
    let report = poller.finish();
    println!(
        "restart: settled {:.1} s after the start (restart_wait {RESTART_WAIT} s); {} polls of \
         `ip -j route`, {} without {P1}, {} errors",
        settled_after.as_secs_f64(),
        report.polls,
        report.absent.len(),
        report.errors.len()
    );

    assert!(
        settled_after < Duration::from_secs(RESTART_WAIT),
        "the restart settled only after restart_wait, not on End-of-RIB"
    );
    let log = wren2.log();
    assert!(
        log.contains("every peer sent End-of-RIB"),
        "{}",
        log_lines(&wren2, "kernel:")
    );
    assert!(
        report.absent.is_empty(),
        "{P1} was missing from the kernel in {} of {} polls: {:#?}\nwren2's kernel lines:\n{}",
        report.absent.len(),
        report.polls,
        report.absent,
        log_lines(&wren2, "kernel:")
    );
    assert!(
        report.polls >= 50,
        "too few polls to mean anything: {report:?}"
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let p1_events = monitor.lines_about(P1);
    assert!(
        p1_events.iter().all(|l| !l.contains("Deleted")),
        "`ip monitor route` saw {P1} deleted: {p1_events:#?}"
    );
    assert!(
        !log.contains(&format!("kernel: replace {P1}"))
            && !log.contains(&format!("kernel: add {P1}")),
        "the adopted {P1} equals the wanted route, so wren must not touch it:\n{}",
        log_lines(&wren2, "kernel:")
    );
    let p2_events = monitor.lines_about(P2);
    assert!(
        p2_events.iter().any(|l| l.contains("Deleted")),
        "the monitor should have seen {P2} deleted (else it saw nothing): {:#?}",
        monitor.lines()
    );
    assert_eq!(
        wren_route(&p.w, P1).unwrap().map(|r| r.json),
        Some(p1_before.json),
        "{P1} changed across the restart"
    );
}

// ------------------------------------------------------------------------------------------------
// 7. Adopting BIRD's routes

#[test]
#[ignore = "needs root, gobgpd and bird2: run via make test"]
fn routes_bird_left_in_the_kernel_are_adopted_without_a_flap_and_unwanted_ones_go_after_end_of_rib()
{
    const KEPT: &str = "198.51.100.0/24";
    const STALE: &str = "203.0.113.0/26";
    let p = Pair::new("kernel_routes_bird", &["gobgpd", "gobgp", "bird", "birdc"]);
    let a4 = p.a4().to_string();
    // BIRD 2 as Calico's BIRD runs it: kernel protocol with `persist`, metric 0 (BIRD 2's default
    // is 32; Calico's BIRD 1.x installs without a metric).
    let mut bird_config = BirdConfig::new(Ipv4Addr::new(198, 19, 0, 9));
    bird_config.extra = format!(
        "protocol static s4 {{ ipv4; route {KEPT} via {a4}; }}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; persist; metric 0; }}\n"
    );
    let bird = Bird::start(&p.w, &bird_config).unwrap();
    let hop = [Hop::new(p.a4(), &p.link.b_if, false)];
    let kept_before = wait_kernel_route(&p.w, KEPT, &hop);
    println!("BIRD installed {KEPT}: {}", kept_before.json);
    bird.proc().kill().unwrap();
    // And one route as if an earlier BIRD had announced it, now wanted by nobody.
    p.w.ip(&["route", "add", STALE, "via", &a4, "proto", "bird"])
        .unwrap();
    assert_eq!(
        wren_route(&p.w, KEPT).unwrap().map(|r| r.json),
        Some(kept_before.json.clone()),
        "BIRD's route must persist after BIRD stops"
    );

    let gobgp = p.gobgp(false, true);
    gobgp.announce(KEPT).unwrap();
    let monitor = RouteMonitor::start(&p.w);
    let config = p.wren_config(false, &kernel_restart_wait()).to_toml();
    let wren = Wren::start(&p.lab, &p.w, "wren", &config).unwrap();
    wren.wait_for_log("kernel: adopted 2 routes", 1, DEADLINE)
        .unwrap();
    wren.wait_for_log(&format!("received {KEPT} via {a4}"), 1, DEADLINE)
        .unwrap();
    wren.wait_for_log(
        "kernel: restart settled; deleting 1 adopted routes nothing wants",
        1,
        DEADLINE,
    )
    .unwrap();
    wait_no_kernel_route(&p.w, STALE);

    let log = wren.log();
    assert!(
        log.contains("every peer sent End-of-RIB"),
        "{}",
        log_lines(&wren, "kernel:")
    );
    assert_eq!(
        wren_route(&p.w, KEPT).unwrap().map(|r| r.json),
        Some(kept_before.json),
        "BIRD's route to {KEPT} changed"
    );
    let events = monitor.lines_about(KEPT);
    assert!(
        events.is_empty(),
        "`ip monitor route` saw {KEPT} change: {events:#?}"
    );
    for op in ["replace", "delete"] {
        assert!(
            !log.contains(&format!("kernel: {op} {KEPT}")),
            "wren touched the adopted {KEPT}:\n{}",
            log_lines(&wren, "kernel:")
        );
    }
    assert!(
        monitor
            .lines_about(STALE)
            .iter()
            .any(|l| l.contains("Deleted")),
        "the monitor should have seen {STALE} deleted: {:#?}",
        monitor.lines()
    );
}

// ------------------------------------------------------------------------------------------------
// 8. Learning routes from the kernel

/// Waits until GoBGP's best route for `prefix` comes from wren with AS path [WREN_AS].
#[track_caller]
fn wait_gobgp_has(gobgp: &Gobgp, prefix: &str, next_hop: IpAddr) {
    let want = Route {
        prefix: prefix.to_owned(),
        next_hop: Some(next_hop),
        as_path: vec![WREN_AS],
    };
    gobgp
        .wait_for_route(Family::of_prefix(prefix), &want, DEADLINE)
        .unwrap();
}

fn gobgp_lacks(gobgp: &Gobgp, prefix: &str) -> lab::Result<bool> {
    let rib = gobgp.rib(Family::of_prefix(prefix))?;
    match find_route(&rib, prefix) {
        None => Ok(true),
        Some(r) => Err(LabError::new(format!("GoBGP has {r:?}"))),
    }
}

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn routes_to_cali_interfaces_are_learned_from_kernel_events_and_exported_to_bgp() {
    const AT_START: &str = "203.0.113.77/32";
    const ADDED_LATER: &str = "203.0.113.78/32";
    const OTHER_DEVICE: &str = "203.0.113.99/32";
    let p = Pair::new("kernel_routes_learn", &["gobgpd", "gobgp"]);
    let pod = p.lab.add_node("pod").unwrap();
    p.w.ip(&[
        "link",
        "add",
        "cali1234",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        pod.ns(),
    ])
    .unwrap();
    p.w.ip(&["link", "set", "cali1234", "up"]).unwrap();
    pod.ip(&["link", "set", "eth0", "up"]).unwrap();
    // Felix's route to a workload, and one to another device that no rule matches.
    p.w.ip(&[
        "route", "add", AT_START, "dev", "cali1234", "proto", "80", "scope", "link",
    ])
    .unwrap();
    p.w.ip(&[
        "route",
        "add",
        OTHER_DEVICE,
        "dev",
        &p.link.b_if,
        "proto",
        "static",
    ])
    .unwrap();

    let gobgp = p.gobgp(false, false);
    let config = p.wren_config(false, "[[kernel.learn]]\ninterface = \"cali*\"\n");
    let wren = Wren::start(&p.lab, &p.w, "wren", &config.to_toml()).unwrap();
    gobgp.wait_established(p.b4(), DEADLINE).unwrap();
    wait_gobgp_has(&gobgp, AT_START, p.b4());
    assert_holds_for(
        Duration::from_secs(1),
        &format!("GoBGP without {OTHER_DEVICE}"),
        || gobgp_lacks(&gobgp, OTHER_DEVICE),
    );

    // Deleting the kernel route withdraws it.
    let t = Instant::now();
    p.w.ip(&["route", "del", AT_START, "dev", "cali1234", "proto", "80"])
        .unwrap();
    wait_until(DEADLINE, &format!("GoBGP to lose {AT_START}"), || {
        gobgp_lacks(&gobgp, AT_START)
    })
    .unwrap();
    println!(
        "{AT_START} deleted: gone from GoBGP after {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // A route added while wren runs is learned from the netlink event, not by a scan.
    let t = Instant::now();
    p.w.ip(&[
        "route",
        "add",
        ADDED_LATER,
        "dev",
        "cali1234",
        "proto",
        "static",
    ])
    .unwrap();
    wren.wait_for_log(
        &format!("kernel: learned {ADDED_LATER}"),
        1,
        Duration::from_secs(2),
    )
    .unwrap();
    let learned_after = t.elapsed();
    wait_gobgp_has(&gobgp, ADDED_LATER, p.b4());
    println!(
        "{ADDED_LATER} added: learned by wren after {:.2} s, at GoBGP after {:.2} s",
        learned_after.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    // wren installed nothing of its own for the learned prefixes.
    for prefix in [AT_START, ADDED_LATER] {
        assert!(
            wren_route(&p.w, prefix).unwrap().is_none(),
            "wren installed a route to the learned {prefix}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Parser tests (no privileges)

#[test]
fn ip_json_routes_are_parsed_with_hops_flags_types_and_host_lengths() {
    let raw = r#"[{"dst":"198.18.0.0/24","dev":"v0","protocol":"kernel","scope":"link","prefsrc":"198.18.0.2","flags":[]},
{"dst":"198.51.100.0/24","protocol":"bird","flags":[],"nexthops":[{"gateway":"198.18.0.3","dev":"v0","weight":1,"flags":[]},{"gateway":"198.18.0.1","dev":"v0","weight":1,"flags":[]}]},
{"type":"blackhole","dst":"203.0.113.0/26","protocol":"bird","flags":[]},
{"dst":"203.0.113.64/26","gateway":"198.18.0.1","dev":"tunl0","protocol":"12","flags":["onlink"]},
{"dst":"203.0.113.77","dev":"cali1234","protocol":"80","scope":"link","flags":[]}]"#;
    let routes = parse_routes(raw).unwrap();
    assert_eq!(routes.len(), 5);
    assert_eq!(routes[0].protocol, "kernel");
    assert!(!routes[0].is_wren());
    assert_eq!(
        routes[1].hops,
        vec![
            Hop::new("198.18.0.1", "v0", false),
            Hop::new("198.18.0.3", "v0", false)
        ]
    );
    assert!(routes[1].is_wren());
    assert_eq!(routes[2].kind, "blackhole");
    assert!(routes[2].hops.is_empty());
    assert_eq!(routes[3].hops, vec![Hop::new("198.18.0.1", "tunl0", true)]);
    assert!(routes[3].is_wren());
    assert_eq!(routes[3].flags, vec!["onlink".to_owned()]);
    assert_eq!(routes[4].dst, "203.0.113.77/32");
    assert_eq!(routes[4].hops, vec![Hop::new("", "cali1234", false)]);
    let v6 = parse_routes(
        r#"[{"dst":"2001:db8:b::/48","gateway":"2001:db8::1","dev":"to-gobgp","protocol":"bird","metric":1024,"flags":[],"pref":"medium"},{"dst":"2001:db8::5","dev":"lo","protocol":"static","metric":1024,"flags":[],"pref":"medium"}]"#,
    )
    .unwrap();
    assert_eq!(v6[0].metric, 1024);
    assert_eq!(v6[1].dst, "2001:db8::5/128");
    assert!(parse_routes("").unwrap().is_empty());
    assert!(parse_routes("{}").is_err());
}
