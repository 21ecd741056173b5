//! Throughput and allocations of the wire codec on full-size UPDATEs: `cargo bench --bench wire`.
//!
//! Two messages, both built with the encoder and checked to decode back to themselves:
//!
//! * **ipv4**: 500 IPv4 /24s in the NLRI field with ORIGIN, a 4-AS AS_PATH, NEXT_HOP, MED,
//!   LOCAL_PREF and two communities (an iBGP session, so LOCAL_PREF is kept): 2000 octets of NLRI.
//! * **ipv6**: as many IPv6 /48s as fit in 4096 octets in MP_REACH_NLRI, same attributes.
//!
//! For each, `decode`, `encode` into a reused buffer (what a session writer does) and
//! `encode_to_vec` (a fresh buffer each time) are timed: each run repeats the operation for at
//! least [`RUN_SECS`] seconds, [`RUNS`] runs, and the median run is reported as ns per message, ns
//! per prefix and prefixes per second. Allocations per operation are counted in a separate pass
//! through `stats_alloc` (a counting wrapper around the system allocator, so the timed runs pay only
//! an atomic increment per allocation). The output is a Markdown table; docs/benchmarks.md records
//! the figures.
//!
//! `cargo bench --bench wire -- decode` runs only the operations whose name contains `decode`;
//! `WREN_BENCH_SECS=0.1` shortens each run (for profiling under callgrind or perf).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::System;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use thin_vec::thin_vec;
use wren::wire::{
    decode, encode, encode_to_vec, AsPath, Community, Ctx, Family, Message, MpReach, NextHop, Nlri,
    Origin, PathAttributes, Update, MAX_MESSAGE_LEN,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Minimum length of one timed run, in seconds, unless `WREN_BENCH_SECS` says otherwise.
const RUN_SECS: f64 = 1.0;
/// Timed runs per measurement; the median is reported.
const RUNS: usize = 5;
/// Operations in the allocation-counting pass.
const ALLOC_ITERS: u64 = 1000;

fn attrs(next_hop: Option<Ipv4Addr>) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence([64512, 64513, 4_200_000_001, 65001])),
        next_hop,
        med: Some(100),
        local_pref: Some(200),
        communities: thin_vec![Community::new(64512, 100), Community::new(64512, 200)],
        ..PathAttributes::default()
    }
}

/// 500 prefixes: 490 /24s from 10.0.0.0 up, and ten /22s–/32s for variety.
fn ipv4_update() -> Update {
    let mut nlri: Vec<Nlri> = (0..490u32)
        .map(|i| {
            let a = Ipv4Addr::from(0x0a00_0000 + (i << 8));
            Nlri::new(IpNet::V4(Ipv4Net::new(a, 24).unwrap()))
        })
        .collect();
    for (i, len) in [22u8, 23, 25, 26, 27, 28, 29, 30, 31, 32]
        .iter()
        .enumerate()
    {
        let a = Ipv4Addr::from(0xc633_0000 + ((i as u32) << 10));
        nlri.push(Nlri::new(IpNet::V4(Ipv4Net::new(a, *len).unwrap())));
    }
    Update {
        attrs: attrs(Some(Ipv4Addr::new(192, 0, 2, 1))),
        nlri,
        ..Update::default()
    }
}

/// `count` IPv6 /48s under 2001:db8::/32 and beyond.
fn ipv6_update(count: usize) -> Update {
    let nlri = (0..count as u128)
        .map(|i| {
            let a = Ipv6Addr::from((0x2001_0db8_u128 << 96) + (i << 80));
            Nlri::new(IpNet::V6(Ipv6Net::new(a, 48).unwrap()))
        })
        .collect();
    Update {
        attrs: attrs(None),
        mp_reach: Some(MpReach {
            family: Family::IPV6_UNICAST,
            next_hop: NextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            nlri,
        }),
        ..Update::default()
    }
}

/// The largest IPv6 UPDATE of /48s that fits in a 4096-octet message.
fn largest_ipv6_update(ctx: &Ctx) -> Update {
    let empty = encode_to_vec(&Message::Update(ipv6_update(0)), ctx).unwrap();
    // Each /48 takes 7 octets; the MP_REACH_NLRI length field grows by one octet once the value
    // passes 255 octets, hence the final check.
    let mut count = (MAX_MESSAGE_LEN - empty.len() - 1) / 7;
    while encode_to_vec(&Message::Update(ipv6_update(count + 1)), ctx).is_ok() {
        count += 1;
    }
    ipv6_update(count)
}

/// Nanoseconds per call of `op`: the median of [`RUNS`] runs of at least [`RUN_SECS`] each.
fn time_per_op(mut op: impl FnMut()) -> (f64, f64, f64) {
    // Calibrate: double the batch until it takes 50 ms, then size runs from it.
    let mut n: u64 = 1;
    let per_op = loop {
        let t = Instant::now();
        for _ in 0..n {
            op();
        }
        let e = t.elapsed();
        if e >= Duration::from_millis(50) {
            break e.as_secs_f64() / n as f64;
        }
        n *= 2;
    };
    let secs = std::env::var("WREN_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(RUN_SECS);
    let iters = ((secs / per_op).ceil() as u64).max(1);
    let mut runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                op();
            }
            t.elapsed().as_secs_f64() * 1e9 / iters as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    (runs[RUNS / 2], runs[0], runs[RUNS - 1])
}

/// Allocations and bytes allocated per call of `op`.
fn allocs_per_op(mut op: impl FnMut()) -> (f64, f64) {
    op(); // warm up reused buffers
    let region = Region::new(GLOBAL);
    for _ in 0..ALLOC_ITERS {
        op();
    }
    let s = region.change();
    (
        (s.allocations + s.reallocations) as f64 / ALLOC_ITERS as f64,
        s.bytes_allocated as f64 / ALLOC_ITERS as f64,
    )
}

/// Operation name, (median, min, max) ns per call, (allocations, bytes) per call.
type Row = (&'static str, (f64, f64, f64), (f64, f64));

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters operations by name. Without
    // `--bench` (as when `cargo test --all-targets` runs this harness-less target, which it does
    // despite `test = false`), only check that the messages round-trip and each operation runs.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |op: &str| filter.as_deref().is_none_or(|f| op.contains(f));
    let ctx = Ctx {
        ibgp: true,
        ..Ctx::default()
    };
    let cases = [
        ("ipv4 /24s, NLRI field", ipv4_update()),
        ("ipv6 /48s, MP_REACH_NLRI", largest_ipv6_update(&ctx)),
    ];

    if bench_mode {
        println!(
            "| message | prefixes | octets | operation | ns/message (median) | \
             min–max of {RUNS} runs | ns/prefix | prefixes/s | allocations/op | \
             bytes allocated/op |"
        );
        println!("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|");
    } else {
        println!("smoke run only (no --bench flag); `cargo bench --bench wire` measures");
    }
    for (name, update) in cases {
        let prefixes = update.nlri.len() + update.mp_reach.as_ref().map_or(0, |m| m.nlri.len());
        let msg = Message::Update(update);
        let bytes = encode_to_vec(&msg, &ctx).unwrap();
        let d = decode(&bytes, &ctx).unwrap();
        assert!(d.faults.is_empty(), "{name}: {:?}", d.faults);
        assert_eq!(d.message, msg, "{name} does not round-trip");
        assert!(
            bytes.len() <= MAX_MESSAGE_LEN && prefixes >= 500,
            "{name}: {prefixes} prefixes"
        );

        let mut out = BytesMut::with_capacity(MAX_MESSAGE_LEN);
        if !bench_mode {
            encode(&msg, &ctx, &mut out).unwrap();
            assert_eq!(
                &out[..],
                &bytes[..],
                "{name}: encode differs from encode_to_vec"
            );
            println!(
                "{name}: {prefixes} prefixes, {} octets, round trip ok",
                bytes.len()
            );
            continue;
        }
        let decode_op = || {
            black_box(decode(black_box(&bytes), &ctx).unwrap());
        };
        let mut encode_op = || {
            out.clear();
            encode(black_box(&msg), &ctx, &mut out).unwrap();
            black_box(&out);
        };
        let to_vec_op = || {
            black_box(encode_to_vec(black_box(&msg), &ctx).unwrap());
        };
        let mut rows: Vec<Row> = Vec::new();
        if wanted("decode") {
            rows.push(("decode", time_per_op(decode_op), allocs_per_op(decode_op)));
        }
        if wanted("encode (reused buffer)") {
            rows.push((
                "encode (reused buffer)",
                time_per_op(&mut encode_op),
                allocs_per_op(&mut encode_op),
            ));
        }
        if wanted("encode_to_vec") {
            rows.push((
                "encode_to_vec",
                time_per_op(to_vec_op),
                allocs_per_op(to_vec_op),
            ));
        }
        for (op, (median, min, max), (allocs, alloc_bytes)) in rows {
            let per_prefix = median / prefixes as f64;
            println!(
                "| {name} | {prefixes} | {} | {op} | {median:.0} | {min:.0}–{max:.0} | \
                 {per_prefix:.2} | {:.1} M | {allocs:.1} | {alloc_bytes:.0} |",
                bytes.len(),
                1e3 / per_prefix,
            );
        }
    }
}
