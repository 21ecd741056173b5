//! The BGP-4 session state machine of RFC 4271 §8, and connection collision detection (§6.8).
//!
//! **Owns:** the six states, the per-connection machine ([`Fsm`]), OPEN validation against the
//! peer's configuration ([`check_open`]), hold-time negotiation, the restart back-off after
//! errors, and the wrapper ([`Peer`]) that runs one machine per TCP connection direction and
//! resolves collisions between them.
//!
//! **Must not depend on:** anything but [`crate::wire`]. No tokio, no sockets, no clock, no I/O:
//! events go in as plain values ([`Event`]) and actions come out as plain values ([`Action`]).
//! Timers are *requests* ([`Action::ArmTimer`], [`Action::CancelTimer`]); the session driver owns
//! the real timers and feeds their expiry back as events. Every call is deterministic, so every
//! behaviour is a unit test and any session can be replayed from a recording of its events.
//!
//! ```text
//!                     start (1, 3), IdleHold expiry (13)
//!    +--------+ ---------------------------------------+--------------------+
//!    |  Idle  |                                active  |                    | passive
//!    +--------+                                        v                    v
//!        ^                                       +-----------+   18    +----------+
//!        |  stop (2, 8), errors, NOTIFICATION,   |  Connect  |-------->|  Active  |
//!        |  Hold expiry (10); then the IdleHold  |           |<--------|          |
//!        |  timer, unless stopped                +-----------+    9    +----------+
//!        |                                             | 16, 17            | 16, 17
//!        |                                             | send OPEN, Hold := 4 min
//!        |                                             v                   |
//!        |                                       +------------+ <----------+
//!        +---------------------------------------|  OpenSent  |---- 18 ----> Active
//!        |                                       +------------+
//!        |                                             | 19, acceptable OPEN: send KEEPALIVE,
//!        |                                             | negotiate the hold time
//!        |                                             v
//!        |                                       +-------------+
//!        +---------------------------------------| OpenConfirm |  11: send KEEPALIVE
//!        |                                       +-------------+
//!        |                                             | 26 KEEPALIVE: SessionUp
//!        |                                             v
//!        |                SessionDown            +-------------+  26, 27: restart Hold
//!        +---------------------------------------| Established |  11: send KEEPALIVE
//!                                                +-------------+
//! ```
//!
//! `docs/fsm.md` has the full state × event table as implemented, and where wren differs from the
//! RFC text.

mod machine;
mod open_check;
mod peer;
#[cfg(test)]
mod peer_tests;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::wire::{
    Capability, DecodeError, Family, Message, Negotiated, Notification, Open, RouteRefresh, Update,
};

pub use machine::Fsm;
pub use open_check::check_open;
pub use peer::{Direction, Peer, PeerAction};

/// The hold time a speaker waits for the peer's OPEN with, after sending its own: "a large value",
/// suggested as 4 minutes (RFC 4271 §8.2.2, Connect and Active states).
pub const LARGE_HOLD_TIME: Duration = Duration::from_secs(240);

/// The default proposed hold time in seconds (RFC 4271 §10 suggests 90).
pub const DEFAULT_HOLD_TIME: u16 = 90;

/// The default ConnectRetryTime (RFC 4271 §10 suggests 120 seconds; BIRD's `connect retry time`).
pub const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(120);

/// The session states (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Refuses connections and waits for a start event (RFC 4271 §8.2.2, Idle state).
    Idle,
    /// Waiting for an outbound TCP connection to complete (RFC 4271 §8.2.2, Connect state).
    Connect,
    /// Listening for an inbound connection; an active peer also retries outbound when the
    /// ConnectRetry timer expires (RFC 4271 §8.2.2, Active state).
    Active,
    /// OPEN sent, waiting for the peer's OPEN (RFC 4271 §8.2.2, OpenSent state).
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE (RFC 4271 §8.2.2, OpenConfirm state).
    OpenConfirm,
    /// The session is up: UPDATE, KEEPALIVE and NOTIFICATION flow (RFC 4271 §8.2.2, Established).
    Established,
}

impl State {
    /// Every state, in RFC order (handy for tables and tests).
    pub const ALL: [State; 6] = [
        State::Idle,
        State::Connect,
        State::Active,
        State::OpenSent,
        State::OpenConfirm,
        State::Established,
    ];

    /// Whether a TCP connection belongs to the machine in this state (OpenSent and later; wren
    /// does not implement DelayOpen, so Connect and Active never hold one).
    pub fn has_connection(self) -> bool {
        matches!(
            self,
            State::OpenSent | State::OpenConfirm | State::Established
        )
    }
}

/// The timers of RFC 4271 §8 that wren uses. All are one-shot: the driver fires each armed timer
/// once, and an expiry for a timer that is not armed (a race with a cancel) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// ConnectRetryTimer: when to retry an outbound connection (RFC 4271 §8, §10).
    ConnectRetry,
    /// HoldTimer: the peer must be heard from before it expires (RFC 4271 §4.4, §10).
    Hold,
    /// KeepaliveTimer: when to send the next KEEPALIVE (RFC 4271 §4.4, §10).
    Keepalive,
    /// IdleHoldTimer: how long to stay Idle before the automatic restart (RFC 4271 §8.1.1,
    /// optional attribute DampPeerOscillations; BIRD's `error wait time`).
    IdleHold,
}

impl Timer {
    /// Every timer, in the order the machine cancels them.
    pub const ALL: [Timer; 4] = [
        Timer::ConnectRetry,
        Timer::Hold,
        Timer::Keepalive,
        Timer::IdleHold,
    ];
}

/// The inputs of the state machine, named and numbered after RFC 4271 §8.1. Events the FSM has no
/// use for (the DelayOpen and TCP-validation events 4–7, 12, 14, 15, 20, 23) are left out; see
/// `docs/fsm.md`.
///
/// `UpdateMsg` is much larger than the other variants; it is kept inline, as in
/// [`wire::Message`](crate::wire::Message), because boxing would allocate per received UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Event 1, ManualStart: the operator enables the peer (RFC 4271 §8.1.2).
    ManualStart,
    /// Event 2, ManualStop: the operator disables the peer; no automatic restart follows
    /// (RFC 4271 §8.1.2). Sends Cease/Administrative Shutdown (RFC 4486) on a connection.
    ManualStop,
    /// Event 3, AutomaticStart: the system (re)starts the peer (RFC 4271 §8.1.2).
    AutomaticStart,
    /// Event 8, AutomaticStop: the system stops the peer, e.g. it was de-configured or exceeded a
    /// prefix limit; carries the Cease NOTIFICATION to send (RFC 4271 §8.1.2, RFC 4486).
    AutomaticStop(Notification),
    /// Event 9, ConnectRetryTimer_Expires (RFC 4271 §8.1.3).
    ConnectRetryTimerExpires,
    /// Event 10, HoldTimer_Expires (RFC 4271 §8.1.3).
    HoldTimerExpires,
    /// Event 11, KeepaliveTimer_Expires (RFC 4271 §8.1.3).
    KeepaliveTimerExpires,
    /// Event 13, IdleHoldTimer_Expires: the wait after an error is over (RFC 4271 §8.1.3).
    IdleHoldTimerExpires,
    /// Event 16, Tcp_CR_Acked: our outbound connection completed (RFC 4271 §8.1.4).
    TcpCrAcked,
    /// Event 17, TcpConnectionConfirmed: an inbound connection from the peer was accepted
    /// (RFC 4271 §8.1.4).
    TcpConnectionConfirmed,
    /// Event 18, TcpConnectionFails: the connection (or the attempt) closed or failed
    /// (RFC 4271 §8.1.4).
    TcpConnectionFails,
    /// Event 19, BGPOpen: a well-formed OPEN was received; [`check_open`] decides whether it is
    /// acceptable (RFC 4271 §8.1.5).
    BgpOpen(Open),
    /// Event 21, BGPHeaderErr: a message header was bad; carries the NOTIFICATION to send
    /// (RFC 4271 §8.1.5, §6.1).
    BgpHeaderErr(Notification),
    /// Event 22, BGPOpenMsgErr: an OPEN could not be decoded; carries the NOTIFICATION to send
    /// (RFC 4271 §8.1.5, §6.2).
    BgpOpenMsgErr(Notification),
    /// Event 24, NotifMsgVerErr: a NOTIFICATION with Unsupported Version Number was received
    /// (RFC 4271 §8.1.5).
    NotifMsgVerErr(Notification),
    /// Event 25, NotifMsg: any other NOTIFICATION was received (RFC 4271 §8.1.5).
    NotifMsg(Notification),
    /// Event 26, KeepAliveMsg (RFC 4271 §8.1.5).
    KeepAliveMsg,
    /// Event 27, UpdateMsg: a usable UPDATE (possibly after RFC 7606 treat-as-withdraw)
    /// (RFC 4271 §8.1.5).
    UpdateMsg(Update),
    /// Event 28, UpdateMsgErr: an UPDATE (or ROUTE-REFRESH) that resets the session; carries the
    /// NOTIFICATION to send (RFC 4271 §8.1.5, §6.3; RFC 7313 §5).
    UpdateMsgErr(Notification),
    /// A ROUTE-REFRESH was received (RFC 2918 §4; not an RFC 4271 event). Passed through in
    /// Established, an FSM error before.
    RouteRefreshMsg(RouteRefresh),
}

impl Event {
    /// The event for a decoded message (RFC 4271 §8.1.5): OPEN is 19, NOTIFICATION 24 (version
    /// error) or 25, KEEPALIVE 26, UPDATE 27, ROUTE-REFRESH passes through.
    pub fn from_message(message: Message) -> Event {
        match message {
            Message::Open(open) => Event::BgpOpen(open),
            Message::Update(update) => Event::UpdateMsg(update),
            Message::Notification(n)
                if n.code == crate::wire::code::OPEN_MESSAGE
                    && n.subcode == crate::wire::open_subcode::UNSUPPORTED_VERSION =>
            {
                Event::NotifMsgVerErr(n)
            }
            Message::Notification(n) => Event::NotifMsg(n),
            Message::Keepalive => Event::KeepAliveMsg,
            Message::RouteRefresh(rr) => Event::RouteRefreshMsg(rr),
        }
    }

    /// The event for a message that failed to decode (RFC 4271 §8.1.5): header errors are 21,
    /// OPEN errors 22, everything else (UPDATE, ROUTE-REFRESH) 28. Each carries the
    /// NOTIFICATION the codec chose.
    pub fn from_decode_error(error: &DecodeError) -> Event {
        let n = error.notification();
        match n.code {
            crate::wire::code::MESSAGE_HEADER => Event::BgpHeaderErr(n),
            crate::wire::code::OPEN_MESSAGE => Event::BgpOpenMsgErr(n),
            _ => Event::UpdateMsgErr(n),
        }
    }
}

/// The outputs of the state machine: what the session driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Start an outbound TCP connection to the peer; report [`Event::TcpCrAcked`] or
    /// [`Event::TcpConnectionFails`] (RFC 4271 §8.2.2 "initiates a TCP connection").
    Connect,
    /// Send this message on the connection (OPEN, KEEPALIVE or NOTIFICATION).
    Send(Message),
    /// Start (or restart) a timer to fire once after the duration (RFC 4271 §8, §10).
    ArmTimer(Timer, Duration),
    /// Stop a timer; a later expiry of it is ignored anyway.
    CancelTimer(Timer),
    /// Close the connection, or abandon the outbound attempt, after flushing what was sent
    /// (RFC 4271 §8.2.2 "drops the TCP connection"). No further events are expected for it.
    CloseConnection,
    /// The session reached Established; carries what was negotiated from the two OPENs
    /// (RFC 4271 §8.2.2 OpenConfirm, Event 26).
    SessionUp(Box<Negotiated>),
    /// The session left Established; the RIB must drop the peer's routes (RFC 4271 §8.2.2,
    /// "deletes all routes associated with this connection").
    SessionDown(DownReason),
    /// An UPDATE or ROUTE-REFRESH received in Established, for the RIB.
    Deliver(Message),
}

/// Why a connection went back to Idle (kept by [`Fsm::last_error`], and carried by
/// [`Action::SessionDown`] when it was Established).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// [`Event::ManualStop`]: Cease/Administrative Shutdown was sent (RFC 4486).
    ManualStop,
    /// [`Event::AutomaticStop`]: this Cease was sent.
    AutomaticStop(Notification),
    /// The HoldTimer expired; Hold Timer Expired (4/0) was sent (RFC 4271 §6.5).
    HoldTimerExpired,
    /// We found an error and sent this NOTIFICATION (RFC 4271 §6).
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION (RFC 4271 §6).
    NotificationReceived(Notification),
    /// The TCP connection closed or failed (RFC 4271 §8.1.4, Event 18).
    ConnectionFailed,
    /// The connection lost collision resolution; Cease/Connection Collision Resolution (6/7) was
    /// sent (RFC 4271 §6.8).
    Collision,
    /// A message or error arrived in Connect or Active, which hold no connection to answer on
    /// (RFC 4271 §8.2.2 "any other event" in those states).
    UnexpectedEvent,
}

impl DownReason {
    /// Whether this counts as an error for the restart back-off: a NOTIFICATION other than Cease
    /// sent or received, or the HoldTimer expiring. A Cease or a lost connection is not (as in
    /// BIRD, which applies its `error wait time` only to errors).
    pub fn is_error(&self) -> bool {
        match self {
            DownReason::HoldTimerExpired | DownReason::UnexpectedEvent => true,
            DownReason::NotificationSent(n) | DownReason::NotificationReceived(n) => {
                n.code != crate::wire::code::CEASE
            }
            DownReason::ManualStop
            | DownReason::AutomaticStop(_)
            | DownReason::ConnectionFailed
            | DownReason::Collision => false,
        }
    }
}

/// One peer's session configuration (RFC 4271 §8.1.1 mandatory and optional attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our AS number (4-octet; RFC 6793 handles the OPEN's 2-octet field).
    pub local_asn: u32,
    /// Our BGP Identifier (RFC 4271 §4.2, RFC 6286).
    pub router_id: Ipv4Addr,
    /// The AS the peer must announce; anything else is Bad Peer AS (RFC 4271 §6.2).
    pub remote_asn: u32,
    /// The hold time we propose, in seconds: 0 (no keepalives) or at least 3. 1 and 2 are sent as
    /// 3, since a peer must refuse them (RFC 4271 §4.2, §10 suggests 90).
    pub hold_time: u16,
    /// KeepaliveTime in seconds (RFC 4271 §10: configurable, suggested one third of the hold
    /// time). `None` (the default) sends a KEEPALIVE every third of the negotiated hold time; a
    /// value is used as is when shorter than that third and capped at it otherwise, and no
    /// KEEPALIVEs are sent when the negotiated hold time is 0 (see
    /// [`Config::keepalive_interval`]).
    pub keepalive_time: Option<u16>,
    /// ConnectRetryTime (RFC 4271 §8.1.1, §10 suggests 120 s).
    pub connect_retry: Duration,
    /// Never connect out, only accept (BIRD's `passive on`; stronger than RFC 4271's
    /// PassiveTcpEstablishment, which only delays the first attempt).
    pub passive: bool,
    /// Capabilities we announce besides Multiprotocol and 4-octet AS, which are derived from
    /// `families` and `local_asn` (RFC 5492).
    pub capabilities: Vec<Capability>,
    /// Address families we announce with Multiprotocol capabilities (RFC 4760 §8).
    pub families: Vec<Family>,
    /// Accept OPENs with capabilities wren does not know. When false they are refused with
    /// Unsupported Capability (2/7) listing them (RFC 5492 §5).
    pub allow_unknown_capabilities: bool,
    /// The IdleHold wait after the first error; doubled per consecutive error (RFC 4271 §8.1.1
    /// DampPeerOscillations; BIRD's `error wait time`, default 60 s).
    pub error_wait_min: Duration,
    /// The cap on the doubled IdleHold wait (BIRD's default 300 s).
    pub error_wait_max: Duration,
    /// The IdleHold wait before restarting after a Cease or a lost connection, which are not
    /// errors (BIRD's `connect delay time`, default 5 s).
    pub restart_delay: Duration,
}

impl Config {
    /// A configuration with the defaults: hold time 90 s, keepalive a third of the negotiated
    /// hold time, ConnectRetry 120 s, active, IPv4 unicast, Route Refresh announced, unknown
    /// capabilities accepted, error wait 60–300 s, restart delay 5 s.
    pub fn new(local_asn: u32, router_id: Ipv4Addr, remote_asn: u32) -> Config {
        Config {
            local_asn,
            router_id,
            remote_asn,
            hold_time: DEFAULT_HOLD_TIME,
            keepalive_time: None,
            connect_retry: DEFAULT_CONNECT_RETRY,
            passive: false,
            capabilities: vec![Capability::RouteRefresh],
            families: vec![Family::IPV4_UNICAST],
            allow_unknown_capabilities: true,
            error_wait_min: Duration::from_secs(60),
            error_wait_max: Duration::from_secs(300),
            restart_delay: Duration::from_secs(5),
        }
    }

    /// Whether the peer is internal (same AS; RFC 4271 §5.1.2 and RFC 6286 §2.2 care).
    pub fn is_ibgp(&self) -> bool {
        self.local_asn == self.remote_asn
    }

    /// The hold time actually proposed: `hold_time`, with 1 and 2 raised to 3 (RFC 4271 §4.2).
    pub fn proposed_hold_time(&self) -> u16 {
        match self.hold_time {
            1 | 2 => 3,
            h => h,
        }
    }

    /// The KEEPALIVE interval in seconds for a session whose negotiated hold time is
    /// `negotiated_hold` (RFC 4271 §4.4, §10): 0 (no KEEPALIVEs) when the hold time is 0;
    /// otherwise `keepalive_time` when set, but never more than a third of the hold time, so a
    /// peer that proposed a shorter hold time still hears from us three times per hold period.
    /// A configured 0 with a non-zero hold time counts as unset.
    pub fn keepalive_interval(&self, negotiated_hold: u16) -> u16 {
        let third = negotiated_hold / 3;
        match self.keepalive_time {
            _ if negotiated_hold == 0 => 0,
            Some(k) if k > 0 => k.min(third),
            _ => third,
        }
    }

    /// The OPEN we send (RFC 4271 §4.2): our AS (AS_TRANS plus the 4-octet AS capability when it
    /// needs 4 octets, RFC 6793), the proposed hold time, our BGP Identifier, one Multiprotocol
    /// capability per family, then `capabilities`.
    pub fn local_open(&self) -> Open {
        let mut caps: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        caps.extend(self.capabilities.iter().cloned());
        Open::new(
            self.local_asn,
            self.proposed_hold_time(),
            self.router_id,
            caps,
        )
    }
}
