//! The three daemons under test, configured in the same role by the same code: wren, BIRD 2
//! (one `master4` table for every protocol, like bgperf2's `-s`) and GoBGP.
//!
//! Every target listens on [`TARGET_ADDR`] in AS [`TARGET_AS`], treats every peer as passive
//! (the generator connects), proposes a 90 s hold time, logs at info level (BIRD: no `debug`),
//! and neither installs routes in a kernel nor filters anything: eBGP `import all; export all`
//! to every peer, or, as route reflector, every client an rr client with cluster id
//! [`TARGET_ADDR`].

use std::fmt::Write as _;
use std::time::Duration;

use crate::lab::{self, fail, Lab, LabError, Node, ProcHandle, Result};
use crate::workload::{Mode, Spec, TARGET_ADDR, TARGET_AS};

/// A daemon under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `wren run` (this crate's binary).
    Wren,
    /// BIRD 2 (`bird -f`).
    Bird,
    /// GoBGP (`gobgpd`).
    Gobgp,
}

impl Target {
    /// Every target, in table order.
    pub const ALL: [Target; 3] = [Target::Wren, Target::Bird, Target::Gobgp];

    /// `wren`, `bird`, `gobgp`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Wren => "wren",
            Target::Bird => "bird",
            Target::Gobgp => "gobgp",
        }
    }

    /// Display name with the version.
    pub fn label(self) -> &'static str {
        match self {
            Target::Wren => "wren",
            Target::Bird => "BIRD",
            Target::Gobgp => "GoBGP",
        }
    }

    /// Parses `wren`, `bird`, `gobgp` (or `gobgpd`).
    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "wren" => Some(Target::Wren),
            "bird" | "bird2" => Some(Target::Bird),
            "gobgp" | "gobgpd" => Some(Target::Gobgp),
            _ => None,
        }
    }

    /// `comm` of the daemon process (what /proc/<pid>/comm says).
    pub fn comm(self) -> &'static str {
        match self {
            Target::Wren => "wren",
            Target::Bird => "bird",
            Target::Gobgp => "gobgpd",
        }
    }

    /// External binaries this target needs.
    pub fn binaries(self) -> &'static [&'static str] {
        match self {
            Target::Wren => &[],
            Target::Bird => &["bird", "birdc"],
            Target::Gobgp => &["gobgpd", "gobgp"],
        }
    }

    /// The version string (first line of `--version`), or what went wrong.
    pub fn version(self) -> String {
        let (prog, arg) = match self {
            Target::Wren => return format!("wren {}", env!("CARGO_PKG_VERSION")),
            Target::Bird => ("bird", "--version"),
            Target::Gobgp => ("gobgpd", "--version"),
        };
        match lab::run_output(prog, &[arg]) {
            Ok(out) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                text.lines().next().unwrap_or("?").trim().to_owned()
            }
            Err(e) => format!("unknown ({e})"),
        }
    }
}

/// wren's configuration for `spec`.
pub fn wren_config(spec: &Spec, socket: &str) -> String {
    let mut s = format!(
        "[global]\nasn = {TARGET_AS}\nrouter_id = \"{TARGET_ADDR}\"\nlisten_address = \"{TARGET_ADDR}\"\n\
         log_level = \"info\"\n\n[control]\nsocket = \"{socket}\"\n\n[kernel]\nenabled = false\n\n"
    );
    for (i, peer) in spec.peers_with_monitor().iter().enumerate() {
        let _ = write!(
            s,
            "[[peer]]\nname = \"p{i}\"\naddress = \"{}\"\nasn = {}\npassive = true\nhold_time = 90\n",
            peer.addr, peer.asn
        );
        if spec.mode == Mode::IbgpRr {
            s.push_str("rr_client = true\n");
        }
        s.push('\n');
    }
    s
}

/// BIRD's configuration for `spec`: one `protocol bgp` per peer, all in `master4`.
/// `multihop` because every address is a /32 on `lo` (no shared subnet); next hops then resolve
/// recursively (to nothing: the routes are `unreachable` in BIRD's table, which does not stop
/// their export and costs one host-cache lookup per next hop).
pub fn bird_config(spec: &Spec) -> String {
    let mut s = format!(
        "router id {TARGET_ADDR};\nlog stderr {{ info, remote, warning, error, auth, fatal, bug }};\n\
         protocol device {{ scan time 60; }}\n"
    );
    for (i, peer) in spec.peers_with_monitor().iter().enumerate() {
        let _ = writeln!(
            s,
            "protocol bgp p{i} {{\n  local {TARGET_ADDR} as {TARGET_AS};\n  neighbor {} as {};\n  \
             passive on;\n  hold time 90;",
            peer.addr, peer.asn
        );
        match spec.mode {
            Mode::Ebgp => s.push_str("  multihop;\n"),
            Mode::IbgpRr => {
                let _ = writeln!(s, "  rr client;\n  rr cluster id {TARGET_ADDR};");
            }
        }
        s.push_str("  ipv4 { import all; export all; };\n}\n");
    }
    s
}

/// GoBGP's configuration for `spec`.
pub fn gobgp_config(spec: &Spec) -> String {
    let mut s = format!(
        "[global.config]\n  as = {TARGET_AS}\n  router-id = \"{TARGET_ADDR}\"\n  port = 179\n  \
         local-address-list = [\"{TARGET_ADDR}\"]\n\n"
    );
    for peer in spec.peers_with_monitor() {
        let _ = writeln!(
            s,
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n  \
             [neighbors.timers.config]\n    hold-time = 90\n    keepalive-interval = 30\n  \
             [neighbors.transport.config]\n    passive-mode = true\n    local-address = \"{TARGET_ADDR}\"\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"",
            peer.addr, peer.asn
        );
        if spec.mode == Mode::IbgpRr {
            let _ = writeln!(
                s,
                "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    \
                 route-reflector-cluster-id = \"{TARGET_ADDR}\""
            );
        }
        s.push('\n');
    }
    s
}

/// A started target: the `timeout` wrapper's handle and the daemon's own pid.
pub struct Running {
    /// The spawned process (`timeout … [taskset …] daemon`).
    pub proc: ProcHandle,
    /// PID of the daemon itself (what /proc is read for).
    pub pid: u32,
    /// Wall-clock ns just before the spawn.
    pub start_ns: u64,
}

/// Writes the configuration of `target` for `spec` into the lab, starts the daemon in `node`
/// (under `taskset -c CPUS` when `cpus` is set) and returns once its process exists (not once it
/// listens: the generator retries its connections).
pub fn start(
    lab: &Lab,
    node: &Node,
    target: Target,
    spec: &Spec,
    cpus: Option<&str>,
    lifetime: Duration,
) -> Result<Running> {
    let mut argv: Vec<String> = Vec::new();
    if let Some(c) = cpus {
        argv.extend(["taskset".into(), "-c".into(), c.into()]);
    }
    match target {
        Target::Wren => {
            let socket = lab.run_dir().join("wren.ctl");
            let conf =
                lab.write_file("wren.toml", &wren_config(spec, &socket.to_string_lossy()))?;
            node.exec(&[
                env!("CARGO_BIN_EXE_wren"),
                "check",
                "--config",
                &conf.to_string_lossy(),
            ])
            .map_err(|e| e.context("wren rejects its configuration"))?;
            argv.extend(["env".into(), "RUST_LOG=info".into()]);
            // A profiler to run wren under (`heaptrack`, `valgrind --tool=massif`, `perf record -g`).
            if let Ok(wrap) = std::env::var("BGPERF_WREN_WRAP") {
                argv.extend(wrap.split_whitespace().map(String::from));
            }
            argv.extend([
                env!("CARGO_BIN_EXE_wren").into(),
                "run".into(),
                "--config".into(),
                conf.to_string_lossy().into_owned(),
            ]);
        }
        Target::Bird => {
            let conf = lab.write_file("bird.conf", &bird_config(spec))?;
            let conf = conf.to_string_lossy().into_owned();
            node.exec(&["bird", "-p", "-c", &conf])
                .map_err(|e| e.context("bird rejects its configuration"))?;
            let sock = lab.run_dir().join("bird.ctl");
            argv.extend([
                "bird".into(),
                "-f".into(),
                "-c".into(),
                conf,
                "-s".into(),
                sock.to_string_lossy().into_owned(),
            ]);
        }
        Target::Gobgp => {
            let conf = lab.write_file("gobgpd.toml", &gobgp_config(spec))?;
            let conf = conf.to_string_lossy().into_owned();
            node.exec(&["gobgpd", "-d", "-f", &conf, "-t", "toml"])
                .map_err(|e| e.context("gobgpd rejects its configuration"))?;
            argv.extend([
                "gobgpd".into(),
                "-f".into(),
                conf,
                "-t".into(),
                "toml".into(),
                "--api-hosts".into(),
                "127.0.0.1:50051".into(),
                "-p".into(),
                "--pprof-disable".into(),
                "--log-level=info".into(),
            ]);
        }
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let start_ns = crate::generator::now_ns();
    let proc = node.spawn_with_lifetime(target.name(), &argv, lifetime)?;
    let pid = lab::wait_for(
        Duration::from_secs(10),
        &format!("the {} process to exist", target.comm()),
        || {
            if !proc.is_running() {
                return Err(LabError::new(format!(
                    "{} exited at start ({:?}):\n{}",
                    target.name(),
                    proc.exit_status(),
                    proc.log_tail(20)
                )));
            }
            Ok(find_process(proc.pid(), target.comm()))
        },
    )?;
    Ok(Running {
        proc,
        pid,
        start_ns,
    })
}

/// Sends SIGTERM to `pid` and waits, at most `limit`, for it to exit.
pub fn terminate(pid: u32, limit: Duration) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = lab::wait_for(
        limit,
        "the daemon to exit after SIGTERM",
        || -> Result<Option<()>> {
            Ok(std::fs::metadata(format!("/proc/{pid}/stat"))
                .is_err()
                .then_some(()))
        },
    );
}

/// The descendant of `root` whose `comm` is `comm` (the daemon under `timeout`/`taskset`/`env`).
fn find_process(root: u32, comm: &str) -> Option<u32> {
    lab::descendants(root).into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
    })
}

/// CPU time (user + system, all threads) of `pid` in seconds, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: u32, clk_tck: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the comm: state(3) ppid(4) … utime(14) stime(15): indexes 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clk_tck)
}

/// A `kB` line of /proc/<pid>/status (`VmRSS`, `VmHWM`), in MiB.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's USER_HZ, if that fails).
pub fn clk_tck() -> f64 {
    lab::run("getconf", &["CLK_TCK"])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Fails naming what is missing to run `targets`: root, `ip`, `timeout`, `taskset` (with
/// `--pin`), and each target's binaries.
pub fn check_prerequisites(targets: &[Target], pin: bool) -> Result<()> {
    let mut missing = Vec::new();
    if let Err(e) = lab::require_root() {
        missing.push(e.to_string());
    }
    let mut bins: Vec<&str> = vec!["ip", "timeout", "kill"];
    if pin {
        bins.push("taskset");
    }
    for t in targets {
        bins.extend_from_slice(t.binaries());
    }
    if let Err(e) = lab::require_binaries(&bins) {
        missing.push(e.to_string());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        fail(missing.join("\n"))
    }
}
