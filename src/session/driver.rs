//! One peer's task: owns its [`fsm::Peer`], applies the actions it returns to real sockets and
//! tokio timers, and feeds what happens back as events.
//!
//! The task never awaits a socket: connection attempts, reads and writes run in small helper
//! tasks that report back over the task's input queue, each tagged with a generation number so
//! that reports from a connection the FSM has already closed are ignored.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::outq;
use super::rib_task::RibInput;
use super::status::{Established, SharedView};
use crate::config;
use crate::fsm::{self, Action, Direction, DownReason, Event, Timer};
use crate::rib::{PeerId, SessionInfo};
use crate::sockopt;
use crate::wire::{
    self, Ctx, DecodeError, Message, Negotiated, Notification, RouteRefreshSubtype, Update,
};

/// Capacity of a peer task's input queue (accepted sockets, frames, connection reports).
pub const INPUT_QUEUE: usize = 256;

/// Capacity of a connection's session lane ([`outq`]: OPEN, KEEPALIVE, NOTIFICATION,
/// ROUTE-REFRESH), in messages. When it is full the peer is not reading; the connection is
/// treated as failed rather than blocking the peer task.
pub const OUTPUT_QUEUE: usize = 1024;

/// Longest wait for a connection's queued messages to be written at shutdown.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// UPDATEs of one peer that may wait for the RIB task at a time; when they are all in flight the
/// peer's reader stops reading and TCP slows the peer down (see [`super::rib_task`]).
pub const UPDATES_IN_FLIGHT: usize = 64;

/// What a peer task receives. Kept to 24 octets (the large payloads are boxed): every peer's
/// input queue allocates room for 32 of them up front.
#[derive(Debug)]
pub enum Input {
    /// A connection accepted from the peer's address by the listener.
    Inbound(Box<TcpStream>),
    /// The outcome of an outbound connection attempt.
    Connected {
        /// The attempt's generation.
        gen: u64,
        /// The connected socket, or why it failed.
        result: Box<io::Result<TcpStream>>,
    },
    /// A framed message (or a framing error) read from a connection.
    Frame(Box<Frame>),
    /// Stop the session with this Cease (the RIB task found the prefix limit exceeded).
    Stop(Box<Notification>),
    /// The daemon is shutting down without graceful restart: send Cease/Administrative Shutdown
    /// (RFC 4486 subcode 2) on every connection, let the writers flush, then report on `done`
    /// and end the task.
    Shutdown(tokio::sync::oneshot::Sender<()>),
    /// The peer was removed from the configuration: send Cease/Peer De-configured (RFC 4486
    /// subcode 3) on an established session, let the writers flush, report on `done`, end.
    Deconfigured(tokio::sync::oneshot::Sender<()>),
    /// The connection was closed by the peer or failed.
    Closed {
        /// The connection's direction.
        dir: Direction,
        /// The connection's generation.
        gen: u64,
    },
}

// Every peer's input queue allocates 32 slots when it is created.
const _: () = assert!(std::mem::size_of::<Input>() <= 24);

/// A framed message (or a framing error) read from a connection: [`Input::Frame`].
#[derive(Debug)]
pub struct Frame {
    /// The connection's direction.
    pub dir: Direction,
    /// The connection's generation.
    pub gen: u64,
    /// One whole message, header included, or the framing error.
    pub frame: Result<Bytes, DecodeError>,
    /// The peer's flow-control permit, passed on to the RIB task with an UPDATE.
    pub permit: Option<OwnedSemaphorePermit>,
}

/// One live TCP connection of the peer.
struct Conn {
    gen: u64,
    writer: Option<JoinHandle<()>>,
    out: outq::SessionSender,
    rib_out: outq::RouteSender,
    reader: JoinHandle<()>,
    local: SocketAddr,
    ctx: Ctx,
    negotiated: Option<Negotiated>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The writer task flushes what is queued, then drops its half; aborting the reader drops
        // the other half, and the socket closes.
        self.reader.abort();
    }
}

/// The peer's connections: at most one per direction (two only while a collision is resolved,
/// RFC 4271 §6.8). Boxed, so an idle peer carries two pointers.
#[derive(Default)]
struct Conns {
    inbound: Option<Box<Conn>>,
    outbound: Option<Box<Conn>>,
}

impl Conns {
    fn slot(&mut self, dir: Direction) -> &mut Option<Box<Conn>> {
        match dir {
            Direction::Inbound => &mut self.inbound,
            Direction::Outbound => &mut self.outbound,
        }
    }

    fn get(&self, dir: &Direction) -> Option<&Conn> {
        match dir {
            Direction::Inbound => self.inbound.as_deref(),
            Direction::Outbound => self.outbound.as_deref(),
        }
    }

    fn get_mut(&mut self, dir: &Direction) -> Option<&mut Conn> {
        self.slot(*dir).as_deref_mut()
    }

    fn insert(&mut self, dir: Direction, conn: Box<Conn>) {
        *self.slot(dir) = Some(conn);
    }

    fn remove(&mut self, dir: &Direction) {
        *self.slot(*dir) = None;
    }

    fn clear(&mut self) {
        self.inbound = None;
        self.outbound = None;
    }

    fn iter(&self) -> impl Iterator<Item = (Direction, &Conn)> {
        [
            (Direction::Inbound, self.inbound.as_deref()),
            (Direction::Outbound, self.outbound.as_deref()),
        ]
        .into_iter()
        .filter_map(|(d, c)| c.map(|c| (d, c)))
    }

    fn keys(&self) -> impl Iterator<Item = Direction> + '_ {
        self.iter().map(|(d, _)| d)
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        self.inbound
            .iter_mut()
            .chain(self.outbound.iter_mut())
            .map(|c| &mut **c)
    }
}

/// A configured peer's task state. Build with [`PeerTask::new`], then spawn [`PeerTask::run`].
pub struct PeerTask {
    name: String,
    remote: SocketAddr,
    local_address: Option<IpAddr>,
    multihop: Option<u8>,
    security: Security,
    id: PeerId,
    rib: mpsc::UnboundedSender<RibInput>,
    permits: Arc<Semaphore>,
    pending_permit: Option<OwnedSemaphorePermit>,
    restart_time: Duration,
    next_hop_v4: Option<std::net::Ipv4Addr>,
    next_hop_v6: Option<std::net::Ipv6Addr>,
    view: SharedView,
    peer: fsm::Peer,
    tx: mpsc::Sender<Input>,
    rx: mpsc::Receiver<Input>,
    next_gen: u64,
    connecting: Option<(u64, JoinHandle<()>)>,
    conns: Conns,
    timers: HashMap<(Direction, Timer), Instant>,
}

impl PeerTask {
    /// The task for `peer` of `config`, known to the RIB as `id`; `tx` must be the sending side
    /// of `rx` (the task gives it to its helper tasks) and is also what the listener uses.
    pub fn new(
        config: &config::Config,
        peer: &config::Peer,
        id: PeerId,
        rib: mpsc::UnboundedSender<RibInput>,
        view: SharedView,
        tx: mpsc::Sender<Input>,
        rx: mpsc::Receiver<Input>,
    ) -> PeerTask {
        PeerTask {
            name: peer.name.clone(),
            remote: SocketAddr::new(peer.address, peer.port),
            local_address: peer.local_address,
            multihop: peer.multihop,
            security: Security {
                password: peer
                    .password
                    .as_ref()
                    .map(|p| p.expose().as_bytes().to_vec()),
                ttl_security: peer.ttl_security,
            },
            id,
            rib,
            permits: Arc::new(Semaphore::new(UPDATES_IN_FLIGHT)),
            pending_permit: None,
            restart_time: Duration::ZERO,
            next_hop_v4: peer.next_hop_v4,
            next_hop_v6: peer.next_hop_v6,
            view,
            peer: fsm::Peer::new(config.fsm_config(peer)),
            tx,
            rx,
            next_gen: 0,
            connecting: None,
            conns: Conns::default(),
            timers: HashMap::new(),
        }
    }

    /// Starts the peer (ManualStart) and runs until the runtime shuts down.
    ///
    /// A plain function returning an `async move` block, not an `async fn`: an `async fn` taking
    /// `self` by value keeps two copies of the task state in its future (the argument and the
    /// local it moves into), a kilobyte per peer for nothing.
    #[allow(clippy::manual_async_fn)] // deliberate, see above
    pub fn run(mut self) -> impl std::future::Future<Output = ()> + Send {
        async move {
            tracing::info!("peer {}: starting ({})", self.name, self.remote);
            let actions = self.peer.start();
            self.apply_all(actions);
            tracing::info!("peer {}: state Idle -> {:?}", self.name, self.peer.state());
            loop {
                let next = self.timers.values().min().copied();
                tokio::select! {
                    input = self.rx.recv() => match input {
                        Some(Input::Shutdown(done)) => return self.shutdown(done, None),
                        Some(Input::Deconfigured(done)) => {
                            let n = Notification::new(
                                wire::code::CEASE,
                                wire::cease_subcode::PEER_DECONFIGURED,
                            );
                            return self.shutdown(done, Some(n));
                        }
                        Some(input) => self.on_input(input),
                        None => return,
                    },
                    _ = sleep_until(next), if next.is_some() => self.fire_timers(),
                }
            }
        }
    }

    /// Sends Cease/Administrative Shutdown on every connection (the FSM's ManualStop), then waits
    /// in the background, at most [`SHUTDOWN_FLUSH`], for the writers to flush and close.
    fn shutdown(mut self, done: tokio::sync::oneshot::Sender<()>, cease: Option<Notification>) {
        let writers: Vec<JoinHandle<()>> = self
            .conns
            .values_mut()
            .filter_map(|c| c.writer.take())
            .collect();
        match cease {
            Some(n) => {
                let dirs: Vec<Direction> = self.conns.keys().collect();
                for dir in dirs {
                    self.handle(dir, Event::AutomaticStop(n.clone()));
                }
            }
            None => {
                let actions = self.peer.stop();
                self.apply_all(actions);
            }
        }
        self.conns.clear();
        self.abandon_connect();
        tracing::info!("peer {}: stopped", self.name);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH, async {
                for w in writers {
                    let _ = w.await;
                }
            })
            .await;
            let _ = done.send(());
        });
    }

    /// Changes this peer's [`PeerView`] (what the control socket shows).
    fn update_view(&self, f: impl FnOnce(&mut super::status::PeerView)) {
        if let Ok(mut v) = self.view.lock() {
            f(&mut v);
        }
    }

    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Inbound(stream) => {
                let stream = *stream;
                if self.peer.accepts(Direction::Inbound) {
                    if self.install(Direction::Inbound, stream) {
                        self.handle(Direction::Inbound, Event::TcpConnectionConfirmed);
                    }
                } else {
                    tracing::info!(
                        "peer {}: inbound connection rejected in state {:?}",
                        self.name,
                        self.peer.state()
                    );
                    super::listener::reject(stream);
                }
            }
            Input::Connected { gen, result } => {
                if self.connecting.as_ref().map(|c| c.0) != Some(gen) {
                    return;
                }
                self.connecting = None;
                match *result {
                    Ok(stream) if self.peer.accepts(Direction::Outbound) => {
                        if self.install(Direction::Outbound, stream) {
                            self.handle(Direction::Outbound, Event::TcpCrAcked);
                        } else {
                            self.handle(Direction::Outbound, Event::TcpConnectionFails);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::info!(
                            "peer {}: connect to {} failed: {e}",
                            self.name,
                            self.remote
                        );
                        let text = crate::control::socket_error(Some(&e));
                        self.update_view(|v| v.last_error = Some(text));
                        self.handle(Direction::Outbound, Event::TcpConnectionFails);
                    }
                }
            }
            // Handled by `run`, which ends the task.
            Input::Shutdown(_) | Input::Deconfigured(_) => {}
            Input::Stop(notification) => {
                let established = self
                    .conns
                    .iter()
                    .find(|(_, c)| c.negotiated.is_some())
                    .map(|(d, _)| d);
                if let Some(dir) = established {
                    self.handle(dir, Event::AutomaticStop(*notification));
                }
            }
            Input::Frame(f) => {
                let Frame {
                    dir,
                    gen,
                    frame,
                    permit,
                } = *f;
                let Some(conn) = self.conns.get(&dir).filter(|c| c.gen == gen) else {
                    return;
                };
                let event = match frame.and_then(|f| wire::decode(&f, &conn.ctx)) {
                    Ok(decoded) => {
                        if !decoded.faults.is_empty() {
                            tracing::warn!(
                                "peer {}: UPDATE attribute faults handled per RFC 7606: {:?}",
                                self.name,
                                decoded.faults
                            );
                        }
                        Event::from_message(decoded.message)
                    }
                    Err(e) => {
                        tracing::warn!("peer {}: bad message: {e}", self.name);
                        Event::from_decode_error(&e)
                    }
                };
                self.pending_permit = permit;
                self.update_view(|v| v.counters.messages_received += 1);
                self.handle(dir, event);
                self.pending_permit = None;
            }
            Input::Closed { dir, gen } => {
                if self.conns.get(&dir).map(|c| c.gen) != Some(gen) {
                    return;
                }
                tracing::debug!("peer {}: {dir:?} connection closed", self.name);
                self.handle(dir, Event::TcpConnectionFails);
                if self.conns.get(&dir).map(|c| c.gen) == Some(gen) {
                    self.conns.remove(&dir);
                }
            }
        }
    }

    /// Splits `stream` into a reader and a writer task and records it as the `dir` connection.
    /// Sets the TTL options of an established connection: GTSM for inbound ones (outbound ones got
    /// it before `connect`), or the eBGP multihop TTL. Errors are returned, never ignored.
    fn set_ttl_options(&self, dir: Direction, stream: &TcpStream) -> io::Result<()> {
        let ip = self.remote.ip();
        match (self.security.ttl_security, self.multihop) {
            (Some(hops), _) if dir == Direction::Inbound => {
                sockopt::set_gtsm(stream, ip, hops).map_err(io::Error::other)
            }
            (Some(_), _) => Ok(()),
            (None, Some(ttl)) => match ip {
                IpAddr::V4(_) => stream.set_ttl(u32::from(ttl)),
                IpAddr::V6(_) => socket2::SockRef::from(stream).set_unicast_hops_v6(u32::from(ttl)),
            },
            (None, None) => Ok(()),
        }
    }

    fn install(&mut self, dir: Direction, stream: TcpStream) -> bool {
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("peer {}: socket without local address: {e}", self.name);
                return false;
            }
        };
        let _ = stream.set_nodelay(true);
        if let Err(e) = self.set_ttl_options(dir, &stream) {
            tracing::error!("peer {}: {e}; closing the connection", self.name);
            return false;
        }
        let gen = self.gen();
        let (rd, wr) = stream.into_split();
        let (out, rib_out, out_rx) = outq::queue(OUTPUT_QUEUE);
        let writer = Some(tokio::spawn(write_loop(wr, out_rx)));
        let reader = tokio::spawn(read_loop(
            rd,
            dir,
            gen,
            self.tx.clone(),
            self.permits.clone(),
        ));
        self.conns.insert(
            dir,
            Box::new(Conn {
                gen,
                writer,
                out,
                rib_out,
                reader,
                local,
                ctx: Ctx::default(),
                negotiated: None,
            }),
        );
        true
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let mut due: Vec<(Instant, (Direction, Timer))> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, at)| (*at, *k))
            .collect();
        due.sort();
        for (_, key) in due {
            // An earlier expiry's actions may have re-armed or cancelled this one.
            if self.timers.get(&key).is_some_and(|at| *at <= now) {
                self.timers.remove(&key);
                let (dir, timer) = key;
                let event = match timer {
                    Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
                    Timer::Hold => Event::HoldTimerExpires,
                    Timer::Keepalive => Event::KeepaliveTimerExpires,
                    Timer::IdleHold => Event::IdleHoldTimerExpires,
                };
                self.handle(dir, event);
            }
        }
    }

    /// Runs `event` and everything it leads to, logging state changes.
    fn handle(&mut self, dir: Direction, event: Event) {
        let mut queue = VecDeque::from([(dir, event)]);
        while let Some((dir, event)) = queue.pop_front() {
            let before = self.peer.state();
            let actions = self.peer.handle(dir, event);
            let after = self.peer.state();
            if before != after {
                tracing::info!(
                    peer = %self.name,
                    from = ?before,
                    to = ?after,
                    "peer {}: state {before:?} -> {after:?}",
                    self.name
                );
                self.update_view(|v| {
                    if (before == fsm::State::Established) != (after == fsm::State::Established) {
                        v.since = std::time::SystemTime::now();
                    }
                    v.state = after;
                });
            }
            for a in actions {
                if let Some(follow_up) = self.apply(a.conn, a.action) {
                    queue.push_back(follow_up);
                }
            }
        }
    }

    fn apply_all(&mut self, actions: Vec<fsm::PeerAction>) {
        for a in actions {
            if let Some((dir, event)) = self.apply(a.conn, a.action) {
                self.handle(dir, event);
            }
        }
    }

    /// Performs one action; returns an event to feed back when the action failed at once.
    fn apply(&mut self, dir: Direction, action: Action) -> Option<(Direction, Event)> {
        match action {
            Action::Connect => {
                self.abandon_connect();
                let gen = self.gen();
                let tx = self.tx.clone();
                let (remote, local) = (self.remote, self.local_address);
                let security = self.security.clone();
                let task = tokio::spawn(async move {
                    let result = connect(remote, local, &security).await;
                    let result = Box::new(result);
                    let _ = tx.send(Input::Connected { gen, result }).await;
                });
                self.connecting = Some((gen, task));
                None
            }
            Action::Send(msg) => self.send(dir, &msg),
            Action::ArmTimer(timer, after) => {
                let after = match timer {
                    Timer::ConnectRetry | Timer::Keepalive | Timer::IdleHold => jitter(after),
                    Timer::Hold => after,
                };
                self.timers.insert((dir, timer), Instant::now() + after);
                None
            }
            Action::CancelTimer(timer) => {
                self.timers.remove(&(dir, timer));
                None
            }
            Action::CloseConnection => {
                if dir == Direction::Outbound {
                    self.abandon_connect();
                }
                self.conns.remove(&dir);
                None
            }
            Action::SessionUp(negotiated) => {
                let families: Vec<String> = negotiated
                    .families
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(
                    peer = %self.name,
                    state = "Established",
                    remote_as = negotiated.remote_asn,
                    hold = negotiated.hold_time,
                    "peer {}: session established ({dir:?}, AS {}, hold {} s, families {})",
                    self.name,
                    negotiated.remote_asn,
                    negotiated.hold_time,
                    families.join(",")
                );
                self.restart_time = Duration::from_secs(
                    negotiated
                        .remote_graceful_restart
                        .as_ref()
                        .map_or(0, |gr| u64::from(gr.restart_time)),
                );
                let conn = self.conns.get_mut(&dir)?;
                conn.ctx = negotiated.ctx.clone();
                let local = conn.local.ip().to_canonical();
                let info = SessionInfo {
                    router_id: negotiated.remote_bgp_id,
                    families: negotiated.families.clone(),
                    four_octet_as: negotiated.ctx.four_octet_as,
                    self_v4: match local {
                        IpAddr::V4(a) => Some(a),
                        IpAddr::V6(_) => self.next_hop_v4,
                    },
                    self_v6: match local {
                        IpAddr::V6(a) => Some(a),
                        IpAddr::V4(_) => self.next_hop_v6,
                    },
                    graceful_restart: negotiated.remote_graceful_restart.is_some(),
                    add_path_tx: negotiated.ctx.add_path_tx.clone(),
                    restart_families: negotiated
                        .remote_graceful_restart
                        .as_ref()
                        .map(|gr| {
                            gr.families
                                .iter()
                                .map(|f| (f.family, f.forwarding_preserved))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                for (family, missing) in [
                    (wire::Family::IPV4_UNICAST, info.self_v4.is_none()),
                    (wire::Family::IPV6_UNICAST, info.self_v6.is_none()),
                ] {
                    if missing && info.families.contains(&family) {
                        tracing::warn!(
                            "peer {}: {family} negotiated over an {} session but no next hop of \
                             that family for us; routes needing \"next hop self\" are not sent \
                             (set next_hop_{} on the peer)",
                            self.name,
                            if local.is_ipv4() { "IPv4" } else { "IPv6" },
                            if family == wire::Family::IPV4_UNICAST {
                                "v4"
                            } else {
                                "v6"
                            }
                        );
                    }
                }
                let out = conn.rib_out.clone();
                let established = Established {
                    router_id: negotiated.remote_bgp_id,
                    hold_time: negotiated.hold_time,
                    keepalive: negotiated.keepalive_time,
                    caps: peer_caps(&negotiated),
                    local,
                };
                conn.negotiated = Some(*negotiated);
                self.update_view(|v| {
                    v.session = Some(established);
                    v.counters.established_transitions += 1;
                });
                let _ = self.rib.send(RibInput::PeerUp {
                    peer: self.id,
                    info,
                    out,
                    control: self.tx.clone(),
                });
                None
            }
            Action::SessionDown(reason) => {
                tracing::info!(
                    peer = %self.name,
                    state = "Idle",
                    error = reason.is_error(),
                    "peer {}: session down: {reason:?}",
                    self.name
                );
                let text = super::status::bird_error(&reason);
                self.update_view(|v| {
                    v.session = None;
                    v.last_error = Some(text);
                });
                // RFC 4724 §4.2: only a session that ends without a NOTIFICATION (the TCP
                // connection failed) leaves the peer's routes in place as stale.
                let graceful = reason == DownReason::ConnectionFailed;
                let _ = self.rib.send(RibInput::PeerDown {
                    peer: self.id,
                    graceful,
                    restart_time: self.restart_time,
                });
                None
            }
            Action::Deliver(Message::Update(update)) => {
                self.receive(update);
                None
            }
            Action::Deliver(Message::RouteRefresh(rr)) => {
                if rr.subtype == RouteRefreshSubtype::Normal {
                    tracing::info!("peer {}: ROUTE-REFRESH for {}", self.name, rr.family);
                    let _ = self.rib.send(RibInput::RouteRefresh {
                        peer: self.id,
                        family: rr.family,
                    });
                }
                None
            }
            Action::Deliver(other) => {
                tracing::debug!("peer {}: ignoring delivered {other:?}", self.name);
                None
            }
        }
    }

    fn abandon_connect(&mut self) {
        if let Some((_, task)) = self.connecting.take() {
            task.abort();
        }
    }

    /// Encodes `msg` for the `dir` connection and queues it; a full queue or an encoding error
    /// fails the connection.
    fn send(&mut self, dir: Direction, msg: &Message) -> Option<(Direction, Event)> {
        let conn = self.conns.get(&dir)?;
        let mut buf = BytesMut::new();
        if let Err(e) = wire::encode(msg, &conn.ctx, &mut buf) {
            tracing::error!("peer {}: cannot encode {msg:?}: {e}", self.name);
            return None;
        }
        match conn.out.try_send(buf.freeze()) {
            Ok(()) => {
                self.update_view(|v| v.counters.messages_sent += 1);
                None
            }
            Err(_) => {
                tracing::warn!(
                    "peer {}: output queue full or writer gone; dropping the connection",
                    self.name
                );
                Some((dir, Event::TcpConnectionFails))
            }
        }
    }

    /// Passes a received UPDATE to the RIB task, with the flow-control permit its frame held.
    fn receive(&mut self, update: Update) {
        self.update_view(|v| v.counters.updates_received += 1);
        if tracing::enabled!(tracing::Level::DEBUG) {
            if let Some(family) = update.as_end_of_rib() {
                tracing::debug!("peer {}: End-of-RIB for {family}", self.name);
            }
            for (_, nlri) in update.withdrawals() {
                tracing::debug!("peer {}: withdrawn {}", self.name, nlri.prefix);
            }
            for (_, nlri, next_hop) in update.announcements() {
                tracing::debug!(
                    "peer {}: received {} via {}",
                    self.name,
                    nlri.prefix,
                    next_hop.map(|h| h.addr().to_string()).unwrap_or_default()
                );
            }
        }
        let _ = self.rib.send(RibInput::Update {
            peer: self.id,
            update: Box::new(update),
            permit: self.pending_permit.take(),
        });
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;

/// The peer's capabilities in BIRD's words and order (`Neighbor caps:`).
fn peer_caps(n: &Negotiated) -> Vec<String> {
    let mut caps = Vec::new();
    if n.route_refresh {
        caps.push("refresh".to_string());
    }
    if n.enhanced_route_refresh {
        caps.push("enhanced-refresh".to_string());
    }
    if let Some(gr) = &n.remote_graceful_restart {
        caps.push(
            if gr.families.is_empty() {
                "restart-aware"
            } else {
                "restart-able"
            }
            .to_string(),
        );
    }
    if n.ctx.four_octet_as {
        caps.push("AS4".to_string());
    }
    if !n.ctx.add_path_rx.is_empty() {
        caps.push("add-path-rx".to_string());
    }
    if !n.ctx.add_path_tx.is_empty() {
        caps.push("add-path-tx".to_string());
    }
    if n.ctx.extended_message {
        caps.push("ext-messages".to_string());
    }
    caps
}

/// RFC 4271 §10: ConnectRetry, Keepalive and IdleHold (restart) intervals are multiplied by a
/// random factor in 0.75..=1.0, so that two speakers that both connect do not stay in lockstep
/// and collide (§6.8) again and again.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A randomly keyed SipHash of nothing is a fresh random number each call.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 251;
    d.mul_f64(0.75 + r as f64 / 1000.0)
}

/// Sleeps until `at`, or forever when there is no timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Session security of one peer: TCP-MD5 key (RFC 2385) and GTSM hops (RFC 5082).
#[derive(Debug, Clone, Default)]
pub(crate) struct Security {
    /// TCP-MD5 key; installed on the outbound socket before `connect` and on the listener before
    /// any SYN can arrive (see `super::run`).
    pub password: Option<Vec<u8>>,
    /// GTSM: accept only packets from at most this many hops away.
    pub ttl_security: Option<u8>,
}

/// Opens a TCP connection to `remote`, from `local` when set, with the peer's MD5 key and GTSM
/// options in place before the SYN is sent. A socket option that cannot be set fails the attempt
/// with an error naming it; it is never skipped.
async fn connect(
    remote: SocketAddr,
    local: Option<IpAddr>,
    security: &Security,
) -> io::Result<TcpStream> {
    let socket = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(key) = &security.password {
        sockopt::set_md5_key(&socket, remote.ip(), key).map_err(io::Error::other)?;
    }
    if let Some(hops) = security.ttl_security {
        sockopt::set_gtsm(&socket, remote.ip(), hops).map_err(io::Error::other)?;
    }
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(remote).await
}

/// Reads frames off the connection with a buffer of at most one maximal message plus one read,
/// and forwards them to the peer task. Framing uses the largest possible length; the peer task's
/// [`wire::decode`] then enforces the session's real limit.
async fn read_loop(
    mut rd: OwnedReadHalf,
    dir: Direction,
    gen: u64,
    tx: mpsc::Sender<Input>,
    permits: Arc<Semaphore>,
) {
    // A quiet session (keepalives, a few UPDATEs: hundreds of Calico peers) reads into 1 KiB; one
    // whose reads fill the buffer (a table transfer) into 64 KiB, for fewer system calls.
    const SMALL: usize = 1024;
    const LARGE: usize = 64 * 1024;
    let mut chunk = SMALL;
    let mut buf = BytesMut::with_capacity(chunk);
    loop {
        loop {
            match wire::frame_len(&buf, wire::MAX_EXTENDED_MESSAGE_LEN) {
                Ok(Some(n)) => {
                    let frame = buf.split_to(n).freeze();
                    // Only UPDATEs (type 2) wait for the RIB; hold a permit for each.
                    let permit = if frame.get(18) == Some(&2) {
                        match permits.clone().acquire_owned().await {
                            Ok(p) => Some(p),
                            Err(_) => return,
                        }
                    } else {
                        None
                    };
                    let input = Input::Frame(Box::new(Frame {
                        dir,
                        gen,
                        frame: Ok(frame),
                        permit,
                    }));
                    if tx.send(input).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx
                        .send(Input::Frame(Box::new(Frame {
                            dir,
                            gen,
                            frame: Err(e),
                            permit: None,
                        })))
                        .await;
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < chunk / 2 {
            buf.reserve(chunk);
        }
        let room = buf.capacity() - buf.len();
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = tx.send(Input::Closed { dir, gen }).await;
                return;
            }
            Ok(n) => chunk = if n == room { LARGE } else { SMALL },
        }
    }
}

/// Writes queued messages until the connection's queue is closed (the connection was closed by
/// the FSM), then shuts the write side down. The session's own messages (OPEN, KEEPALIVE,
/// NOTIFICATION) go before queued RIB output (see [`outq`]), so a long table transfer never
/// delays them by more than one write.
async fn write_loop(mut wr: OwnedWriteHalf, mut rx: outq::Receiver) {
    /// Messages ready together are written with one system call, up to this many octets.
    const BATCH: usize = 64 * 1024;
    let mut batch = Vec::new();
    while rx.next_batch(&mut batch, BATCH).await {
        if write_all_vectored(&mut wr, &batch).await.is_err() {
            return;
        }
        batch.clear();
    }
    let _ = wr.shutdown().await;
}

/// Writes every buffer of `bufs`, in order, with as few `writev` calls as the socket allows.
async fn write_all_vectored(wr: &mut OwnedWriteHalf, bufs: &[Bytes]) -> std::io::Result<()> {
    let (mut first, mut offset) = (0usize, 0usize);
    while first < bufs.len() {
        let slices: Vec<std::io::IoSlice<'_>> = bufs
            .iter()
            .skip(first)
            .enumerate()
            .map(|(i, b)| {
                let from = if i == 0 { offset } else { 0 };
                std::io::IoSlice::new(b.get(from..).unwrap_or_default())
            })
            .collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        // Advance past what was written.
        for b in bufs.iter().skip(first) {
            let left = b.len() - offset;
            if n >= left {
                n -= left;
                first += 1;
                offset = 0;
            } else {
                offset += n;
                break;
            }
        }
    }
    Ok(())
}
