//! Load and fan-out of the RIB, in process: `cargo bench --bench rib`.
//!
//! Scenarios (docs/benchmarks.md, section "RIB", records the figures):
//!
//! * **ingest-unique**: 10 eBGP peers (AS 65001–65010, local AS 64512) each announce 100,000
//!   IPv4 /24s, unique across peers, in UPDATEs of 500 prefixes: 1,000,000 paths, one per prefix.
//!   Every UPDATE carries its own attribute set (200 per peer, 2,000 in all, see
//!   [`ebgp_attrs`]), so consecutive UPDATEs never share attributes.
//! * **ingest-shared**: the same 10 peers announce the *same* 100,000 /24s: 1,000,000 paths,
//!   10 per prefix, so the decision process runs on every announcement after the first.
//! * **ingest-unique-diverse**, **ingest-shared-diverse**: the same with 2 prefixes per UPDATE,
//!   so 50,000 attribute sets per peer, 500,000 in all: one per two paths, about the diversity of
//!   a real full table (the 500-prefix packing above shares each set between 500 paths).
//!
//! Each ingest scenario runs twice: with no peer up (pure ingest: nothing to export) and with one
//! established eBGP "monitor" peer, so every change of best path is exported and packed into
//! UPDATEs for it (the outputs are counted and dropped inside the timed loop). The UPDATEs are
//! built before timing and fed round-robin (UPDATE 0 of every peer, then UPDATE 1, ...), as
//! peers sending at once would; only the `Rib::update` calls are timed. Heap bytes per path are
//! the bytes allocated and not freed (counted by `stats_alloc`) between just before the first
//! UPDATE and just after the last one, over the number of paths; the input UPDATEs exist before
//! and after, so they are not counted.
//!
//! * **fanout**: a route reflector with 1,000 iBGP route-reflector clients in one update group,
//!   all up before any route exists; one client then sends 10,000 /26s in 20 UPDATEs of 500. Timed
//!   from the first `Rib::update` call until every output is encoded once with
//!   `session::rib_task::encode_update` (as the RIB task does) and the encoded message has been
//!   queued to each member it goes to (a `Bytes` clone pushed on a per-peer `Vec`, standing for
//!   the connection's queue), and the queues are dropped again.
//! * **fanout-join**: the same reflector already holds the 10,000 routes when the other 999
//!   clients come up one after another (a reflector restart): each gets the table in its own dump,
//!   exported, packed and encoded for that peer alone, then End-of-RIB. Timed over the 999
//!   `Rib::peer_up` calls and their delivery, as above.
//!
//! Every run builds a fresh RIB; [`INGEST_RUNS`] / [`FANOUT_RUNS`] runs, the median is reported
//! with min–max. Peak RSS (`VmHWM` of /proc/self/status) is read at the end of each scenario; it
//! never goes down, so it is the peak of everything run so far.
//!
//! `cargo bench --bench rib -- shared` runs only the scenarios whose name contains `shared`
//! (`-- =ingest-shared` only the one so named); `WREN_BENCH_MONITOR=1` runs the ingest scenarios
//! only with the monitor peer up, `WREN_BENCH_MONITOR=0` only without (to count instructions of
//! one case, e.g. under callgrind with `--toggle-collect=wren::rib::Rib::update`);
//! `WREN_BENCH_SCALE=0.01` shrinks every scenario (prefixes per peer, routes and clients of the
//! fan-out) and `WREN_BENCH_RUNS=1` runs each once (for profiling under callgrind).
//! `WREN_BENCH_PER_UPDATE=100` packs the UPDATEs of `ingest-unique` and `ingest-shared` with 100
//! prefixes each instead of 500.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::System;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use thin_vec::thin_vec;
use wren::rib::{best, Global, Output, PeerConfig, PeerId, Rib, SessionInfo, Stats, Target};
use wren::session::rib_task::encode_update;
use wren::wire::{AsPath, Community, Ctx, Family, Nlri, Origin, PathAttributes, Update};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Our AS.
const LOCAL_AS: u32 = 64512;
/// Ingest peers.
const PEERS: usize = 10;
/// Prefixes each ingest peer announces.
const PER_PEER: usize = 100_000;
/// Prefixes per ingest UPDATE, unless `WREN_BENCH_PER_UPDATE` says otherwise.
const PER_UPDATE: usize = 500;
/// Prefixes per UPDATE of the `-diverse` ingest scenarios: one attribute set per 2 prefixes,
/// about what a real full table has.
const DIVERSE_PER_UPDATE: usize = 2;
/// Route-reflector clients in the fan-out.
const CLIENTS: usize = 1000;
/// Routes one client sends in the fan-out.
const FANOUT_ROUTES: usize = 10_000;
/// Prefixes per fan-out UPDATE (10,000 routes in 20 UPDATEs).
const FANOUT_PER_UPDATE: usize = 500;
/// Runs per ingest measurement; the median is reported.
const INGEST_RUNS: usize = 3;
/// Runs per fan-out measurement; the median is reported.
const FANOUT_RUNS: usize = 5;

/// Transit ASes the generated AS paths pass through.
const TRANSIT: [u32; 16] = [
    3356, 174, 1299, 2914, 6939, 6453, 6762, 3257, 1273, 701, 7018, 3491, 9002, 6461, 5511, 4637,
];

/// Workload sizes (smaller in the smoke run and under `WREN_BENCH_SCALE`).
#[derive(Clone, Copy)]
struct Size {
    per_peer: usize,
    clients: usize,
    fanout_routes: usize,
    ingest_runs: usize,
    fanout_runs: usize,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Heap bytes allocated and not yet freed, by the counting allocator.
fn live_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

/// A `kB` field of /proc/self/status, in bytes.
fn proc_status(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Median, min and max.
fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// SplitMix64, for deterministic variety.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn global() -> Global {
    let id = Ipv4Addr::new(192, 0, 2, 1);
    Global {
        asn: LOCAL_AS,
        router_id: id,
        cluster_id: id,
        best: best::Options::default(),
    }
}

fn peer_config(name: String, address: Ipv4Addr, remote_asn: u32, rr_client: bool) -> PeerConfig {
    PeerConfig {
        name,
        address: IpAddr::V4(address),
        remote_asn,
        local_asn: LOCAL_AS,
        rr_client,
        next_hop_self: false,
        next_hop_keep: false,
        allow_local_as: 0,
        max_prefixes: None,
    }
}

fn session(router_id: Ipv4Addr) -> SessionInfo {
    SessionInfo {
        router_id,
        families: vec![Family::IPV4_UNICAST],
        four_octet_as: true,
        self_v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
        self_v6: None,
        graceful_restart: false,
        restart_families: Vec::new(),
        add_path_tx: Vec::new(),
    }
}

/// Ingest peer `p`'s address (also its router id and next hop).
fn ingest_addr(p: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 1 + p as u8)
}

/// The attribute set of the UPDATE of peer `p` (0-based) for prefix block `block`:
///
/// * AS_PATH: the peer's AS, 0–3 transit ASes from [`TRANSIT`] (chosen by a hash of peer and
///   block, so the 10 peers' paths to one block differ in length and content), the block's
///   origin AS (131072 + block, the same from every peer), which one path in eight prepends
///   once more;
/// * ORIGIN: IGP, INCOMPLETE for one block in ten;
/// * MED on half the sets (0–199);
/// * 0–3 communities `peer-AS:n` from 8 values;
/// * NEXT_HOP: the peer's address.
///
/// The origin AS makes every block's set distinct: one attribute set per UPDATE.
fn ebgp_attrs(p: usize, block: usize) -> PathAttributes {
    let h = mix(((p as u64) << 32) | block as u64);
    let peer_as = 65001 + p as u32;
    let origin_as = 131_072 + block as u32;
    let mut path = vec![peer_as];
    for k in 0..(h % 4) {
        path.push(TRANSIT[((h >> (8 + 4 * k)) % 16) as usize]);
    }
    path.push(origin_as);
    if (h >> 24) % 8 == 0 {
        path.push(origin_as);
    }
    let communities = (0..(h >> 27) % 4)
        .map(|k| Community::new(peer_as as u16, 100 + ((h >> (30 + 3 * k)) % 8) as u16 * 10))
        .collect();
    PathAttributes {
        origin: Some(if block % 10 == 9 {
            Origin::Incomplete
        } else {
            Origin::Igp
        }),
        as_path: Some(AsPath::from_sequence(path)),
        next_hop: Some(ingest_addr(p)),
        med: ((h >> 40) % 2 == 1).then_some(((h >> 41) % 200) as u32),
        communities,
        ..PathAttributes::default()
    }
}

/// The `n`-th /24 from 1.0.0.0 up.
fn slash24(n: usize) -> Nlri {
    assert!(n < 1 << 23, "prefix index {n} out of range");
    let a = Ipv4Addr::from(0x0100_0000 + ((n as u32) << 8));
    Nlri::new(IpNet::V4(Ipv4Net::new(a, 24).unwrap()))
}

/// Every ingest peer's UPDATEs, `[peer][i]`. With `shared` every peer announces the same
/// prefixes (block `i` is the same for all peers); otherwise each peer has its own.
fn ingest_updates(size: Size, shared: bool, per_update: usize) -> Vec<Vec<Update>> {
    let n = size.per_peer / per_update;
    (0..PEERS)
        .map(|p| {
            (0..n)
                .map(|i| {
                    let block = if shared { i } else { p * n + i };
                    let first = block * per_update;
                    Update {
                        attrs: ebgp_attrs(p, block),
                        nlri: (first..first + per_update).map(slash24).collect(),
                        ..Update::default()
                    }
                })
                .collect()
        })
        .collect()
}

struct Ingest {
    secs: f64,
    live: i64,
    stats: Stats,
    outputs: usize,
    out_prefixes: usize,
}

/// Loads `updates` into a fresh RIB, with or without an established monitor peer.
fn ingest_run(updates: &[Vec<Update>], monitor: bool) -> Ingest {
    let mut rib = Rib::new(global());
    let ids: Vec<PeerId> = (0..updates.len())
        .map(|p| {
            let cfg = peer_config(format!("peer{p}"), ingest_addr(p), 65001 + p as u32, false);
            rib.add_peer(cfg)
        })
        .collect();
    if monitor {
        let addr = Ipv4Addr::new(203, 0, 113, 1);
        let m = rib.add_peer(peer_config("monitor".into(), addr, 65100, false));
        let out = rib.peer_up(m, session(addr));
        assert!(out.iter().all(|o| o.update.as_end_of_rib().is_some()));
    }
    let rounds = updates.first().map_or(0, Vec::len);
    let (mut outputs, mut out_prefixes) = (0, 0);
    let before = live_bytes();
    let t = Instant::now();
    for i in 0..rounds {
        for (p, ups) in updates.iter().enumerate() {
            let out = rib.update(ids[p], &ups[i]);
            outputs += out.len();
            out_prefixes += out.iter().map(|o| o.update.nlri.len()).sum::<usize>();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let live = live_bytes() - before;
    let stats = rib.stats();
    Ingest {
        secs,
        live,
        stats,
        outputs,
        out_prefixes,
    }
}

/// Fan-out client `i`'s address (also its router id).
fn client_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a64_0000 + i as u32 + 1)
}

/// The fan-out source's UPDATEs: `routes` /26s under 10.0.0.0/8, `FANOUT_PER_UPDATE` per UPDATE,
/// each UPDATE with its own community (so 20 attribute sets), empty AS_PATH, LOCAL_PREF 100 and
/// the client's address as next hop, as a Calico node announces its blocks.
fn fanout_updates(routes: usize) -> Vec<Update> {
    (0..routes.div_ceil(FANOUT_PER_UPDATE))
        .map(|u| {
            let first = u * FANOUT_PER_UPDATE;
            let nlri = (first..routes.min(first + FANOUT_PER_UPDATE))
                .map(|n| {
                    let a = Ipv4Addr::from(0x0a00_0000 + ((n as u32) << 6));
                    Nlri::new(IpNet::V4(Ipv4Net::new(a, 26).unwrap()))
                })
                .collect();
            Update {
                attrs: PathAttributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::default()),
                    next_hop: Some(client_addr(0)),
                    local_pref: Some(100),
                    communities: thin_vec![Community::new(64512, u as u16)],
                    ..PathAttributes::default()
                },
                nlri,
                ..Update::default()
            }
        })
        .collect()
}

#[derive(Default)]
struct Fanout {
    secs: f64,
    outputs: usize,
    messages: usize,
    octets: usize,
    deliveries: usize,
}

/// A fan-out scenario: clients, the source's UPDATEs → the figures.
type FanoutScenario = fn(usize, &[Update]) -> Fanout;

/// Encodes `o` once and queues it to each receiver, as `RibTask::deliver` does.
fn deliver(rib: &Rib, o: Output, queues: &mut [Vec<Bytes>], f: &mut Fanout) {
    let prefixes = o.update.nlri.len();
    f.outputs += 1;
    let (ctx, receivers): (Ctx, Vec<PeerId>) = match o.target {
        Target::Peer(p) => {
            let Some(s) = rib.session(p) else { return };
            let ctx = Ctx {
                four_octet_as: s.four_octet_as,
                ..Ctx::default()
            };
            (ctx, vec![p])
        }
        Target::Group { group, except } => {
            let Some(key) = rib.group_key(group) else {
                return;
            };
            let ctx = Ctx {
                four_octet_as: key.four_octet_as,
                ..Ctx::default()
            };
            let members = rib.group_members(group);
            let r = members
                .iter()
                .copied()
                .filter(|p| !except.contains(&Some(*p)))
                .collect();
            (ctx, r)
        }
    };
    let encoded = encode_update(o.update, &ctx);
    f.messages += encoded.len();
    f.octets += encoded.iter().map(Bytes::len).sum::<usize>();
    for p in receivers {
        let q = &mut queues[p as usize];
        for b in &encoded {
            q.push(b.clone());
        }
        f.deliveries += prefixes;
    }
}

/// One client of `clients` sends `updates` to a reflector whose clients are all up.
fn fanout_run(clients: usize, updates: &[Update]) -> Fanout {
    let mut rib = Rib::new(global());
    let ids: Vec<PeerId> = (0..clients)
        .map(|i| {
            let cfg = peer_config(format!("client{i}"), client_addr(i), LOCAL_AS, true);
            rib.add_peer(cfg)
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let out = rib.peer_up(*id, session(client_addr(i)));
        assert!(out.iter().all(|o| o.update.as_end_of_rib().is_some()));
    }
    assert_eq!(
        rib.stats().groups,
        1,
        "the clients must share one update group"
    );
    let mut queues: Vec<Vec<Bytes>> = vec![Vec::new(); clients + 1];
    let mut f = Fanout::default();
    let t = Instant::now();
    for u in updates {
        for o in rib.update(ids[0], u) {
            deliver(&rib, o, &mut queues, &mut f);
        }
    }
    drop(queues);
    f.secs = t.elapsed().as_secs_f64();
    f
}

/// The reflector already holds `updates` from client 0 when the other clients come up one by one
/// (a reflector restart, or every client reconnecting): each gets the table in its own dump.
fn fanout_join_run(clients: usize, updates: &[Update]) -> Fanout {
    let mut rib = Rib::new(global());
    let ids: Vec<PeerId> = (0..clients)
        .map(|i| {
            let cfg = peer_config(format!("client{i}"), client_addr(i), LOCAL_AS, true);
            rib.add_peer(cfg)
        })
        .collect();
    let _ = rib.peer_up(ids[0], session(client_addr(0)));
    for u in updates {
        let _ = rib.update(ids[0], u);
    }
    let mut queues: Vec<Vec<Bytes>> = vec![Vec::new(); clients + 1];
    let mut f = Fanout::default();
    let t = Instant::now();
    for (i, id) in ids.iter().enumerate().skip(1) {
        for o in rib.peer_up(*id, session(client_addr(i))) {
            deliver(&rib, o, &mut queues, &mut f);
        }
    }
    drop(queues);
    f.secs = t.elapsed().as_secs_f64();
    assert_eq!(
        rib.stats().groups,
        1,
        "the clients must share one update group"
    );
    f
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters scenarios by name. Without
    // `--bench` (as when `cargo test --all-targets` runs this harness-less target) run every
    // scenario once at a small size, as a check that it works.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |s: &str| {
        filter.as_deref().is_none_or(|f| match f.strip_prefix('=') {
            Some(exact) => s == exact,
            None => s.contains(f),
        })
    };
    let monitor_modes: Vec<bool> = match env::<u8>("WREN_BENCH_MONITOR") {
        Some(m) => vec![m != 0],
        None => vec![false, true],
    };
    let scale: f64 = if bench_mode {
        env("WREN_BENCH_SCALE").unwrap_or(1.0)
    } else {
        0.01
    };
    let scaled = |n: usize| ((n as f64 * scale) as usize).max(1);
    let runs = |n: usize| {
        if bench_mode {
            env("WREN_BENCH_RUNS").unwrap_or(n).max(1)
        } else {
            1
        }
    };
    let per_update: usize = env("WREN_BENCH_PER_UPDATE").unwrap_or(PER_UPDATE).max(1);
    let size = Size {
        // A multiple of both packings.
        per_peer: scaled(PER_PEER).max(per_update * DIVERSE_PER_UPDATE)
            / (per_update * DIVERSE_PER_UPDATE)
            * (per_update * DIVERSE_PER_UPDATE),
        clients: scaled(CLIENTS).max(2),
        fanout_routes: scaled(FANOUT_ROUTES),
        ingest_runs: runs(INGEST_RUNS),
        fanout_runs: runs(FANOUT_RUNS),
    };
    if !bench_mode {
        println!("smoke run only (no --bench flag); `cargo bench --bench rib` measures");
    }

    println!(
        "| scenario | paths | UPDATEs | time (median) | min–max of {} runs | paths/s | \
         heap bytes/path | prefixes / paths / attribute sets in the RIB | \
         output to the monitor (UPDATEs / prefixes) | peak RSS |",
        size.ingest_runs
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ingest = [
        ("ingest-unique", false, per_update),
        ("ingest-shared", true, per_update),
        ("ingest-unique-diverse", false, DIVERSE_PER_UPDATE),
        ("ingest-shared-diverse", true, DIVERSE_PER_UPDATE),
    ];
    for (name, shared, per_update) in ingest {
        if !wanted(name) {
            continue;
        }
        let updates = ingest_updates(size, shared, per_update);
        let n_updates: usize = updates.iter().map(Vec::len).sum();
        let paths = n_updates * per_update;
        for &monitor in &monitor_modes {
            let results: Vec<Ingest> = (0..size.ingest_runs)
                .map(|_| ingest_run(&updates, monitor))
                .collect();
            let r = &results[0];
            let prefixes = if shared { size.per_peer } else { paths };
            assert_eq!(r.stats.prefixes, prefixes, "{name}");
            assert_eq!(r.stats.paths, paths, "{name}");
            if monitor {
                assert!(r.out_prefixes >= prefixes, "{name}: {}", r.out_prefixes);
            } else {
                assert_eq!(r.outputs, 0, "{name}");
            }
            for other in &results[1..] {
                assert_eq!(
                    (other.outputs, other.out_prefixes),
                    (r.outputs, r.out_prefixes)
                );
            }
            let (med, min, max) = summary(results.iter().map(|r| r.secs).collect());
            let live = summary(results.iter().map(|r| r.live as f64).collect()).0;
            let label = if monitor {
                format!("{name}, monitor peer up")
            } else {
                format!("{name}, no peer up")
            };
            println!(
                "| {label} | {paths} | {n_updates} | {:.0} ms | {:.0}–{:.0} ms | {:.2} M | \
                 {:.1} | {} / {} / {} | {} | {} |",
                med * 1e3,
                min * 1e3,
                max * 1e3,
                paths as f64 / med / 1e6,
                live / paths as f64,
                r.stats.prefixes,
                r.stats.paths,
                r.stats.attr_sets,
                if monitor {
                    format!("{} / {}", r.outputs, r.out_prefixes)
                } else {
                    "—".into()
                },
                proc_status("VmHWM:").map_or_else(|| "?".into(), mib),
            );
        }
    }

    let scenarios: [(&str, FanoutScenario); 2] = [
        ("fanout (route reflector, one update group)", fanout_run),
        (
            "fanout-join (clients come up to a loaded table)",
            fanout_join_run,
        ),
    ];
    if !scenarios.iter().any(|(name, _)| wanted(name)) {
        return;
    }
    println!();
    println!(
        "| scenario | clients | routes (UPDATEs in) | time (median) | min–max of {} runs | \
         outputs | UPDATEs encoded | octets encoded | routes × clients delivered | \
         routes × clients per second | peak RSS |",
        size.fanout_runs
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let updates = fanout_updates(size.fanout_routes);
    for (name, run) in scenarios {
        if !wanted(name) {
            continue;
        }
        let results: Vec<Fanout> = (0..size.fanout_runs)
            .map(|_| run(size.clients, &updates))
            .collect();
        let r = &results[0];
        assert_eq!(
            r.deliveries,
            size.fanout_routes * (size.clients - 1),
            "{name}: every client but the source gets every route"
        );
        let (med, min, max) = summary(results.iter().map(|r| r.secs).collect());
        println!(
            "| {name} | {} | {} ({}) | {:.2} ms | {:.2}–{:.2} ms | {} | {} | {} | {} | {:.0} M | \
             {} |",
            size.clients,
            size.fanout_routes,
            updates.len(),
            med * 1e3,
            min * 1e3,
            max * 1e3,
            r.outputs,
            r.messages,
            r.octets,
            r.deliveries,
            r.deliveries as f64 / med / 1e6,
            proc_status("VmHWM:").map_or_else(|| "?".into(), mib),
        );
    }
}
