//! The per-connection state machine (RFC 4271 §8.2.2).
//!
//! One [`Fsm`] follows one TCP connection (or the attempt to make one) with one peer. Each
//! transition arm quotes the §8.2.2 action it implements; `docs/fsm.md` has the whole table.

use std::time::Duration;

use crate::wire::{self, cease_subcode, code, Message, Notification, Open};

use super::{check_open, Action, Config, DownReason, Event, State, Timer, LARGE_HOLD_TIME};

/// The RFC 4271 §8 state machine for one connection with one peer: feed it [`Event`]s, carry out
/// the [`Action`]s it returns, in order. It never reads a clock or touches a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fsm {
    config: Config,
    local_open: Open,
    state: State,
    remote_open: Option<Open>,
    /// Negotiated hold time (RFC 4271 §4.2); zero means no Hold and no Keepalive timer.
    hold_time: Duration,
    /// Keepalive interval: the configured one, capped at a third of the negotiated hold time
    /// (RFC 4271 §10; [`Config::keepalive_interval`]).
    keepalive_time: Duration,
    /// Which of [`Timer::ALL`] are armed, so stale expiries are ignored and cancels are exact.
    armed: [bool; 4],
    /// ConnectRetryCounter (RFC 4271 §8.1.1).
    connect_retry_counter: u32,
    /// Errors since the session was last Established, for the IdleHold back-off.
    consecutive_errors: u32,
    /// Started and not stopped: a return to Idle is followed by an automatic restart.
    auto_restart: bool,
    /// Held in Idle by [`super::Peer`] while the other connection carries the session.
    parked: bool,
    last_error: Option<DownReason>,
}

impl Fsm {
    /// A machine in Idle for the peer `config` describes (RFC 4271 §8.2.2, Idle is the initial
    /// state). Nothing happens until a start event.
    pub fn new(config: Config) -> Fsm {
        let local_open = config.local_open();
        Fsm {
            config,
            local_open,
            state: State::Idle,
            remote_open: None,
            hold_time: Duration::ZERO,
            keepalive_time: Duration::ZERO,
            armed: [false; 4],
            connect_retry_counter: 0,
            consecutive_errors: 0,
            auto_restart: false,
            parked: false,
            last_error: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration the machine runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The OPEN this machine sends (RFC 4271 §4.2).
    pub fn local_open(&self) -> &Open {
        &self.local_open
    }

    /// The peer's accepted OPEN, in OpenConfirm and Established.
    pub fn remote_open(&self) -> Option<&Open> {
        self.remote_open.as_ref()
    }

    /// The negotiated hold time, in OpenConfirm and Established (RFC 4271 §4.2); zero when
    /// keepalives are off.
    pub fn hold_time(&self) -> Duration {
        self.hold_time
    }

    /// ConnectRetryCounter (RFC 4271 §8.1.1): zeroed by start and ManualStop, incremented on every
    /// other return to Idle.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// Why the machine last returned to Idle (or to Active after a lost connection).
    pub fn last_error(&self) -> Option<&DownReason> {
        self.last_error.as_ref()
    }

    /// Whether [`super::Peer`] holds this machine in Idle while the other connection has the
    /// session (RFC 4271 §6.8).
    pub fn is_parked(&self) -> bool {
        self.parked
    }

    /// Whether a timer is armed.
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.armed.get(timer_index(timer)).copied().unwrap_or(false)
    }

    /// Runs one event and returns what to do, in order (RFC 4271 §8.2.2).
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        // Timers are one-shot; an expiry of a timer not armed lost a race with its cancel.
        if let Some(timer) = expired_timer(&event) {
            if !self.is_armed(timer) {
                return out;
            }
            self.set_armed(timer, false);
        }
        let state = self.state;
        match event {
            Event::ManualStart | Event::AutomaticStart => {
                // Idle: "initializes all BGP resources, sets the ConnectRetryCounter to zero,
                // starts the ConnectRetryTimer, initiates a TCP connection, listens, changes its
                // state to Connect". Every other state ignores start events.
                if state == State::Idle {
                    self.connect_retry_counter = 0;
                    self.start(&mut out);
                }
            }
            Event::IdleHoldTimerExpires => {
                // The automatic restart after the IdleHold wait (RFC 4271 §8.1.1
                // DampPeerOscillations): an AutomaticStart. Only ever armed in Idle.
                if state == State::Idle {
                    self.start(&mut out);
                }
            }
            Event::ManualStop => {
                // "sends the NOTIFICATION with a Cease, ... sets the ConnectRetryCounter to zero,
                // ... changes its state to Idle." In Idle it is ignored, but stops a pending
                // automatic restart.
                self.auto_restart = false;
                self.parked = false;
                if state == State::Idle {
                    self.cancel(&mut out, Timer::IdleHold);
                } else {
                    let n = Notification::cease(cease_subcode::ADMINISTRATIVE_SHUTDOWN);
                    self.go_idle(&mut out, Some(n), DownReason::ManualStop);
                }
                self.connect_retry_counter = 0;
            }
            Event::AutomaticStop(n) => {
                // "sends the NOTIFICATION with a Cease, ... increments the ConnectRetryCounter,
                // ... changes its state to Idle." No restart follows.
                self.auto_restart = false;
                self.parked = false;
                if state == State::Idle {
                    self.cancel(&mut out, Timer::IdleHold);
                } else {
                    self.go_idle(&mut out, Some(n.clone()), DownReason::AutomaticStop(n));
                }
            }
            Event::ConnectRetryTimerExpires => match state {
                // Connect: "drops the TCP connection, restarts the ConnectRetryTimer, ...
                // initiates a TCP connection, stays in the Connect state".
                State::Connect => {
                    out.push(Action::CloseConnection);
                    self.arm(&mut out, Timer::ConnectRetry, self.config.connect_retry);
                    out.push(Action::Connect);
                }
                // Active: "restarts the ConnectRetryTimer, initiates a TCP connection, ...
                // changes its state to Connect".
                State::Active => {
                    self.arm(&mut out, Timer::ConnectRetry, self.config.connect_retry);
                    out.push(Action::Connect);
                    self.state = State::Connect;
                }
                // Never armed in the other states.
                _ => {}
            },
            Event::HoldTimerExpires => {
                // OpenSent, OpenConfirm, Established: "sends a NOTIFICATION message with the
                // error code Hold Timer Expired, ... changes its state to Idle". Never armed
                // elsewhere.
                if state.has_connection() {
                    let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0);
                    self.go_idle(&mut out, Some(n), DownReason::HoldTimerExpired);
                }
            }
            Event::KeepaliveTimerExpires => {
                // OpenConfirm, Established: "sends a KEEPALIVE message, restarts the
                // KeepaliveTimer". Never armed elsewhere.
                if matches!(state, State::OpenConfirm | State::Established) {
                    out.push(Action::Send(Message::Keepalive));
                    self.arm(&mut out, Timer::Keepalive, self.keepalive_time);
                }
            }
            Event::TcpCrAcked | Event::TcpConnectionConfirmed => match state {
                // Idle refuses connections.
                State::Idle => out.push(Action::CloseConnection),
                // Connect, Active: "stops the ConnectRetryTimer, ... sends an OPEN message to
                // its peer, sets the HoldTimer to a large value, changes its state to OpenSent".
                State::Connect | State::Active => {
                    self.cancel(&mut out, Timer::ConnectRetry);
                    out.push(Action::Send(Message::Open(self.local_open.clone())));
                    self.arm(&mut out, Timer::Hold, LARGE_HOLD_TIME);
                    self.state = State::OpenSent;
                }
                // OpenSent and later: "a second TCP connection may be in progress. This second
                // TCP connection is tracked per Connection Collision processing (Section 6.8)"
                // — by `Peer`, which runs a second machine for it.
                _ => {}
            },
            Event::TcpConnectionFails => match state {
                State::Idle | State::Active => {}
                // Connect: the outbound attempt failed. wren follows the RFC's DelayOpen
                // branch: "restarts the ConnectRetryTimer, ... continues to listen, changes its
                // state to Active", so a refused connection is retried after ConnectRetryTime.
                State::Connect => {
                    self.arm(&mut out, Timer::ConnectRetry, self.config.connect_retry);
                    self.state = State::Active;
                    self.last_error = Some(DownReason::ConnectionFailed);
                }
                // OpenSent: "closes the BGP connection, restarts the ConnectRetryTimer,
                // continues to listen, changes its state to Active".
                State::OpenSent => {
                    out.push(Action::CloseConnection);
                    self.cancel_all(&mut out);
                    if !self.config.passive {
                        self.arm(&mut out, Timer::ConnectRetry, self.config.connect_retry);
                    }
                    self.state = State::Active;
                    self.last_error = Some(DownReason::ConnectionFailed);
                }
                // OpenConfirm, Established: "drops the TCP connection, ... changes its state
                // to Idle".
                State::OpenConfirm | State::Established => {
                    self.go_idle(&mut out, None, DownReason::ConnectionFailed);
                }
            },
            Event::BgpOpen(open) => match state {
                // OpenSent: "the collision detect function is processed per Section 6.8" (in
                // `Peer`), then a valid OPEN is accepted, an invalid one answered with the
                // NOTIFICATION `check_open` chose (Event 22 path).
                State::OpenSent => match check_open(&self.config, &open) {
                    Ok(()) => self.accept_open(&mut out, open),
                    Err(n) => {
                        self.go_idle(&mut out, Some(n.clone()), DownReason::NotificationSent(n));
                    }
                },
                // An OPEN on a connection that already had one is an FSM error (RFC 6608);
                // collisions with a second connection are `Peer`'s.
                s => self.unexpected(&mut out, s),
            },
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) => match state {
                State::Idle => {}
                // Connect, Active: no connection to send on ("SendNOTIFICATIONwithoutOPEN" is
                // not implemented); "drops the TCP connection, ... changes its state to Idle".
                State::Connect | State::Active => {
                    self.go_idle(&mut out, None, DownReason::UnexpectedEvent);
                }
                // "sends a NOTIFICATION message with the appropriate error code, ... changes
                // its state to Idle".
                _ => self.go_idle(&mut out, Some(n.clone()), DownReason::NotificationSent(n)),
            },
            Event::UpdateMsgErr(n) => match state {
                // Established: "sends a NOTIFICATION message with an Update error, ... changes
                // its state to Idle".
                State::Established => {
                    self.go_idle(&mut out, Some(n.clone()), DownReason::NotificationSent(n));
                }
                // Before Established an UPDATE of any kind is unexpected (RFC 6608).
                s => self.unexpected(&mut out, s),
            },
            Event::NotifMsgVerErr(n) | Event::NotifMsg(n) => {
                // "drops the TCP connection, releases all BGP resources, ... changes its state
                // to Idle", without answering (wren does this in OpenSent for Event 25 too, where
                // the RFC's "any other event" would send an FSM error in reply).
                if state != State::Idle {
                    self.go_idle(&mut out, None, DownReason::NotificationReceived(n));
                }
            }
            Event::KeepAliveMsg => match state {
                // OpenConfirm: "restarts the HoldTimer and changes its state to Established".
                State::OpenConfirm => self.establish(&mut out),
                // Established: "restarts its HoldTimer, if the negotiated HoldTime value is
                // non-zero".
                State::Established => self.restart_hold(&mut out),
                s => self.unexpected(&mut out, s),
            },
            Event::UpdateMsg(update) => match state {
                // Established: "processes the message, restarts its HoldTimer".
                State::Established => {
                    self.restart_hold(&mut out);
                    out.push(Action::Deliver(Message::Update(update)));
                }
                s => self.unexpected(&mut out, s),
            },
            Event::RouteRefreshMsg(rr) => match state {
                // Any message shows the peer is alive, so ROUTE-REFRESH restarts the HoldTimer
                // too (RFC 4271 §6.5 counts "KEEPALIVE, UPDATE, and/or NOTIFICATION").
                State::Established => {
                    self.restart_hold(&mut out);
                    out.push(Action::Deliver(Message::RouteRefresh(rr)));
                }
                s => self.unexpected(&mut out, s),
            },
        }
        out
    }

    /// Closes this connection because it lost collision resolution: Cease/Connection Collision
    /// Resolution (6/7), then Idle, parked until the other connection returns to Idle
    /// (RFC 4271 §6.8).
    pub(super) fn collision_close(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.parked = true;
        let n = Notification::cease(cease_subcode::CONNECTION_COLLISION_RESOLUTION);
        self.go_idle(&mut out, Some(n), DownReason::Collision);
        out
    }

    /// Stops connecting while the other connection carries the session: abandons an outbound
    /// attempt, cancels the timers, and stays Idle until [`Fsm::unpark`]. Does nothing to a
    /// machine that holds a connection.
    pub(super) fn park(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state.has_connection() || !self.auto_restart {
            return out;
        }
        if self.state == State::Connect {
            out.push(Action::CloseConnection);
        }
        self.cancel_all(&mut out);
        self.state = State::Idle;
        self.parked = true;
        out
    }

    /// Releases a parked machine: an AutomaticStart, unless it was stopped meanwhile.
    pub(super) fn unpark(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.parked {
            self.parked = false;
            if self.auto_restart && self.state == State::Idle {
                self.start(&mut out);
            }
        }
        out
    }

    /// Idle → Connect (arm ConnectRetry, connect) or, for a passive peer, Idle → Active.
    fn start(&mut self, out: &mut Vec<Action>) {
        self.auto_restart = true;
        self.parked = false;
        self.cancel(out, Timer::IdleHold);
        if self.config.passive {
            self.state = State::Active;
        } else {
            self.arm(out, Timer::ConnectRetry, self.config.connect_retry);
            out.push(Action::Connect);
            self.state = State::Connect;
        }
    }

    /// OpenSent, valid OPEN: "sends a KEEPALIVE message, and: If the negotiated hold time value
    /// is zero, then the HoldTimer and KeepaliveTimer are not started. ... sets a
    /// KeepaliveTimer, sets the HoldTimer according to the negotiated value, changes its state
    /// to OpenConfirm."
    fn accept_open(&mut self, out: &mut Vec<Action>, open: Open) {
        let hold = self.local_open.hold_time.min(open.hold_time);
        self.hold_time = Duration::from_secs(u64::from(hold));
        self.keepalive_time = Duration::from_secs(u64::from(self.config.keepalive_interval(hold)));
        out.push(Action::Send(Message::Keepalive));
        if hold == 0 {
            self.cancel(out, Timer::Hold);
        } else {
            self.arm(out, Timer::Keepalive, self.keepalive_time);
            self.arm(out, Timer::Hold, self.hold_time);
        }
        self.remote_open = Some(open);
        self.state = State::OpenConfirm;
    }

    /// OpenConfirm, KEEPALIVE: restart the HoldTimer, go Established, report what was
    /// negotiated.
    fn establish(&mut self, out: &mut Vec<Action>) {
        let Some(remote) = self.remote_open.as_ref() else {
            // OpenConfirm always holds the remote OPEN; without one, refuse rather than panic.
            self.unexpected(out, State::OpenConfirm);
            return;
        };
        let mut negotiated = wire::negotiate(&self.local_open, remote);
        negotiated.keepalive_time = self.config.keepalive_interval(negotiated.hold_time);
        self.restart_hold(out);
        self.state = State::Established;
        self.consecutive_errors = 0;
        out.push(Action::SessionUp(Box::new(negotiated)));
    }

    fn restart_hold(&mut self, out: &mut Vec<Action>) {
        if !self.hold_time.is_zero() {
            self.arm(out, Timer::Hold, self.hold_time);
        }
    }

    /// An event the state does not allow. Connect and Active hold no connection, so they just
    /// go Idle; OpenSent, OpenConfirm and Established send Finite State Machine Error with the
    /// RFC 6608 subcode for the state (1, 2, 3). Idle ignores everything.
    fn unexpected(&mut self, out: &mut Vec<Action>, state: State) {
        let subcode = match state {
            State::Idle => return,
            State::Connect | State::Active => {
                self.go_idle(out, None, DownReason::UnexpectedEvent);
                return;
            }
            State::OpenSent => 1,
            State::OpenConfirm => 2,
            State::Established => 3,
        };
        let n = Notification::new(code::FSM, subcode);
        self.go_idle(out, Some(n.clone()), DownReason::NotificationSent(n));
    }

    /// The common way back to Idle: send the NOTIFICATION (only on a connection), drop the
    /// connection or attempt, cancel every timer, report SessionDown if Established, count the
    /// failure, and arm the IdleHold timer for the automatic restart unless stopped or parked.
    fn go_idle(&mut self, out: &mut Vec<Action>, send: Option<Notification>, reason: DownReason) {
        let was = self.state;
        if let Some(n) = send {
            if was.has_connection() {
                out.push(Action::Send(Message::Notification(n)));
            }
        }
        if was != State::Idle {
            out.push(Action::CloseConnection);
        }
        self.cancel_all(out);
        if was == State::Established {
            out.push(Action::SessionDown(reason.clone()));
        }
        if reason != DownReason::ManualStop {
            self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
        }
        self.state = State::Idle;
        self.remote_open = None;
        self.hold_time = Duration::ZERO;
        self.keepalive_time = Duration::ZERO;
        let wait = if reason.is_error() {
            self.consecutive_errors = self.consecutive_errors.saturating_add(1);
            self.error_wait()
        } else {
            self.config.restart_delay
        };
        self.last_error = Some(reason);
        if self.auto_restart && !self.parked {
            self.arm(out, Timer::IdleHold, wait);
        }
    }

    /// `error_wait_min`, doubled per consecutive error after the first, capped at
    /// `error_wait_max`.
    fn error_wait(&self) -> Duration {
        let max = self.config.error_wait_max;
        let mut wait = self.config.error_wait_min;
        for _ in 1..self.consecutive_errors {
            if wait >= max {
                break;
            }
            wait = wait.saturating_mul(2);
        }
        wait.min(max)
    }

    fn arm(&mut self, out: &mut Vec<Action>, timer: Timer, after: Duration) {
        self.set_armed(timer, true);
        out.push(Action::ArmTimer(timer, after));
    }

    fn cancel(&mut self, out: &mut Vec<Action>, timer: Timer) {
        if self.is_armed(timer) {
            self.set_armed(timer, false);
            out.push(Action::CancelTimer(timer));
        }
    }

    fn cancel_all(&mut self, out: &mut Vec<Action>) {
        for timer in Timer::ALL {
            self.cancel(out, timer);
        }
    }

    fn set_armed(&mut self, timer: Timer, on: bool) {
        if let Some(slot) = self.armed.get_mut(timer_index(timer)) {
            *slot = on;
        }
    }
}

fn timer_index(timer: Timer) -> usize {
    match timer {
        Timer::ConnectRetry => 0,
        Timer::Hold => 1,
        Timer::Keepalive => 2,
        Timer::IdleHold => 3,
    }
}

fn expired_timer(event: &Event) -> Option<Timer> {
    match event {
        Event::ConnectRetryTimerExpires => Some(Timer::ConnectRetry),
        Event::HoldTimerExpires => Some(Timer::Hold),
        Event::KeepaliveTimerExpires => Some(Timer::Keepalive),
        Event::IdleHoldTimerExpires => Some(Timer::IdleHold),
        _ => None,
    }
}
