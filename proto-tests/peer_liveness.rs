//! Liveness: wren's hold timer finds a peer that goes silent, and a peer flooding UPDATEs does not
//! keep wren from hearing (and answering) another peer's KEEPALIVEs.
//!
//! * A GoBGP peer is frozen with SIGSTOP once the session is up: its sockets stay open, so the
//!   kernel sends neither FIN nor RST and no NOTIFICATION comes; the peer just goes quiet. wren
//!   must drop the session with Hold Timer Expired within the 9 s hold time (plus slack), and not
//!   much earlier than the hold time minus one keepalive interval, which shows that the hold timer
//!   found it and not a TCP close.
//! * A raw BGP speaker written here (the "flooder", this test binary re-executed inside its own
//!   namespace) sends UPDATEs as fast as wren takes them: every prefix of 198.18.128.0/17 (65535
//!   of them, lengths 17 to 32, 500 per UPDATE), End-of-RIB, then withdraws them all, and again,
//!   for 15 s. Meanwhile a GoBGP peer with the minimum hold time (3 s, KEEPALIVE every 1 s) must
//!   stay Established on both sides.
//!
//! Needs root and `gobgpd`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_for, wait_until, LabError, Node};

const WREN_AS: u32 = 4_200_000_001;
const GOBGP_AS: u32 = 64513;
const FLOODER_AS: u32 = 64514;
const DEADLINE: Duration = Duration::from_secs(30);

/// Environment variable that turns [`flooder_process`] into the flooder: `LOCAL REMOTE SECS`,
/// e.g. `198.18.1.1 198.18.1.2:179 15`.
const FLOODER_ENV: &str = "WREN_LIVENESS_FLOODER";
/// How long the flooder floods.
const FLOOD_SECS: u64 = 15;
/// Prefixes per flooded UPDATE (500 /32s are 2,500 octets of NLRI, under the 4096-octet limit).
const PREFIXES_PER_UPDATE: usize = 500;

// ------------------------------------------------------------------------------------------------
// Helpers

/// The first line of wren's log saying that `peer`'s session went down, if any.
fn session_down_line(log: &str, peer: &str) -> Option<String> {
    let needle = format!("peer {peer}: session down");
    log.lines().find(|l| l.contains(&needle)).map(str::to_owned)
}

/// Whether a session-down line gives the hold timer as the reason (`HoldTimerExpired` as logged
/// today; spelling-tolerant, so "hold timer expired" also counts).
fn is_hold_timer_reason(line: &str) -> bool {
    line.to_ascii_lowercase()
        .replace([' ', '_', '-'], "")
        .contains("holdtimerexpired")
}

/// The hold time GoBGP negotiated with `neighbor` (`timers.state.negotiated_hold_time`).
fn gobgp_negotiated_hold(gobgp: &Gobgp, neighbor: IpAddr) -> lab::Result<u64> {
    let json = gobgp.cli(&["neighbor", &neighbor.to_string(), "-j"])?;
    let v: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| LabError::new(format!("bad gobgp neighbor JSON ({e}): {json}")))?;
    v["timers"]["state"]["negotiated_hold_time"]
        .as_u64()
        .ok_or_else(|| LabError::new(format!("no timers.state.negotiated_hold_time in {json}")))
}

/// PIDs of the processes named `comm` running in `node`'s namespace.
fn pids_named(node: &Node, comm: &str) -> lab::Result<Vec<u32>> {
    let out = lab::run("ip", &["netns", "pids", node.ns()])?;
    Ok(out
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect())
}

/// The state letter of `/proc/PID/stat` (`T` when stopped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.trim_start().chars().next()
}

/// Processes frozen with SIGSTOP; SIGKILLed when dropped (also while a failing test unwinds), so
/// the lab's teardown never waits on a stopped daemon.
struct Frozen {
    pids: Vec<u32>,
}

impl Frozen {
    /// SIGSTOPs every process named `comm` in `node` and waits until the kernel reports them
    /// stopped.
    fn stop(node: &Node, comm: &str) -> lab::Result<Frozen> {
        let pids = pids_named(node, comm)?;
        if pids.is_empty() {
            return lab::fail(format!("no {comm} process in node {}", node.name()));
        }
        let frozen = Frozen { pids };
        let mut args = vec!["-STOP".to_owned()];
        args.extend(frozen.pids.iter().map(u32::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab::run("kill", &args)?;
        wait_until(
            Duration::from_secs(5),
            &format!("{comm} to be stopped"),
            || {
                let states: Vec<Option<char>> =
                    frozen.pids.iter().map(|p| proc_state(*p)).collect();
                if states.iter().all(|s| *s == Some('T')) {
                    Ok(true)
                } else {
                    Err(format!("states {states:?}"))
                }
            },
        )?;
        Ok(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let mut args = vec!["-KILL".to_owned()];
        args.extend(self.pids.iter().map(u32::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = lab::run_output("kill", &args);
    }
}

// ------------------------------------------------------------------------------------------------
// (a) A silent peer

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn a_silent_peer_is_dropped_when_the_hold_timer_expires() {
    const HOLD: Duration = Duration::from_secs(9);
    const KEEPALIVE: Duration = Duration::from_secs(3);
    let lab = lab::Lab::new("liveness_hold").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip", "kill", "ss"]).unwrap();
    let g = lab.add_node("gobgp").unwrap();
    let w = lab.add_node("wren").unwrap();
    let link = lab.link(&g, &w).unwrap();
    let (g4, w4) = (IpAddr::V4(link.a_v4), IpAddr::V4(link.b_v4));

    let gobgp = Gobgp::start(
        &g,
        &GobgpConfig::new(GOBGP_AS, link.a_v4).neighbor(
            GobgpNeighbor::new(w4, WREN_AS)
                .local_address(g4)
                .timers(9, 3),
        ),
    )
    .unwrap();
    // lab::wren::config proposes hold time 9 s.
    let wren = Wren::start(
        &lab,
        &w,
        "wren",
        &lab::wren::config(
            WREN_AS,
            &link.b_v4.to_string(),
            &[(g4, GOBGP_AS)],
            &["203.0.113.0/24"],
        ),
    )
    .unwrap();
    gobgp.wait_established(w4, DEADLINE).unwrap();
    wren.wait_for_log("session established", 1, DEADLINE)
        .unwrap();
    let log = wren.log();
    assert!(log.contains("hold 9 s"), "hold time not 9 s:\n{log}");
    assert_eq!(gobgp_negotiated_hold(&gobgp, w4).unwrap(), 9);

    // Freeze GoBGP: its socket stays open (the kernel still ACKs), it just says nothing more.
    let before_freeze = Instant::now();
    let _frozen = Frozen::stop(&g, "gobgpd").unwrap();
    let frozen_at = Instant::now();
    let sockets = g
        .exec(&[
            "ss",
            "-Htn",
            "state",
            "established",
            "( sport = :179 or dport = :179 )",
        ])
        .unwrap();
    assert!(
        !sockets.trim().is_empty(),
        "the frozen GoBGP's BGP connection should still be established"
    );

    // Measured from before the SIGSTOP for the upper bound and from after it was confirmed for
    // the lower bound, so both bounds are conservative; the wait itself allows 2 s more, so that
    // a late drop is reported with its time.
    let peer_name = format!("Peer_{}", g4.to_string().replace('.', "_"));
    let (upper, detected, line) = wait_for(
        HOLD + Duration::from_secs(5),
        "wren to drop the silent GoBGP peer",
        || match session_down_line(&wren.log(), &peer_name) {
            Some(line) => Ok(Some((before_freeze.elapsed(), frozen_at.elapsed(), line))),
            None => Err(format!(
                "no session down yet; log tail:\n{}",
                wren.proc().log_tail(5)
            )),
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nwren log:\n{}", wren.log()));
    assert!(
        is_hold_timer_reason(&line),
        "session dropped, but not by the hold timer: {line}"
    );
    assert!(
        upper <= HOLD + Duration::from_secs(3),
        "dropped only {upper:?} after the freeze, later than the {HOLD:?} hold time allows: {line}"
    );
    // The last KEEPALIVE came at most one keepalive interval before the freeze, so the hold timer
    // cannot fire before HOLD - KEEPALIVE (1 s of slack for GoBGP's timer jitter); a TCP close
    // would show within a second.
    assert!(
        detected >= HOLD - KEEPALIVE - Duration::from_secs(1),
        "dropped {detected:?} after the freeze, too early for a {HOLD:?} hold timer: {line}"
    );
    eprintln!("wren dropped the frozen peer {detected:.1?} after the freeze: {line}");
    assert!(wren.proc().is_running(), "{}", wren.log());
}

// ------------------------------------------------------------------------------------------------
// (b) A flooding peer next to a peer with the minimum hold time

#[test]
#[ignore = "needs root and gobgpd: run via make test"]
fn a_peer_flooding_updates_does_not_expire_another_peers_hold_timer() {
    let lab = lab::Lab::new("liveness_flood").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip"]).unwrap();
    let g = lab.add_node("gobgp").unwrap();
    let w = lab.add_node("wren").unwrap();
    let f = lab.add_node("flooder").unwrap();
    let gw = lab.link(&g, &w).unwrap();
    let fw = lab.link(&f, &w).unwrap();
    let (g4, w4) = (IpAddr::V4(gw.a_v4), IpAddr::V4(gw.b_v4));

    // Info level: once wren passes the flooded prefixes on, GoBGP's debug log would take
    // hundreds of megabytes.
    let mut gcfg = GobgpConfig::new(GOBGP_AS, gw.a_v4).neighbor(
        GobgpNeighbor::new(w4, WREN_AS)
            .local_address(g4)
            .timers(3, 1),
    );
    gcfg.log_level = "info".to_owned();
    let gobgp = Gobgp::start(&g, &gcfg).unwrap();
    let config = format!(
        "[global]\nasn = {WREN_AS}\nrouter_id = \"{w4}\"\nlisten_address = \"::\"\n\n\
         [control]\nsocket = \"/nonexistent/wren.ctl\"\n\n\
         [[peer]]\nname = \"gobgp\"\naddress = \"{g4}\"\nasn = {GOBGP_AS}\n\
         connect_retry = 3\nhold_time = 3\n\n\
         [[peer]]\nname = \"flooder\"\naddress = \"{}\"\nasn = {FLOODER_AS}\n\
         passive = true\nhold_time = 90\n\n\
         [[originate]]\nprefix = \"203.0.113.0/24\"\n",
        fw.a_v4
    );
    // Info level: debug would log a line per flooded prefix.
    let wren = Wren::start_with_log(&lab, &w, "wren", &config, "info").unwrap();
    gobgp.wait_established(w4, DEADLINE).unwrap();
    wren.wait_for_log("peer gobgp: session established", 1, DEADLINE)
        .unwrap();
    let log = wren.log();
    assert!(
        log.contains("peer gobgp: session established") && log.contains("hold 3 s"),
        "the GoBGP session should run with hold time 3 s:\n{log}"
    );
    assert_eq!(gobgp_negotiated_hold(&gobgp, w4).unwrap(), 3);

    // The flooder: this test binary, re-executed in the flooder's namespace.
    let exe = std::env::current_exe().unwrap();
    let spec = format!(
        "{FLOODER_ENV}={} {} {FLOOD_SECS}",
        fw.a_v4,
        SocketAddr::new(IpAddr::V4(fw.b_v4), 179)
    );
    let flooder = f
        .spawn_with_lifetime(
            "flooder",
            &[
                "env",
                &spec,
                &exe.to_string_lossy(),
                "--exact",
                "flooder_process",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ],
            Duration::from_secs(90),
        )
        .unwrap();
    let flooder_log = || std::fs::read_to_string(flooder.log_path()).unwrap_or_default();
    wait_until(DEADLINE, "the flooder's session with wren", || {
        if flooder_log().contains("flooder: established") {
            Ok(true)
        } else if !flooder.is_running() {
            Err(format!("flooder exited:\n{}", flooder.log_tail(30)))
        } else {
            Err(format!("flooder log tail:\n{}", flooder.log_tail(5)))
        }
    })
    .unwrap();
    wren.wait_for_log("peer flooder: session established", 1, DEADLINE)
        .unwrap();

    // While it floods, sample both ends of the GoBGP session every 250 ms (or as fast as gobgp
    // answers).
    let flood_start = Instant::now();
    let mut samples = 0u32;
    let monitor_deadline = Duration::from_secs(FLOOD_SECS + 15);
    loop {
        let sample_start = Instant::now();
        let t = flood_start.elapsed();
        let state = gobgp.neighbor_state(w4).unwrap();
        assert_eq!(
            state,
            "established",
            "GoBGP lost the session {t:.1?} into the flood; wren log:\n{}",
            wren.log()
        );
        let log = wren.log();
        if let Some(line) = session_down_line(&log, "gobgp") {
            panic!("wren dropped GoBGP {t:.1?} into the flood: {line}\n{log}");
        }
        if let Some(line) = session_down_line(&log, "flooder") {
            panic!("wren dropped the flooder {t:.1?} into the flood: {line}\n{log}");
        }
        samples += 1;
        if flooder_log().contains("flooder: done") {
            break;
        }
        assert!(
            flooder.is_running(),
            "the flooder failed:\n{}",
            flooder.log_tail(30)
        );
        assert!(
            t < monitor_deadline,
            "the flooder did not finish in {monitor_deadline:?}:\n{}",
            flooder.log_tail(10)
        );
        // Pace the samples (the gobgp query itself can take a good part of the period).
        std::thread::sleep(Duration::from_millis(250).saturating_sub(sample_start.elapsed()));
    }
    let flood_time = flood_start.elapsed();

    // Both sessions are still up, and GoBGP was never dropped on either side.
    assert_eq!(gobgp.neighbor_state(w4).unwrap(), "established");
    let log = wren.log();
    assert_eq!(session_down_line(&log, "gobgp"), None, "{log}");
    assert_eq!(session_down_line(&log, "flooder"), None, "{log}");
    assert_eq!(
        log.matches("peer gobgp: session established").count(),
        1,
        "{log}"
    );

    // wren really took the flood: each End-of-RIB after a full round found every prefix.
    let total = flood_prefixes().len();
    let full_rounds = log
        .lines()
        .filter(|l| l.contains("peer flooder: End-of-RIB"))
        // "…; received 65535 prefixes" or "…; 65535 prefixes, …": the count is what matters.
        .filter(|l| l.contains(&format!(" {total} prefixes")))
        .count();
    let summary = flooder_log()
        .lines()
        .find(|l| l.contains("flooder: done"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        full_rounds >= 1,
        "wren never logged End-of-RIB with all {total} flooded prefixes; flooder: {summary}\n{log}"
    );
    eprintln!(
        "{samples} samples over {flood_time:.1?}, GoBGP Established throughout; wren logged \
         {full_rounds} full rounds of {total} prefixes; {summary}"
    );
}

// ------------------------------------------------------------------------------------------------
// The flooder

/// Not a test: the flooder process of
/// `a_peer_flooding_updates_does_not_expire_another_peers_hold_timer`, which runs this binary
/// inside the flooder's namespace with [`FLOODER_ENV`] set. Without it, it returns at once.
#[test]
#[ignore = "the flood test's helper process; does nothing on its own"]
fn flooder_process() {
    let Ok(spec) = std::env::var(FLOODER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [local, remote, secs] = parts.as_slice() else {
        panic!("{FLOODER_ENV} must be `LOCAL REMOTE SECS`, got {spec:?}");
    };
    flooder::run(
        local.parse().unwrap(),
        remote.parse().unwrap(),
        Duration::from_secs(secs.parse().unwrap()),
    );
}

/// Every prefix inside 198.18.128.0/17, lengths 17 to 32 (65535 of them).
fn flood_prefixes() -> Vec<ipnet::IpNet> {
    let base = u32::from(Ipv4Addr::new(198, 18, 128, 0));
    (17u8..=32)
        .flat_map(|len| {
            (0..1u32 << (len - 17)).map(move |i| {
                let addr = Ipv4Addr::from(base + (i << (32 - u32::from(len))));
                ipnet::IpNet::V4(ipnet::Ipv4Net::new(addr, len).unwrap())
            })
        })
        .collect()
}

mod flooder {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::BytesMut;
    use wren::wire::{
        self, AsPath, Capability, Ctx, Family, Message, Nlri, Open, Origin, PathAttributes, Update,
    };

    use super::{flood_prefixes, FLOODER_AS, PREFIXES_PER_UPDATE};

    /// How long the flooder keeps its session after flooding (the test ends it sooner).
    const LINGER: Duration = Duration::from_secs(30);

    fn encode(msg: &Message, ctx: &Ctx) -> Vec<u8> {
        let mut out = BytesMut::new();
        wire::encode(msg, ctx, &mut out).unwrap();
        out.to_vec()
    }

    /// Reads one whole message; `None` on a read timeout with nothing buffered to finish.
    fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>, ctx: &Ctx) -> Option<Message> {
        loop {
            if let Some(n) = wire::frame_len(buf, wire::MAX_MESSAGE_LEN).unwrap() {
                let frame: Vec<u8> = buf.drain(..n).collect();
                return Some(wire::decode(&frame, ctx).unwrap().message);
            }
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk) {
                Ok(0) => panic!("flooder: wren closed the connection"),
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) => panic!("flooder: read failed: {e}"),
            }
        }
    }

    /// Connects to wren (retrying for 10 s), exchanges OPEN and KEEPALIVE, then floods for
    /// `flood`, printing `flooder: established` and `flooder: done …`.
    pub fn run(local: Ipv4Addr, remote: SocketAddr, flood: Duration) {
        let connect_by = Instant::now() + Duration::from_secs(10);
        let mut stream = loop {
            match TcpStream::connect_timeout(&remote, Duration::from_secs(2)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < connect_by => {
                    println!("flooder: connect to {remote}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("flooder: cannot connect to {remote}: {e}"),
            }
        };
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(250)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();

        // OPEN exchange (RFC 4271 §8.2.2): our OPEN, theirs, our KEEPALIVE, theirs.
        let open = Open::new(
            FLOODER_AS,
            90,
            local,
            vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
        );
        stream
            .write_all(&encode(&Message::Open(open.clone()), &Ctx::default()))
            .unwrap();
        let mut buf = Vec::new();
        let handshake_by = Instant::now() + Duration::from_secs(10);
        let mut theirs = None;
        let mut keepalive_seen = false;
        while theirs.is_none() || !keepalive_seen {
            assert!(
                Instant::now() < handshake_by,
                "flooder: no OPEN and KEEPALIVE from wren within 10 s"
            );
            match read_message(&mut stream, &mut buf, &Ctx::default()) {
                Some(Message::Open(o)) => {
                    stream
                        .write_all(&encode(&Message::Keepalive, &Ctx::default()))
                        .unwrap();
                    theirs = Some(o);
                }
                Some(Message::Keepalive) => keepalive_seen = true,
                Some(other) => panic!("flooder: unexpected {other:?} during the OPEN exchange"),
                None => {}
            }
        }
        let theirs = theirs.unwrap();
        let ctx = wire::negotiate(&open, &theirs).ctx;
        println!(
            "flooder: established with AS {} (hold {} s)",
            theirs.asn(),
            open.hold_time.min(theirs.hold_time)
        );

        // Drain what wren sends (its prefixes, KEEPALIVEs); note a NOTIFICATION or a close.
        let closed = Arc::new(AtomicBool::new(false));
        let mut rd = stream.try_clone().unwrap();
        let reader = {
            let closed = Arc::clone(&closed);
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let until = Instant::now() + flood + LINGER;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                while Instant::now() < until {
                    while let Ok(Some(n)) = wire::frame_len(&buf, wire::MAX_MESSAGE_LEN) {
                        let frame: Vec<u8> = buf.drain(..n).collect();
                        if let Ok(d) = wire::decode(&frame, &ctx) {
                            if let Message::Notification(n) = d.message {
                                println!("flooder: NOTIFICATION from wren: {n:?}");
                                closed.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                    match rd.read(&mut chunk) {
                        Ok(0) => {
                            println!("flooder: wren closed the connection");
                            closed.store(true, Ordering::SeqCst);
                            return;
                        }
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(e) => {
                            println!("flooder: read failed: {e}");
                            closed.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            })
        };

        // Pre-encoded rounds: announce everything, End-of-RIB, withdraw everything.
        let prefixes: Vec<Nlri> = flood_prefixes().into_iter().map(Nlri::new).collect();
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([FLOODER_AS])),
            next_hop: Some(local),
            ..PathAttributes::default()
        };
        let announce: Vec<Vec<u8>> = prefixes
            .chunks(PREFIXES_PER_UPDATE)
            .map(|c| {
                let u = Update {
                    attrs: attrs.clone(),
                    nlri: c.to_vec(),
                    ..Update::default()
                };
                encode(&Message::Update(u), &ctx)
            })
            .collect();
        let withdraw: Vec<Vec<u8>> = prefixes
            .chunks(PREFIXES_PER_UPDATE)
            .map(|c| {
                let u = Update {
                    withdrawn: c.to_vec(),
                    ..Update::default()
                };
                encode(&Message::Update(u), &ctx)
            })
            .collect();
        let eor = encode(
            &Message::Update(Update::end_of_rib(Family::IPV4_UNICAST)),
            &ctx,
        );
        let keepalive = encode(&Message::Keepalive, &ctx);

        let start = Instant::now();
        let hard_stop = flood + Duration::from_secs(15);
        let (mut updates, mut announced, mut withdrawn, mut rounds) = (0u64, 0u64, 0u64, 0u64);
        let mut last_keepalive = Instant::now();
        'flood: loop {
            for (phase, batches) in [("announce", &announce), ("withdraw", &withdraw)] {
                for batch in batches {
                    // Stop once the time is up and at least one full round went out.
                    if start.elapsed() >= flood && rounds >= 1 {
                        break 'flood;
                    }
                    assert!(
                        start.elapsed() < hard_stop,
                        "flooder: wren took less than one round ({updates} UPDATEs) in \
                         {hard_stop:?}"
                    );
                    assert!(
                        !closed.load(Ordering::SeqCst),
                        "flooder: the session ended during the flood"
                    );
                    if last_keepalive.elapsed() >= Duration::from_secs(10) {
                        stream.write_all(&keepalive).unwrap();
                        last_keepalive = Instant::now();
                    }
                    stream
                        .write_all(batch)
                        .unwrap_or_else(|e| panic!("flooder: write failed: {e}"));
                    updates += 1;
                }
                if phase == "announce" {
                    stream.write_all(&eor).unwrap();
                    announced += prefixes.len() as u64;
                } else {
                    withdrawn += prefixes.len() as u64;
                    rounds += 1;
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "flooder: done: {rounds} rounds, {updates} UPDATEs in {secs:.1} s \
             ({announced} prefixes announced and {withdrawn} withdrawn in full rounds, \
             {:.0} prefix changes/s)",
            (announced + withdrawn) as f64 / secs
        );
        // Keep the session (and keep draining) until the test ends it or LINGER passes.
        reader.join().unwrap();
    }
}
