//! Network-namespace lab harness shared by every integration / interop test in `proto-tests/`.
//!
//! Include it from a test crate with
//!
//! ```ignore
//! #[path = "lab/mod.rs"]
//! mod lab;
//! ```
//!
//! A [`Lab`] owns a set of network namespaces (one per [`Node`]), veth [`Link`]s between them,
//! and every process spawned inside them ([`ProcHandle`]). Dropping the `Lab` — on a normal end
//! or while a panic unwinds — kills the processes and deletes the namespaces. If the test process
//! itself dies (SIGKILL, Ctrl-C before unwinding, …), the next `Lab::new` in any test process
//! sweeps the leftovers: every namespace is named `wren-<pid>-<counter>-<node>`, and one whose
//! `<pid>` is no longer alive has its processes SIGKILLed and is deleted.
//!
//! Each test compiles its own copy of this module and uses only part of it, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

pub mod bird;
pub mod etcd;
pub mod gobgp;
pub mod wren;

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Prefix of every namespace (and run directory) the harness creates.
pub const NS_PREFIX: &str = "wren-";
/// Default lifetime of a spawned process: `timeout` kills it after this even if teardown never
/// runs.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// Timeout applied to every one-shot command (`ip …`, `gobgp …`, `birdc …`).
pub const COMMAND_TIMEOUT_SECS: u32 = 30;
/// How long teardown / [`ProcHandle::kill`] wait after SIGTERM before sending SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);
/// Lines of each log printed when a test panics.
pub const LOG_TAIL_LINES: usize = 40;
/// Longest node name: `to-<node>` plus a two-digit link index must fit in IFNAMSIZ-1 = 15.
pub const MAX_NODE_NAME: usize = 10;
/// Links per lab (one /24 of 198.18.0.0/16 each).
pub const MAX_LINKS: u32 = 256;

/// Process-wide counter making lab names unique across threads of one test binary.
static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

// ------------------------------------------------------------------------------------------------
// Errors

/// Error type of the harness: a human-readable message (with the command line, exit status,
/// stderr or raw output that explain it).
#[derive(Clone, PartialEq, Eq)]
pub struct LabError(pub String);

/// Result alias used throughout the harness.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

impl LabError {
    /// An error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// Prefixes the message with some context.
    #[must_use]
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Self(format!("{ctx}: {}", self.0))
    }
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Debug prints the bare message so `.unwrap()` failures stay readable (multi-line stderr etc.).
impl fmt::Debug for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabError {}

impl From<String> for LabError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for LabError {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<std::io::Error> for LabError {
    fn from(e: std::io::Error) -> Self {
        Self(format!("I/O error: {e}"))
    }
}

/// Shorthand for `Err(LabError::new(msg))`.
pub fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(LabError::new(msg))
}

// ------------------------------------------------------------------------------------------------
// Preconditions

/// Fails unless the effective uid is 0 (read from `/proc/self/status`; no libc).
pub fn require_root() -> Result<()> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| LabError::new(format!("cannot read /proc/self/status: {e}")))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| LabError::new(format!("no Uid line in /proc/self/status:\n{status}")))?;
    if euid != 0 {
        return fail(format!(
            "must run as root (uid 0) to create network namespaces, but euid is {euid}; \
             run via `make test` (which runs the privileged tests with --include-ignored as root)"
        ));
    }
    Ok(())
}

/// The Debian package that ships `binary`, for error messages.
pub fn debian_package(binary: &str) -> &'static str {
    match binary {
        "gobgpd" | "gobgp" => "gobgpd",
        "bird" | "birdc" | "birdcl" => "bird2",
        "etcd" => "etcd-server",
        "etcdctl" => "etcd-client",
        "tshark" | "dumpcap" => "tshark",
        "ip" | "bridge" | "tc" => "iproute2",
        "timeout" => "coreutils",
        "kill" | "sysctl" | "pkill" => "procps",
        "ping" => "iputils-ping",
        "tcpdump" => "tcpdump",
        _ => "(unknown package)",
    }
}

/// Finds an executable named `binary` in `$PATH`, `/usr/sbin` or `/sbin`.
pub fn find_binary(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/local/sbin", "/usr/sbin", "/sbin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(binary))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Fails naming every binary of `binaries` that is missing, with the Debian package providing it.
pub fn require_binaries(binaries: &[&str]) -> Result<()> {
    let missing: Vec<String> = binaries
        .iter()
        .filter(|b| find_binary(b).is_none())
        .map(|b| format!("`{b}` (Debian package {})", debian_package(b)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = binaries
        .iter()
        .filter(|b| find_binary(b).is_none())
        .map(|b| debian_package(b))
        .filter(|p| !p.starts_with('('))
        .collect();
    packages.dedup();
    let hint = if packages.is_empty() {
        String::new()
    } else {
        format!(
            "; install with `apt-get install {}` (or run `make test`)",
            packages.join(" ")
        )
    };
    fail(format!(
        "missing binaries (searched $PATH, /usr/local/sbin, /usr/sbin, /sbin): {}{hint}",
        missing.join(", ")
    ))
}

// ------------------------------------------------------------------------------------------------
// Commands

fn describe(program: &str, args: &[&str]) -> String {
    let mut s = program.to_owned();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Runs `timeout 30 PROGRAM ARGS…` and returns its output whatever the exit status.
pub fn run_output(program: &str, args: &[&str]) -> Result<Output> {
    let secs = COMMAND_TIMEOUT_SECS.to_string();
    Command::new("timeout")
        .args(["-k", "5", &secs, program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::new(format!("cannot run `{}`: {e}", describe(program, args))))
}

/// Runs `timeout 30 PROGRAM ARGS…` and returns its stdout; a non-zero exit is an error carrying
/// stderr (and stdout).
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = run_output(program, args)?;
    check_output(&describe(program, args), out)
}

fn check_output(cmd: &str, out: Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why = if out.status.code() == Some(124) {
        format!(" (killed by `timeout` after {COMMAND_TIMEOUT_SECS} s)")
    } else {
        String::new()
    };
    let mut msg = format!("`{cmd}` failed with {}{why}", out.status);
    for (name, text) in [("stderr", stderr.trim_end()), ("stdout", stdout.trim_end())] {
        if !text.is_empty() {
            msg.push_str(&format!("\n--- {name} ---\n{text}"));
        }
    }
    fail(msg)
}

/// `kill -SIGNAL PID…`, ignoring "no such process".
fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let mut args = vec![format!("-{sig}")];
    args.extend(pids.iter().map(u32::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _ = run_output("kill", &args);
}

fn netns_pids(ns: &str) -> Vec<u32> {
    run("ip", &["netns", "pids", ns])
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// PIDs of all descendants of `root`, nearest first (scans `/proc/*/stat`).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for entry in rd.filter_map(std::result::Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
            let ppid = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    let (_, after_comm) = stat.rsplit_once(')')?;
                    after_comm.split_whitespace().nth(1)?.parse::<u32>().ok()
                });
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&p) = found.get(i) {
        for &(child, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            if !found.contains(&child) {
                found.push(child);
            }
        }
        i += 1;
    }
    found.retain(|&p| p != root);
    found
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ------------------------------------------------------------------------------------------------
// Polling

const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Polls `f` every 200 ms until it returns `Ok(true)` or `deadline` has elapsed.
///
/// An `Err` from `f` does not stop polling: it is remembered, and the timeout error reports
/// `what`, the elapsed time, the number of polls and the last error. So a closure that wants its
/// failure explained should return `Err(description of what it saw)` rather than `Ok(false)`.
pub fn wait_until<E: fmt::Display>(
    deadline: Duration,
    what: &str,
    mut f: impl FnMut() -> Result<bool, E>,
) -> Result<()> {
    wait_for(deadline, what, || f().map(|done| done.then_some(())))
}

/// Checks `holds` every 100 ms for `period` — after a positive event, to show that something
/// stays true — and panics at the first poll where it does not.
#[allow(dead_code)]
#[track_caller]
pub fn assert_holds_for(
    period: std::time::Duration,
    what: &str,
    mut holds: impl FnMut() -> Result<bool>,
) {
    let start = std::time::Instant::now();
    loop {
        match holds() {
            Ok(true) => {}
            other => panic!(
                "{what} stopped holding after {:.1} s: {other:?}",
                start.elapsed().as_secs_f64()
            ),
        }
        if start.elapsed() >= period {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Like [`wait_until`], but the closure yields a value when done (`Ok(Some(v))`).
pub fn wait_for<T, E: fmt::Display>(
    deadline: Duration,
    what: &str,
    mut f: impl FnMut() -> Result<Option<T>, E>,
) -> Result<T> {
    let start = Instant::now();
    let mut polls = 0u32;
    let mut last_err: Option<(u32, String)> = None;
    loop {
        polls += 1;
        let last_was_err = match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => false,
            Err(e) => {
                last_err = Some((polls, e.to_string()));
                true
            }
        };
        let elapsed = start.elapsed();
        if elapsed >= deadline {
            let last = match (&last_err, last_was_err) {
                (Some((_, e)), true) => format!("last poll failed: {e}"),
                (Some((n, e)), false) => {
                    format!("last poll: not yet; last error (poll {n}): {e}")
                }
                (None, _) => "last poll: not yet (no errors)".to_owned(),
            };
            return fail(format!(
                "timed out after {:.1} s ({polls} polls, deadline {:.1} s) waiting for {what}; {last}",
                elapsed.as_secs_f64(),
                deadline.as_secs_f64()
            ));
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline.saturating_sub(elapsed)));
    }
}

// ------------------------------------------------------------------------------------------------
// Address family and routes (shared by the daemon helpers)

/// An address family (AFI with SAFI unicast).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

impl Family {
    /// Family of an address.
    pub fn of_addr(addr: IpAddr) -> Self {
        if addr.is_ipv4() {
            Self::Ipv4
        } else {
            Self::Ipv6
        }
    }

    /// Family of a prefix or address written as text (`:` means IPv6).
    pub fn of_prefix(prefix: &str) -> Self {
        if prefix.contains(':') {
            Self::Ipv6
        } else {
            Self::Ipv4
        }
    }

    /// `ipv4` / `ipv6` (gobgp `-a`, BIRD channel names).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
}

/// A route as seen by some daemon: prefix (canonical text, e.g. `203.0.113.0/24`), next hop and
/// the flattened AS path (AS_SET members included in order).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// Prefix, e.g. `2001:db8:a::/48`.
    pub prefix: String,
    /// Next hop, `None` for routes without one (e.g. BIRD `unreachable` statics).
    pub next_hop: Option<IpAddr>,
    /// AS path, left (most recent) first; empty for locally originated routes.
    pub as_path: Vec<u32>,
}

/// Finds the route for `prefix` in `routes`.
pub fn find_route<'a>(routes: &'a [Route], prefix: &str) -> Option<&'a Route> {
    routes.iter().find(|r| r.prefix == prefix)
}

// ------------------------------------------------------------------------------------------------
// Lab

struct ProcInner {
    child: Child,
}

struct Shared {
    test_name: String,
    /// `wren-<pid>-<counter>`: prefix of the namespaces of this lab.
    prefix: String,
    log_dir: PathBuf,
    run_dir: PathBuf,
    namespaces: Mutex<Vec<String>>,
    procs: Mutex<Vec<ProcHandle>>,
    next_link: AtomicU32,
    /// (namespace, interface) pairs in use, to keep interface names unique per namespace.
    ifnames: Mutex<HashSet<(String, String)>>,
}

/// A set of network namespaces, links and processes, torn down on drop.
pub struct Lab {
    shared: Arc<Shared>,
}

impl Lab {
    /// Checks preconditions (root, `ip`, `timeout`, `kill`), sweeps namespaces left by dead test
    /// processes, and creates the per-test log directory
    /// `<CARGO_TARGET_TMPDIR or $TMPDIR>/wren-lab/<test_name>-<pid>-<counter>/`.
    pub fn new(test_name: &str) -> Result<Lab> {
        require_root()?;
        require_binaries(&["ip", "timeout", "kill"])?;
        sweep_stale();
        let pid = std::process::id();
        let counter = LAB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let safe_name: String = test_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let log_dir = base
            .join("wren-lab")
            .join(format!("{safe_name}-{pid}-{counter}"));
        if log_dir.exists() {
            fs::remove_dir_all(&log_dir)?;
        }
        fs::create_dir_all(&log_dir)
            .map_err(|e| LabError::new(format!("cannot create {}: {e}", log_dir.display())))?;
        let prefix = format!("{NS_PREFIX}{pid}-{counter}");
        // Short directory for unix sockets (sun_path is 108 bytes; log_dir may be long).
        let run_dir = std::env::temp_dir().join(&prefix);
        fs::create_dir_all(&run_dir)
            .map_err(|e| LabError::new(format!("cannot create {}: {e}", run_dir.display())))?;
        Ok(Lab {
            shared: Arc::new(Shared {
                test_name: test_name.to_owned(),
                prefix,
                log_dir,
                run_dir,
                namespaces: Mutex::new(Vec::new()),
                procs: Mutex::new(Vec::new()),
                next_link: AtomicU32::new(0),
                ifnames: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// Directory holding the daemons' logs and configs of this lab (kept after the test).
    pub fn log_dir(&self) -> &Path {
        &self.shared.log_dir
    }

    /// Short per-lab directory for unix sockets (`$TMPDIR/wren-<pid>-<counter>`, removed on drop).
    pub fn run_dir(&self) -> &Path {
        &self.shared.run_dir
    }

    /// Test name given to [`Lab::new`].
    pub fn test_name(&self) -> &str {
        &self.shared.test_name
    }

    /// Writes `contents` to `<log_dir>/<rel>` (creating parent directories) and returns the path.
    pub fn write_file(&self, rel: &str, contents: &str) -> Result<PathBuf> {
        self.shared.write_file(rel, contents)
    }

    /// Creates a node: a namespace `wren-<pid>-<counter>-<name>` with `lo` up and IPv4/IPv6
    /// forwarding on. `name`: 1–10 characters `[a-z0-9]`, starting with a letter.
    pub fn add_node(&self, name: &str) -> Result<Node> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NODE_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return fail(format!(
                "invalid node name {name:?}: use 1-{MAX_NODE_NAME} chars [a-z0-9] starting with a letter"
            ));
        }
        let ns = format!("{}-{name}", self.shared.prefix);
        {
            let mut nss = lock(&self.shared.namespaces);
            if nss.contains(&ns) {
                return fail(format!("node {name:?} already exists in this lab"));
            }
            run("ip", &["netns", "add", &ns])?;
            nss.push(ns.clone());
        }
        let node = Node {
            name: name.to_owned(),
            ns,
            shared: Arc::clone(&self.shared),
        };
        run("ip", &["-n", &node.ns, "link", "set", "lo", "up"])?;
        node.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        node.exec(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])?;
        Ok(node)
    }

    /// Connects `a` and `b` with a veth pair (`to-<b>` in `a`, `to-<a>` in `b`, plus the link
    /// index if that name is taken). Link `k` (0-based, per lab) gets 198.18.k.1/24 (a) and
    /// 198.18.k.2/24 (b), and 2001:db8:0:k::1/64 and ::2/64 (`k` in hex; `nodad`).
    pub fn link(&self, a: &Node, b: &Node) -> Result<Link> {
        if a.ns == b.ns {
            return fail(format!("cannot link node {} to itself", a.name));
        }
        let k = self.shared.next_link.fetch_add(1, Ordering::SeqCst);
        if k >= MAX_LINKS {
            return fail(format!("too many links in one lab (max {MAX_LINKS})"));
        }
        let a_if = self.shared.claim_ifname(&a.ns, &b.name, k)?;
        let b_if = self.shared.claim_ifname(&b.ns, &a.name, k)?;
        run(
            "ip",
            &[
                "-n", &a.ns, "link", "add", &a_if, "type", "veth", "peer", "name", &b_if, "netns",
                &b.ns,
            ],
        )?;
        let octet = u8::try_from(k).map_err(|_| LabError::new("link index overflow"))?;
        let seg = u16::from(octet);
        let link = Link {
            index: k,
            a: a.name.clone(),
            b: b.name.clone(),
            a_if,
            b_if,
            a_v4: Ipv4Addr::new(198, 18, octet, 1),
            b_v4: Ipv4Addr::new(198, 18, octet, 2),
            a_v6: Ipv6Addr::new(0x2001, 0xdb8, 0, seg, 0, 0, 0, 1),
            b_v6: Ipv6Addr::new(0x2001, 0xdb8, 0, seg, 0, 0, 0, 2),
        };
        a.add_address(&link.a_if, &format!("{}/24", link.a_v4))?;
        b.add_address(&link.b_if, &format!("{}/24", link.b_v4))?;
        a.add_address(&link.a_if, &format!("{}/64", link.a_v6))?;
        b.add_address(&link.b_if, &format!("{}/64", link.b_v6))?;
        run("ip", &["-n", &a.ns, "link", "set", &link.a_if, "up"])?;
        run("ip", &["-n", &b.ns, "link", "set", &link.b_if, "up"])?;
        Ok(link)
    }

    /// Prints the log directory and the last lines of every log (what `Drop` does on panic).
    pub fn dump_logs(&self) {
        self.shared.dump_logs();
    }
}

impl Shared {
    fn write_file(&self, rel: &str, contents: &str) -> Result<PathBuf> {
        let rel_path = Path::new(rel);
        if rel_path.is_absolute()
            || rel_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return fail(format!(
                "write_file: {rel:?} must be relative and stay in the log dir"
            ));
        }
        let path = self.log_dir.join(rel_path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, contents)
            .map_err(|e| LabError::new(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    fn claim_ifname(&self, ns: &str, peer: &str, k: u32) -> Result<String> {
        let mut names = lock(&self.ifnames);
        for candidate in [
            format!("to-{peer}"),
            format!("to-{peer}{k}"),
            format!("veth{k}"),
        ] {
            if candidate.len() <= 15 && names.insert((ns.to_owned(), candidate.clone())) {
                return Ok(candidate);
            }
        }
        fail(format!("no free interface name for link {k} in {ns}"))
    }

    fn dump_logs(&self) {
        eprintln!(
            "\n===== lab {}: logs and configs in {}",
            self.test_name,
            self.log_dir.display()
        );
        let mut logs: Vec<PathBuf> = fs::read_dir(&self.log_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        for log in logs {
            eprintln!(
                "----- last {LOG_TAIL_LINES} lines of {} -----\n{}",
                log.display(),
                tail_file(&log, LOG_TAIL_LINES)
            );
        }
        eprintln!("===== end of lab {} logs", self.test_name);
    }

    fn teardown(&self) {
        let procs: Vec<ProcHandle> = std::mem::take(&mut *lock(&self.procs));
        // 1. SIGTERM every spawned process (their `timeout` wrapper forwards it to the daemon).
        let running: Vec<u32> = procs
            .iter()
            .filter(|p| p.is_running())
            .map(ProcHandle::pid)
            .collect();
        signal("TERM", &running);
        // 2. Bounded wait, then SIGKILL the stragglers.
        let _ = wait_until(
            TERM_GRACE,
            "spawned processes to exit after SIGTERM",
            || Ok::<_, LabError>(procs.iter().all(|p| !p.is_running())),
        );
        for p in &procs {
            p.sigkill();
        }
        // 3. SIGKILL anything still inside the namespaces (daemons orphaned by a killed
        //    `timeout`, stray helpers).
        let namespaces: Vec<String> = lock(&self.namespaces).clone();
        for ns in &namespaces {
            signal("KILL", &netns_pids(ns));
        }
        // 4. Reap our children (bounded: they were SIGKILLed).
        let _ = wait_until(
            Duration::from_secs(2),
            "killed processes to be reaped",
            || Ok::<_, LabError>(procs.iter().all(|p| !p.is_running())),
        );
        if std::thread::panicking() || std::env::var_os("WREN_LAB_DUMP_LOGS").is_some() {
            self.dump_logs();
        }
        // 5. Delete the namespaces (this also destroys their veths and dummies).
        for ns in &namespaces {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("lab teardown: {e}");
            }
        }
        lock(&self.namespaces).clear();
        let _ = fs::remove_dir_all(&self.run_dir);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shared.teardown();
    }
}

/// Last `n` lines of a file (lossy UTF-8); an explanatory line if unreadable.
pub fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(n);
            lines
                .iter()
                .skip(skip)
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Deletes namespaces `wren-<pid>-…` (and run dirs `$TMPDIR/wren-<pid>-<n>`) whose `<pid>` is no
/// longer alive, SIGKILLing whatever still runs inside them. Best effort: errors are printed.
pub fn sweep_stale() {
    let own = std::process::id();
    let dead = |name: &str| -> bool {
        name.strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid != own && !pid_alive(pid))
    };
    let list = match run("ip", &["netns", "list"]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lab: cannot list namespaces for the stale sweep: {e}");
            return;
        }
    };
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if !dead(ns) {
            continue;
        }
        let pids = netns_pids(ns);
        signal("KILL", &pids);
        match run("ip", &["netns", "del", ns]) {
            Ok(_) => eprintln!(
                "lab: swept stale namespace {ns} (its test process is gone; killed {} processes)",
                pids.len()
            ),
            // Another test process may have swept it concurrently.
            Err(e) => eprintln!("lab: could not sweep stale namespace {ns}: {e}"),
        }
    }
    if let Ok(rd) = fs::read_dir(std::env::temp_dir()) {
        for entry in rd.filter_map(std::result::Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_run_dir = name.strip_prefix(NS_PREFIX).is_some_and(|r| {
                r.split('-').count() == 2 && r.split('-').all(|p| p.parse::<u32>().is_ok())
            });
            if is_run_dir && dead(&name) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Node

/// A network namespace in a [`Lab`].
#[derive(Clone)]
pub struct Node {
    name: String,
    ns: String,
    shared: Arc<Shared>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({} in {})", self.name, self.ns)
    }
}

impl Node {
    /// Short name given to [`Lab::add_node`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Namespace name (`wren-<pid>-<counter>-<name>`).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The lab's log directory.
    pub fn log_dir(&self) -> &Path {
        &self.shared.log_dir
    }

    /// The lab's short run directory (unix sockets).
    pub fn run_dir(&self) -> &Path {
        &self.shared.run_dir
    }

    /// Writes a file into the lab's log directory (see [`Lab::write_file`]).
    pub fn write_file(&self, rel: &str, contents: &str) -> Result<PathBuf> {
        self.shared.write_file(rel, contents)
    }

    /// Runs `timeout 30 ip netns exec NS ARGV…`; returns its output whatever the exit status.
    pub fn exec_output(&self, argv: &[&str]) -> Result<Output> {
        let mut args = vec!["netns", "exec", self.ns.as_str()];
        args.extend_from_slice(argv);
        run_output("ip", &args)
    }

    /// Runs `timeout 30 ip netns exec NS ARGV…` and returns stdout; non-zero exit is an error
    /// with stderr.
    pub fn exec(&self, argv: &[&str]) -> Result<String> {
        let out = self.exec_output(argv)?;
        check_output(&format!("[{}] {}", self.name, argv.join(" ")), out)
    }

    /// Runs `timeout 30 ip -n NS ARGS…` and returns stdout (`ip` enters the namespace itself, so
    /// this is cheaper than [`Node::exec`] for tight polling loops, e.g. `ip -j route`).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// `ip -n NS addr add CIDR dev DEV` (`nodad` for IPv6).
    pub fn add_address(&self, dev: &str, cidr: &str) -> Result<()> {
        let mut args = vec!["-n", self.ns.as_str(), "addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            args.push("nodad");
        }
        run("ip", &args).map(drop)
    }

    /// Creates an up dummy interface `name` carrying `cidrs` (loopback-like addresses).
    pub fn add_dummy(&self, name: &str, cidrs: &[&str]) -> Result<()> {
        run(
            "ip",
            &["-n", &self.ns, "link", "add", name, "type", "dummy"],
        )?;
        for cidr in cidrs {
            self.add_address(name, cidr)?;
        }
        run("ip", &["-n", &self.ns, "link", "set", name, "up"]).map(drop)
    }

    /// Spawns `ARGV` in the namespace with the default lifetime (600 s); see
    /// [`Node::spawn_with_lifetime`].
    pub fn spawn(&self, name: &str, argv: &[&str]) -> Result<ProcHandle> {
        self.spawn_with_lifetime(name, argv, DEFAULT_LIFETIME)
    }

    /// Spawns `ip netns exec NS timeout -k 5 <lifetime> ARGV…` with stdin null and stdout+stderr
    /// appended to `<log_dir>/<node>-<name>.log`. The process is registered with the lab and
    /// killed on teardown; `timeout` kills it after `lifetime` even if teardown never runs.
    pub fn spawn_with_lifetime(
        &self,
        name: &str,
        argv: &[&str],
        lifetime: Duration,
    ) -> Result<ProcHandle> {
        let Some(program) = argv.first() else {
            return fail("spawn: empty argv");
        };
        let log_path = self
            .shared
            .log_dir
            .join(format!("{}-{name}.log", self.name));
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| LabError::new(format!("cannot open {}: {e}", log_path.display())))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        writeln!(
            log,
            "=== [lab t={:.3}] spawn in {}: {}",
            now.as_secs_f64(),
            self.ns,
            argv.join(" ")
        )?;
        let err_log = log.try_clone()?;
        let secs = lifetime.as_secs().max(1).to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "timeout", "-k", "5", &secs])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| LabError::new(format!("cannot spawn {program} in {}: {e}", self.ns)))?;
        let handle = ProcHandle {
            name: format!("{}-{name}", self.name),
            pid: child.id(),
            log_path,
            inner: Arc::new(Mutex::new(ProcInner { child })),
        };
        lock(&self.shared.procs).push(handle.clone());
        Ok(handle)
    }
}

// ------------------------------------------------------------------------------------------------
// Link

/// A veth pair between two nodes, with its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Link index within the lab (selects the subnets).
    pub index: u32,
    /// Name of node a.
    pub a: String,
    /// Name of node b.
    pub b: String,
    /// Interface in node a.
    pub a_if: String,
    /// Interface in node b.
    pub b_if: String,
    /// 198.18.k.1 (on a, /24).
    pub a_v4: Ipv4Addr,
    /// 198.18.k.2 (on b, /24).
    pub b_v4: Ipv4Addr,
    /// 2001:db8:0:k::1 (on a, /64).
    pub a_v6: Ipv6Addr,
    /// 2001:db8:0:k::2 (on b, /64).
    pub b_v6: Ipv6Addr,
}

// ------------------------------------------------------------------------------------------------
// Processes

/// A process spawned in a node; clones share the same child.
#[derive(Clone)]
pub struct ProcHandle {
    name: String,
    pid: u32,
    log_path: PathBuf,
    inner: Arc<Mutex<ProcInner>>,
}

impl fmt::Debug for ProcHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProcHandle({} pid {})", self.name, self.pid)
    }
}

impl ProcHandle {
    /// PID of the `timeout` wrapper (the direct child; the daemon is its child).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `<node>-<name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Path of the log file (stdout + stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        tail_file(&self.log_path, n)
    }

    /// Exit status if the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        lock(&self.inner).child.try_wait().ok().flatten()
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.inner).child.try_wait(), Ok(None))
    }

    /// Stops the process: SIGTERM (forwarded by `timeout` to the daemon), wait up to 5 s, then
    /// SIGKILL. Returns once it has been reaped.
    pub fn kill(&self) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        signal("TERM", &[self.pid]);
        if wait_until(TERM_GRACE, "process to exit after SIGTERM", || {
            Ok::<_, LabError>(!self.is_running())
        })
        .is_err()
        {
            self.sigkill();
        }
        wait_until(
            Duration::from_secs(5),
            &format!("{} to be reaped", self.name),
            || Ok::<_, LabError>(!self.is_running()),
        )
    }

    /// SIGKILLs the daemon (descendants of the `timeout` wrapper) and then the wrapper itself.
    fn sigkill(&self) {
        let mut inner = lock(&self.inner);
        if matches!(inner.child.try_wait(), Ok(None)) {
            signal("KILL", &descendants(self.pid));
            let _ = inner.child.kill();
        }
    }
}

// ------------------------------------------------------------------------------------------------
// LAN: a shared Ethernet segment

/// A shared Ethernet segment: a Linux bridge in a node of its own (the "switch"), with one veth
/// port per attached node. Unlike a [`Link`] (a point-to-point /24 per pair of nodes), every
/// attached node is on one subnet and reaches the others directly — what routes `via <another
/// node's address>` on a flat network (Calico without encapsulation, or CrossSubnet) need.
#[derive(Clone, Debug)]
pub struct Lan {
    switch: Node,
    bridge: String,
}

impl Lab {
    /// Creates bridge `bridge` (up) in `switch`; attach nodes with [`Lan::attach`].
    pub fn add_lan(&self, switch: &Node, bridge: &str) -> Result<Lan> {
        if !lock(&self.shared.ifnames).insert((switch.ns.clone(), bridge.to_owned())) {
            return fail(format!(
                "interface {bridge} already exists in {}",
                switch.name
            ));
        }
        switch.ip(&["link", "add", bridge, "type", "bridge"])?;
        switch.ip(&["link", "set", bridge, "up"])?;
        Ok(Lan {
            switch: switch.clone(),
            bridge: bridge.to_owned(),
        })
    }
}

impl Lan {
    /// The node holding the bridge.
    pub fn switch(&self) -> &Node {
        &self.switch
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Connects `node` to the segment: a veth `ifname` in `node` (up, carrying `cidrs`; IPv6 ones
    /// `nodad`) whose other end, `p-<node>` in the switch, is an up port of the bridge.
    pub fn attach(&self, node: &Node, ifname: &str, cidrs: &[&str]) -> Result<()> {
        let port = format!("p-{}", node.name);
        {
            let mut names = lock(&self.switch.shared.ifnames);
            if !names.insert((node.ns.clone(), ifname.to_owned())) {
                return fail(format!(
                    "interface {ifname} already exists in {}",
                    node.name
                ));
            }
            if !names.insert((self.switch.ns.clone(), port.clone())) {
                return fail(format!("{} is already attached to the LAN", node.name));
            }
        }
        node.ip(&[
            "link",
            "add",
            ifname,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.switch.ns,
        ])?;
        self.switch
            .ip(&["link", "set", &port, "master", &self.bridge, "up"])?;
        for cidr in cidrs {
            node.add_address(ifname, cidr)?;
        }
        node.ip(&["link", "set", ifname, "up"]).map(drop)
    }
}
