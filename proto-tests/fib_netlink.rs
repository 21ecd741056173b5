//! `wren::fib::netlink::NetlinkFib` against a real kernel, inside a network namespace.
//!
//! `NetlinkFib` talks to the netlink socket of the namespace it runs in, so the test
//! ([`netlink_fib_programs_routes_like_bird`]) creates a namespace with the lab harness and
//! re-executes this test binary inside it (`ip netns exec NS <this binary> netlink_fib_child
//! --exact --include-ignored`) with [`CHILD_ENV`] set; [`netlink_fib_child`] does the work there
//! and does nothing without the variable.
//!
//! In the namespace: an interface `d0` (198.18.5.1/24, 2001:db8:5::1/64) and `tunl0`, an IP-in-IP
//! device when the kernel has `ipip`, else (this kernel has no modules) a veth named `tunl0`,
//! which is all an `onlink` route needs; set `WREN_REQUIRE_IPIP=1` to fail instead. The child then
//! checks, with `ip -j route` as the independent reader: unicast via a gateway (with and without a
//! device), ECMP, blackhole, IPv6, `via <peer> dev tunl0 onlink`, a metric and a table above 255,
//! all with protocol 12 (`bird`); that `dump` returns what `ip` shows; that a reconcile after
//! `dump` wants nothing more; that a reconcile dropping one route deletes only it and leaves a
//! `proto static` route alone; that a delete of a missing route counts as done while a bad
//! gateway or an unknown device fails only its own operation; a 5,000-route batch; the interface
//! addresses; and the event monitor.
//!
//! Needs root, so `#[ignore]`d and run by `make test` (`--include-ignored`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;
use tokio::sync::mpsc;
use wren::fib::netlink::{monitor, KernelEvent, NetlinkFib};
use wren::fib::{reconcile, Action, Fib, Hop, KernelRoute, Op, PROTO_BIRD, TABLE_MAIN};

/// Set (to anything) in the child process that runs inside the namespace.
const CHILD_ENV: &str = "WREN_FIB_NETLINK_CHILD";
/// Marker the child prints when every check passed.
const CHILD_OK: &str = "fib_netlink child: all checks passed";

#[test]
#[ignore = "needs root and network namespaces; run by `make test`"]
fn netlink_fib_programs_routes_like_bird() {
    let lab = lab::Lab::new("fib_netlink").unwrap();
    let node = lab.add_node("fib").unwrap();
    let exe = std::env::current_exe().unwrap();
    let env = format!("{CHILD_ENV}=1");
    let out = node
        .exec_output(&[
            "env",
            &env,
            &exe.to_string_lossy(),
            "netlink_fib_child",
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- child stdout ---\n{stdout}\n--- child stderr ---\n{stderr}");
    assert!(out.status.success(), "the child failed: {}", out.status);
    assert!(
        stdout.contains(CHILD_OK),
        "the child did not run its checks"
    );
}

/// Not a test on its own: the part of [`netlink_fib_programs_routes_like_bird`] that runs inside
/// the namespace. Returns at once without [`CHILD_ENV`].
#[test]
#[ignore = "helper process of netlink_fib_programs_routes_like_bird"]
fn netlink_fib_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(child());
    println!("{CHILD_OK}");
}

// ------------------------------------------------------------------------------------------------
// Helpers

/// Runs `ip ARGS…` in the current namespace; panics with stderr on failure.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`ip`] but returns whether it worked.
fn ip_ok(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Creates `tunl0`: IP-in-IP when the kernel has it, else a veth of that name (see module docs).
fn make_tunl0() {
    if ip_ok(&["link", "show", "tunl0"]) || ip_ok(&["link", "add", "tunl0", "type", "ipip"]) {
        println!("tunl0: ipip device");
    } else {
        let loaded = lab::find_binary("modprobe").is_some_and(|m| {
            Command::new(m)
                .arg("ipip")
                .status()
                .is_ok_and(|s| s.success())
        });
        if loaded
            && (ip_ok(&["link", "show", "tunl0"])
                || ip_ok(&["link", "add", "tunl0", "type", "ipip"]))
        {
            println!("tunl0: ipip device (after modprobe ipip)");
        } else {
            let why = "the kernel has no ipip support and the ipip module cannot be loaded \
                       (no /lib/modules or no modprobe)";
            assert!(
                std::env::var_os("WREN_REQUIRE_IPIP").is_none(),
                "WREN_REQUIRE_IPIP is set but {why}"
            );
            println!("NOTE: {why}; tunl0 is a veth device instead (onlink needs only a device)");
            ip(&[
                "link", "add", "tunl0", "type", "veth", "peer", "name", "tunl0p",
            ]);
            ip(&["link", "set", "tunl0p", "up"]);
        }
    }
    ip(&["link", "set", "tunl0", "up"]);
    ip(&["addr", "add", "198.18.6.1/32", "dev", "tunl0"]);
}

/// A veth `name` (peer `<name>p`, both up) with `addrs`.
fn make_interface(name: &str, addrs: &[&str]) {
    let peer = format!("{name}p");
    ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    for a in addrs {
        if a.contains(':') {
            ip(&["addr", "add", a, "dev", name, "nodad"]);
        } else {
            ip(&["addr", "add", a, "dev", name]);
        }
    }
    ip(&["link", "set", &peer, "up"]);
    ip(&["link", "set", name, "up"]);
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn via(gw: &str, dev: Option<&str>, onlink: bool) -> Hop {
    Hop {
        gateway: Some(addr(gw)),
        device: dev.map(str::to_owned),
        onlink,
    }
}

fn bird(prefix: &str, action: Action) -> KernelRoute {
    KernelRoute {
        prefix: net(prefix),
        table: TABLE_MAIN,
        protocol: PROTO_BIRD,
        metric: 0,
        action,
    }
}

/// A comparable summary of a route: prefix, table, protocol, metric, kind, and the sorted hops
/// `(gateway, device, onlink)`.
type Summary = (String, u32, u8, u32, String, Vec<(String, String, bool)>);

fn summary_of_route(r: &KernelRoute) -> Summary {
    let (kind, mut hops) = match &r.action {
        Action::Blackhole => ("blackhole".to_owned(), Vec::new()),
        Action::Unicast(hops) => (
            "unicast".to_owned(),
            hops.iter()
                .map(|h| {
                    (
                        h.gateway.map(|g| g.to_string()).unwrap_or_default(),
                        h.device.clone().unwrap_or_default(),
                        h.onlink,
                    )
                })
                .collect(),
        ),
    };
    hops.sort();
    (
        r.prefix.to_string(),
        r.table,
        r.protocol,
        r.metric,
        kind,
        hops,
    )
}

fn protocol_number(name: &str) -> u8 {
    match name {
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "ra" => 9,
        "bird" => 12,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("protocol {other:?}")),
    }
}

fn table_number(name: &str) -> u32 {
    match name {
        "main" => 254,
        "local" => 255,
        "default" => 253,
        other => other.parse().unwrap(),
    }
}

fn hop_of_json(v: &Value) -> (String, String, bool) {
    let onlink = v["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "onlink"));
    (
        v["gateway"].as_str().unwrap_or_default().to_owned(),
        v["dev"].as_str().unwrap_or_default().to_owned(),
        onlink,
    )
}

/// `ip -j route show table all` for one family, as summaries. Local, broadcast, multicast and
/// anycast routes are left out (as `dump` leaves them out); IPv6 metric 1024 is read as 0, as
/// `NetlinkFib::dump` documents.
fn ip_routes(family: &str) -> Vec<Summary> {
    let json = ip(&["-j", family, "route", "show", "table", "all"]);
    let routes: Vec<Value> = serde_json::from_str(&json).unwrap();
    let mut out = Vec::new();
    for r in routes {
        let kind = r["type"].as_str().unwrap_or("unicast");
        if matches!(kind, "local" | "broadcast" | "multicast" | "anycast") {
            continue;
        }
        let dst = r["dst"].as_str().unwrap();
        let dst = match dst {
            "default" if family == "-4" => "0.0.0.0/0".to_owned(),
            "default" => "::/0".to_owned(),
            d if d.contains('/') => d.to_owned(),
            d if d.contains(':') => format!("{d}/128"),
            d => format!("{d}/32"),
        };
        let table = r["table"].as_str().map_or(254, table_number);
        let protocol = r["protocol"].as_str().map_or(0, protocol_number);
        let mut metric = u32::try_from(r["metric"].as_u64().unwrap_or(0)).unwrap();
        if family == "-6" && metric == 1024 {
            metric = 0;
        }
        let mut hops: Vec<(String, String, bool)> = match r["nexthops"].as_array() {
            Some(nhs) => nhs.iter().map(hop_of_json).collect(),
            None if kind == "blackhole" => Vec::new(),
            None => vec![hop_of_json(&r)],
        };
        hops.sort();
        out.push((dst, table, protocol, metric, kind.to_owned(), hops));
    }
    out
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Waits (up to 5 s) for an event matching `pred`, returning the events seen before it.
async fn expect_event(
    rx: &mut mpsc::Receiver<KernelEvent>,
    what: &str,
    pred: impl Fn(&KernelEvent) -> bool,
) -> Vec<KernelEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) if pred(&e) => return seen,
            Ok(Some(e)) => seen.push(e),
            Ok(None) => panic!("monitor channel closed while waiting for {what}; saw {seen:#?}"),
            Err(_) => panic!("no {what} within 5 s; saw {seen:#?}"),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The checks

async fn child() {
    make_interface("d0", &["198.18.5.1/24", "2001:db8:5::1/64"]);
    make_tunl0();

    let mut events = monitor().await.unwrap();
    let mut fib = NetlinkFib::new().await.unwrap();

    // What Calico's BIRD installs, and a little more.
    let mut with_metric = bird(
        "203.0.113.128/26",
        Action::Unicast(vec![via("198.18.5.2", Some("d0"), false)]),
    );
    with_metric.metric = 100;
    let mut big_table = bird("198.51.100.0/26", Action::Blackhole);
    big_table.table = 1000;
    let wanted_list = [
        bird(
            "198.51.100.0/26",
            Action::Unicast(vec![via("198.18.5.2", Some("d0"), false)]),
        ),
        bird(
            "198.51.100.64/26",
            Action::Unicast(vec![via("198.18.5.3", None, false)]),
        ),
        bird(
            "198.51.100.128/26",
            Action::Unicast(vec![
                via("198.18.5.2", Some("d0"), false),
                via("198.18.5.3", Some("d0"), false),
            ]),
        ),
        bird("203.0.113.0/26", Action::Blackhole),
        bird(
            "198.51.100.192/26",
            Action::Unicast(vec![via("198.18.7.7", Some("tunl0"), true)]),
        ),
        bird(
            "2001:db8:100::/64",
            Action::Unicast(vec![via("2001:db8:5::2", Some("d0"), false)]),
        ),
        bird(
            "2001:db8:101::/64",
            Action::Unicast(vec![
                via("2001:db8:5::2", Some("d0"), false),
                via("2001:db8:5::3", Some("d0"), false),
            ]),
        ),
        with_metric,
    ];
    let wanted: HashMap<IpNet, KernelRoute> =
        wanted_list.iter().map(|r| (r.prefix, r.clone())).collect();

    // Another protocol's route, which wren must leave alone.
    ip(&[
        "route",
        "add",
        "203.0.113.64/26",
        "dev",
        "d0",
        "proto",
        "static",
    ]);

    // 1. Install everything from an empty table.
    let before = fib.dump(TABLE_MAIN).await.unwrap();
    let ops = reconcile(&wanted, &before, TABLE_MAIN, PROTO_BIRD);
    assert_eq!(ops.len(), wanted.len(), "{ops:#?}");
    let applied = fib.apply(ops).await;
    assert!(applied.failed.is_empty(), "{:#?}", applied.failed);
    assert_eq!(applied.done, wanted.len());
    let applied = fib.apply(vec![Op::Replace(big_table.clone())]).await;
    assert!(
        applied.failed.is_empty() && applied.done == 1,
        "{applied:?}"
    );

    // 2. `ip` sees exactly the shape BIRD gives these routes.
    let v4: Vec<Value> =
        serde_json::from_str(&ip(&["-j", "-4", "route", "show", "table", "all"])).unwrap();
    let v6: Vec<Value> =
        serde_json::from_str(&ip(&["-j", "-6", "route", "show", "table", "all"])).unwrap();
    let find = |dst: &str, table: Option<&str>| -> Value {
        v4.iter()
            .chain(&v6)
            .find(|r| r["dst"] == dst && r["table"].as_str() == table)
            .unwrap_or_else(|| panic!("{dst} (table {table:?}) not in ip route:\n{v4:#?}\n{v6:#?}"))
            .clone()
    };
    let r = find("198.51.100.0/26", None);
    assert_eq!(r["protocol"], "bird");
    assert_eq!(r["gateway"], "198.18.5.2");
    assert_eq!(r["dev"], "d0");
    let r = find("198.51.100.64/26", None);
    assert_eq!(
        (&r["protocol"], &r["gateway"], &r["dev"]),
        (&"bird".into(), &"198.18.5.3".into(), &"d0".into())
    );
    let r = find("198.51.100.128/26", None);
    assert_eq!(r["protocol"], "bird");
    let nhs = r["nexthops"].as_array().expect("ECMP route has nexthops");
    let gws: BTreeSet<&str> = nhs.iter().map(|n| n["gateway"].as_str().unwrap()).collect();
    assert_eq!(gws, BTreeSet::from(["198.18.5.2", "198.18.5.3"]));
    assert!(nhs.iter().all(|n| n["dev"] == "d0"));
    let r = find("203.0.113.0/26", None);
    assert_eq!(
        (&r["type"], &r["protocol"]),
        (&"blackhole".into(), &"bird".into())
    );
    let r = find("198.51.100.192/26", None);
    assert_eq!(r["protocol"], "bird");
    assert_eq!(r["gateway"], "198.18.7.7");
    assert_eq!(r["dev"], "tunl0");
    assert!(
        r["flags"].as_array().unwrap().iter().any(|f| f == "onlink"),
        "IP-in-IP route lacks onlink: {r}"
    );
    let r = find("2001:db8:100::/64", None);
    assert_eq!(
        (&r["protocol"], &r["gateway"], &r["dev"]),
        (&"bird".into(), &"2001:db8:5::2".into(), &"d0".into())
    );
    let r = find("2001:db8:101::/64", None);
    assert_eq!(r["nexthops"].as_array().map(Vec::len), Some(2), "{r}");
    let r = find("203.0.113.128/26", None);
    assert_eq!(
        (&r["metric"], &r["protocol"]),
        (&100.into(), &"bird".into())
    );
    let r = find("198.51.100.0/26", Some("1000"));
    assert_eq!(
        (&r["type"], &r["protocol"]),
        (&"blackhole".into(), &"bird".into())
    );

    // 3. `dump` returns what `ip` shows, table by table.
    for table in [TABLE_MAIN, 1000] {
        let dumped: Vec<Summary> = fib
            .dump(table)
            .await
            .unwrap()
            .iter()
            .map(summary_of_route)
            .collect();
        let shown: Vec<Summary> = ip_routes("-4")
            .into_iter()
            .chain(ip_routes("-6"))
            .filter(|s| s.1 == table)
            .collect();
        assert_eq!(sorted(dumped), sorted(shown), "table {table}");
    }

    // 4. Reconciling against the dump wants nothing more: the routes read back as installed.
    let now = fib.dump(TABLE_MAIN).await.unwrap();
    let again = reconcile(&wanted, &now, TABLE_MAIN, PROTO_BIRD);
    assert!(again.is_empty(), "second reconcile wants {again:#?}");

    // 5. Dropping one route deletes it alone; the static route stays.
    let mut fewer = wanted.clone();
    fewer.remove(&net("198.51.100.0/26"));
    let ops = reconcile(&fewer, &now, TABLE_MAIN, PROTO_BIRD);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert!(matches!(&ops[0], Op::Delete(r) if r.prefix == net("198.51.100.0/26")));
    let applied = fib.apply(ops).await;
    assert!(
        applied.failed.is_empty() && applied.done == 1,
        "{applied:?}"
    );
    let v4 = ip(&["-4", "route", "show", "table", "main"]);
    assert!(!v4.contains("198.51.100.0/26"), "{v4}");
    assert!(
        v4.contains("203.0.113.64/26 dev d0 proto static"),
        "the static route was touched:\n{v4}"
    );
    assert!(ip(&["route", "show", "table", "1000"]).contains("blackhole 198.51.100.0/26"));

    // 6. A delete of a missing route is done; a bad gateway and an unknown device fail alone.
    let missing = bird("198.51.100.0/26", Action::Blackhole);
    let unreachable = bird(
        "198.18.200.0/24",
        Action::Unicast(vec![via("198.18.99.1", None, false)]),
    );
    let no_device = bird(
        "198.18.201.0/24",
        Action::Unicast(vec![via("198.18.5.2", Some("nosuch0"), false)]),
    );
    let fine = bird("198.18.202.0/24", Action::Blackhole);
    let applied = fib
        .apply(vec![
            Op::Delete(missing),
            Op::Replace(unreachable.clone()),
            Op::Replace(no_device.clone()),
            Op::Replace(fine),
        ])
        .await;
    assert_eq!(applied.done, 2, "{applied:#?}");
    // Failures found before sending (the device) come before the kernel's.
    let mut failed: Vec<(Op, String)> = applied.failed.clone();
    failed.sort_by_key(|(op, _)| match op {
        Op::Replace(r) | Op::Add(r) | Op::Delete(r) => r.prefix,
    });
    assert_eq!(failed.len(), 2, "{applied:#?}");
    assert_eq!(failed[0].0, Op::Replace(unreachable), "{applied:#?}");
    assert!(failed[0].1.contains("unreachable"), "{applied:#?}");
    assert_eq!(failed[1].0, Op::Replace(no_device), "{applied:#?}");
    assert!(
        failed[1].1.contains("no such device: nosuch0"),
        "{applied:#?}"
    );
    println!("expected failures: {:#?}", applied.failed);
    assert!(ip(&["route", "show"]).contains("blackhole 198.18.202.0/24"));

    // 7. A batch larger than one chunk: 5,000 /32s in, then out.
    let many: Vec<KernelRoute> = (0..5000u32)
        .map(|i| {
            let a = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(198, 19, 0, 0)) + i);
            bird(
                &format!("{a}/32"),
                Action::Unicast(vec![via("198.18.5.2", Some("d0"), false)]),
            )
        })
        .collect();
    let applied = fib
        .apply(many.iter().cloned().map(Op::Replace).collect())
        .await;
    assert!(
        applied.failed.is_empty() && applied.done == 5000,
        "{:?}",
        applied.failed.first()
    );
    let count = ip(&["-4", "route", "show", "proto", "bird"])
        .lines()
        .filter(|l| l.starts_with("198.19."))
        .count();
    assert_eq!(count, 5000);
    let applied = fib.apply(many.into_iter().map(Op::Delete).collect()).await;
    assert!(
        applied.failed.is_empty() && applied.done == 5000,
        "{:?}",
        applied.failed.first()
    );
    assert!(!ip(&["-4", "route", "show"]).contains("198.19."));

    // 8. Interface addresses.
    let addrs = fib.addresses().await.unwrap();
    for (name, prefix) in [
        ("d0", "198.18.5.1/24"),
        ("d0", "2001:db8:5::1/64"),
        ("tunl0", "198.18.6.1/32"),
    ] {
        assert!(
            addrs.contains(&(name.to_owned(), net(prefix))),
            "{name} {prefix} missing from {addrs:?}"
        );
    }

    // 9. Events: routes wren installed, a link coming and going, its address.
    expect_event(&mut events, "RouteAdded for the blackhole", |e| {
        matches!(e, KernelEvent::RouteAdded(r)
            if r.prefix == net("203.0.113.0/26") && r.protocol == PROTO_BIRD
                && r.action == Action::Blackhole)
    })
    .await;
    expect_event(
        &mut events,
        "RouteRemoved for 198.51.100.0/26",
        |e| matches!(e, KernelEvent::RouteRemoved(r) if r.prefix == net("198.51.100.0/26")),
    )
    .await;
    make_interface("e0", &[]);
    expect_event(
        &mut events,
        "LinkUp e0",
        |e| matches!(e, KernelEvent::LinkUp { name, .. } if name == "e0"),
    )
    .await;
    ip(&["addr", "add", "198.18.9.1/24", "dev", "e0"]);
    expect_event(&mut events, "AddressAdded e0", |e| {
        *e == KernelEvent::AddressAdded {
            name: "e0".to_owned(),
            prefix: net("198.18.9.1/24"),
        }
    })
    .await;
    ip(&["link", "set", "e0", "down"]);
    expect_event(
        &mut events,
        "LinkDown e0",
        |e| matches!(e, KernelEvent::LinkDown { name, .. } if name == "e0"),
    )
    .await;
    ip(&["addr", "del", "198.18.9.1/24", "dev", "e0"]);
    expect_event(&mut events, "AddressRemoved e0", |e| {
        *e == KernelEvent::AddressRemoved {
            name: "e0".to_owned(),
            prefix: net("198.18.9.1/24"),
        }
    })
    .await;
}
