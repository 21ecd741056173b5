//! One peer over up to two TCP connections, and connection collision detection (RFC 4271 §6.8).
//!
//! Two [`Fsm`]s run side by side, one per connection direction, as BIRD runs its `outgoing_conn`
//! and `incoming_conn`:
//!
//! ```text
//!              Peer
//!   +---------------------------+
//!   | outbound: Fsm (connects)  |---- PeerAction { conn: Outbound, .. } ---> our socket
//!   | inbound:  Fsm (passive)   |---- PeerAction { conn: Inbound,  .. } ---> accepted socket
//!   +---------------------------+
//! ```
//!
//! The rules between the two machines are on [`Peer`].

use crate::wire::Open;

use super::{check_open, Action, Config, Event, Fsm, State};

/// Which TCP connection of a peer: the one we initiated or the one we accepted. It identifies the
/// connection (there is at most one of each at a time) and decides collisions (RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Accepted from the peer (RFC 4271 §8.1.4 Event 17, TcpConnectionConfirmed).
    Inbound,
    /// Initiated by us (RFC 4271 §8.1.4 Event 16, Tcp_CR_Acked).
    Outbound,
}

impl Direction {
    /// The other direction.
    pub fn other(self) -> Direction {
        match self {
            Direction::Inbound => Direction::Outbound,
            Direction::Outbound => Direction::Inbound,
        }
    }
}

/// An [`Action`] for one of the peer's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAction {
    /// The connection (and timer set) the action is for.
    pub conn: Direction,
    /// What to do.
    pub action: Action,
}

/// One configured peer: an outbound and an inbound [`Fsm`] with collision detection between
/// them (RFC 4271 §6.8, §8: "one FSM per configured peer, plus one FSM for each incoming TCP
/// connection").
///
/// Every action is tagged with the direction of the machine that produced it, and the driver
/// keys its sockets and timers by `(Direction, Timer)`. The rules between the two machines:
///
/// * **Collision** (RFC 4271 §6.8, RFC 6286 §2.3). When an acceptable OPEN arrives on one
///   connection and the other is in OpenConfirm, the connection initiated by the speaker with the
///   higher BGP Identifier (compared as 32-bit numbers; on a tie, the higher AS) survives; the
///   other gets Cease/Connection Collision Resolution (6/7). A connection in Established always
///   survives: the new one is closed with 6/7. A machine in OpenSent has not heard the peer's
///   identifier, so nothing is decided until its OPEN arrives (as BIRD does).
/// * **Parking.** The loser of a collision stays Idle ("parked"), and so does the outbound machine
///   while the inbound one is Established, so wren does not keep dialling a peer it already has a
///   session with. A parked machine restarts as soon as the other one holds no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    config: Config,
    outbound: Fsm,
    inbound: Fsm,
}

impl Peer {
    /// Both machines in Idle. The outbound one connects unless `config.passive`; the inbound one
    /// only listens.
    pub fn new(config: Config) -> Peer {
        let mut inbound = config.clone();
        inbound.passive = true;
        let mut outbound = config.clone();
        outbound.passive = false;
        Peer {
            config,
            outbound: Fsm::new(outbound),
            inbound: Fsm::new(inbound),
        }
    }

    /// The peer's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The machine for one connection direction.
    pub fn connection(&self, conn: Direction) -> &Fsm {
        match conn {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        }
    }

    /// The peer's state as an operator sees it: the more advanced of the two machines.
    pub fn state(&self) -> State {
        self.outbound.state().max(self.inbound.state())
    }

    /// The connection carrying the Established session, if any.
    pub fn established(&self) -> Option<Direction> {
        [Direction::Outbound, Direction::Inbound]
            .into_iter()
            .find(|d| self.connection(*d).state() == State::Established)
    }

    /// Whether a new connection in `conn`'s direction would be taken: the inbound machine is
    /// listening (Active), or the outbound one is waiting for its attempt (Connect). Otherwise
    /// the driver closes the new socket itself (BIRD's "connection rejected"); handing it over
    /// anyway is ignored, or refused with [`Action::CloseConnection`] in Idle.
    pub fn accepts(&self, conn: Direction) -> bool {
        match conn {
            Direction::Inbound => self.inbound.state() == State::Active,
            Direction::Outbound => self.outbound.state() == State::Connect,
        }
    }

    /// ManualStart (RFC 4271 §8.1.2 Event 1) for the peer.
    pub fn start(&mut self) -> Vec<PeerAction> {
        self.handle(Direction::Outbound, Event::ManualStart)
    }

    /// ManualStop (RFC 4271 §8.1.2 Event 2) for the peer.
    pub fn stop(&mut self) -> Vec<PeerAction> {
        self.handle(Direction::Outbound, Event::ManualStop)
    }

    /// Runs one event for the connection `conn` and returns what to do, each action tagged with
    /// its connection. Start and stop events (1, 2, 3, 8) concern the peer and go to both
    /// machines whatever `conn` says (starts skip the outbound one of a passive peer). An OPEN
    /// first goes through collision detection (RFC 4271 §6.8).
    pub fn handle(&mut self, conn: Direction, event: Event) -> Vec<PeerAction> {
        match event {
            Event::ManualStart | Event::AutomaticStart => {
                let mut out = Vec::new();
                if !self.config.passive {
                    out.extend(tag(
                        Direction::Outbound,
                        self.outbound.handle(event.clone()),
                    ));
                }
                out.extend(tag(Direction::Inbound, self.inbound.handle(event)));
                out
            }
            Event::ManualStop | Event::AutomaticStop(_) => {
                let mut out = tag(Direction::Outbound, self.outbound.handle(event.clone()));
                out.extend(tag(Direction::Inbound, self.inbound.handle(event)));
                out
            }
            Event::BgpOpen(open) => self.on_open(conn, open),
            other => self.on_connection_event(conn, other),
        }
    }

    /// RFC 4271 §6.8: "Upon receipt of an OPEN message, the local system MUST examine all of its
    /// connections that are in the OpenConfirm state" — and a connection in Established always
    /// wins. Only an OPEN the machine would accept takes part; a bad one is refused as usual.
    fn on_open(&mut self, conn: Direction, open: Open) -> Vec<PeerAction> {
        let mut out = Vec::new();
        let this = self.connection(conn);
        if this.state() == State::OpenSent && check_open(this.config(), &open).is_ok() {
            let loser = match self.connection(conn.other()).state() {
                State::Established => Some(conn),
                State::OpenConfirm if self.collision_survivor(&open) == conn => Some(conn.other()),
                State::OpenConfirm => Some(conn),
                _ => None,
            };
            if let Some(loser) = loser {
                out.extend(tag(loser, self.machine(loser).collision_close()));
                self.release_parked(loser, &mut out);
                if loser == conn {
                    return out;
                }
            }
        }
        out.extend(self.on_connection_event(conn, Event::BgpOpen(open)));
        out
    }

    /// The direction of the connection initiated by the dominant speaker: the higher BGP
    /// Identifier as a 32-bit number (RFC 4271 §6.8), or on equal identifiers — possible only
    /// between ASes — the higher AS number (RFC 6286 §2.3).
    fn collision_survivor(&self, open: &Open) -> Direction {
        let local = (u32::from(self.config.router_id), self.config.local_asn);
        let remote = (u32::from(open.bgp_id), open.asn());
        if local > remote {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }

    fn on_connection_event(&mut self, conn: Direction, event: Event) -> Vec<PeerAction> {
        let before = self.connection(conn).state();
        let mut out = tag(conn, self.machine(conn).handle(event));
        let now = self.connection(conn).state();
        if conn == Direction::Inbound && before != State::Established && now == State::Established {
            // The session runs on the inbound connection: stop dialling the peer.
            out.extend(tag(Direction::Outbound, self.outbound.park()));
        }
        self.release_parked(conn, &mut out);
        out
    }

    /// A parked machine restarts as soon as the other one holds no connection.
    fn release_parked(&mut self, conn: Direction, out: &mut Vec<PeerAction>) {
        if !self.connection(conn).state().has_connection() {
            let other = conn.other();
            out.extend(tag(other, self.machine(other).unpark()));
        }
    }

    fn machine(&mut self, conn: Direction) -> &mut Fsm {
        match conn {
            Direction::Inbound => &mut self.inbound,
            Direction::Outbound => &mut self.outbound,
        }
    }
}

fn tag(conn: Direction, actions: Vec<Action>) -> Vec<PeerAction> {
    actions
        .into_iter()
        .map(|action| PeerAction { conn, action })
        .collect()
}
