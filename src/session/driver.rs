//! One peer's task: owns its [`fsm::Peer`], applies the actions it returns to real sockets and
//! tokio timers, and feeds what happens back as events.
//!
//! The task never awaits a socket: connection attempts, reads and writes run in small helper
//! tasks that report back over the task's input queue, each tagged with a generation number so
//! that reports from a connection the FSM has already closed are ignored.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{self, Originate};
use crate::fsm::{self, Action, Direction, Event, Timer};
use crate::sockopt;
use crate::wire::{
    self, AsPath, Community, Ctx, DecodeError, Family, Message, MpReach, Negotiated, NextHop, Nlri,
    Origin, PathAttributes, RouteRefreshSubtype, Update,
};

/// Capacity of a peer task's input queue (accepted sockets, frames, connection reports).
pub const INPUT_QUEUE: usize = 256;

/// Capacity of a connection's outgoing queue, in messages. When it is full the peer is not
/// reading; the connection is treated as failed rather than blocking the peer task.
pub const OUTPUT_QUEUE: usize = 1024;

/// Most prefixes put in one originated UPDATE (keeps IPv6 UPDATEs under 4096 octets).
const PREFIXES_PER_UPDATE: usize = 150;

/// What a peer task receives.
#[derive(Debug)]
pub enum Input {
    /// A connection accepted from the peer's address by the listener.
    Inbound(TcpStream),
    /// The outcome of an outbound connection attempt.
    Connected {
        /// The attempt's generation.
        gen: u64,
        /// The connected socket, or why it failed.
        result: io::Result<TcpStream>,
    },
    /// A framed message (or a framing error) read from a connection.
    Frame {
        /// The connection's direction.
        dir: Direction,
        /// The connection's generation.
        gen: u64,
        /// One whole message, header included, or the framing error.
        frame: Result<Bytes, DecodeError>,
    },
    /// The connection was closed by the peer or failed.
    Closed {
        /// The connection's direction.
        dir: Direction,
        /// The connection's generation.
        gen: u64,
    },
}

/// One live TCP connection of the peer.
struct Conn {
    gen: u64,
    out: mpsc::Sender<Bytes>,
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

/// A configured peer's task state. Build with [`PeerTask::new`], then spawn [`PeerTask::run`].
pub struct PeerTask {
    name: String,
    remote: SocketAddr,
    local_address: Option<IpAddr>,
    multihop: Option<u8>,
    security: Security,
    local_asn: u32,
    ibgp: bool,
    originate: Vec<Originate>,
    peer: fsm::Peer,
    tx: mpsc::Sender<Input>,
    rx: mpsc::Receiver<Input>,
    next_gen: u64,
    connecting: Option<(u64, JoinHandle<()>)>,
    conns: HashMap<Direction, Conn>,
    timers: HashMap<(Direction, Timer), Instant>,
    adj_rib_in: HashMap<(Family, Nlri), PathAttributes>,
}

impl PeerTask {
    /// The task for `peer` of `config`; `tx` must be the sending side of `rx` (the task gives it
    /// to its helper tasks) and is also what the listener uses.
    pub fn new(
        config: &config::Config,
        peer: &config::Peer,
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
            local_asn: config.global.asn,
            ibgp: peer.is_ibgp(config.global.asn),
            originate: config.originate.clone(),
            peer: fsm::Peer::new(config.fsm_config(peer)),
            tx,
            rx,
            next_gen: 0,
            connecting: None,
            conns: HashMap::new(),
            timers: HashMap::new(),
            adj_rib_in: HashMap::new(),
        }
    }

    /// Starts the peer (ManualStart) and runs until the runtime shuts down.
    pub async fn run(mut self) {
        tracing::info!("peer {}: starting ({})", self.name, self.remote);
        let actions = self.peer.start();
        self.apply_all(actions);
        tracing::info!("peer {}: state Idle -> {:?}", self.name, self.peer.state());
        loop {
            let next = self.timers.values().min().copied();
            tokio::select! {
                input = self.rx.recv() => match input {
                    Some(input) => self.on_input(input),
                    None => return,
                },
                _ = sleep_until(next), if next.is_some() => self.fire_timers(),
            }
        }
    }

    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Inbound(stream) => {
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
                match result {
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
                        self.handle(Direction::Outbound, Event::TcpConnectionFails);
                    }
                }
            }
            Input::Frame { dir, gen, frame } => {
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
                self.handle(dir, event);
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
        let (out, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        tokio::spawn(write_loop(wr, out_rx));
        let reader = tokio::spawn(read_loop(rd, dir, gen, self.tx.clone()));
        self.conns.insert(
            dir,
            Conn {
                gen,
                out,
                reader,
                local,
                ctx: Ctx::default(),
                negotiated: None,
            },
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
                tracing::info!("peer {}: state {before:?} -> {after:?}", self.name);
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
                    let _ = tx.send(Input::Connected { gen, result }).await;
                });
                self.connecting = Some((gen, task));
                None
            }
            Action::Send(msg) => self.send(dir, &msg),
            Action::ArmTimer(timer, after) => {
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
                    "peer {}: session established ({dir:?}, AS {}, hold {} s, families {})",
                    self.name,
                    negotiated.remote_asn,
                    negotiated.hold_time,
                    families.join(",")
                );
                if let Some(conn) = self.conns.get_mut(&dir) {
                    conn.ctx = negotiated.ctx.clone();
                    conn.negotiated = Some(*negotiated);
                }
                self.announce(dir, None)
            }
            Action::SessionDown(reason) => {
                tracing::info!(
                    "peer {}: session down: {reason:?}; dropping {} prefixes",
                    self.name,
                    self.adj_rib_in.len()
                );
                self.adj_rib_in.clear();
                None
            }
            Action::Deliver(Message::Update(update)) => {
                self.receive(&update);
                None
            }
            Action::Deliver(Message::RouteRefresh(rr)) => {
                if rr.subtype == RouteRefreshSubtype::Normal {
                    tracing::info!("peer {}: ROUTE-REFRESH for {}", self.name, rr.family);
                    self.announce(dir, Some(rr.family))
                } else {
                    None
                }
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
            Ok(()) => None,
            Err(_) => {
                tracing::warn!(
                    "peer {}: output queue full or writer gone; dropping the connection",
                    self.name
                );
                Some((dir, Event::TcpConnectionFails))
            }
        }
    }

    /// Sends every originated prefix of the session's families (or only `only`), then End-of-RIB
    /// for each (RFC 4724 §2).
    fn announce(&mut self, dir: Direction, only: Option<Family>) -> Option<(Direction, Event)> {
        let (families, local) = {
            let conn = self.conns.get(&dir)?;
            let negotiated = conn.negotiated.as_ref()?;
            (negotiated.families.clone(), conn.local.ip().to_canonical())
        };
        let mut updates = Vec::new();
        for family in families
            .into_iter()
            .filter(|f| only.is_none_or(|o| o == *f))
        {
            let mut sent = 0;
            for (next_hop, communities, prefixes) in self.originated(family, local) {
                for chunk in prefixes.chunks(PREFIXES_PER_UPDATE) {
                    updates.push(self.originate_update(family, next_hop, &communities, chunk));
                    sent += chunk.len();
                }
            }
            tracing::info!("peer {}: announced {sent} prefixes of {family}", self.name);
            updates.push(Update::end_of_rib(family));
        }
        for u in updates {
            if let Some(ev) = self.send(dir, &Message::Update(u)) {
                return Some(ev);
            }
        }
        None
    }

    /// The originated prefixes of `family`, grouped by next hop and communities.
    fn originated(
        &self,
        family: Family,
        local: IpAddr,
    ) -> Vec<(IpAddr, Vec<Community>, Vec<Nlri>)> {
        let mut groups: Vec<(IpAddr, Vec<Community>, Vec<Nlri>)> = Vec::new();
        for o in &self.originate {
            if prefix_family(&o.prefix) != family {
                continue;
            }
            let Some(next_hop) = o
                .next_hop
                .or(Some(local).filter(|l| same_family(l, &o.prefix)))
            else {
                tracing::warn!(
                    "peer {}: not announcing {}: no next hop of its family on this session",
                    self.name,
                    o.prefix
                );
                continue;
            };
            match groups
                .iter_mut()
                .find(|(nh, c, _)| *nh == next_hop && *c == o.communities)
            {
                Some(g) => g.2.push(Nlri::new(o.prefix)),
                None => groups.push((next_hop, o.communities.clone(), vec![Nlri::new(o.prefix)])),
            }
        }
        groups
    }

    fn originate_update(
        &self,
        family: Family,
        next_hop: IpAddr,
        communities: &[Community],
        nlri: &[Nlri],
    ) -> Update {
        let mut attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(if self.ibgp {
                AsPath::from_sequence([])
            } else {
                AsPath::from_sequence([self.local_asn])
            }),
            local_pref: self.ibgp.then_some(100),
            communities: communities.to_vec(),
            ..PathAttributes::default()
        };
        match (family, next_hop) {
            (Family::IPV4_UNICAST, IpAddr::V4(nh)) => {
                attrs.next_hop = Some(nh);
                Update {
                    attrs,
                    nlri: nlri.to_vec(),
                    ..Update::default()
                }
            }
            _ => Update {
                attrs,
                mp_reach: Some(MpReach {
                    family,
                    next_hop: NextHop::from(next_hop),
                    nlri: nlri.to_vec(),
                }),
                ..Update::default()
            },
        }
    }

    /// Applies a received UPDATE to the Adj-RIB-In.
    fn receive(&mut self, update: &Update) {
        if let Some(family) = update.as_end_of_rib() {
            tracing::info!(
                "peer {}: End-of-RIB for {family}; received {} prefixes",
                self.name,
                self.adj_rib_in.len()
            );
            return;
        }
        let mut withdrawn = 0usize;
        for (family, nlri) in update.withdrawals() {
            tracing::debug!("peer {}: withdrawn {}", self.name, nlri.prefix);
            self.adj_rib_in.remove(&(family, *nlri));
            withdrawn += 1;
        }
        let mut announced = 0usize;
        for (family, nlri, next_hop) in update.announcements() {
            let mut attrs = update.attrs.clone();
            if let Some(NextHop::V4(nh)) = next_hop {
                attrs.next_hop = Some(nh);
            }
            tracing::debug!(
                "peer {}: received {} via {}",
                self.name,
                nlri.prefix,
                next_hop.map(|h| h.addr().to_string()).unwrap_or_default()
            );
            self.adj_rib_in.insert((family, *nlri), attrs);
            announced += 1;
        }
        tracing::debug!(
            "peer {}: UPDATE +{announced} -{withdrawn}; received {} prefixes",
            self.name,
            self.adj_rib_in.len()
        );
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;

fn prefix_family(prefix: &IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    }
}

fn same_family(addr: &IpAddr, prefix: &IpNet) -> bool {
    matches!(
        (addr, prefix),
        (IpAddr::V4(_), IpNet::V4(_)) | (IpAddr::V6(_), IpNet::V6(_))
    )
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
async fn read_loop(mut rd: OwnedReadHalf, dir: Direction, gen: u64, tx: mpsc::Sender<Input>) {
    const READ_CHUNK: usize = 16 * 1024;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        loop {
            match wire::frame_len(&buf, wire::MAX_EXTENDED_MESSAGE_LEN) {
                Ok(Some(n)) => {
                    let frame = buf.split_to(n).freeze();
                    let input = Input::Frame {
                        dir,
                        gen,
                        frame: Ok(frame),
                    };
                    if tx.send(input).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx
                        .send(Input::Frame {
                            dir,
                            gen,
                            frame: Err(e),
                        })
                        .await;
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = tx.send(Input::Closed { dir, gen }).await;
                return;
            }
            Ok(_) => {}
        }
    }
}

/// Writes queued messages until the queue is closed (the connection was closed by the FSM), then
/// shuts the write side down.
async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = rx.recv().await {
        if wr.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}
