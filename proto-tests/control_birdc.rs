//! The control socket driven by real clients:
//!
//! * `birdc` and `birdcl` from Debian's bird2 package (`.ci/deps` installs it) run against a
//!   wren control socket serving a fixed snapshot, and print what they would print for BIRD;
//! * a port of calico-node's `-bird-ready` check (`node/pkg/health`: `GetPeers`,
//!   `GRInProgress`, the decision of `checkBIRDReady`, v3.30) and of its `-bird-live` check
//!   (`birdcl -s SOCKET show status` must print something starting with `BIRD`);
//! * a port of `calicoctl node status`'s table parser and tablewriter rendering, checked on the
//!   reference's real output first and then on wren's socket;
//! * a process started through a `bird` symlink to the wren binary has argv[0] and comm `bird`,
//!   which is what calicoctl looks for;
//! * the `wren show …` / `wren status` CLI against the same socket.
//!
//! No root is needed. Missing `birdc`/`birdcl` fail the tests with the package to install.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use wren::control::example::{at, established_peer, example_snapshot};
use wren::control::server::{self, Options};
use wren::control::{protocol, Countdown, Family, GrProgress, Snapshot};

// ---------------------------------------------------------------------------------------------
// Harness: a control socket in a background runtime

static NEXT: AtomicUsize = AtomicUsize::new(0);

struct Socket {
    path: PathBuf,
    dir: PathBuf,
    tx: watch::Sender<Arc<Snapshot>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Socket {
    fn start(snapshot: Snapshot) -> Socket {
        Socket::start_with(snapshot, Options::default())
    }

    fn start_with(snapshot: Snapshot, options: Options) -> Socket {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("wren-ctl-{}-{n}", std::process::id()));
        let path = dir.join("bird.ctl");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(Arc::new(snapshot));
        let listener = runtime.block_on(async { server::bind(&path) }).unwrap();
        runtime.spawn(server::serve_listener(listener, rx, options));
        Socket {
            path,
            dir,
            tx,
            runtime: Some(runtime),
        }
    }

    fn publish(&self, snapshot: Snapshot) {
        self.tx.send(Arc::new(snapshot)).unwrap();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A BIRD client binary, or a failure naming the package (never a silent skip).
fn bird_client(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{name} not found: install Debian's bird2 package (`.ci/deps` does, as root)");
}

/// Run a BIRD client; (exit code, stdout).
fn client(name: &str, socket: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(bird_client(name));
    cmd.arg("-s").arg(socket).args(args);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn lines(text: &[&str]) -> String {
    let mut s = text.join("\n");
    s.push('\n');
    s
}

/// The reply as birdcl prints it: codes and continuation spaces stripped.
fn stripped(reply: &str) -> String {
    let mut out = String::new();
    for line in reply.lines() {
        let text = if let Some(rest) = line.strip_prefix(' ') {
            rest
        } else if line.starts_with("0000") {
            continue;
        } else {
            &line[5..]
        };
        out.push_str(text);
        out.push('\n');
    }
    out
}

/// The example node with both mesh peers Established.
fn all_established() -> Snapshot {
    let mut snap = example_snapshot();
    let now = snap.status.server_time;
    snap.protocols[5] = established_peer(
        "Mesh_10_192_0_4",
        "10.192.0.4".parse().unwrap(),
        "10.192.0.2".parse().unwrap(),
        7,
        now,
    );
    snap
}

fn with_graceful_restart(mut snap: Snapshot) -> Snapshot {
    snap.status.graceful_restart = Some(GrProgress {
        waiting_for: vec!["Mesh_10_192_0_4".into()],
        wait_timer: Countdown {
            expires: SystemTime::now() + Duration::from_secs(200),
            period_secs: 240,
        },
    });
    snap
}

// ---------------------------------------------------------------------------------------------
// birdc / birdcl

#[test]
fn birdc_prints_the_protocol_table_as_it_does_for_bird() {
    let sock = Socket::start(example_snapshot());
    let (code, out) = client("birdc", &sock.path, &["show", "protocols"], None);
    assert_eq!(code, 0, "{out}");
    // The example's changes are from 2024: more than 20 hours ago, so BIRD prints dates.
    assert_eq!(
        out,
        lines(&[
            "BIRD v0.3.3+birdv1.6.8 ready.",
            "name     proto    table    state  since       info",
            "static1  Static   master   up     2024-05-01  ",
            "kernel1  Kernel   master   up     2024-05-01  ",
            "device1  Device   master   up     2024-05-01  ",
            "direct1  Direct   master   up     2024-05-01  ",
            "Mesh_10_192_0_3 BGP      master   up     2024-05-01  Established   ",
            "Mesh_10_192_0_4 BGP      master   start  2024-05-01  Active        Socket: Connection refused",
        ])
    );
}

#[test]
fn birdcl_show_status_passes_calicos_liveness_check() {
    let sock = Socket::start(example_snapshot());
    let (code, out) = client("birdcl", &sock.path, &["show", "status"], None);
    assert_eq!(code, 0, "{out}");
    // calico-node -bird-live: stdout must start with "BIRD".
    assert!(out.starts_with("BIRD"), "{out}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got[0], "BIRD v0.3.3+birdv1.6.8 ready.");
    assert_eq!(got[1], "BIRD v0.3.3+birdv1.6.8");
    assert_eq!(got[2], "Router ID is 10.192.0.2");
    assert!(got[3].starts_with("Current server time is 20"), "{out}");
    assert_eq!(got[4], "Last reboot on 2024-05-01 10:15:30");
    assert_eq!(got[5], "Last reconfiguration on 2024-05-01 10:15:31");
    assert_eq!(got[6], "Daemon is up and running");
    assert_eq!(got.len(), 7);
}

#[test]
fn birdcl_shows_the_graceful_restart_lines() {
    let sock = Socket::start(with_graceful_restart(example_snapshot()));
    let (code, out) = client("birdcl", &sock.path, &["show", "status"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\nGraceful restart recovery in progress\n  Waiting for 1 protocols to recover\n  Wait timer is "), "{out}");
    assert!(out.ends_with("/240\nDaemon is up and running\n"), "{out}");
}

#[test]
fn birdc_prints_routes_details_and_counts_without_complaint() {
    let snap = example_snapshot();
    let sock = Socket::start(snap.clone());
    for cmd in [
        "show route",
        "show route count",
        "show route for 203.0.113.9",
        "show route protocol Mesh_10_192_0_3",
        "show protocols all",
        "show protocols all Mesh_10_192_0_3",
        "show protocols \"Mesh*\"",
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        let (code, out) = client("birdc", &sock.path, &args, None);
        assert_eq!(code, 0, "{cmd}: {out}");
        let mut here = snap.clone();
        // Dates only (everything is from 2024), so the reply does not depend on the clock;
        // timers have run out (0/240).
        here.status.server_time = SystemTime::now();
        let want = format!(
            "BIRD v0.3.3+birdv1.6.8 ready.\n{}",
            stripped(&protocol::reply(cmd, &here))
        );
        assert_eq!(out, want, "{cmd}");
        assert!(
            !out.contains("???"),
            "birdc could not parse a line of {cmd}: {out}"
        );
    }
}

#[test]
fn birdc_reports_errors_with_exit_code_1_as_with_bird() {
    let sock = Socket::start(example_snapshot());
    let (code, out) = client(
        "birdc",
        &sock.path,
        &["show", "protocols", "all", "Nope"],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "BIRD v0.3.3+birdv1.6.8 ready.\nNope is not a protocol\n"
    );
    let (code, out) = client(
        "birdcl",
        &sock.path,
        &["show", "route", "for", "192.0.2.1"],
        None,
    );
    assert_eq!(code, 1);
    assert_eq!(out, "BIRD v0.3.3+birdv1.6.8 ready.\nNetwork not in table\n");
}

#[test]
fn birdcl_sends_several_commands_on_one_connection() {
    let sock = Socket::start(example_snapshot());
    let (code, out) = client(
        "birdcl",
        &sock.path,
        &[],
        Some("show status\nshow protocols Mesh_10_192_0_3\nshow route count\n"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Daemon is up and running"), "{out}");
    assert!(
        out.contains("Mesh_10_192_0_3 BGP      master   up     2024-05-01  Established"),
        "{out}"
    );
    assert!(out.contains("6 of 6 routes for 5 networks"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// calico-node -bird-ready, ported (node/pkg/health, v3.30)

#[derive(Debug, Clone, PartialEq, Eq)]
struct BgpPeer {
    peer_ip: String,
    peer_type: String,
    state: String,
    since: String,
    bgp_state: String,
    info: String,
}

/// `bgpPeer.unmarshalBIRD`.
fn unmarshal_peer(line: &str, ip_sep: &str) -> Option<BgpPeer> {
    let columns: Vec<&str> = line.split_whitespace().collect();
    if columns.len() < 6 || columns[1] != "BGP" {
        return None;
    }
    // ^(Global|Node|Mesh)_(.+)$
    let (kind, rest) = columns[0].split_once('_')?;
    if rest.is_empty() {
        return None;
    }
    let peer_type = match kind {
        "Global" => "global",
        "Mesh" => "node-to-node mesh",
        "Node" => "node specific",
        _ => return None,
    };
    Some(BgpPeer {
        peer_ip: rest.replace('_', ip_sep),
        peer_type: peer_type.into(),
        state: columns[3].into(),
        since: columns[4].into(),
        bgp_state: columns[5].into(),
        info: columns[6..].join(" "),
    })
}

/// `scanBIRDPeers` over any line source.
fn scan_bird_peers(reader: &mut dyn BufRead, ip_sep: &str) -> Result<Vec<BgpPeer>, String> {
    let expected = ["name", "proto", "table", "state", "since", "info"];
    let mut peers = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(peers);
        }
        let s = line.trim_end_matches('\n');
        if s.starts_with("0000") {
            return Ok(peers);
        } else if s.starts_with("0001") {
        } else if s.starts_with("2002") {
            let f: Vec<&str> = s[5..].split_whitespace().collect();
            if f != expected {
                return Err("unknown BIRD table output format".into());
            }
        } else if s.starts_with("1002") {
            peers.extend(unmarshal_peer(&s[5..], ip_sep));
        } else if let Some(rest) = s.strip_prefix(' ') {
            peers.extend(unmarshal_peer(rest, ip_sep));
        } else {
            return Err(format!("unexpected output line from BIRD: '{s}'"));
        }
    }
}

fn dial(socket: &Path) -> Result<BufReader<UnixStream>, String> {
    let c = UnixStream::connect(socket)
        .map_err(|e| format!("error querying BIRD: unable to connect to BIRDv4 socket: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    Ok(BufReader::new(c))
}

/// `GetPeers("4")`.
fn get_peers(socket: &Path) -> Result<Vec<BgpPeer>, String> {
    let mut c = dial(socket)?;
    c.get_mut()
        .write_all(b"show protocols\n")
        .map_err(|e| e.to_string())?;
    scan_bird_peers(&mut c, ".")
}

/// `GRInProgress("4")`.
fn gr_in_progress(socket: &Path) -> Result<bool, String> {
    let mut c = dial(socket)?;
    c.get_mut()
        .write_all(b"show status\n")
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    loop {
        line.clear();
        if c.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(false);
        }
        let s = line.trim_end_matches('\n');
        if s.starts_with("0013") {
            return Ok(false);
        } else if s.starts_with("0001")
            || s.starts_with("1000")
            || s.starts_with("1011")
            || s.starts_with(' ')
        {
        } else if s.starts_with("0024") {
            return Ok(true);
        } else {
            return Err(format!("unexpected output line from BIRD: '{s}'"));
        }
    }
}

/// `checkBIRDReady`: `since_start` is the age of /var/lib/calico/nodename.
fn bird_ready(socket: &Path, since_start: Duration, threshold: Duration) -> Result<(), String> {
    let peers = get_peers(socket)?;
    if peers.is_empty() {
        return Ok(());
    }
    if since_start < threshold {
        let down: Vec<&str> = peers
            .iter()
            .filter(|p| p.bgp_state != "Established")
            .map(|p| p.peer_ip.as_str())
            .collect();
        if !down.is_empty() {
            return Err(format!("BGP not established with {}", down.join(",")));
        }
        if gr_in_progress(socket)? {
            return Err("BIRD graceful restart in progress".into());
        }
        Ok(())
    } else if peers.iter().any(|p| p.bgp_state == "Established") {
        Ok(())
    } else {
        Err("BGP not established with any peer".into())
    }
}

const THRESHOLD: Duration = Duration::from_secs(30);

#[test]
fn bird_ready_passes_when_every_peer_is_established_and_no_restart_is_in_progress() {
    let sock = Socket::start(all_established());
    let peers = get_peers(&sock.path).unwrap();
    assert_eq!(
        peers.iter().map(|p| p.peer_ip.as_str()).collect::<Vec<_>>(),
        ["10.192.0.3", "10.192.0.4"]
    );
    assert!(peers
        .iter()
        .all(|p| p.peer_type == "node-to-node mesh" && p.state == "up"));
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(5), THRESHOLD),
        Ok(())
    );
}

#[test]
fn bird_ready_fails_while_a_peer_is_down_then_passes_after_the_threshold() {
    let sock = Socket::start(example_snapshot());
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(5), THRESHOLD),
        Err("BGP not established with 10.192.0.4".to_owned())
    );
    let peers = get_peers(&sock.path).unwrap();
    assert_eq!(peers[1].bgp_state, "Active");
    assert_eq!(peers[1].info, "Socket: Connection refused");
    // After the threshold one Established peer is enough.
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(60), THRESHOLD),
        Ok(())
    );
}

#[test]
fn bird_ready_fails_during_graceful_restart_and_passes_once_it_ends() {
    let sock = Socket::start(with_graceful_restart(all_established()));
    assert_eq!(gr_in_progress(&sock.path), Ok(true));
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(5), THRESHOLD),
        Err("BIRD graceful restart in progress".to_owned())
    );
    sock.publish(all_established());
    assert_eq!(gr_in_progress(&sock.path), Ok(false));
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(5), THRESHOLD),
        Ok(())
    );
}

#[test]
fn bird_ready_passes_with_no_calico_peers_and_ignores_other_protocols() {
    let mut snap = example_snapshot();
    snap.protocols.truncate(4);
    let mut other = established_peer(
        "Local_Workload_10_0_0_9",
        "10.0.0.9".parse().unwrap(),
        "10.192.0.2".parse().unwrap(),
        0,
        at(281),
    );
    other.bgp.as_mut().unwrap().state = wren::control::BgpState::Active;
    snap.protocols.push(other);
    let sock = Socket::start(snap);
    assert_eq!(get_peers(&sock.path), Ok(vec![]));
    assert_eq!(
        bird_ready(&sock.path, Duration::from_secs(5), THRESHOLD),
        Ok(())
    );
}

#[test]
fn the_ipv6_socket_gives_calicos_v6_parser_only_ipv6_peers() {
    let mut snap = example_snapshot();
    snap.protocols.push(established_peer(
        "Mesh_fd00_10__3",
        "fd00:10::3".parse().unwrap(),
        "fd00:10::2".parse().unwrap(),
        5,
        at(281),
    ));
    let v6 = Socket::start_with(
        snap,
        Options {
            family: Some(Family::Ipv6),
        },
    );
    let mut c = dial(&v6.path).unwrap();
    c.get_mut().write_all(b"show protocols\n").unwrap();
    let peers = scan_bird_peers(&mut c, ":").unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].peer_ip, "fd00:10::3");
    assert_eq!(peers[0].bgp_state, "Established");
}

// ---------------------------------------------------------------------------------------------
// calicoctl node status, ported (calicoctl/commands/node/status.go + tablewriter)

/// `printPeers`: olekukonko/tablewriter's default rendering (headers upper-case and centred,
/// cells left-aligned).
fn print_peers(peers: &[BgpPeer]) -> String {
    let header = ["PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"];
    let rows: Vec<[String; 5]> = peers
        .iter()
        .map(|p| {
            let mut info = p.bgp_state.clone();
            if !p.info.is_empty() {
                info = format!("{info} {}", p.info);
            }
            [
                p.peer_ip.clone(),
                p.peer_type.clone(),
                p.state.clone(),
                p.since.clone(),
                info,
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap()
        })
        .collect();
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let mut out = border.clone();
    for (i, h) in header.iter().enumerate() {
        let pad = widths[i] - h.len();
        let left = pad / 2;
        out += &format!("| {}{}{} ", " ".repeat(left), h, " ".repeat(pad - left));
    }
    out += "|\n";
    out += &border;
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            out += &format!("| {cell:<w$} ", w = widths[i]);
        }
        out += "|\n";
    }
    out += &border;
    out
}

#[test]
fn the_calicoctl_table_port_reproduces_real_calicoctl_output() {
    // The reference's real `calicoctl node status` output, from this BIRD output.
    let bird = lines(&[
        "0001 BIRD v0.3.3+birdv1.6.8 ready.",
        "2002-name     proto    table    state  since       info",
        "1002-static1  Static   master   up     03:07:20    ",
        " Mesh_10_250_17_182 BGP      master   up     03:07:33    Established   ",
        " Global_10_250_17_111 BGP      master   up     06:18:28    Established   ",
        "0000 ",
    ]);
    let peers = scan_bird_peers(&mut bird.as_bytes(), ".").unwrap();
    assert_eq!(
        print_peers(&peers),
        lines(&[
            "+---------------+-------------------+-------+----------+-------------+",
            "| PEER ADDRESS  |     PEER TYPE     | STATE |  SINCE   |    INFO     |",
            "+---------------+-------------------+-------+----------+-------------+",
            "| 10.250.17.182 | node-to-node mesh | up    | 03:07:33 | Established |",
            "| 10.250.17.111 | global            | up    | 06:18:28 | Established |",
            "+---------------+-------------------+-------+----------+-------------+",
        ])
    );
}

#[test]
fn calicoctl_node_status_reads_wrens_socket_with_an_up_and_a_refused_peer() {
    let sock = Socket::start(example_snapshot());
    let peers = get_peers(&sock.path).unwrap();
    assert_eq!(
        print_peers(&peers),
        lines(&[
            "+--------------+-------------------+-------+------------+-----------------------------------+",
            "| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |               INFO                |",
            "+--------------+-------------------+-------+------------+-----------------------------------+",
            "| 10.192.0.3   | node-to-node mesh | up    | 2024-05-01 | Established                       |",
            "| 10.192.0.4   | node-to-node mesh | start | 2024-05-01 | Active Socket: Connection refused |",
            "+--------------+-------------------+-------+------------+-----------------------------------+",
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// The process name calicoctl looks for

/// calicoctl's `psContains([]string{"bird"}, processes)`: some process whose argv[0] is
/// exactly `bird`.
fn ps_contains_bird() -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).next() == Some(b"bird".as_slice()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn wren_started_through_a_bird_symlink_is_the_process_calicoctl_finds() {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("wren-bird-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("bird");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wren"), &link).unwrap();
    // A socket that accepts but never greets: the client waits, so the process stays up
    // while we look at it.
    let sock_path = dir.join("silent.ctl");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    // As runit's `exec bird …` does: found on PATH, so argv[0] is the bare name.
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bird")
        .env("PATH", path)
        .arg("status")
        .arg("--socket")
        .arg(&sock_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (conn, _) = listener.accept().unwrap();
    let pid = child.id();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap().to_vec();
    let seen = ps_contains_bird();
    drop(conn);
    let status = child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(comm, "bird\n");
    assert_eq!(String::from_utf8_lossy(&argv0), "bird");
    assert!(
        seen.contains(&pid),
        "calicoctl's scan did not find {pid}: {seen:?}"
    );
    // The daemon went away without greeting: the client says so and exits 1.
    assert_eq!(status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// The wren CLI

fn wren(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_wren_cli_shows_protocols_routes_a_peer_and_status_as_tables_and_json() {
    let sock = Socket::start(example_snapshot());
    let s = sock.path.to_str().unwrap();

    let (code, out, err) = wren(&["show", "protocols", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAME "), "{out}");
    assert!(out.contains("Socket: Connection refused"), "{out}");

    let (code, out, err) = wren(&["show", "route", "203.0.113.9", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("203.0.113.0/24"), "{out}");
    assert!(out.lines().any(|l| l.ends_with("longer as-path")), "{out}");

    let (code, out, err) = wren(&["show", "peer", "Mesh_10_192_0_3", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("capabilities      refresh"), "{out}");

    let (code, out, err) = wren(&["show", "peer", "Mesh_10_192_0_3", "--json", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bgp"]["state"], "Established");
    assert_eq!(v["bgp"]["session"]["hold_timer"]["period_secs"], 240);

    let (code, out, err) = wren(&["status", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("BGP sessions      1 of 2 established"),
        "{out}"
    );

    let (code, out, _) = wren(&["status", "--json", "--socket", s]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["router_id"], "10.192.0.2");
}

#[test]
fn the_wren_cli_exits_1_for_an_error_reply_or_no_socket_and_2_for_bad_usage() {
    let sock = Socket::start(example_snapshot());
    let s = sock.path.to_str().unwrap();
    let (code, _, err) = wren(&["show", "peer", "Nope", "--socket", s]);
    assert_eq!(code, 1);
    assert_eq!(err, "wren: Nope is not a protocol\n");
    let (code, _, err) = wren(&["show", "route", "192.0.2.1", "--socket", s]);
    assert_eq!(code, 1);
    assert_eq!(err, "wren: Network not in table\n");
    let (code, _, err) = wren(&["status", "--socket", "/nonexistent/wren.ctl"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("wren: cannot connect to /nonexistent/wren.ctl"),
        "{err}"
    );
    let (code, _, _) = wren(&["show", "peer"]);
    assert_eq!(code, 2);
}
