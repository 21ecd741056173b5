//! bgperf-style benchmark: wren, BIRD 2 and GoBGP side by side, in the same role, loaded and
//! measured by the same code.
//!
//! ```sh
//! cargo bench --bench bgperf                                   # every scenario, every target
//! cargo bench --bench bgperf -- --scenario a,b --targets wren,bird
//! cargo bench --bench bgperf -- --quick                        # small sizes, about a minute
//! cargo bench --bench bgperf -- --pin                          # target on CPU 0, generator on 1
//! cargo test --bench bgperf                                    # the --quick set as a smoke test
//! ```
//!
//! Needs root (it creates a network namespace), `ip`, `bird`/`birdc` (Debian `bird2`) and
//! `gobgpd`/`gobgp` (Debian `gobgpd`). Results: `target/bgperf/<UTC time>/results.md`,
//! `results.json` and `bgperf.png`; the daemons' logs and configurations stay in
//! `target/tmp/wren-lab/bgperf-<scenario>-<target>-*/`.
//!
//! # What a run is
//!
//! For each scenario × target the harness creates one network namespace (with the lab harness,
//! `proto-tests/lab`), puts the target's address 198.18.0.1/32, the monitor's 198.18.0.2/32 and
//! one 198.18.x.y/32 per emulated peer on its `lo`, starts the target there with a configuration
//! written for that scenario ([`targets`]), and then starts the load generator in the same
//! namespace: this binary again, as `bgperf generate SPEC.json` ([`generator`]). The generator
//! emulates every peer (each with its own AS, router id and source address) and the monitor(s)
//! in one tokio runtime, pre-encodes every UPDATE before the clock starts, and reports JSON on
//! stdout. While it runs the harness samples the target's `/proc/<pid>` (the daemon itself, not
//! its `timeout` wrapper) every 50 ms.
//!
//! # Scenarios ([`workload::Scenario`])
//!
//! | | role | full size | `--quick` |
//! |---|---|---|---|
//! | a | eBGP router | 10 peers × 100,000 /24s | 10 × 2,000 |
//! | b | eBGP router | 100 peers × 1,000 | 20 × 100 |
//! | c | iBGP route reflector (Calico) | 500 rr clients × 2 /26s | 50 × 2 |
//! | d | eBGP router, full-table ingest | 1 peer × 1,000,000 | 1 × 20,000 |
//! | e | churn after an (a) load | 10 × 100,000, 10 % withdrawn and re-announced | 10 × 2,000 |
//!
//! eBGP: the target (AS 64512) peers with every tester (AS 65001, 65002, …) and with a monitor
//! (AS 64999) and exports everything to everyone, as a router does; each tester announces its own
//! unique prefixes with up to 300 distinct attribute sets (AS paths of 1–5 ASes, MED,
//! communities), packed in UPDATEs of up to 4096 octets. Route reflector: every client announces
//! two /26s and is also a monitor that must receive all the other clients' blocks.
//!
//! # Figures
//!
//! * **convergence**: first tester UPDATE written → the monitor (every client, for c) holds every
//!   prefix. For e: first withdrawal written → the monitor lost exactly the withdrawn prefixes
//!   and then holds them all again.
//! * **total**: target process start → the same end point (includes the target's start-up and
//!   session set-up).
//! * **tester send**: the generator's own first → last UPDATE written (bgperf2's "testers (s)"):
//!   when it is close to convergence, the run measured the generator, not the target.
//! * **CPU**: the target's utime + stime (all threads) at the end point (e: during the churn).
//! * **peak RSS**: the target's `VmHWM` after the run.
//! * **correct**: the monitor received exactly the prefixes announced, each with the expected
//!   next hop (eBGP: the target's address; RR: the client's own, unchanged) and AS path (eBGP:
//!   `64512 <tester's path>`; RR: empty), no prefix nobody announced, no session error.
//!
//! A target that does not converge before the deadline (default 180 s per run, 60 s with
//! `--quick`) is reported as `timeout` with what the monitor held.
//!
//! # Options
//!
//! * `--runs N` (default 3, 1 with `--quick`): repetitions of each scenario × target; the median
//!   by convergence is reported, with min–max. A run that fails or takes over 60 s is not
//!   repeated.
//! * `--pin`: the target runs under `taskset -c 0`, the generator under `taskset -c 1`
//!   (default: neither pinned, for every target alike).
//! * `--connect-burst`: every peer connects at the same moment, instead of at most 8 connection
//!   attempts in flight (BIRD listens with a backlog of 8; see [`generator`]).
//! * `--deadline SECS`, `--out DIR` (default `target/bgperf/<UTC time>`).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) the `--quick` set runs for every
//! target, and the process fails if a prerequisite is missing or any run is not correct. It never
//! asserts on timings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../lab/mod.rs"]
mod lab;

mod generator;
mod report;
mod targets;
mod workload;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use generator::{GenResult, EVENT_TAG, RESULT_TAG};
use lab::{Lab, LabError};
use report::RunResult;
use targets::Target;
use workload::{Scenario, TARGET_ADDR};

/// Options of a benchmark run.
#[derive(Clone, Debug)]
struct Opts {
    scenarios: Vec<char>,
    targets: Vec<Target>,
    quick: bool,
    pin: bool,
    deadline: Duration,
    out: Option<PathBuf>,
    /// Most connection attempts in flight at once (0: all peers at once).
    max_connecting: u32,
    /// Repetitions of each (scenario, target); the median by convergence is reported.
    runs: usize,
    /// Run by `cargo test`: the process fails on any incorrect run.
    smoke: bool,
}

const USAGE: &str = "usage: cargo bench --bench bgperf -- [--scenario a,b,c,d,e] \
[--targets wren,bird,gobgp] [--quick] [--pin] [--runs N] [--deadline SECS] [--connect-burst] \
[--out DIR]";

/// Connection attempts in flight at once, unless `--connect-burst`.
const DEFAULT_MAX_CONNECTING: u32 = 8;
/// A (scenario, target) whose run took longer than this is not repeated (`--runs`).
const REPEAT_ONLY_UNDER: Duration = Duration::from_secs(60);

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let bench = args.iter().any(|a| a == "--bench");
    let mut o = Opts {
        scenarios: Scenario::LETTERS.to_vec(),
        targets: Target::ALL.to_vec(),
        quick: !bench,
        pin: false,
        deadline: Duration::ZERO,
        out: None,
        runs: 1,
        max_connecting: DEFAULT_MAX_CONNECTING,
        smoke: !bench,
    };
    if !bench {
        // `cargo test` passes its own flags (`--include-ignored`, filters): the smoke run takes
        // none.
        o.deadline = Duration::from_secs(60);
        return Ok(o);
    }
    let mut deadline = None;
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or(format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--bench" => {}
            "--quick" => o.quick = true,
            "--pin" => o.pin = true,
            "--connect-burst" => o.max_connecting = 0,
            "--scenario" | "--scenarios" => {
                let v = value()?;
                o.scenarios = Vec::new();
                for s in v.split(',') {
                    let c = s.trim().chars().next().unwrap_or(' ');
                    if s.trim().len() != 1 || Scenario::get(c, false).is_none() {
                        return Err(format!("unknown scenario {s:?} (a-e)\n{USAGE}"));
                    }
                    o.scenarios.push(c);
                }
            }
            "--targets" | "--target" => {
                let v = value()?;
                o.targets = Vec::new();
                for t in v.split(',') {
                    o.targets.push(
                        Target::parse(t.trim()).ok_or(format!("unknown target {t:?}\n{USAGE}"))?,
                    );
                }
            }
            "--deadline" => {
                let v = value()?;
                deadline = Some(Duration::from_secs(
                    v.parse().map_err(|e| format!("--deadline {v}: {e}"))?,
                ));
            }
            "--runs" => {
                let v = value()?;
                runs = Some(
                    v.parse::<usize>()
                        .map_err(|e| format!("--runs {v}: {e}"))?
                        .max(1),
                );
            }
            "--out" => o.out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    o.deadline = deadline.unwrap_or(Duration::from_secs(if o.quick { 60 } else { 180 }));
    o.runs = runs.unwrap_or(if o.quick { 1 } else { 3 });
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("replot") {
        let Some(dir) = args.get(1) else {
            eprintln!("usage: bgperf replot DIR (a results directory with results.json)");
            std::process::exit(2);
        };
        std::process::exit(match replot(Path::new(dir)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bgperf replot: {e}");
                1
            }
        });
    }
    if args.first().map(String::as_str) == Some("generate") {
        let Some(spec) = args.get(1) else {
            eprintln!("usage: bgperf generate SPEC.json");
            std::process::exit(2);
        };
        std::process::exit(generator::main(spec));
    }
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    std::process::exit(run(&opts));
}

/// The machine and software versions, for the report.
fn machine() -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or("?".to_owned(), |k| {
            format!("{:.0} GiB", k / 1024.0 / 1024.0)
        });
    let kernel = lab::run("uname", &["-r"]).map_or("?".to_owned(), |s| s.trim().to_owned());
    let rustc = lab::run("rustc", &["--version"]).map_or("?".to_owned(), |s| s.trim().to_owned());
    let mut v = vec![
        ("CPUs (nproc)".to_owned(), nproc.to_string()),
        ("CPU model".to_owned(), cpu),
        ("memory".to_owned(), mem),
        ("kernel".to_owned(), kernel),
        ("rustc".to_owned(), rustc),
        (
            "wren build".to_owned(),
            if cfg!(debug_assertions) {
                "debug (cargo test)".to_owned()
            } else {
                "release (cargo bench)".to_owned()
            },
        ),
    ];
    for t in Target::ALL {
        v.push((t.label().to_owned(), t.version()));
    }
    v
}

/// UTC `YYYYMMDD-HHMMSS`.
fn utc_stamp() -> String {
    let (y, m, d, hh, mm, ss) = wren::control::civil(std::time::SystemTime::now());
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

fn results_dir(opts: &Opts) -> PathBuf {
    if let Some(o) = &opts.out {
        return o.clone();
    }
    let target_dir = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"));
    let suffix = if opts.quick { "-quick" } else { "" };
    target_dir
        .join("bgperf")
        .join(format!("{}{suffix}", utc_stamp()))
}

/// Checks that the address plan maps every prefix back to its tester (cheap, catches a broken
/// workload before any daemon is blamed).
fn self_check(opts: &Opts) -> Result<(), String> {
    for &l in &opts.scenarios {
        let sc = Scenario::get(l, opts.quick).ok_or("no scenario")?;
        let spec = sc.spec(opts.quick, 1000, 0);
        spec.validate()?;
        for p in [0, spec.peers() - 1] {
            for k in [0, spec.per_peer / 2, spec.per_peer - 1] {
                let net = ipnet::IpNet::V4(spec.prefix(p, k));
                if spec.index_of(&net) != Some((p, k)) {
                    return Err(format!(
                        "workload {}: {net} does not map back to ({p}, {k})",
                        spec.scenario
                    ));
                }
            }
        }
    }
    Ok(())
}

fn run(opts: &Opts) -> i32 {
    if opts.smoke {
        println!(
            "bgperf: smoke run (no --bench flag): the --quick set on every target, checked for \
             correctness only; `cargo bench --bench bgperf` measures"
        );
    }
    if let Err(e) = targets::check_prerequisites(&opts.targets, opts.pin) {
        eprintln!("bgperf: cannot run, prerequisites missing:\n{e}");
        return 1;
    }
    if let Err(e) = self_check(opts) {
        eprintln!("bgperf: workload self-check failed: {e}");
        return 1;
    }
    let clk = targets::clk_tck();
    let machine = machine();
    let command = format!(
        "cargo bench --bench bgperf -- --scenario {} --targets {} --runs {}{}{}",
        opts.scenarios
            .iter()
            .map(char::to_string)
            .collect::<Vec<_>>()
            .join(","),
        opts.targets
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(","),
        opts.runs,
        if opts.quick { " --quick" } else { "" },
        if opts.pin { " --pin" } else { "" },
    ) + if opts.max_connecting == 0 {
        " --connect-burst"
    } else {
        ""
    };
    println!(
        "bgperf: {command} (deadline {} s per run)",
        opts.deadline.as_secs()
    );
    for (k, v) in &machine {
        println!("  {k}: {v}");
    }
    let started = Instant::now();
    let mut results = Vec::new();
    for &letter in &opts.scenarios {
        let Some(sc) = Scenario::get(letter, opts.quick) else {
            continue;
        };
        for &t in &opts.targets {
            let mut reps: Vec<RunResult> = Vec::new();
            for _ in 0..opts.runs {
                let t0 = Instant::now();
                let r = run_one(&sc, t, opts, clk);
                print_run(&r, t0.elapsed().as_secs_f64());
                let again = r.status == "ok" && t0.elapsed() < REPEAT_ONLY_UNDER;
                reps.push(r);
                if !again {
                    break;
                }
            }
            let r = median_run(reps);
            results.push(r);
        }
    }
    let table = report::markdown(&results);
    println!("\n{table}");
    println!(
        "bgperf: {} runs in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    let dir = results_dir(opts);
    if let Err(e) = write_results(&dir, &command, &machine, &results, &table) {
        eprintln!("bgperf: {e}");
        if opts.smoke {
            return 1;
        }
    } else {
        println!("bgperf: results in {}", dir.display());
    }
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.status != "ok")
        .map(|r| format!("{} on {}: {} ({})", r.scenario, r.target, r.status, r.note))
        .collect();
    if opts.smoke {
        if bad.is_empty() {
            println!("bgperf: {} passed, 0 failed", results.len());
            0
        } else {
            eprintln!("bgperf smoke: incorrect runs:\n  {}", bad.join("\n  "));
            println!(
                "bgperf: {} passed, {} failed",
                results.len() - bad.len(),
                bad.len()
            );
            1
        }
    } else {
        if !bad.is_empty() {
            println!("bgperf: runs that are not ok:\n  {}", bad.join("\n  "));
        }
        0
    }
}

fn print_run(r: &RunResult, wall: f64) {
    println!(
        "  {:<8} {:<6} {:>9} in {:>6.1} s: convergence {} s, total {} s, tester send {} s, CPU {} s, \
         peak RSS {} MiB{}",
        r.scenario,
        r.target,
        r.status,
        wall,
        fmt(r.convergence_s),
        fmt(r.total_s),
        fmt(r.tester_send_s),
        fmt(r.cpu_s),
        r.peak_rss_mib.map_or("–".to_owned(), |v| format!("{v:.0}")),
        if r.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", r.note)
        }
    );
}

/// The repetition to report: the first one that is not ok, else the median by convergence
/// (with every repetition's convergence attached).
fn median_run(mut reps: Vec<RunResult>) -> RunResult {
    if let Some(i) = reps.iter().position(|r| r.status != "ok") {
        return reps.swap_remove(i);
    }
    reps.sort_by(|a, b| {
        a.convergence_s
            .partial_cmp(&b.convergence_s)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let all: Vec<f64> = reps.iter().filter_map(|r| r.convergence_s).collect();
    let mid = reps.len() / 2;
    let mut r = reps.swap_remove(mid);
    if all.len() > 1 {
        r.convergence_runs = all;
    }
    r
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |v| format!("{v:.2}"))
}

fn write_results(
    dir: &Path,
    command: &str,
    machine: &[(String, String)],
    results: &[RunResult],
    table: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut md = format!("# bgperf results\n\nCommand: `{command}`\n\n");
    for (k, v) in machine {
        let _ = writeln!(md, "* {k}: {v}");
    }
    md.push('\n');
    md.push_str(table);
    std::fs::write(dir.join("results.md"), md).map_err(|e| format!("results.md: {e}"))?;
    let json = serde_json::json!({
        "command": command,
        "machine": machine.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "results": results,
    });
    let json = serde_json::to_string_pretty(&json).map_err(|e| format!("results.json: {e}"))?;
    std::fs::write(dir.join("results.json"), json).map_err(|e| format!("results.json: {e}"))?;
    let cpu = machine
        .iter()
        .find(|(k, _)| k == "CPU model")
        .map_or("?", |(_, v)| v.as_str());
    let nproc = machine
        .iter()
        .find(|(k, _)| k.starts_with("CPUs"))
        .map_or("?", |(_, v)| v.as_str());
    report::chart(
        results,
        &dir.join("bgperf.png"),
        &format!("bgperf: wren vs BIRD vs GoBGP ({nproc} × {cpu})"),
    )
}

/// `bgperf replot DIR`: rewrites `results.md` and `bgperf.png` of a results directory from its
/// `results.json` (after a change to the table or the chart, without measuring again).
fn replot(dir: &Path) -> Result<(), String> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: Vec<RunResult> = serde_json::from_value(json["results"].clone())
        .map_err(|e| format!("{}: results: {e}", path.display()))?;
    let command = json["command"].as_str().unwrap_or("?").to_owned();
    let machine: Vec<(String, String)> = json["machine"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let table = report::markdown(&results);
    println!("{table}");
    write_results(dir, &command, &machine, &results, &table)
}

/// One scenario on one target; never panics on a target's failure, which becomes the result.
fn run_one(sc: &Scenario, target: Target, opts: &Opts, clk: f64) -> RunResult {
    let mut r = RunResult {
        scenario: sc.name(opts.quick),
        letter: sc.letter,
        title: sc.title.to_owned(),
        target: target.name().to_owned(),
        peers: sc.peers,
        per_peer: sc.per_peer,
        status: "error".to_owned(),
        ..RunResult::default()
    };
    if let Err(e) = measure(sc, target, opts, clk, &mut r) {
        r.status = "error".to_owned();
        r.correct = false;
        r.note = if r.note.is_empty() {
            e.to_string()
        } else {
            format!("{}; {e}", r.note)
        };
    }
    r
}

fn measure(
    sc: &Scenario,
    target: Target,
    opts: &Opts,
    clk: f64,
    r: &mut RunResult,
) -> lab::Result<()> {
    let spec = sc.spec(
        opts.quick,
        opts.deadline.as_millis() as u64,
        opts.max_connecting,
    );
    spec.validate().map_err(LabError::new)?;
    let lab = Lab::new(&format!("bgperf-{}-{}", spec.scenario, target.name()))?;
    let node = lab.add_node("perf")?;
    let mut batch = format!("address add {TARGET_ADDR}/32 dev lo\n");
    for p in spec.peers_with_monitor() {
        let _ = writeln!(batch, "address add {}/32 dev lo", p.addr);
    }
    let batch = lab.write_file("addresses.batch", &batch)?;
    lab::run("ip", &["-n", node.ns(), "-batch", &batch.to_string_lossy()])?;
    let spec_json =
        serde_json::to_string_pretty(&spec).map_err(|e| LabError::new(e.to_string()))?;
    let spec_path = lab.write_file("spec.json", &spec_json)?;
    let lifetime = opts.deadline + Duration::from_secs(60);

    let running = targets::start(
        &lab,
        &node,
        target,
        &spec,
        opts.pin.then_some("0"),
        lifetime,
    )?;
    let exe = std::env::current_exe()?;
    let mut argv: Vec<String> = Vec::new();
    if opts.pin {
        argv.extend(["taskset".into(), "-c".into(), "1".into()]);
    }
    argv.extend([
        exe.to_string_lossy().into_owned(),
        "generate".into(),
        spec_path.to_string_lossy().into_owned(),
    ]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let gen = node.spawn_with_lifetime("gen", &argv, lifetime)?;

    // Poll: the generator's events, the target's memory; bounded by the deadline plus a margin
    // (the generator stops itself at the deadline).
    let hard_deadline = Instant::now() + opts.deadline + Duration::from_secs(20);
    let mut sampled = 0.0f64;
    let mut cpu_loaded = None;
    let mut cpu_done = None;
    let mut target_died = None;
    loop {
        if let Some(rss) = targets::status_mib(running.pid, "VmRSS") {
            sampled = sampled.max(rss);
        }
        let log = std::fs::read_to_string(gen.log_path()).unwrap_or_default();
        if cpu_loaded.is_none() && log.contains(&format!("{EVENT_TAG}loaded")) {
            cpu_loaded = targets::cpu_seconds(running.pid, clk);
        }
        if cpu_done.is_none() && log.contains(&format!("{EVENT_TAG}done")) {
            cpu_done = targets::cpu_seconds(running.pid, clk);
        }
        if !gen.is_running() {
            break;
        }
        if !running.proc.is_running() {
            target_died = Some(format!(
                "the target exited ({:?}); its log:\n{}",
                running.proc.exit_status(),
                running.proc.log_tail(20)
            ));
            let _ = gen.kill();
            break;
        }
        if Instant::now() >= hard_deadline {
            let _ = gen.kill();
            r.note = "the generator did not stop at its deadline".to_owned();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    r.peak_rss_mib = targets::status_mib(running.pid, "VmHWM");
    if std::env::var_os("BGPERF_WREN_WRAP").is_some() {
        // Under a profiler: let the daemon exit on its own so the profiler writes its data.
        targets::terminate(running.pid, Duration::from_secs(20));
    }
    r.sampled_rss_mib = (sampled > 0.0).then_some(sampled);
    let log = std::fs::read_to_string(gen.log_path()).unwrap_or_default();
    let result: Option<GenResult> = log
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_TAG))
        .and_then(|j| serde_json::from_str(j).ok());
    let Some(g) = result else {
        return Err(LabError::new(format!(
            "no result from the generator{}; its log:\n{}",
            target_died.map(|d| format!(" ({d})")).unwrap_or_default(),
            gen.log_tail(20)
        )));
    };
    r.apply(&g, running.start_ns);
    r.cpu_s = match (sc.churn_every, cpu_loaded, cpu_done) {
        (None, _, Some(done)) => Some(done),
        (Some(_), Some(loaded), Some(done)) => Some(done - loaded),
        _ => targets::cpu_seconds(running.pid, clk),
    };
    if let Some(d) = target_died {
        r.status = "error".to_owned();
        r.correct = false;
        r.note = format!("{}; {d}", r.note);
    }
    if r.status != "ok" {
        r.note = format!("{} (logs in {})", r.note, lab.log_dir().display());
    }
    r.generator = Some(g);
    Ok(())
}
