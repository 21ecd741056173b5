//! Kernel FIB benchmark: how fast routes of protocol 12 (`bird`) go into the kernel through
//! wren's `NetlinkFib::apply`, through `ip -batch`, and through BIRD 2's kernel protocol.
//!
//! ```sh
//! cargo bench --bench fib                 # 100,000 IPv4 /32s and 1,000,000 IPv6 /64s (~3 min)
//! cargo bench --bench fib -- --quick      # 10,000 IPv4 /32s
//! WREN_BENCH_FIB_SIZES=100000 cargo bench --bench fib        # sizes to run, comma-separated
//! WREN_BENCH_FIB_TARGETS=wren,ip cargo bench --bench fib     # subset of wren, ip, bird
//! ```
//!
//! Needs root. The bench creates a network namespace `wren-<pid>-0-fibbench` and re-executes
//! itself inside it (`ip netns exec`, with [`CHILD_ENV`] naming the sizes); the child does all
//! the work there and the parent deletes the namespace afterwards, also on failure. In the
//! namespace: a veth `d0` with 198.51.100.1/24 and 2001:db8:ffff::1/64, every route via
//! 198.51.100.2 (or 2001:db8:ffff::2) `dev d0 proto 12`. Sizes up to 131,072 are IPv4 /32s from
//! 198.18.0.0/15; larger sizes are IPv6 /64s from 2001:db8::/32 (the only documentation ranges
//! big enough).
//!
//! Per size, each target runs on an empty table, three times for IPv4 sizes (median reported,
//! with the range) and once for the IPv6 ones:
//!
//! * **wren**: `NetlinkFib::new` + `apply` of N replaces (the route list is built beforehand),
//!   then `dump` of the table and `apply` of N deletes, timed separately;
//! * **ip -batch**: `ip -batch FILE` of N `route replace … proto 12` lines (file written
//!   beforehand), process start to exit;
//! * **bird**: `bird -f` with a `protocol static` of N routes and `protocol kernel { export all }`,
//!   from the process start until the kernel holds N more routes, polled every 50 ms through the
//!   kernel's own counters (`/proc/net/fib_triestat`, `/proc/net/rt6_stats`) so the polling costs
//!   next to nothing; this includes BIRD parsing its configuration.
//!
//! Between runs the routes are deleted (through wren, untimed) and the count checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use wren::fib::netlink::NetlinkFib;
use wren::fib::{Action, Fib, Hop, KernelRoute, Op, PROTO_BIRD, TABLE_MAIN};

/// Set in the child (inside the namespace) to the comma-separated sizes and targets:
/// `sizes;targets`.
const CHILD_ENV: &str = "WREN_BENCH_FIB_CHILD";
/// Largest size done with IPv4 /32s (all of 198.18.0.0/15).
const MAX_V4: usize = 1 << 17;
/// How long BIRD may take for one size.
const BIRD_DEADLINE: Duration = Duration::from_secs(240);
const BIRD: &str = "/usr/sbin/bird";
/// Runs per target for IPv4 sizes (larger sizes run once).
const RUNS_SMALL: usize = 3;
/// Name of the reference row.
const IP_BATCH: &str = "`ip -batch`, route replace";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    // `cargo bench` passes `--bench`. Without it (as when `cargo test --all-targets` runs this
    // harness-less target) only a small smoke run happens, like `--quick`.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let quick = !bench_mode || std::env::args().any(|a| a == "--quick");
    if !bench_mode {
        println!("smoke run only (no --bench flag); `cargo bench --bench fib` measures");
    }
    let sizes = std::env::var("WREN_BENCH_FIB_SIZES").unwrap_or_else(|_| {
        if quick {
            "10000".to_owned()
        } else {
            "100000,1000000".to_owned()
        }
    });
    let targets =
        std::env::var("WREN_BENCH_FIB_TARGETS").unwrap_or_else(|_| "wren,ip,bird".to_owned());
    let ns = format!("wren-{}-0-fibbench", std::process::id());
    run("ip", &["netns", "add", &ns]);
    let _guard = NsGuard(ns.clone());
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(&exe)
        .env(CHILD_ENV, format!("{sizes};{targets}"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the benchmark failed inside {ns}: {status}"
    );
}

/// Deletes the namespace (killing what still runs in it) on drop.
struct NsGuard(String);

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs a command, panicking with its stderr if it fails; returns stdout.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ------------------------------------------------------------------------------------------------
// Inside the namespace

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of_size(n: usize) -> Family {
        if n <= MAX_V4 {
            Family::V4
        } else {
            Family::V6
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4 /32",
            Family::V6 => "IPv6 /64",
        }
    }

    fn gateway(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 2)),
        }
    }

    /// The i-th destination.
    fn prefix(self, i: usize) -> IpNet {
        let i = u32::try_from(i).unwrap();
        match self {
            Family::V4 => {
                let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
                IpNet::new(IpAddr::V4(Ipv4Addr::from(base + i)), 32).unwrap()
            }
            Family::V6 => {
                let hi = u16::try_from(i >> 16).unwrap();
                let lo = u16::try_from(i & 0xffff).unwrap();
                IpNet::new(
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, hi, lo, 0, 0, 0, 0)),
                    64,
                )
                .unwrap()
            }
        }
    }

    /// Routes in the kernel's main table of this family, from the kernel's counters: cheap
    /// enough to poll while 1,000,000 routes go in.
    fn kernel_count(self) -> usize {
        match self {
            Family::V4 => {
                let stat = std::fs::read_to_string("/proc/net/fib_triestat").unwrap();
                let main = stat.split("Main:").nth(1).unwrap();
                main.lines()
                    .find_map(|l| l.trim().strip_prefix("Prefixes:"))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            }
            Family::V6 => {
                let stat = std::fs::read_to_string("/proc/net/rt6_stats").unwrap();
                let entries = stat.split_whitespace().nth(3).unwrap();
                usize::from_str_radix(entries, 16).unwrap()
            }
        }
    }
}

fn route(family: Family, i: usize) -> KernelRoute {
    KernelRoute {
        prefix: family.prefix(i),
        table: TABLE_MAIN,
        protocol: PROTO_BIRD,
        metric: 0,
        action: Action::Unicast(vec![Hop {
            gateway: Some(family.gateway()),
            device: Some("d0".to_owned()),
            onlink: false,
        }]),
    }
}

/// One line of the results table.
struct Row {
    target: &'static str,
    family: Family,
    routes: usize,
    /// Seconds of each run.
    samples: Vec<f64>,
}

impl Row {
    /// Median seconds.
    fn seconds(&self) -> f64 {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn rate(&self) -> f64 {
        self.routes as f64 / self.seconds()
    }

    fn range(&self) -> String {
        if self.samples.len() < 2 {
            return "–".to_owned();
        }
        let min = self.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.samples.iter().copied().fold(0.0, f64::max);
        format!("{min:.3}–{max:.3}")
    }
}

fn child(spec: &str) {
    let (sizes, targets) = spec.split_once(';').unwrap_or((spec, "wren,ip,bird"));
    let sizes: Vec<usize> = sizes
        .split(',')
        .map(|s| s.trim().replace('_', "").parse().unwrap())
        .collect();
    let want = |t: &str| targets.split(',').any(|x| x.trim() == t);
    for cmd in [
        "link set lo up",
        "link add d0 type veth peer name d0p",
        "link set d0p up",
        "addr add 198.51.100.1/24 dev d0",
        "addr add 2001:db8:ffff::1/64 dev d0 nodad",
        "link set d0 up",
    ] {
        run("ip", &cmd.split(' ').collect::<Vec<_>>());
    }
    let dir = std::env::temp_dir().join(format!("wren-bench-fib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut fib = rt.block_on(NetlinkFib::new()).unwrap();

    let mut rows: Vec<Row> = Vec::new();
    for &n in &sizes {
        let family = Family::of_size(n);
        let routes: Vec<KernelRoute> = (0..n).map(|i| route(family, i)).collect();
        let base = family.kernel_count();
        eprintln!(
            "== {n} {} routes (kernel holds {base} before)",
            family.name()
        );

        let runs = if n <= MAX_V4 { RUNS_SMALL } else { 1 };
        let mut add = |target: &'static str, samples: Vec<f64>| {
            rows.push(Row {
                target,
                family,
                routes: n,
                samples,
            });
        };

        if want("wren") {
            let (mut apply, mut dump, mut delete) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let ops: Vec<Op> = routes.iter().cloned().map(Op::Replace).collect();
                let start = Instant::now();
                let applied = rt.block_on(async {
                    let mut fresh = NetlinkFib::new().await.unwrap();
                    fresh.apply(ops).await
                });
                let secs = start.elapsed().as_secs_f64();
                assert!(applied.failed.is_empty(), "{:?}", applied.failed.first());
                assert_eq!(applied.done, n);
                assert_eq!(family.kernel_count(), base + n);
                eprintln!("   wren apply: {secs:.3} s");
                apply.push(secs);

                let start = Instant::now();
                let dumped = rt.block_on(fib.dump(TABLE_MAIN)).unwrap();
                let secs = start.elapsed().as_secs_f64();
                let ours = dumped.iter().filter(|r| r.protocol == PROTO_BIRD).count();
                assert_eq!(ours, n);
                eprintln!("   wren dump: {secs:.3} s");
                dump.push(secs);

                let secs = flush(&rt, &mut fib, &routes, family, base);
                eprintln!("   wren delete: {secs:.3} s");
                delete.push(secs);
            }
            add("wren `NetlinkFib::apply`, replace", apply);
            add("wren `NetlinkFib::dump`", dump);
            add("wren `NetlinkFib::apply`, delete", delete);
        }

        if want("ip") {
            let path = dir.join("routes.batch");
            let mut text = String::with_capacity(n * 64);
            let gw = family.gateway();
            for r in &routes {
                writeln!(text, "route replace {} via {gw} dev d0 proto 12", r.prefix).unwrap();
            }
            std::fs::write(&path, text).unwrap();
            let mut samples = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                let status = Command::new("ip")
                    .arg("-batch")
                    .arg(&path)
                    .status()
                    .unwrap();
                let secs = start.elapsed().as_secs_f64();
                assert!(status.success(), "ip -batch failed");
                assert_eq!(family.kernel_count(), base + n);
                eprintln!("   ip -batch: {secs:.3} s");
                samples.push(secs);
                flush(&rt, &mut fib, &routes, family, base);
            }
            add(IP_BATCH, samples);
        }

        if want("bird") {
            if Path::new(BIRD).exists() {
                let mut samples = Vec::new();
                for _ in 0..runs {
                    let secs = bird_run(&dir, family, &routes, base);
                    eprintln!("   bird: {secs:.3} s");
                    samples.push(secs);
                    flush(&rt, &mut fib, &routes, family, base);
                }
                add("BIRD 2.0 kernel protocol, start to all installed", samples);
            } else {
                eprintln!("   bird: {BIRD} not installed (apt-get install bird2), skipped");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&rows);
}

/// Deletes `routes` through wren and waits until the kernel is back to `base`; returns the time
/// the deletes took.
fn flush(
    rt: &tokio::runtime::Runtime,
    fib: &mut NetlinkFib,
    routes: &[KernelRoute],
    family: Family,
    base: usize,
) -> f64 {
    let ops: Vec<Op> = routes.iter().cloned().map(Op::Delete).collect();
    let start = Instant::now();
    let applied = rt.block_on(fib.apply(ops));
    let secs = start.elapsed().as_secs_f64();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed.first());
    let deadline = Instant::now() + Duration::from_secs(30);
    while family.kernel_count() != base {
        assert!(
            Instant::now() < deadline,
            "the table did not empty: {} routes, {base} before",
            family.kernel_count()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let deferred frees (RCU, IPv6 garbage collection) finish before the next run.
    std::thread::sleep(Duration::from_secs(1));
    secs
}

/// Starts BIRD with a static protocol of `routes` exported to the kernel and returns the time
/// until the kernel holds them all.
fn bird_run(dir: &Path, family: Family, routes: &[KernelRoute], base: usize) -> f64 {
    let (channel, gw) = match family {
        Family::V4 => ("ipv4", family.gateway()),
        Family::V6 => ("ipv6", family.gateway()),
    };
    let mut conf = String::with_capacity(routes.len() * 48 + 512);
    writeln!(conf, "router id 198.51.100.1;").unwrap();
    writeln!(conf, "protocol device {{ scan time 3600; }}").unwrap();
    writeln!(conf, "protocol kernel {{").unwrap();
    writeln!(conf, "  scan time 3600;").unwrap();
    writeln!(conf, "  {channel} {{ export all; import none; }};").unwrap();
    writeln!(conf, "}}").unwrap();
    writeln!(conf, "protocol static {{").unwrap();
    writeln!(conf, "  {channel};").unwrap();
    for r in routes {
        writeln!(conf, "  route {} via {gw};", r.prefix).unwrap();
    }
    writeln!(conf, "}}").unwrap();
    let conf_path: PathBuf = dir.join("bird.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let sock = dir.join("bird.ctl");
    let log = std::fs::File::create(dir.join("bird.log")).unwrap();
    let start = Instant::now();
    let mut child = Command::new(BIRD)
        .arg("-f")
        .arg("-c")
        .arg(&conf_path)
        .arg("-s")
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let target = base + routes.len();
    let secs = loop {
        let count = family.kernel_count();
        if count >= target {
            break start.elapsed().as_secs_f64();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("bird.log")).unwrap_or_default();
            panic!("bird exited ({status}) with {count} of {target} routes:\n{log}");
        }
        assert!(
            start.elapsed() < BIRD_DEADLINE,
            "bird installed {} of {} routes in {} s",
            count - base,
            routes.len(),
            BIRD_DEADLINE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // SIGKILL: a clean shutdown would remove the routes itself, at length.
    let _ = child.kill();
    let _ = child.wait();
    std::io::stderr().flush().unwrap();
    secs
}

fn print_table(rows: &[Row]) {
    let ip_rate = |family: Family, routes: usize| {
        rows.iter()
            .find(|r| r.target == IP_BATCH && r.family == family && r.routes == routes)
            .map(Row::rate)
    };
    println!();
    println!(
        "| target | destinations | routes | runs | seconds (median) | min–max | routes/s | ÷ ip -batch |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let ratio = match ip_rate(r.family, r.routes) {
            Some(ip) if !r.target.contains("dump") && !r.target.contains("delete") => {
                format!("{:.2}×", r.rate() / ip)
            }
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {:.3} | {} | {:.0} | {ratio} |",
            r.target,
            r.family.name(),
            r.routes,
            r.samples.len(),
            r.seconds(),
            r.range(),
            r.rate()
        );
    }
}
