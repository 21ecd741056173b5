//! Allocation bound of the wire decoder: decoding any message of `n` octets allocates at most
//! [`BASE_BYTES`] + [`BYTES_PER_OCTET`] × `n` bytes in total (every `alloc` and `realloc` counted at
//! its full requested size, as `dhat` does) and at most [`BASE_BLOCKS`] + `n` / [`OCTETS_PER_BLOCK`]
//! allocations, whatever the input and the session.
//!
//! The bound is what `wren::wire`'s docs promise ("allocation is bounded by the input length"), and
//! what keeps a peer from making wren allocate far more than it sent. The constants come from
//! measurement, with a margin of about 1.25× on bytes and 1.6× on allocations, on the worst inputs
//! found (built in `worst_cases`; random and mutated messages stay far below them):
//!
//! | input                                                    | octets | bytes allocated | per octet |
//! |----------------------------------------------------------|-------:|----------------:|----------:|
//! | NLRI field of 1-octet /0 prefixes, no attributes (withdraw) | 65535 |       5 044 684 |      77.0 |
//! | MP_UNREACH_NLRI of /0 prefixes                           |  65535 |       3 930 360 |      60.0 |
//! | NLRI field of /0 prefixes with the mandatory attributes  |   4096 |         198 940 |      48.6 |
//! | AS_PATH of one-AS segments with AS4_PATH (2-octet session) |  4096 |         128 556 |      31.4 |
//! | every unknown optional transitive type, empty            |    761 |          20 544 |      27.0 |
//! | repeated ATOMIC_AGGREGATE (one fault each)               |   4094 |          65 472 |      16.0 |
//!
//! Allocations: at most 0.30 per octet (the 2-octet AS_PATH case: one `Vec` per segment).
//!
//! Where the bytes go: an `Nlri` is 28 bytes in memory for as little as 1 octet on the wire; the
//! prefix `Vec` is reserved for one prefix per 4 octets (7 for IPv6), so 1-octet prefixes make it
//! grow twice (reserve + 2 reallocations ≈ 7 × 28 bytes per 4 octets); treat-as-withdraw then
//! appends the whole list to the withdrawn `Vec`, another copy. An exact count before reserving and
//! a move instead of `append` into an empty list would bring the worst case to about 28 bytes per
//! octet (see docs/benchmarks.md).
//!
//! `dhat` counts through a global allocator and allows one profiler per process, so this file is
//! its own test binary with a single test that runs every case in turn. Run it with
//! `cargo test --test wire_alloc -- --nocapture` to see the worst ratios.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "wire_gen.rs"]
mod wire_gen;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use wren::wire::{decode, Ctx};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Fixed allocation allowance per decode, in bytes.
const BASE_BYTES: u64 = 512;
/// Allowance per input octet, in bytes.
const BYTES_PER_OCTET: u64 = 96;
/// Fixed allowance per decode, in allocations.
const BASE_BLOCKS: u64 = 16;
/// One allocation allowed per this many input octets.
const OCTETS_PER_BLOCK: u64 = 2;

/// Random valid, mutated and random inputs drawn from the shared generator.
const RANDOM_CASES: u32 = 3000;

#[derive(Default)]
struct Worst {
    bytes_ratio: f64,
    bytes_case: String,
    blocks_ratio: f64,
    blocks_case: String,
    failures: Vec<String>,
    cases: usize,
}

/// Decodes `bytes` under `ctx` and records what the decode allocated.
fn measure(name: &str, bytes: &[u8], ctx: &Ctx, worst: &mut Worst) -> (u64, u64) {
    let n = bytes.len() as u64;
    let before = dhat::HeapStats::get();
    let result = decode(bytes, ctx);
    let after = dhat::HeapStats::get();
    drop(std::hint::black_box(result));
    let total = after.total_bytes - before.total_bytes;
    let blocks = after.total_blocks - before.total_blocks;
    worst.cases += 1;
    let bytes_ratio = total as f64 / n.max(1) as f64;
    if bytes_ratio > worst.bytes_ratio {
        worst.bytes_ratio = bytes_ratio;
        worst.bytes_case = format!("{name}: {total} bytes for {n} octets");
    }
    let blocks_ratio = blocks as f64 / n.max(1) as f64;
    if blocks_ratio > worst.blocks_ratio {
        worst.blocks_ratio = blocks_ratio;
        worst.blocks_case = format!("{name}: {blocks} allocations for {n} octets");
    }
    if total > BASE_BYTES + BYTES_PER_OCTET * n || blocks > BASE_BLOCKS + n / OCTETS_PER_BLOCK {
        worst.failures.push(format!(
            "{name}: {total} bytes in {blocks} allocations for {n} octets: {}",
            bytes
                .iter()
                .take(64)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
    }
    (total, blocks)
}

/// A framed message of `kind` with `body`.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    v.push(kind);
    v.extend_from_slice(body);
    v
}

/// An UPDATE from its three parts.
fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

/// An attribute with a 1- or 2-octet length as needed.
fn attr(flags: u8, t: u8, value: &[u8]) -> Vec<u8> {
    if value.len() > 255 {
        let mut v = vec![flags | 0x10, t];
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        v
    } else {
        let mut v = vec![flags, t, value.len() as u8];
        v.extend_from_slice(value);
        v
    }
}

const MANDATORY: [u8; 14] = [
    0x40, 1, 1, 0, // ORIGIN IGP
    0x40, 2, 0, // empty AS_PATH
    0x40, 3, 4, 192, 0, 2, 1, // NEXT_HOP
];

/// Hand-built inputs that maximise allocation per octet: the shortest encodings of the things
/// the decoder stores in the largest structures.
fn worst_cases() -> Vec<(String, Vec<u8>, Ctx)> {
    let plain = Ctx::default();
    let two = Ctx {
        four_octet_as: false,
        ..Ctx::default()
    };
    let ibgp = Ctx {
        ibgp: true,
        ..Ctx::default()
    };
    let all_ap = Ctx {
        add_path_rx: wire_gen::FAMILIES.to_vec(),
        add_path_tx: wire_gen::FAMILIES.to_vec(),
        ..Ctx::default()
    };
    let ext = Ctx {
        extended_message: true,
        ..Ctx::default()
    };
    let mut cases: Vec<(String, Vec<u8>, Ctx)> = Vec::new();
    for (max, ctx_name, base) in [(4096usize, "", &plain), (65535, " (extended)", &ext)] {
        let room = max - 23;
        // 1-octet /0 prefixes in the NLRI field, with and without the mandatory attributes
        // (without them the UPDATE is treated as withdraw, which moves every prefix).
        let zeros = vec![0u8; room - MANDATORY.len()];
        cases.push((
            format!("NLRI field of /0 prefixes{ctx_name}"),
            update(&[], &MANDATORY, &zeros),
            base.clone(),
        ));
        cases.push((
            format!("NLRI field of /0 prefixes, no attributes{ctx_name}"),
            update(&[], &[], &vec![0u8; room]),
            base.clone(),
        ));
        cases.push((
            format!("withdrawn field of /0 prefixes{ctx_name}"),
            update(&vec![0u8; room], &[], &[]),
            base.clone(),
        ));
        // MP_REACH / MP_UNREACH IPv6 with /0 prefixes; the reach one with a broken ORIGIN so that
        // treat-as-withdraw moves them into MP_UNREACH.
        let mut reach = vec![0, 2, 1, 16];
        reach.extend_from_slice(&[0x20; 16]);
        reach.push(0);
        let fixed = 4 + 3 + 4 + 4 + reach.len() + 2;
        reach.extend(std::iter::repeat_n(0u8, room - fixed));
        let attrs = [&[0x40, 1, 1, 9][..], &attr(0x80, 14, &reach)].concat();
        cases.push((
            format!("MP_REACH of /0 prefixes, treat-as-withdraw{ctx_name}"),
            update(&[], &attrs, &[]),
            base.clone(),
        ));
        let mut unreach = vec![0, 2, 1];
        unreach.extend(std::iter::repeat_n(0u8, room - 4 - 3));
        cases.push((
            format!("MP_UNREACH of /0 prefixes{ctx_name}"),
            update(&[], &attr(0x80, 15, &unreach), &[]),
            base.clone(),
        ));
        // Repeated zero-length attributes: one fault each.
        let dups: Vec<u8> = std::iter::repeat_n([0x40u8, 6, 0], room / 3)
            .flatten()
            .collect();
        cases.push((
            format!("repeated ATOMIC_AGGREGATE (one fault each){ctx_name}"),
            update(&[], &dups, &[]),
            base.clone(),
        ));
        // Every unknown optional transitive type once, empty.
        let unknown: Vec<u8> = (0..=255u8)
            .filter(|t| !wire_gen::KNOWN_TYPES.contains(t))
            .flat_map(|t| [0xc0, t, 0])
            .collect();
        cases.push((
            format!("every unknown transitive type, empty{ctx_name}"),
            update(&[], &[&MANDATORY[..], &unknown].concat(), &[24, 10, 0, 0]),
            base.clone(),
        ));
    }
    // AS_PATH made of one-AS segments, on 2- and 4-octet sessions, with an AS4_PATH of the same
    // shape on the 2-octet one (merged on receipt).
    for (ctx_name, ctx, width) in [("2-octet", &two, 2usize), ("4-octet", &plain, 4)] {
        let seg = 2 + width;
        // Room left after the header, ORIGIN, NEXT_HOP, the NLRI and the attribute headers; on
        // the 2-octet session each AS takes 4 octets in AS_PATH and 6 in AS4_PATH.
        let room = 4096 - 23 - 4 - 7 - 4 - 8;
        let count = if width == 2 {
            room / (seg + 6)
        } else {
            room / seg
        };
        let mut path = Vec::new();
        for i in 0..count {
            path.extend_from_slice(&[2 - (i % 2) as u8, 1]);
            path.extend_from_slice(&vec![0, 0, 0xfc, 1][4 - width..]);
        }
        let mut attrs = vec![0x40, 1, 1, 0];
        attrs.extend(attr(0x40, 2, &path));
        attrs.extend_from_slice(&MANDATORY[7..]);
        if width == 2 {
            let mut path4 = Vec::new();
            for i in 0..count {
                path4.extend_from_slice(&[2 - (i % 2) as u8, 1, 0xfa, 0x56, 0xea, 1]);
            }
            attrs.extend(attr(0xc0, 17, &path4));
        }
        cases.push((
            format!("AS_PATH of one-AS segments, {ctx_name}"),
            update(&[], &attrs, &[24, 10, 0, 0]),
            ctx.clone(),
        ));
    }
    // CLUSTER_LIST and COMMUNITIES filling the message.
    let big = vec![1u8; 4096 - 23 - MANDATORY.len() - 4 - 4 - 4];
    for (name, t, flags) in [("COMMUNITIES", 8u8, 0xc0u8), ("CLUSTER_LIST", 10, 0x80)] {
        let attrs = [&MANDATORY[..], &attr(flags, t, &big[..big.len() / 4 * 4])].concat();
        cases.push((
            format!("{name} filling the message"),
            update(&[], &attrs, &[24, 10, 0, 0]),
            ibgp.clone(),
        ));
    }
    // ADD-PATH prefixes: path id and /0.
    let ap: Vec<u8> = std::iter::repeat_n([0u8, 0, 0, 1, 0], (4096 - 23) / 5)
        .flatten()
        .collect();
    cases.push((
        "ADD-PATH withdrawn /0 prefixes".into(),
        update(&ap, &[], &[]),
        all_ap,
    ));
    // Errors carrying the attribute as NOTIFICATION data.
    let mut bad_mp = vec![0, 2, 1, 16];
    bad_mp.extend_from_slice(&[0x20; 16]);
    bad_mp.push(0);
    bad_mp.extend(std::iter::repeat_n(200u8, 4000));
    cases.push((
        "malformed MP_REACH (copied into the NOTIFICATION)".into(),
        update(&[], &attr(0x80, 14, &bad_mp), &[]),
        plain.clone(),
    ));
    cases.push((
        "unrecognized well-known attribute (copied)".into(),
        update(&[], &attr(0x40, 99, &[7; 4000]), &[]),
        plain.clone(),
    ));
    cases.push((
        "NOTIFICATION with data".into(),
        message(3, &[6, 2, 0].repeat(1300)),
        plain,
    ));
    cases
}

#[test]
fn decoding_any_message_allocates_at_most_a_fixed_multiple_of_its_length() {
    // Inputs are built before the profiler starts counting each decode; only the decode itself is
    // measured (the difference of the running totals around it).
    let fixed = worst_cases();
    let mut runner = TestRunner::deterministic();
    let strategy = wire_gen::hostile_input();
    let valid = wire_gen::ctx_and_message();

    let _profiler = dhat::Profiler::builder().testing().build();
    let mut worst = Worst::default();
    for (name, bytes, ctx) in &fixed {
        let (total, blocks) = measure(name, bytes, ctx, &mut worst);
        println!(
            "| {name} | {} | {total} | {blocks} | {:.1} |",
            bytes.len(),
            total as f64 / bytes.len() as f64
        );
    }
    for i in 0..RANDOM_CASES {
        let (ctx, bytes) = strategy.new_tree(&mut runner).unwrap().current();
        measure(&format!("hostile input #{i}"), &bytes, &ctx, &mut worst);
        let (ctx, msg) = valid.new_tree(&mut runner).unwrap().current();
        if let Ok(bytes) = wren::wire::encode_to_vec(&msg, &ctx) {
            measure(&format!("valid message #{i}"), &bytes, &ctx, &mut worst);
        }
    }
    println!(
        "{} decodes; worst bytes/octet {:.1} ({}); worst allocations/octet {:.3} ({})",
        worst.cases, worst.bytes_ratio, worst.bytes_case, worst.blocks_ratio, worst.blocks_case
    );
    assert!(
        worst.failures.is_empty(),
        "decodes over the bound of {BASE_BYTES} + {BYTES_PER_OCTET}·n bytes / {BASE_BLOCKS} + \
         n/{OCTETS_PER_BLOCK} allocations:\n{}",
        worst.failures.join("\n")
    );
    // The checks above are live: the worst case found allocates something.
    assert!(worst.bytes_ratio > 0.0 && worst.cases > usize::try_from(RANDOM_CASES).unwrap());
}
