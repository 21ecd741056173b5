//! One test per behaviour of the per-connection machine, grouped by RFC 4271 §8.2.2 state, then
//! the whole state × event table (`docs/fsm.md`) checked row by row.

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::wire::{
    self, cease_subcode, code, open_subcode, DecodeError, DecodeErrorKind, RouteRefreshSubtype,
};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const REMOTE_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const LOCAL_AS: u32 = 64512;
const REMOTE_AS: u32 = 64513;

fn config() -> Config {
    Config::new(LOCAL_AS, LOCAL_ID, REMOTE_AS)
}

fn passive_config() -> Config {
    Config {
        passive: true,
        ..config()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn peer_open(hold_time: u16) -> Open {
    Open::new(
        REMOTE_AS,
        hold_time,
        REMOTE_ID,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
        ],
    )
}

fn send_notification(code: u8, subcode: u8) -> Action {
    Action::Send(Message::Notification(Notification::new(code, subcode)))
}

fn rr() -> RouteRefresh {
    RouteRefresh::new(Family::IPV4_UNICAST)
}

/// A machine driven into `state` the ordinary way (Active: via a failed connection attempt).
fn in_state(config: Config, state: State) -> Fsm {
    let mut fsm = Fsm::new(config);
    let steps: &[Event] = match state {
        State::Idle => &[],
        State::Connect => &[Event::ManualStart],
        State::Active => &[Event::ManualStart, Event::TcpConnectionFails],
        State::OpenSent => &[Event::ManualStart, Event::TcpCrAcked],
        State::OpenConfirm => &[
            Event::ManualStart,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open(90)),
        ],
        State::Established => &[
            Event::ManualStart,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open(90)),
            Event::KeepAliveMsg,
        ],
    };
    for e in steps {
        fsm.handle(e.clone());
    }
    assert_eq!(fsm.state(), state);
    fsm
}

fn fsm(state: State) -> Fsm {
    in_state(config(), state)
}

/// Runs `event` on a machine in `state` and returns the actions and the next state.
fn run(state: State, event: Event) -> (Vec<Action>, State) {
    let mut m = fsm(state);
    let actions = m.handle(event);
    (actions, m.state())
}

// ---- Idle -------------------------------------------------------------------------------------

#[test]
fn manual_start_in_idle_connects_and_arms_the_connect_retry_timer() {
    let (actions, next) = run(State::Idle, Event::ManualStart);
    assert_eq!(
        actions,
        vec![
            Action::ArmTimer(Timer::ConnectRetry, secs(120)),
            Action::Connect
        ]
    );
    assert_eq!(next, State::Connect);
}

#[test]
fn automatic_start_in_idle_connects_like_manual_start() {
    assert_eq!(
        run(State::Idle, Event::AutomaticStart),
        run(State::Idle, Event::ManualStart)
    );
}

#[test]
fn the_connect_retry_time_is_configurable() {
    let mut m = Fsm::new(Config {
        connect_retry: secs(7),
        ..config()
    });
    assert_eq!(
        m.handle(Event::ManualStart).first(),
        Some(&Action::ArmTimer(Timer::ConnectRetry, secs(7)))
    );
}

#[test]
fn manual_start_of_a_passive_peer_listens_in_active_without_connecting() {
    let mut m = Fsm::new(passive_config());
    assert_eq!(m.handle(Event::ManualStart), vec![]);
    assert_eq!(m.state(), State::Active);
}

#[test]
fn idle_refuses_an_incoming_connection() {
    for e in [Event::TcpConnectionConfirmed, Event::TcpCrAcked] {
        assert_eq!(
            run(State::Idle, e),
            (vec![Action::CloseConnection], State::Idle)
        );
    }
}

#[test]
fn idle_ignores_stops_stale_timers_failures_and_messages() {
    for e in [
        Event::ManualStop,
        Event::AutomaticStop(Notification::cease(cease_subcode::PEER_DECONFIGURED)),
        Event::ConnectRetryTimerExpires,
        Event::HoldTimerExpires,
        Event::KeepaliveTimerExpires,
        Event::IdleHoldTimerExpires,
        Event::TcpConnectionFails,
        Event::BgpOpen(peer_open(90)),
        Event::BgpHeaderErr(Notification::new(1, 1)),
        Event::BgpOpenMsgErr(Notification::new(2, 0)),
        Event::NotifMsgVerErr(Notification::new(2, 1)),
        Event::NotifMsg(Notification::cease(2)),
        Event::KeepAliveMsg,
        Event::UpdateMsg(Update::default()),
        Event::UpdateMsgErr(Notification::new(3, 1)),
        Event::RouteRefreshMsg(rr()),
    ] {
        assert_eq!(run(State::Idle, e.clone()), (vec![], State::Idle), "{e:?}");
    }
}

#[test]
fn manual_stop_in_idle_cancels_a_pending_automatic_restart() {
    let mut m = fsm(State::OpenSent);
    m.handle(Event::HoldTimerExpires);
    assert!(m.is_armed(Timer::IdleHold));
    assert_eq!(
        m.handle(Event::ManualStop),
        vec![Action::CancelTimer(Timer::IdleHold)]
    );
    assert_eq!(m.handle(Event::IdleHoldTimerExpires), vec![]);
    assert_eq!(m.state(), State::Idle);
}

#[test]
fn start_events_are_ignored_once_started() {
    for state in &State::ALL[1..] {
        for e in [Event::ManualStart, Event::AutomaticStart] {
            assert_eq!(run(*state, e), (vec![], *state), "{state:?}");
        }
    }
}

// ---- Connect ----------------------------------------------------------------------------------

#[test]
fn connect_retry_expiry_in_connect_drops_the_attempt_and_connects_again() {
    assert_eq!(
        run(State::Connect, Event::ConnectRetryTimerExpires),
        (
            vec![
                Action::CloseConnection,
                Action::ArmTimer(Timer::ConnectRetry, secs(120)),
                Action::Connect
            ],
            State::Connect
        )
    );
}

#[test]
fn a_completed_outbound_connection_sends_open_and_arms_the_large_hold_timer() {
    let m = fsm(State::Connect);
    let open = Action::Send(Message::Open(m.local_open().clone()));
    for e in [Event::TcpCrAcked, Event::TcpConnectionConfirmed] {
        assert_eq!(
            run(State::Connect, e),
            (
                vec![
                    Action::CancelTimer(Timer::ConnectRetry),
                    open.clone(),
                    Action::ArmTimer(Timer::Hold, secs(240))
                ],
                State::OpenSent
            )
        );
    }
}

#[test]
fn a_failed_connection_attempt_in_connect_retries_from_active_after_connect_retry_time() {
    let mut m = fsm(State::Connect);
    assert_eq!(
        m.handle(Event::TcpConnectionFails),
        vec![Action::ArmTimer(Timer::ConnectRetry, secs(120))]
    );
    assert_eq!(m.state(), State::Active);
    assert_eq!(m.last_error(), Some(&DownReason::ConnectionFailed));
}

#[test]
fn manual_stop_in_connect_abandons_the_attempt_and_goes_idle_without_restart() {
    let mut m = fsm(State::Connect);
    assert_eq!(
        m.handle(Event::ManualStop),
        vec![
            Action::CloseConnection,
            Action::CancelTimer(Timer::ConnectRetry)
        ]
    );
    assert_eq!(m.state(), State::Idle);
    assert_eq!(m.connect_retry_counter(), 0);
}

#[test]
fn a_message_in_connect_or_active_drops_everything_and_goes_idle_without_a_notification() {
    for state in [State::Connect, State::Active] {
        for e in [
            Event::BgpOpen(peer_open(90)),
            Event::BgpHeaderErr(Notification::new(1, 1)),
            Event::BgpOpenMsgErr(Notification::new(2, 0)),
            Event::KeepAliveMsg,
            Event::UpdateMsg(Update::default()),
            Event::UpdateMsgErr(Notification::new(3, 1)),
            Event::RouteRefreshMsg(rr()),
        ] {
            let mut m = fsm(state);
            assert_eq!(
                m.handle(e.clone()),
                vec![
                    Action::CloseConnection,
                    Action::CancelTimer(Timer::ConnectRetry),
                    Action::ArmTimer(Timer::IdleHold, secs(60))
                ],
                "{state:?} {e:?}"
            );
            assert_eq!(m.state(), State::Idle);
            assert_eq!(m.connect_retry_counter(), 1);
        }
    }
}

#[test]
fn a_notification_in_connect_or_active_goes_idle() {
    for state in [State::Connect, State::Active] {
        for e in [
            Event::NotifMsg(Notification::new(2, 2)),
            Event::NotifMsgVerErr(Notification::new(2, 1)),
        ] {
            let (actions, next) = run(state, e);
            assert_eq!(next, State::Idle);
            assert_eq!(actions.first(), Some(&Action::CloseConnection));
        }
    }
}

// ---- Active -----------------------------------------------------------------------------------

#[test]
fn connect_retry_expiry_in_active_connects_and_goes_to_connect() {
    assert_eq!(
        run(State::Active, Event::ConnectRetryTimerExpires),
        (
            vec![
                Action::ArmTimer(Timer::ConnectRetry, secs(120)),
                Action::Connect
            ],
            State::Connect
        )
    );
}

#[test]
fn an_incoming_connection_in_active_sends_open_and_goes_to_open_sent() {
    let (actions, next) = run(State::Active, Event::TcpConnectionConfirmed);
    assert_eq!(next, State::OpenSent);
    assert_eq!(
        actions.first(),
        Some(&Action::CancelTimer(Timer::ConnectRetry))
    );
    assert!(matches!(
        actions.get(1),
        Some(Action::Send(Message::Open(_)))
    ));
    assert_eq!(
        actions.get(2),
        Some(&Action::ArmTimer(Timer::Hold, LARGE_HOLD_TIME))
    );
}

#[test]
fn a_passive_peer_in_active_accepts_a_connection_without_timers_to_cancel() {
    let mut m = in_state(passive_config(), State::Idle);
    m.handle(Event::ManualStart);
    let actions = m.handle(Event::TcpConnectionConfirmed);
    assert_eq!(actions.len(), 2);
    assert_eq!(m.state(), State::OpenSent);
}

#[test]
fn a_connection_failure_in_active_is_ignored_as_there_is_no_connection() {
    assert_eq!(
        run(State::Active, Event::TcpConnectionFails),
        (vec![], State::Active)
    );
}

#[test]
fn manual_stop_in_active_cancels_the_retry_and_goes_idle() {
    assert_eq!(
        run(State::Active, Event::ManualStop),
        (
            vec![
                Action::CloseConnection,
                Action::CancelTimer(Timer::ConnectRetry)
            ],
            State::Idle
        )
    );
}

// ---- OpenSent ---------------------------------------------------------------------------------

#[test]
fn a_valid_open_in_open_sent_is_answered_with_keepalive_and_arms_negotiated_timers() {
    let mut m = fsm(State::OpenSent);
    assert_eq!(
        m.handle(Event::BgpOpen(peer_open(30))),
        vec![
            Action::Send(Message::Keepalive),
            Action::ArmTimer(Timer::Keepalive, secs(10)),
            Action::ArmTimer(Timer::Hold, secs(30))
        ]
    );
    assert_eq!(m.state(), State::OpenConfirm);
    assert_eq!(m.hold_time(), secs(30));
    assert_eq!(m.remote_open(), Some(&peer_open(30)));
}

#[test]
fn the_smaller_hold_time_wins_whichever_side_proposed_it() {
    let mut m = in_state(
        Config {
            hold_time: 9,
            ..config()
        },
        State::OpenSent,
    );
    let actions = m.handle(Event::BgpOpen(peer_open(240)));
    assert!(actions.contains(&Action::ArmTimer(Timer::Keepalive, secs(3))));
    assert!(actions.contains(&Action::ArmTimer(Timer::Hold, secs(9))));
    assert_eq!(m.hold_time(), secs(9));
}

#[test]
fn a_configured_keepalive_shorter_than_a_third_of_the_hold_time_is_used() {
    let mut m = in_state(
        Config {
            hold_time: 90,
            keepalive_time: Some(10),
            ..config()
        },
        State::OpenSent,
    );
    let actions = m.handle(Event::BgpOpen(peer_open(90)));
    assert!(
        actions.contains(&Action::ArmTimer(Timer::Keepalive, secs(10))),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::ArmTimer(Timer::Hold, secs(90))));
    // Every later expiry re-arms with the same interval, and SessionUp reports it.
    assert_eq!(
        m.handle(Event::KeepaliveTimerExpires),
        vec![
            Action::Send(Message::Keepalive),
            Action::ArmTimer(Timer::Keepalive, secs(10))
        ]
    );
    let up = m.handle(Event::KeepAliveMsg);
    let Some(Action::SessionUp(n)) = up.last() else {
        panic!("no SessionUp in {up:?}");
    };
    assert_eq!((n.hold_time, n.keepalive_time), (90, 10));
}

#[test]
fn a_configured_keepalive_longer_than_a_third_of_the_negotiated_hold_time_is_capped() {
    // We propose 90 s with keepalive 60 s; the peer proposes 9 s, so the negotiated hold time
    // is 9 s and a KEEPALIVE must go out every 3 s, not every 60 s.
    let mut m = in_state(
        Config {
            hold_time: 90,
            keepalive_time: Some(60),
            ..config()
        },
        State::OpenSent,
    );
    let actions = m.handle(Event::BgpOpen(peer_open(9)));
    assert!(
        actions.contains(&Action::ArmTimer(Timer::Keepalive, secs(3))),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::ArmTimer(Timer::Hold, secs(9))));
    let up = m.handle(Event::KeepAliveMsg);
    let Some(Action::SessionUp(n)) = up.last() else {
        panic!("no SessionUp in {up:?}");
    };
    assert_eq!((n.hold_time, n.keepalive_time), (9, 3));
}

#[test]
fn the_keepalive_interval_is_the_configured_one_capped_at_a_third_of_the_hold_time() {
    let with = |k| Config {
        keepalive_time: k,
        ..config()
    };
    // (configured, negotiated hold) -> interval
    let cases = [
        (None, 90, 30),
        (None, 3, 1),
        (Some(10), 90, 10),
        (Some(30), 90, 30),
        (Some(31), 90, 30),
        (Some(60), 9, 3),
        (Some(1), 3, 1),
        // No keepalives without a hold time; a configured 0 with a hold time counts as unset.
        (None, 0, 0),
        (Some(0), 0, 0),
        (Some(5), 0, 0),
        (Some(0), 90, 30),
    ];
    for (configured, hold, want) in cases {
        assert_eq!(
            with(configured).keepalive_interval(hold),
            want,
            "keepalive {configured:?}, hold {hold}"
        );
    }
}

#[test]
fn hold_time_zero_disables_keepalives() {
    let mut m = fsm(State::OpenSent);
    assert_eq!(
        m.handle(Event::BgpOpen(peer_open(0))),
        vec![
            Action::Send(Message::Keepalive),
            Action::CancelTimer(Timer::Hold)
        ]
    );
    let up = m.handle(Event::KeepAliveMsg);
    assert_eq!(up.len(), 1);
    assert!(matches!(up.first(), Some(Action::SessionUp(n)) if n.hold_time == 0));
    assert_eq!(m.handle(Event::KeepAliveMsg), vec![]);
    assert!(Timer::ALL.iter().all(|t| !m.is_armed(*t)));
}

fn refused(open: Open, config: Config) -> Vec<Action> {
    let mut m = in_state(config, State::OpenSent);
    let actions = m.handle(Event::BgpOpen(open));
    assert_eq!(m.state(), State::Idle);
    actions
}

fn refusal(n: Notification) -> Vec<Action> {
    vec![
        Action::Send(Message::Notification(n)),
        Action::CloseConnection,
        Action::CancelTimer(Timer::Hold),
        Action::ArmTimer(Timer::IdleHold, secs(60)),
    ]
}

#[test]
fn hold_time_of_one_or_two_seconds_is_unacceptable_with_notification_2_6() {
    for hold in [1, 2] {
        assert_eq!(
            refused(peer_open(hold), config()),
            refusal(Notification::new(2, open_subcode::UNACCEPTABLE_HOLD_TIME))
        );
    }
}

#[test]
fn hold_time_of_three_seconds_is_acceptable() {
    let mut m = fsm(State::OpenSent);
    let actions = m.handle(Event::BgpOpen(peer_open(3)));
    assert!(actions.contains(&Action::ArmTimer(Timer::Keepalive, secs(1))));
    assert_eq!(m.state(), State::OpenConfirm);
}

#[test]
fn open_with_bad_peer_as_is_answered_with_notification_2_2() {
    let open = Open::new(64999, 90, REMOTE_ID, vec![]);
    assert_eq!(
        refused(open, config()),
        refusal(Notification::new(2, open_subcode::BAD_PEER_AS))
    );
}

#[test]
fn the_peer_as_is_read_from_the_four_octet_as_capability_not_as_trans() {
    let config = Config::new(LOCAL_AS, LOCAL_ID, 4_200_000_001);
    let mut m = in_state(config.clone(), State::OpenSent);
    m.handle(Event::BgpOpen(Open::new(
        4_200_000_001,
        90,
        REMOTE_ID,
        vec![],
    )));
    assert_eq!(m.state(), State::OpenConfirm);
    // A 2-octet speaker can only say AS_TRANS, which is not the configured AS.
    let old = Open {
        my_as: 23456,
        hold_time: 90,
        bgp_id: REMOTE_ID,
        capabilities: vec![],
    };
    assert_eq!(
        refused(old, config),
        refusal(Notification::new(2, open_subcode::BAD_PEER_AS))
    );
}

#[test]
fn open_with_a_zero_bgp_identifier_is_answered_with_notification_2_3() {
    let open = Open::new(REMOTE_AS, 90, Ipv4Addr::UNSPECIFIED, vec![]);
    assert_eq!(
        refused(open, config()),
        refusal(Notification::new(2, open_subcode::BAD_BGP_IDENTIFIER))
    );
}

#[test]
fn an_internal_peer_with_our_bgp_identifier_is_answered_with_notification_2_3() {
    let open = Open::new(LOCAL_AS, 90, LOCAL_ID, vec![]);
    assert_eq!(
        refused(open, Config::new(LOCAL_AS, LOCAL_ID, LOCAL_AS)),
        refusal(Notification::new(2, open_subcode::BAD_BGP_IDENTIFIER))
    );
}

#[test]
fn an_external_peer_may_share_our_bgp_identifier_rfc6286() {
    let mut m = fsm(State::OpenSent);
    m.handle(Event::BgpOpen(Open::new(REMOTE_AS, 90, LOCAL_ID, vec![])));
    assert_eq!(m.state(), State::OpenConfirm);
}

fn open_with_unknown_capability() -> Open {
    Open::new(
        REMOTE_AS,
        90,
        REMOTE_ID,
        vec![Capability::Unknown {
            code: 200,
            value: Bytes::from_static(&[1, 2]),
        }],
    )
}

#[test]
fn unknown_capabilities_are_accepted_by_default() {
    let mut m = fsm(State::OpenSent);
    m.handle(Event::BgpOpen(open_with_unknown_capability()));
    assert_eq!(m.state(), State::OpenConfirm);
}

#[test]
fn unknown_capabilities_are_refused_with_notification_2_7_listing_them_when_configured() {
    let strict = Config {
        allow_unknown_capabilities: false,
        ..config()
    };
    assert_eq!(
        refused(open_with_unknown_capability(), strict),
        refusal(Notification::with_data(
            2,
            open_subcode::UNSUPPORTED_CAPABILITY,
            vec![200, 2, 1, 2]
        ))
    );
}

#[test]
fn open_with_unsupported_version_is_answered_with_notification_2_1() {
    let error = DecodeError::new(19, DecodeErrorKind::UnsupportedVersion(3));
    let event = Event::from_decode_error(&error);
    let mut m = fsm(State::OpenSent);
    assert_eq!(
        m.handle(event),
        refusal(Notification::with_data(2, 1, vec![0, 4]))
    );
}

#[test]
fn a_header_or_open_decode_error_after_the_open_sends_its_notification_and_goes_idle() {
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        for n in [Notification::new(1, 2), Notification::new(2, 4)] {
            let e = if n.code == 1 {
                Event::BgpHeaderErr(n.clone())
            } else {
                Event::BgpOpenMsgErr(n.clone())
            };
            let (actions, next) = run(state, e);
            assert_eq!(next, State::Idle);
            assert_eq!(
                actions.first(),
                Some(&Action::Send(Message::Notification(n)))
            );
        }
    }
}

#[test]
fn hold_timer_expiry_in_open_sent_sends_notification_4_and_goes_idle() {
    assert_eq!(
        run(State::OpenSent, Event::HoldTimerExpires),
        (
            vec![
                send_notification(4, 0),
                Action::CloseConnection,
                Action::ArmTimer(Timer::IdleHold, secs(60))
            ],
            State::Idle
        )
    );
}

#[test]
fn a_connection_failure_in_open_sent_goes_back_to_active_and_retries() {
    assert_eq!(
        run(State::OpenSent, Event::TcpConnectionFails),
        (
            vec![
                Action::CloseConnection,
                Action::CancelTimer(Timer::Hold),
                Action::ArmTimer(Timer::ConnectRetry, secs(120))
            ],
            State::Active
        )
    );
}

#[test]
fn a_connection_failure_in_open_sent_of_a_passive_peer_just_listens_again() {
    let mut m = Fsm::new(passive_config());
    m.handle(Event::ManualStart);
    m.handle(Event::TcpConnectionConfirmed);
    assert_eq!(
        m.handle(Event::TcpConnectionFails),
        vec![Action::CloseConnection, Action::CancelTimer(Timer::Hold)]
    );
    assert_eq!(m.state(), State::Active);
}

#[test]
fn a_notification_in_open_sent_closes_without_a_reply() {
    for e in [
        Event::NotifMsg(Notification::new(2, 2)),
        Event::NotifMsgVerErr(Notification::new(2, 1)),
    ] {
        assert_eq!(
            run(State::OpenSent, e),
            (
                vec![
                    Action::CloseConnection,
                    Action::CancelTimer(Timer::Hold),
                    Action::ArmTimer(Timer::IdleHold, secs(60))
                ],
                State::Idle
            )
        );
    }
}

#[test]
fn keepalive_update_or_route_refresh_in_open_sent_is_fsm_error_5_1() {
    for e in [
        Event::KeepAliveMsg,
        Event::UpdateMsg(Update::default()),
        Event::UpdateMsgErr(Notification::new(3, 1)),
        Event::RouteRefreshMsg(rr()),
    ] {
        assert_eq!(
            run(State::OpenSent, e),
            (refusal(Notification::new(code::FSM, 1)), State::Idle)
        );
    }
}

#[test]
fn a_second_connection_after_the_open_is_left_to_collision_detection() {
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        for e in [Event::TcpConnectionConfirmed, Event::TcpCrAcked] {
            assert_eq!(run(state, e), (vec![], state));
        }
    }
}

#[test]
fn manual_stop_after_the_open_sends_cease_administrative_shutdown_and_does_not_restart() {
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        let mut m = fsm(state);
        let actions = m.handle(Event::ManualStop);
        assert_eq!(
            actions.first(),
            Some(&send_notification(
                code::CEASE,
                cease_subcode::ADMINISTRATIVE_SHUTDOWN
            ))
        );
        assert_eq!(actions.get(1), Some(&Action::CloseConnection));
        assert!(!actions
            .iter()
            .any(|a| matches!(a, Action::ArmTimer(Timer::IdleHold, _))));
        assert_eq!(m.state(), State::Idle);
        assert_eq!(m.connect_retry_counter(), 0);
        assert!(Timer::ALL.iter().all(|t| !m.is_armed(*t)));
    }
}

#[test]
fn automatic_stop_sends_its_cease_and_does_not_restart() {
    let cease = Notification::cease(cease_subcode::MAX_PREFIXES);
    let (actions, next) = run(State::Established, Event::AutomaticStop(cease.clone()));
    assert_eq!(next, State::Idle);
    assert_eq!(
        actions,
        vec![
            Action::Send(Message::Notification(cease.clone())),
            Action::CloseConnection,
            Action::CancelTimer(Timer::Hold),
            Action::CancelTimer(Timer::Keepalive),
            Action::SessionDown(DownReason::AutomaticStop(cease))
        ]
    );
}

#[test]
fn stale_timer_expiries_are_ignored() {
    let cases = [
        (State::Connect, Event::HoldTimerExpires),
        (State::Connect, Event::KeepaliveTimerExpires),
        (State::Connect, Event::IdleHoldTimerExpires),
        (State::Active, Event::HoldTimerExpires),
        (State::OpenSent, Event::ConnectRetryTimerExpires),
        (State::OpenSent, Event::KeepaliveTimerExpires),
        (State::OpenConfirm, Event::ConnectRetryTimerExpires),
        (State::Established, Event::ConnectRetryTimerExpires),
        (State::Established, Event::IdleHoldTimerExpires),
    ];
    for (state, e) in cases {
        assert_eq!(run(state, e.clone()), (vec![], state), "{state:?} {e:?}");
    }
}

// ---- OpenConfirm ------------------------------------------------------------------------------

#[test]
fn keepalive_in_open_confirm_establishes_the_session_and_reports_what_was_negotiated() {
    let mut m = fsm(State::OpenConfirm);
    let negotiated = wire::negotiate(m.local_open(), &peer_open(90));
    assert_eq!(
        m.handle(Event::KeepAliveMsg),
        vec![
            Action::ArmTimer(Timer::Hold, secs(90)),
            Action::SessionUp(Box::new(negotiated))
        ]
    );
    assert_eq!(m.state(), State::Established);
}

#[test]
fn keepalive_timer_expiry_in_open_confirm_sends_keepalive_and_rearms() {
    assert_eq!(
        run(State::OpenConfirm, Event::KeepaliveTimerExpires),
        (
            vec![
                Action::Send(Message::Keepalive),
                Action::ArmTimer(Timer::Keepalive, secs(30))
            ],
            State::OpenConfirm
        )
    );
}

fn teardown(first: Option<Action>, idle_hold: u64) -> Vec<Action> {
    first
        .into_iter()
        .chain([
            Action::CloseConnection,
            Action::CancelTimer(Timer::Hold),
            Action::CancelTimer(Timer::Keepalive),
            Action::ArmTimer(Timer::IdleHold, secs(idle_hold)),
        ])
        .collect()
}

#[test]
fn hold_timer_expiry_in_open_confirm_sends_notification_4_and_goes_idle() {
    let mut m = fsm(State::OpenConfirm);
    let actions = m.handle(Event::HoldTimerExpires);
    // Hold itself has fired, so only Keepalive is left to cancel.
    assert_eq!(
        actions,
        vec![
            send_notification(4, 0),
            Action::CloseConnection,
            Action::CancelTimer(Timer::Keepalive),
            Action::ArmTimer(Timer::IdleHold, secs(60))
        ]
    );
    assert_eq!(m.last_error(), Some(&DownReason::HoldTimerExpired));
}

#[test]
fn a_notification_in_open_confirm_goes_idle_without_a_reply() {
    for e in [
        Event::NotifMsg(Notification::new(6, 2)),
        Event::NotifMsgVerErr(Notification::new(2, 1)),
    ] {
        let wait = if matches!(e, Event::NotifMsg(_)) {
            5
        } else {
            60
        };
        assert_eq!(
            run(State::OpenConfirm, e),
            (teardown(None, wait), State::Idle)
        );
    }
}

#[test]
fn a_connection_failure_in_open_confirm_goes_idle_and_restarts_after_the_short_delay() {
    assert_eq!(
        run(State::OpenConfirm, Event::TcpConnectionFails),
        (teardown(None, 5), State::Idle)
    );
}

#[test]
fn an_open_update_or_route_refresh_in_open_confirm_is_fsm_error_5_2() {
    for e in [
        Event::BgpOpen(peer_open(90)),
        Event::UpdateMsg(Update::default()),
        Event::UpdateMsgErr(Notification::new(3, 1)),
        Event::RouteRefreshMsg(rr()),
    ] {
        assert_eq!(
            run(State::OpenConfirm, e),
            (
                teardown(Some(send_notification(code::FSM, 2)), 60),
                State::Idle
            )
        );
    }
}

// ---- Established ------------------------------------------------------------------------------

#[test]
fn keepalive_in_established_restarts_the_hold_timer() {
    assert_eq!(
        run(State::Established, Event::KeepAliveMsg),
        (
            vec![Action::ArmTimer(Timer::Hold, secs(90))],
            State::Established
        )
    );
}

#[test]
fn update_in_established_restarts_the_hold_timer_and_is_delivered() {
    let update = Update::end_of_rib(Family::IPV4_UNICAST);
    assert_eq!(
        run(State::Established, Event::UpdateMsg(update.clone())),
        (
            vec![
                Action::ArmTimer(Timer::Hold, secs(90)),
                Action::Deliver(Message::Update(update))
            ],
            State::Established
        )
    );
}

#[test]
fn route_refresh_in_established_restarts_the_hold_timer_and_is_delivered() {
    let refresh = RouteRefresh {
        family: Family::IPV6_UNICAST,
        subtype: RouteRefreshSubtype::BeginningOfRouteRefresh,
    };
    assert_eq!(
        run(State::Established, Event::RouteRefreshMsg(refresh)),
        (
            vec![
                Action::ArmTimer(Timer::Hold, secs(90)),
                Action::Deliver(Message::RouteRefresh(refresh))
            ],
            State::Established
        )
    );
}

#[test]
fn keepalive_timer_expiry_in_established_sends_keepalive_and_rearms() {
    assert_eq!(
        run(State::Established, Event::KeepaliveTimerExpires),
        (
            vec![
                Action::Send(Message::Keepalive),
                Action::ArmTimer(Timer::Keepalive, secs(30))
            ],
            State::Established
        )
    );
}

#[test]
fn hold_timer_expiry_in_established_sends_notification_4_and_goes_idle() {
    assert_eq!(
        run(State::Established, Event::HoldTimerExpires),
        (
            vec![
                send_notification(4, 0),
                Action::CloseConnection,
                Action::CancelTimer(Timer::Keepalive),
                Action::SessionDown(DownReason::HoldTimerExpired),
                Action::ArmTimer(Timer::IdleHold, secs(60))
            ],
            State::Idle
        )
    );
}

fn session_down(first: Option<Action>, reason: DownReason, idle_hold: u64) -> Vec<Action> {
    first
        .into_iter()
        .chain([
            Action::CloseConnection,
            Action::CancelTimer(Timer::Hold),
            Action::CancelTimer(Timer::Keepalive),
            Action::SessionDown(reason),
            Action::ArmTimer(Timer::IdleHold, secs(idle_hold)),
        ])
        .collect()
}

#[test]
fn an_update_error_in_established_sends_its_notification_and_reports_session_down() {
    let n = Notification::new(3, 11);
    assert_eq!(
        run(State::Established, Event::UpdateMsgErr(n.clone())),
        (
            session_down(
                Some(Action::Send(Message::Notification(n.clone()))),
                DownReason::NotificationSent(n),
                60
            ),
            State::Idle
        )
    );
}

#[test]
fn a_notification_in_established_reports_session_down_without_a_reply() {
    let n = Notification::cease(cease_subcode::ADMINISTRATIVE_RESET);
    assert_eq!(
        run(State::Established, Event::NotifMsg(n.clone())),
        (
            session_down(None, DownReason::NotificationReceived(n), 5),
            State::Idle
        )
    );
}

#[test]
fn a_connection_failure_in_established_reports_session_down() {
    assert_eq!(
        run(State::Established, Event::TcpConnectionFails),
        (
            session_down(None, DownReason::ConnectionFailed, 5),
            State::Idle
        )
    );
}

#[test]
fn an_open_in_established_is_fsm_error_5_3() {
    let n = Notification::new(code::FSM, 3);
    assert_eq!(
        run(State::Established, Event::BgpOpen(peer_open(90))),
        (
            session_down(
                Some(Action::Send(Message::Notification(n.clone()))),
                DownReason::NotificationSent(n),
                60
            ),
            State::Idle
        )
    );
}

// ---- Automatic restart ------------------------------------------------------------------------

#[test]
fn idle_hold_expiry_restarts_the_session_automatically() {
    let mut m = fsm(State::Established);
    m.handle(Event::HoldTimerExpires);
    assert_eq!(
        m.handle(Event::IdleHoldTimerExpires),
        vec![
            Action::ArmTimer(Timer::ConnectRetry, secs(120)),
            Action::Connect
        ]
    );
    assert_eq!(m.state(), State::Connect);
}

#[test]
fn consecutive_errors_double_the_idle_hold_wait_up_to_the_cap() {
    let mut m = fsm(State::OpenSent);
    let mut waits = Vec::new();
    for _ in 0..5 {
        let actions = m.handle(Event::HoldTimerExpires);
        if let Some(Action::ArmTimer(Timer::IdleHold, d)) = actions.last() {
            waits.push(d.as_secs());
        }
        m.handle(Event::IdleHoldTimerExpires);
        m.handle(Event::TcpCrAcked);
    }
    assert_eq!(waits, vec![60, 120, 240, 300, 300]);
    assert_eq!(m.connect_retry_counter(), 5);
}

#[test]
fn a_cease_or_lost_connection_restarts_after_the_short_delay_which_does_not_grow() {
    let mut m = fsm(State::OpenSent);
    for _ in 0..3 {
        let actions = m.handle(Event::NotifMsg(Notification::cease(
            cease_subcode::CONNECTION_REJECTED,
        )));
        assert_eq!(
            actions.last(),
            Some(&Action::ArmTimer(Timer::IdleHold, secs(5)))
        );
        m.handle(Event::IdleHoldTimerExpires);
        m.handle(Event::TcpCrAcked);
    }
}

#[test]
fn reaching_established_resets_the_error_backoff() {
    let mut m = fsm(State::OpenSent);
    m.handle(Event::HoldTimerExpires);
    m.handle(Event::IdleHoldTimerExpires);
    m.handle(Event::TcpCrAcked);
    m.handle(Event::BgpOpen(peer_open(90)));
    m.handle(Event::KeepAliveMsg);
    assert_eq!(m.state(), State::Established);
    let actions = m.handle(Event::HoldTimerExpires);
    assert_eq!(
        actions.last(),
        Some(&Action::ArmTimer(Timer::IdleHold, secs(60)))
    );
}

// ---- Events, configuration --------------------------------------------------------------------

#[test]
fn messages_map_to_their_rfc_events() {
    let open = peer_open(90);
    assert_eq!(
        Event::from_message(Message::Open(open.clone())),
        Event::BgpOpen(open)
    );
    assert_eq!(Event::from_message(Message::Keepalive), Event::KeepAliveMsg);
    assert_eq!(
        Event::from_message(Message::Update(Update::default())),
        Event::UpdateMsg(Update::default())
    );
    let version = Notification::new(2, 1);
    assert_eq!(
        Event::from_message(Message::Notification(version.clone())),
        Event::NotifMsgVerErr(version)
    );
    let cease = Notification::cease(2);
    assert_eq!(
        Event::from_message(Message::Notification(cease.clone())),
        Event::NotifMsg(cease)
    );
    assert_eq!(
        Event::from_message(Message::RouteRefresh(rr())),
        Event::RouteRefreshMsg(rr())
    );
}

#[test]
fn decode_errors_map_to_header_open_or_update_error_events() {
    let header = DecodeError::new(0, DecodeErrorKind::ConnectionNotSynchronized);
    assert_eq!(
        Event::from_decode_error(&header),
        Event::BgpHeaderErr(Notification::new(1, 1))
    );
    let open = DecodeError::new(0, DecodeErrorKind::UnsupportedOptionalParameter(9));
    assert!(matches!(
        Event::from_decode_error(&open),
        Event::BgpOpenMsgErr(n) if n.code == 2 && n.subcode == 4
    ));
    let update = DecodeError::new(0, DecodeErrorKind::MalformedAttributeList);
    assert!(matches!(
        Event::from_decode_error(&update),
        Event::UpdateMsgErr(n) if n.code == 3 && n.subcode == 1
    ));
    let refresh = DecodeError::new(0, DecodeErrorKind::BadRouteRefreshLength(20));
    assert!(matches!(
        Event::from_decode_error(&refresh),
        Event::UpdateMsgErr(n) if n.code == 7
    ));
}

#[test]
fn the_local_open_announces_families_capabilities_and_the_four_octet_as() {
    let config = Config {
        families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        ..Config::new(4_200_000_001, LOCAL_ID, REMOTE_AS)
    };
    let open = config.local_open();
    assert_eq!(open.my_as, 23456);
    assert_eq!(open.asn(), 4_200_000_001);
    assert_eq!(open.hold_time, 90);
    assert_eq!(open.bgp_id, LOCAL_ID);
    assert_eq!(
        open.families(),
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert!(open.supports_route_refresh());
}

#[test]
fn a_configured_hold_time_of_one_or_two_seconds_is_sent_as_three() {
    for (configured, sent) in [(0, 0), (1, 3), (2, 3), (3, 3), (90, 90)] {
        let config = Config {
            hold_time: configured,
            ..config()
        };
        assert_eq!(config.local_open().hold_time, sent);
    }
}

// ---- The state × event table ------------------------------------------------------------------

/// One event of each kind, in the order of the rows of the table in `docs/fsm.md`.
fn every_event() -> Vec<Event> {
    vec![
        Event::ManualStart,
        Event::ManualStop,
        Event::AutomaticStart,
        Event::AutomaticStop(Notification::cease(cease_subcode::PEER_DECONFIGURED)),
        Event::ConnectRetryTimerExpires,
        Event::HoldTimerExpires,
        Event::KeepaliveTimerExpires,
        Event::IdleHoldTimerExpires,
        Event::TcpCrAcked,
        Event::TcpConnectionConfirmed,
        Event::TcpConnectionFails,
        Event::BgpOpen(peer_open(90)),
        Event::BgpHeaderErr(Notification::new(1, 1)),
        Event::BgpOpenMsgErr(Notification::new(2, 0)),
        Event::NotifMsgVerErr(Notification::new(2, 1)),
        Event::NotifMsg(Notification::cease(2)),
        Event::KeepAliveMsg,
        Event::UpdateMsg(Update::default()),
        Event::UpdateMsgErr(Notification::new(3, 1)),
        Event::RouteRefreshMsg(rr()),
    ]
}

#[test]
fn every_state_and_event_has_the_next_state_of_the_documented_table() {
    use State::{Active as A, Connect as C, Established as E, Idle as I};
    use State::{OpenConfirm as OC, OpenSent as OS};
    // Columns: Idle, Connect, Active, OpenSent, OpenConfirm, Established.
    let table: [[State; 6]; 20] = [
        [C, C, A, OS, OC, E],   // 1 ManualStart
        [I, I, I, I, I, I],     // 2 ManualStop
        [C, C, A, OS, OC, E],   // 3 AutomaticStart
        [I, I, I, I, I, I],     // 8 AutomaticStop
        [I, C, C, OS, OC, E],   // 9 ConnectRetryTimer_Expires
        [I, C, A, I, I, I],     // 10 HoldTimer_Expires
        [I, C, A, OS, OC, E],   // 11 KeepaliveTimer_Expires
        [I, C, A, OS, OC, E],   // 13 IdleHoldTimer_Expires (not armed)
        [I, OS, OS, OS, OC, E], // 16 Tcp_CR_Acked
        [I, OS, OS, OS, OC, E], // 17 TcpConnectionConfirmed
        [I, A, A, A, I, I],     // 18 TcpConnectionFails
        [I, I, I, OC, I, I],    // 19 BGPOpen
        [I, I, I, I, I, I],     // 21 BGPHeaderErr
        [I, I, I, I, I, I],     // 22 BGPOpenMsgErr
        [I, I, I, I, I, I],     // 24 NotifMsgVerErr
        [I, I, I, I, I, I],     // 25 NotifMsg
        [I, I, I, I, E, E],     // 26 KeepAliveMsg
        [I, I, I, I, I, E],     // 27 UpdateMsg
        [I, I, I, I, I, I],     // 28 UpdateMsgErr
        [I, I, I, I, I, E],     // ROUTE-REFRESH
    ];
    for (event, row) in every_event().into_iter().zip(table) {
        for (state, expected) in State::ALL.into_iter().zip(row) {
            let (_, next) = run(state, event.clone());
            assert_eq!(next, expected, "{state:?} + {event:?}");
        }
    }
}

#[test]
fn every_state_and_event_leaves_no_timer_armed_that_the_next_state_cannot_use() {
    for event in every_event() {
        for state in State::ALL {
            let mut m = fsm(state);
            m.handle(event.clone());
            let next = m.state();
            let allowed: &[Timer] = match next {
                State::Idle => &[Timer::IdleHold],
                State::Connect | State::Active => &[Timer::ConnectRetry],
                State::OpenSent => &[Timer::Hold],
                State::OpenConfirm | State::Established => &[Timer::Hold, Timer::Keepalive],
            };
            for t in Timer::ALL {
                assert!(
                    allowed.contains(&t) || !m.is_armed(t),
                    "{state:?} + {event:?} -> {next:?} leaves {t:?} armed"
                );
            }
        }
    }
}
