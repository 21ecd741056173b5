//! One test per behaviour of [`Peer`]: the two connections of one peer and collision detection
//! (RFC 4271 §6.8, RFC 6286 §2.3), each collision in both orders.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;
use crate::wire::{cease_subcode, code};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const LOWER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const HIGHER_ID: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const LOCAL_AS: u32 = 64512;
const REMOTE_AS: u32 = 64513;

use Direction::{Inbound, Outbound};

fn config() -> Config {
    Config::new(LOCAL_AS, LOCAL_ID, REMOTE_AS)
}

fn open_from(id: Ipv4Addr) -> Open {
    Open::new(REMOTE_AS, 90, id, vec![])
}

fn on(conn: Direction, actions: &[PeerAction]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| a.conn == conn)
        .map(|a| a.action.clone())
        .collect()
}

fn collision_close(extra_cancels: &[Timer]) -> Vec<Action> {
    let mut v = vec![
        Action::Send(Message::Notification(Notification::cease(
            cease_subcode::CONNECTION_COLLISION_RESOLUTION,
        ))),
        Action::CloseConnection,
    ];
    v.extend(extra_cancels.iter().map(|t| Action::CancelTimer(*t)));
    v
}

/// A started peer with both connections up and both OPENs sent.
fn both_open_sent() -> Peer {
    let mut p = Peer::new(config());
    p.start();
    p.handle(Outbound, Event::TcpCrAcked);
    p.handle(Inbound, Event::TcpConnectionConfirmed);
    assert_eq!(p.connection(Outbound).state(), State::OpenSent);
    assert_eq!(p.connection(Inbound).state(), State::OpenSent);
    p
}

/// Confirms `first` with the peer's OPEN, then delivers the OPEN on the other connection and
/// returns the actions of that second OPEN.
fn collide(p: &mut Peer, first: Direction, remote_id: Ipv4Addr) -> Vec<PeerAction> {
    p.handle(first, Event::BgpOpen(open_from(remote_id)));
    assert_eq!(p.connection(first).state(), State::OpenConfirm);
    p.handle(first.other(), Event::BgpOpen(open_from(remote_id)))
}

#[test]
fn starting_a_peer_dials_out_and_listens() {
    let mut p = Peer::new(config());
    let actions = p.start();
    assert_eq!(
        on(Outbound, &actions),
        vec![
            Action::ArmTimer(Timer::ConnectRetry, Duration::from_secs(120)),
            Action::Connect
        ]
    );
    assert_eq!(on(Inbound, &actions), vec![]);
    assert_eq!(p.connection(Outbound).state(), State::Connect);
    assert_eq!(p.connection(Inbound).state(), State::Active);
    assert!(p.accepts(Inbound) && p.accepts(Outbound));
}

#[test]
fn starting_a_passive_peer_only_listens() {
    let mut p = Peer::new(Config {
        passive: true,
        ..config()
    });
    assert_eq!(p.start(), vec![]);
    assert_eq!(p.connection(Outbound).state(), State::Idle);
    assert_eq!(p.connection(Inbound).state(), State::Active);
    assert!(!p.accepts(Outbound));
}

#[test]
fn actions_are_tagged_with_the_connection_they_are_for() {
    let mut p = Peer::new(config());
    p.start();
    let actions = p.handle(Inbound, Event::TcpConnectionConfirmed);
    assert!(actions.iter().all(|a| a.conn == Inbound));
    assert!(matches!(
        on(Inbound, &actions).first(),
        Some(Action::Send(Message::Open(_)))
    ));
    assert!(!p.accepts(Inbound));
}

#[test]
fn with_the_higher_router_id_our_outbound_connection_survives_when_it_confirmed_first() {
    let mut p = both_open_sent();
    let actions = collide(&mut p, Outbound, LOWER_ID);
    assert_eq!(on(Inbound, &actions), collision_close(&[Timer::Hold]));
    assert_eq!(on(Outbound, &actions), vec![]);
    assert_eq!(p.connection(Outbound).state(), State::OpenConfirm);
    assert_eq!(p.connection(Inbound).state(), State::Idle);
    assert_eq!(
        p.connection(Inbound).last_error(),
        Some(&DownReason::Collision)
    );
}

#[test]
fn with_the_higher_router_id_our_outbound_connection_survives_when_the_inbound_confirmed_first() {
    let mut p = both_open_sent();
    let actions = collide(&mut p, Inbound, LOWER_ID);
    assert_eq!(
        on(Inbound, &actions),
        collision_close(&[Timer::Hold, Timer::Keepalive])
    );
    assert_eq!(
        on(Outbound, &actions).first(),
        Some(&Action::Send(Message::Keepalive))
    );
    assert_eq!(p.connection(Outbound).state(), State::OpenConfirm);
    assert_eq!(p.connection(Inbound).state(), State::Idle);
}

#[test]
fn the_connection_from_the_higher_router_id_survives_a_collision_when_it_confirmed_first() {
    let mut p = both_open_sent();
    let actions = collide(&mut p, Inbound, HIGHER_ID);
    assert_eq!(on(Outbound, &actions), collision_close(&[Timer::Hold]));
    assert_eq!(on(Inbound, &actions), vec![]);
    assert_eq!(p.connection(Inbound).state(), State::OpenConfirm);
    assert_eq!(p.connection(Outbound).state(), State::Idle);
}

#[test]
fn the_connection_from_the_higher_router_id_survives_a_collision_when_ours_confirmed_first() {
    let mut p = both_open_sent();
    let actions = collide(&mut p, Outbound, HIGHER_ID);
    assert_eq!(
        on(Outbound, &actions),
        collision_close(&[Timer::Hold, Timer::Keepalive])
    );
    assert_eq!(p.connection(Inbound).state(), State::OpenConfirm);
    assert_eq!(p.connection(Outbound).state(), State::Idle);
}

#[test]
fn equal_router_ids_between_ases_are_broken_by_the_higher_as_rfc6286() {
    // The peer's AS (64513) is higher than ours: its connection, the inbound one, survives.
    let mut p = both_open_sent();
    let actions = collide(&mut p, Outbound, LOCAL_ID);
    assert_eq!(
        on(Outbound, &actions),
        collision_close(&[Timer::Hold, Timer::Keepalive])
    );
    assert_eq!(p.connection(Inbound).state(), State::OpenConfirm);
}

#[test]
fn both_connections_in_open_sent_wait_for_the_second_open_before_deciding() {
    let mut p = both_open_sent();
    let actions = p.handle(Inbound, Event::BgpOpen(open_from(LOWER_ID)));
    assert!(actions.iter().all(|a| a.conn == Inbound));
    assert_eq!(p.connection(Outbound).state(), State::OpenSent);
    assert_eq!(p.connection(Inbound).state(), State::OpenConfirm);
}

#[test]
fn a_bad_open_during_a_collision_is_refused_without_closing_the_other_connection() {
    let mut p = both_open_sent();
    p.handle(Outbound, Event::BgpOpen(open_from(HIGHER_ID)));
    let bad = Open::new(64999, 90, HIGHER_ID, vec![]);
    let actions = p.handle(Inbound, Event::BgpOpen(bad));
    assert_eq!(
        on(Inbound, &actions).first(),
        Some(&Action::Send(Message::Notification(Notification::new(
            code::OPEN_MESSAGE,
            2
        ))))
    );
    assert_eq!(on(Outbound, &actions), vec![]);
    assert_eq!(p.connection(Outbound).state(), State::OpenConfirm);
}

#[test]
fn an_established_session_survives_a_new_connection_from_the_peer() {
    let mut p = Peer::new(config());
    p.start();
    p.handle(Outbound, Event::TcpCrAcked);
    p.handle(Outbound, Event::BgpOpen(open_from(HIGHER_ID)));
    p.handle(Outbound, Event::KeepAliveMsg);
    assert_eq!(p.established(), Some(Outbound));
    // The inbound machine still listens; the new connection's OPEN loses even to a higher ID.
    p.handle(Inbound, Event::TcpConnectionConfirmed);
    let actions = p.handle(Inbound, Event::BgpOpen(open_from(HIGHER_ID)));
    assert_eq!(on(Inbound, &actions), collision_close(&[Timer::Hold]));
    assert_eq!(on(Outbound, &actions), vec![]);
    assert_eq!(p.established(), Some(Outbound));
    assert_eq!(p.state(), State::Established);
}

#[test]
fn an_established_inbound_session_stops_outbound_dialling_until_it_goes_down() {
    let mut p = Peer::new(config());
    p.start();
    p.handle(Inbound, Event::TcpConnectionConfirmed);
    p.handle(Inbound, Event::BgpOpen(open_from(LOWER_ID)));
    let actions = p.handle(Inbound, Event::KeepAliveMsg);
    assert!(matches!(
        on(Inbound, &actions).last(),
        Some(Action::SessionUp(_))
    ));
    assert_eq!(
        on(Outbound, &actions),
        vec![
            Action::CloseConnection,
            Action::CancelTimer(Timer::ConnectRetry)
        ]
    );
    assert!(p.connection(Outbound).is_parked());
    // The session drops: dialling resumes at once.
    let actions = p.handle(Inbound, Event::TcpConnectionFails);
    assert!(on(Inbound, &actions).contains(&Action::SessionDown(DownReason::ConnectionFailed)));
    assert_eq!(
        on(Outbound, &actions),
        vec![
            Action::ArmTimer(Timer::ConnectRetry, Duration::from_secs(120)),
            Action::Connect
        ]
    );
    assert_eq!(p.connection(Outbound).state(), State::Connect);
}

#[test]
fn the_collision_loser_restarts_when_the_survivor_loses_its_connection() {
    let mut p = both_open_sent();
    collide(&mut p, Outbound, LOWER_ID);
    assert!(p.connection(Inbound).is_parked());
    let actions = p.handle(Outbound, Event::TcpConnectionFails);
    assert_eq!(on(Inbound, &actions), vec![]);
    assert_eq!(p.connection(Inbound).state(), State::Active);
    assert!(!p.connection(Inbound).is_parked());
    assert!(p.accepts(Inbound));
}

#[test]
fn stopping_a_peer_stops_both_connections_without_restart() {
    let mut p = both_open_sent();
    let actions = p.stop();
    let shutdown = Action::Send(Message::Notification(Notification::cease(
        cease_subcode::ADMINISTRATIVE_SHUTDOWN,
    )));
    assert_eq!(on(Outbound, &actions).first(), Some(&shutdown));
    assert_eq!(on(Inbound, &actions).first(), Some(&shutdown));
    assert!(!actions
        .iter()
        .any(|a| matches!(a.action, Action::ArmTimer(..) | Action::Connect)));
    assert_eq!(p.state(), State::Idle);
}

#[test]
fn timer_events_reach_only_their_own_connection() {
    let mut p = both_open_sent();
    let actions = p.handle(Inbound, Event::HoldTimerExpires);
    assert!(actions.iter().all(|a| a.conn == Inbound));
    assert_eq!(p.connection(Inbound).state(), State::Idle);
    assert_eq!(p.connection(Outbound).state(), State::OpenSent);
}
