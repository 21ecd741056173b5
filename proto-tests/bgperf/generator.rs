//! The load generator: `bgperf generate SPEC.json`, run by the harness inside the namespace.
//!
//! One tokio task pair (reader, writer) per emulated speaker, all in one current-thread runtime:
//!
//! 1. Encode every tester's UPDATEs (and the churn phase's withdrawals and re-announcements)
//!    before any session exists, so the clock never includes encoding.
//! 2. Connect every tester and the monitor(s) to the target, each from its own source address,
//!    with OPEN (4-octet AS, IPv4 unicast, route refresh; hold time 90 s) and KEEPALIVE.
//!    Connection attempts are retried every 200 ms until the deadline (the target may not
//!    listen yet); at most `max_connecting` of them (default 8) are in flight at once, as peers
//!    that do not all connect in the same millisecond (BIRD listens with a backlog of 8: 500
//!    simultaneous connects overflow its accept queue and cost about 20 s of SYN retransmits;
//!    `--connect-burst` measures that). Writers send a KEEPALIVE every 30 s, so long runs keep their sessions.
//! 3. When every session is up, every tester writes its pre-encoded UPDATEs with one
//!    `write_all`. "first send" is just before the first write starts, "last send" when the
//!    last write returned: the generator's own send time (bgperf2's "testers (s)").
//! 4. The monitor (eBGP) or every client (route reflector) decodes what the target sends with
//!    `wren::wire`, applies withdrawals and announcements to a bitmap of expected prefixes,
//!    checks next hop and AS path of every announced prefix, and timestamps each change of its
//!    count. "loaded" is the timestamp at which the last monitor came to hold every prefix.
//! 5. Churn (scenario e): withdraw every 10th prefix of each tester, wait until the monitor
//!    holds exactly the rest, announce them again, wait until it holds all again.
//!
//! Testers drain what the target sends them (its exports of the other testers' routes) without
//! decoding more than the message header. Results go to stdout as one `BGPERF-RESULT {json}`
//! line; `BGPERF-EVENT loaded` and `BGPERF-EVENT done` lines mark the moments the harness reads
//! the target's CPU time at.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use wren::wire::{
    self, msg_type, Capability, Ctx, Family, Message, Open, Update, HEADER_LEN, MAX_MESSAGE_LEN,
};

use crate::workload::{Mode, PeerSpec, Spec, HOLD_TIME};

/// Prefix of the result line on stdout.
pub const RESULT_TAG: &str = "BGPERF-RESULT ";
/// Prefix of event lines on stdout.
pub const EVENT_TAG: &str = "BGPERF-EVENT ";
/// How long one connection attempt plus OPEN/KEEPALIVE exchange may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait between connection attempts.
const RETRY_WAIT: Duration = Duration::from_millis(200);

/// Wall-clock time in nanoseconds since the epoch (comparable across processes).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Timestamps of the churn phase (scenario e), in ns since the epoch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChurnTimes {
    /// Prefixes withdrawn and re-announced.
    pub prefixes: u64,
    /// First withdrawal written.
    pub withdraw_first_send_ns: u64,
    /// Last withdrawal written.
    pub withdraw_last_send_ns: Option<u64>,
    /// The monitor held exactly the prefixes not withdrawn.
    pub withdrawn_seen_ns: Option<u64>,
    /// First re-announcement written.
    pub reannounce_first_send_ns: Option<u64>,
    /// Last re-announcement written.
    pub reannounce_last_send_ns: Option<u64>,
    /// The monitor held every prefix again.
    pub settled_ns: Option<u64>,
}

/// What the generator measured and checked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GenResult {
    /// Scenario name from the spec.
    pub scenario: String,
    /// Generator process start.
    pub start_ns: u64,
    /// Time to encode every message, ms.
    pub encode_ms: f64,
    /// UPDATEs the testers send in the load phase.
    pub messages: u64,
    /// Octets the testers send in the load phase.
    pub bytes: u64,
    /// Every session established.
    pub sessions_up_ns: Option<u64>,
    /// Just before the first tester UPDATE was written.
    pub first_send_ns: Option<u64>,
    /// The last tester's last UPDATE written.
    pub last_send_ns: Option<u64>,
    /// The last monitor came to hold every expected prefix.
    pub loaded_ns: Option<u64>,
    /// The churn phase, if any.
    pub churn: Option<ChurnTimes>,
    /// Number of monitoring sessions.
    pub monitors: u64,
    /// Prefixes each monitor must hold.
    pub expected: u64,
    /// Fewest prefixes any monitor held at the end.
    pub held_min: u64,
    /// Announcements with a wrong next hop or AS path (all monitors).
    pub wrong: u64,
    /// Announcements of prefixes nobody sent.
    pub unexpected: u64,
    /// Announcements of a prefix the monitor already held with the right attributes.
    pub duplicates: u64,
    /// UPDATE messages the monitors received (all monitors), a measure of the target's packing.
    pub monitor_updates: u64,
    /// RR: a client's own routes reflected back to it (RFC 4456 allows it; not counted).
    pub own_reflected: u64,
    /// The first wrong announcement, described.
    pub first_wrong: Option<String>,
    /// What the generator was waiting for when the deadline passed.
    pub timed_out: Option<String>,
    /// Session errors (NOTIFICATIONs, closed connections, failed connects).
    pub errors: Vec<String>,
    /// Failed connection attempts that were retried.
    pub connect_retries: u64,
    /// Why attempts failed: reason → count.
    pub retry_reasons: std::collections::BTreeMap<String, u64>,
    /// Every monitor held exactly the expected prefixes, all with the right attributes, with no
    /// session error and no timeout.
    pub correct: bool,
}

/// Entry point of `bgperf generate SPEC`: runs the spec and prints the result line. Returns the
/// process exit code (0 unless the spec could not be read).
pub fn main(spec_path: &str) -> i32 {
    let spec: Spec = match std::fs::read_to_string(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bgperf generate: cannot read spec {spec_path}: {e}");
            return 2;
        }
    };
    if let Err(e) = spec.validate() {
        eprintln!("bgperf generate: bad spec: {e}");
        return 2;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bgperf generate: no tokio runtime: {e}");
            return 2;
        }
    };
    let result = rt.block_on(generate(spec));
    match serde_json::to_string(&result) {
        Ok(json) => println!("{RESULT_TAG}{json}"),
        Err(e) => {
            eprintln!("bgperf generate: cannot serialize the result: {e}");
            return 2;
        }
    }
    // Do not wait for the sessions' tasks: dropping the runtime closes every socket.
    rt.shutdown_background();
    0
}

fn event(name: &str) {
    println!("{EVENT_TAG}{name} {}", now_ns());
}

/// Reads whole BGP messages from a socket.
struct FrameReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
}

impl FrameReader {
    async fn next(&mut self) -> Result<BytesMut, String> {
        loop {
            match wire::frame_len(&self.buf, MAX_MESSAGE_LEN) {
                Ok(Some(n)) => return Ok(self.buf.split_to(n)),
                Ok(None) => {}
                Err(e) => return Err(format!("bad framing from the target: {e}")),
            }
            if self.buf.capacity() - self.buf.len() < MAX_MESSAGE_LEN {
                self.buf.reserve(64 * 1024);
            }
            let n = self
                .rd
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the target".to_owned());
            }
        }
    }
}

fn encode(msg: &Message) -> Result<Vec<u8>, String> {
    wire::encode_to_vec(msg, &Ctx::default()).map_err(|e| format!("encode: {e}"))
}

/// One connection attempt: TCP from `me.addr`, OPEN, wait for the target's OPEN, KEEPALIVE,
/// wait for its KEEPALIVE.
async fn try_establish(
    spec: &Spec,
    me: PeerSpec,
) -> Result<(FrameReader, OwnedWriteHalf, Ctx), String> {
    let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    sock.bind(SocketAddr::new(IpAddr::V4(me.addr), 0))
        .map_err(|e| format!("bind {}: {e}", me.addr))?;
    let stream = sock
        .connect(SocketAddr::new(IpAddr::V4(spec.target), spec.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader {
        rd,
        buf: BytesMut::with_capacity(64 * 1024),
    };
    let open = Open::new(
        me.asn,
        HOLD_TIME,
        me.addr,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
        ],
    );
    wr.write_all(&encode(&Message::Open(open))?)
        .await
        .map_err(|e| format!("write OPEN: {e}"))?;
    let theirs = loop {
        let frame = reader.next().await?;
        match wire::decode(&frame, &Ctx::default()).map(|d| d.message) {
            Ok(Message::Open(o)) => break o,
            Ok(Message::Notification(n)) => return Err(format!("NOTIFICATION: {n}")),
            Ok(_) => continue,
            Err(e) => return Err(format!("bad message before OPEN: {e}")),
        }
    };
    if theirs.four_octet_as().is_none() {
        return Err("the target does not support 4-octet AS numbers".to_owned());
    }
    wr.write_all(&encode(&Message::Keepalive)?)
        .await
        .map_err(|e| format!("write KEEPALIVE: {e}"))?;
    loop {
        let frame = reader.next().await?;
        match frame.get(HEADER_LEN - 1).copied() {
            Some(msg_type::KEEPALIVE) => break,
            Some(msg_type::NOTIFICATION) => {
                let n = wire::decode(&frame, &Ctx::default())
                    .map(|d| format!("{:?}", d.message))
                    .unwrap_or_default();
                return Err(format!("NOTIFICATION in OpenConfirm: {n}"));
            }
            _ => continue,
        }
    }
    let ctx = Ctx {
        ibgp: theirs.asn() == me.asn,
        ..Ctx::default()
    };
    Ok((reader, wr, ctx))
}

/// Retries [`try_establish`] until it works or `deadline` passes.
async fn establish(
    spec: &Spec,
    me: PeerSpec,
    deadline: Instant,
    retries: &Retries,
    pace: Option<&tokio::sync::Semaphore>,
) -> Result<(FrameReader, OwnedWriteHalf, Ctx), String> {
    let mut last = String::from("none");
    loop {
        if Instant::now() >= deadline {
            return Err(format!(
                "{}: no session before the deadline; last attempt: {last}",
                me.addr
            ));
        }
        let _permit = match pace {
            Some(s) => s.acquire().await.ok(),
            None => None,
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, try_establish(spec, me)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no OPEN/KEEPALIVE within {HANDSHAKE_TIMEOUT:?}"),
        }
        retries.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = retries.reasons.lock() {
            // Addresses and ports would make every reason unique.
            let key: String = last.chars().filter(|c| !c.is_ascii_digit()).collect();
            *r.entry(key).or_default() += 1;
        }
        tokio::time::sleep(RETRY_WAIT).await;
    }
}

/// Failed connection attempts, and why.
#[derive(Default)]
struct Retries {
    count: AtomicU64,
    reasons: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// A write request for a session's writer task; answered with the time the write finished.
struct WriteReq {
    bytes: Arc<Vec<u8>>,
    done: oneshot::Sender<Result<u64, String>>,
}

/// Writes requested buffers, and a KEEPALIVE every third of the hold time.
async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<WriteReq>) {
    let Ok(keepalive) = encode(&Message::Keepalive) else {
        return;
    };
    let period = Duration::from_secs(u64::from(HOLD_TIME / 3).max(1));
    let mut tick = tokio::time::interval_at(Instant::now() + period, period);
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(WriteReq { bytes, done }) = cmd else { return };
                let r = wr.write_all(&bytes).await.map(|()| now_ns()).map_err(|e| format!("write: {e}"));
                let _ = done.send(r);
            }
            _ = tick.tick() => {
                if wr.write_all(&keepalive).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What a monitoring session holds.
struct Tracker {
    spec: Arc<Spec>,
    /// Expected AS path per (tester, attribute set).
    paths: Arc<Vec<Vec<Vec<u32>>>>,
    /// RR: this client's own index (its routes are not expected back).
    own: Option<u32>,
    bits: Vec<u64>,
    count: u64,
    wrong: u64,
    unexpected: u64,
    duplicates: u64,
    own_reflected: u64,
    updates: u64,
    first_wrong: Option<String>,
    tx: watch::Sender<(u64, u64)>,
}

impl Tracker {
    fn bit(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1u64 << (i % 64);
            } else {
                *w &= !(1u64 << (i % 64));
            }
        }
    }

    fn process(&mut self, u: &Update) {
        let before = self.count;
        self.updates += 1;
        let per_peer = self.spec.per_peer as usize;
        for (_, n) in u.withdrawals() {
            if let Some((p, k)) = self.spec.index_of(&n.prefix) {
                let i = p as usize * per_peer + k as usize;
                if Some(p) != self.own && self.bit(i) {
                    self.set(i, false);
                    self.count -= 1;
                }
            }
        }
        let path: Vec<u32> = u
            .attrs
            .as_path
            .as_ref()
            .map(|p| p.asns().collect())
            .unwrap_or_default();
        let run = self.spec.run_len();
        for (_, n, nh) in u.announcements() {
            let Some((p, k)) = self.spec.index_of(&n.prefix) else {
                self.unexpected += 1;
                if self.first_wrong.is_none() {
                    self.first_wrong = Some(format!("unexpected prefix {}", n.prefix));
                }
                continue;
            };
            if Some(p) == self.own {
                self.own_reflected += 1;
                continue;
            }
            let i = p as usize * per_peer + k as usize;
            let want_nh = IpAddr::V4(self.spec.expected_next_hop(p));
            let want_path = self
                .paths
                .get(p as usize)
                .and_then(|sets| sets.get((k / run) as usize));
            let nh = nh.map(|h| h.addr());
            if nh == Some(want_nh) && want_path == Some(&path) {
                if self.bit(i) {
                    self.duplicates += 1;
                } else {
                    self.set(i, true);
                    self.count += 1;
                }
            } else {
                self.wrong += 1;
                if self.first_wrong.is_none() {
                    self.first_wrong = Some(format!(
                        "{}: next hop {nh:?} AS path {path:?}, expected {want_nh} {want_path:?}",
                        n.prefix
                    ));
                }
                if self.bit(i) {
                    self.set(i, false);
                    self.count -= 1;
                }
            }
        }
        if self.count != before {
            self.tx.send_replace((self.count, now_ns()));
        }
    }
}

type Errors = Arc<Mutex<Vec<String>>>;

fn push_error(errors: &Errors, e: String) {
    if let Ok(mut v) = errors.lock() {
        if v.len() < 50 {
            v.push(e);
        }
    }
}

/// Reads what the target sends: decoded into `tracker` when monitoring, else only framed.
async fn read_loop(
    mut reader: FrameReader,
    ctx: Ctx,
    tracker: Option<Arc<Mutex<Tracker>>>,
    errors: Errors,
    name: String,
) {
    loop {
        let frame = match reader.next().await {
            Ok(f) => f,
            Err(e) => {
                push_error(&errors, format!("{name}: {e}"));
                return;
            }
        };
        match frame.get(HEADER_LEN - 1).copied() {
            Some(msg_type::UPDATE) => {
                let Some(t) = &tracker else { continue };
                match wire::decode(&frame, &ctx) {
                    Ok(d) => {
                        if let Message::Update(u) = d.message {
                            if let Ok(mut t) = t.lock() {
                                t.process(&u);
                            }
                        }
                    }
                    Err(e) => {
                        push_error(&errors, format!("{name}: undecodable UPDATE: {e}"));
                        return;
                    }
                }
            }
            Some(msg_type::NOTIFICATION) => {
                let n = wire::decode(&frame, &ctx)
                    .map(|d| format!("{:?}", d.message))
                    .unwrap_or_default();
                push_error(
                    &errors,
                    format!("{name}: NOTIFICATION from the target: {n}"),
                );
                return;
            }
            _ => {}
        }
    }
}

/// An established session as the main task sees it.
struct Session {
    /// Index of the tester (None: the eBGP monitor).
    tester: Option<u32>,
    addr: std::net::Ipv4Addr,
    tx: mpsc::Sender<WriteReq>,
    tracker: Option<(Arc<Mutex<Tracker>>, Progress)>,
}

/// A monitor's prefix count and the wall-clock ns of its last change.
type Progress = watch::Receiver<(u64, u64)>;

#[allow(clippy::too_many_arguments)]
async fn start_session(
    spec: Arc<Spec>,
    paths: Arc<Vec<Vec<Vec<u32>>>>,
    me: PeerSpec,
    tester: Option<u32>,
    monitoring: bool,
    deadline: Instant,
    retries: Arc<Retries>,
    pace: Option<Arc<tokio::sync::Semaphore>>,
    errors: Errors,
) -> Result<Session, String> {
    let (reader, wr, ctx) = establish(&spec, me, deadline, &retries, pace.as_deref()).await?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(write_loop(wr, rx));
    let tracker = monitoring.then(|| {
        let (wtx, wrx) = watch::channel((0u64, 0u64));
        let words = (spec.total() as usize).div_ceil(64);
        let t = Tracker {
            spec: Arc::clone(&spec),
            paths: Arc::clone(&paths),
            own: if spec.mode == Mode::IbgpRr {
                tester
            } else {
                None
            },
            bits: vec![0; words],
            count: 0,
            wrong: 0,
            unexpected: 0,
            duplicates: 0,
            own_reflected: 0,
            updates: 0,
            first_wrong: None,
            tx: wtx,
        };
        (Arc::new(Mutex::new(t)), wrx)
    });
    let name = match tester {
        Some(p) => format!("tester {p} ({})", me.addr),
        None => format!("monitor ({})", me.addr),
    };
    tokio::spawn(read_loop(
        reader,
        ctx,
        tracker.as_ref().map(|(t, _)| Arc::clone(t)),
        errors,
        name,
    ));
    Ok(Session {
        tester,
        addr: me.addr,
        tx,
        tracker,
    })
}

/// Hands each tester its buffer at once; returns (first send, last write finished).
async fn send_phase(
    sessions: &[Session],
    buffers: &[Arc<Vec<u8>>],
    deadline: Instant,
) -> Result<(u64, u64), String> {
    let first = now_ns();
    let mut dones = Vec::new();
    for s in sessions {
        let Some(p) = s.tester else { continue };
        let Some(bytes) = buffers.get(p as usize) else {
            continue;
        };
        let (done, rx) = oneshot::channel();
        s.tx.send(WriteReq {
            bytes: Arc::clone(bytes),
            done,
        })
        .await
        .map_err(|_| format!("tester {p}: its writer has stopped"))?;
        dones.push((p, rx));
    }
    let mut last = first;
    for (p, rx) in dones {
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(t))) => last = last.max(t),
            Ok(Ok(Err(e))) => return Err(format!("tester {p}: {e}")),
            Ok(Err(_)) => return Err(format!("tester {p}: its writer has stopped")),
            Err(_) => return Err(format!("tester {p} was still writing at the deadline")),
        }
    }
    Ok((first, last))
}

/// Waits until every monitor holds exactly `count` prefixes; returns when the last got there.
async fn wait_monitors(sessions: &[Session], count: u64, deadline: Instant) -> Result<u64, String> {
    let mut last = 0;
    for s in sessions {
        let Some((_, rx)) = &s.tracker else { continue };
        let mut rx = rx.clone();
        let waited = tokio::time::timeout_at(deadline, async {
            rx.wait_for(|(c, _)| *c == count).await.map(|v| v.1)
        })
        .await;
        match waited {
            Ok(Ok(t)) => last = last.max(t),
            Ok(Err(_)) => return Err(format!("monitor {}: tracker gone", s.addr)),
            Err(_) => {
                let held = rx.borrow().0;
                return Err(format!(
                    "monitor {} to hold {count} prefixes (it holds {held})",
                    s.addr
                ));
            }
        }
    }
    Ok(if last == 0 { now_ns() } else { last })
}

async fn generate(spec: Spec) -> GenResult {
    let mut res = GenResult {
        scenario: spec.scenario.clone(),
        start_ns: now_ns(),
        expected: spec.expected_per_monitor(),
        ..GenResult::default()
    };
    let deadline = Instant::now() + Duration::from_millis(spec.deadline_ms);
    let spec = Arc::new(spec);

    // 1. Encode everything.
    let t = std::time::Instant::now();
    let all: Vec<u32> = (0..spec.per_peer).collect();
    let churn = spec.churn_indexes();
    let mut load = Vec::new();
    let mut withdraw = Vec::new();
    let mut reannounce = Vec::new();
    for p in 0..spec.peers() {
        let enc = spec.encode_announcements(p, &all);
        let enc = match enc {
            Ok(e) => e,
            Err(e) => {
                res.errors.push(e);
                return res;
            }
        };
        res.messages += enc.messages;
        res.bytes += enc.bytes.len() as u64;
        load.push(Arc::new(enc.bytes));
        if !churn.is_empty() {
            match (
                spec.encode_withdrawals(p, &churn),
                spec.encode_announcements(p, &churn),
            ) {
                (Ok(w), Ok(a)) => {
                    withdraw.push(Arc::new(w.bytes));
                    reannounce.push(Arc::new(a.bytes));
                }
                (Err(e), _) | (_, Err(e)) => {
                    res.errors.push(e);
                    return res;
                }
            }
        }
    }
    let paths: Vec<Vec<Vec<u32>>> = (0..spec.peers())
        .map(|p| {
            (0..spec.sets_per_peer)
                .map(|s| spec.expected_path(p, s))
                .collect()
        })
        .collect();
    let paths = Arc::new(paths);
    res.encode_ms = t.elapsed().as_secs_f64() * 1000.0;

    // 2. Sessions.
    let retries = Arc::new(Retries::default());
    let pace = (spec.max_connecting > 0)
        .then(|| Arc::new(tokio::sync::Semaphore::new(spec.max_connecting as usize)));
    let errors: Errors = Arc::new(Mutex::new(Vec::new()));
    let mut joins = tokio::task::JoinSet::new();
    let mut speakers: Vec<(PeerSpec, Option<u32>, bool)> = Vec::new();
    if let Some(m) = spec.monitor {
        speakers.push((m, None, true));
    }
    for (p, t) in spec.testers.iter().enumerate() {
        speakers.push((*t, Some(p as u32), spec.mode == Mode::IbgpRr));
    }
    for (me, tester, monitoring) in speakers {
        joins.spawn(start_session(
            Arc::clone(&spec),
            Arc::clone(&paths),
            me,
            tester,
            monitoring,
            deadline,
            Arc::clone(&retries),
            pace.clone(),
            Arc::clone(&errors),
        ));
    }
    let mut sessions = Vec::new();
    while let Some(joined) = joins.join_next().await {
        match joined {
            Ok(Ok(s)) => sessions.push(s),
            Ok(Err(e)) => res.errors.push(e),
            Err(e) => res.errors.push(format!("session task: {e}")),
        }
    }
    res.connect_retries = retries.count.load(Ordering::Relaxed);
    if let Ok(r) = retries.reasons.lock() {
        res.retry_reasons = r.clone();
    }
    res.monitors = sessions.iter().filter(|s| s.tracker.is_some()).count() as u64;
    if !res.errors.is_empty() {
        res.timed_out = Some("every session to be established".to_owned());
        return finish(res, &sessions, &errors);
    }
    res.sessions_up_ns = Some(now_ns());
    println!(
        "{} sessions up after {:.2} s ({} retried connection attempts: {:?})",
        sessions.len(),
        (now_ns().saturating_sub(res.start_ns)) as f64 / 1e9,
        res.connect_retries,
        res.retry_reasons
    );

    // 3.-4. Load.
    match send_phase(&sessions, &load, deadline).await {
        Ok((first, last)) => {
            res.first_send_ns = Some(first);
            res.last_send_ns = Some(last);
        }
        Err(e) => {
            res.timed_out = Some(e);
            return finish(res, &sessions, &errors);
        }
    }
    match wait_monitors(&sessions, spec.expected_per_monitor(), deadline).await {
        Ok(t) => res.loaded_ns = Some(t),
        Err(e) => {
            res.timed_out = Some(e);
            return finish(res, &sessions, &errors);
        }
    }
    event("loaded");

    // 5. Churn.
    if !churn.is_empty() {
        let mut c = ChurnTimes {
            prefixes: spec.churned(),
            ..ChurnTimes::default()
        };
        let steps = async {
            let (first, last) = send_phase(&sessions, &withdraw, deadline).await?;
            c.withdraw_first_send_ns = first;
            c.withdraw_last_send_ns = Some(last);
            let rest = spec.expected_per_monitor() - spec.churned();
            c.withdrawn_seen_ns = Some(wait_monitors(&sessions, rest, deadline).await?);
            let (first, last) = send_phase(&sessions, &reannounce, deadline).await?;
            c.reannounce_first_send_ns = Some(first);
            c.reannounce_last_send_ns = Some(last);
            c.settled_ns =
                Some(wait_monitors(&sessions, spec.expected_per_monitor(), deadline).await?);
            Ok::<(), String>(())
        };
        let outcome = steps.await;
        res.churn = Some(c);
        if let Err(e) = outcome {
            res.timed_out = Some(e);
            return finish(res, &sessions, &errors);
        }
    }
    event("done");
    finish(res, &sessions, &errors)
}

/// Collects the monitors' counts and the session errors and decides `correct`.
fn finish(mut res: GenResult, sessions: &[Session], errors: &Errors) -> GenResult {
    let mut held_min: Option<u64> = None;
    for s in sessions {
        let Some((t, _)) = &s.tracker else { continue };
        let Ok(t) = t.lock() else { continue };
        held_min = Some(held_min.map_or(t.count, |h| h.min(t.count)));
        res.wrong += t.wrong;
        res.unexpected += t.unexpected;
        res.duplicates += t.duplicates;
        res.own_reflected += t.own_reflected;
        res.monitor_updates += t.updates;
        if res.first_wrong.is_none() {
            res.first_wrong.clone_from(&t.first_wrong);
        }
    }
    res.held_min = held_min.unwrap_or(0);
    if let Ok(e) = errors.lock() {
        res.errors.extend(e.iter().cloned());
    }
    res.correct = res.timed_out.is_none()
        && res.errors.is_empty()
        && res.wrong == 0
        && res.unexpected == 0
        && res.held_min == res.expected
        && res.monitors > 0;
    res
}
