#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::wire::{code, Capability, Family, Nlri, Notification, Open, RouteRefresh};

fn config(local_as: u32, peer_as: u32, port: u16) -> config::Config {
    let text = format!(
        "[global]\nasn = {local_as}\nrouter_id = \"10.0.0.1\"\n\
         [[peer]]\naddress = \"127.0.0.1\"\nasn = {peer_as}\nport = {port}\n\
         connect_retry = 1\nhold_time = 9\n\
         [[originate]]\nprefix = \"203.0.113.0/24\"\ncommunities = [\"65001:7\"]\n\
         [[originate]]\nprefix = \"2001:db8:a::/48\"\n"
    );
    config::Config::from_str(&text, "test").unwrap()
}

async fn read_msg(s: &mut TcpStream) -> Option<Message> {
    let mut head = [0u8; wire::HEADER_LEN];
    s.read_exact(&mut head).await.ok()?;
    let len = usize::from(u16::from_be_bytes([head[16], head[17]]));
    let mut frame = head.to_vec();
    frame.resize(len, 0);
    s.read_exact(&mut frame[wire::HEADER_LEN..]).await.ok()?;
    Some(wire::decode(&frame, &Ctx::default()).unwrap().message)
}

/// Reads until a message that is not a KEEPALIVE.
async fn read_non_keepalive(s: &mut TcpStream) -> Message {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), read_msg(s))
            .await
            .unwrap()
        {
            Some(Message::Keepalive) => continue,
            Some(m) => return m,
            None => panic!("connection closed"),
        }
    }
}

async fn send(s: &mut TcpStream, m: Message) {
    s.write_all(&wire::encode_to_vec(&m, &Ctx::default()).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_session_comes_up_announces_with_end_of_rib_and_answers_route_refresh() {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = fake.local_addr().unwrap().port();
    let c = config(65001, 65002, port);
    let _peers = super::super::spawn_tasks(&c, None);

    let (mut s, _) = tokio::time::timeout(Duration::from_secs(10), fake.accept())
        .await
        .unwrap()
        .unwrap();
    let Message::Open(open) = read_non_keepalive(&mut s).await else {
        panic!("expected OPEN");
    };
    assert_eq!(open.asn(), 65001);
    let ours = Open::new(
        65002,
        9,
        Ipv4Addr::new(10, 0, 0, 2),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
        ],
    );
    send(&mut s, Message::Open(ours)).await;
    send(&mut s, Message::Keepalive).await;

    for _round in 0..2 {
        let Message::Update(u) = read_non_keepalive(&mut s).await else {
            panic!("expected UPDATE");
        };
        assert_eq!(u.nlri, vec![Nlri::new("203.0.113.0/24".parse().unwrap())]);
        assert_eq!(u.attrs.next_hop, Some(Ipv4Addr::LOCALHOST));
        let Message::Update(eor) = read_non_keepalive(&mut s).await else {
            panic!("expected End-of-RIB");
        };
        assert_eq!(eor.as_end_of_rib(), Some(Family::IPV4_UNICAST));
        send(
            &mut s,
            Message::RouteRefresh(RouteRefresh::new(Family::IPV4_UNICAST)),
        )
        .await;
    }
}

#[tokio::test]
async fn the_listener_rejects_unknown_addresses_with_cease_connection_rejected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(super::super::listener::accept_loop(
        std::sync::Arc::new(listener),
        Default::default(),
    ));
    let mut s = TcpStream::connect(addr).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), read_msg(&mut s))
        .await
        .unwrap();
    assert_eq!(
        m,
        Some(Message::Notification(Notification::new(
            code::CEASE,
            wire::cease_subcode::CONNECTION_REJECTED
        )))
    );
    let mut rest = Vec::new();
    let n = s.read_to_end(&mut rest).await.unwrap();
    assert_eq!(n, 0);
}

/// Brings up a session with wren (configured by `extra` peer keys) as a fake peer in AS 65002
/// announcing IPv4 unicast, and returns the socket after the OPEN/KEEPALIVE exchange.
async fn fake_peer_session(extra: &str) -> TcpStream {
    fake_peer_session_with_tasks(extra).await.0
}

/// [`fake_peer_session`], also returning wren's peer-task queues.
async fn fake_peer_session_with_tasks(extra: &str) -> (TcpStream, super::super::Tasks) {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = fake.local_addr().unwrap().port();
    let text = format!(
        "[global]\nasn = 65001\nrouter_id = \"10.0.0.1\"\n\
         [[peer]]\naddress = \"127.0.0.1\"\nasn = 65002\nport = {port}\n\
         connect_retry = 1\nhold_time = 9\n{extra}\n"
    );
    let c = config::Config::from_str(&text, "test").unwrap();
    let tasks = super::super::spawn_tasks(&c, None);
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(10), fake.accept())
        .await
        .unwrap()
        .unwrap();
    let Message::Open(_) = read_non_keepalive(&mut s).await else {
        panic!("expected OPEN");
    };
    let ours = Open::new(
        65002,
        9,
        Ipv4Addr::new(10, 0, 0, 2),
        vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
    );
    send(&mut s, Message::Open(ours)).await;
    send(&mut s, Message::Keepalive).await;
    (s, tasks)
}

fn update_with(prefixes: &[&str]) -> Message {
    Message::Update(wire::Update {
        attrs: wire::PathAttributes {
            origin: Some(wire::Origin::Igp),
            as_path: Some(wire::AsPath::from_sequence([65002])),
            next_hop: Some(Ipv4Addr::LOCALHOST),
            ..Default::default()
        },
        nlri: prefixes
            .iter()
            .map(|p| Nlri::new(p.parse().unwrap()))
            .collect(),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_peer_sending_more_than_max_prefixes_gets_cease_subcode_1() {
    let mut s = fake_peer_session("max_prefixes = 2").await;
    // wren's (empty) table ends with End-of-RIB.
    let Message::Update(eor) = read_non_keepalive(&mut s).await else {
        panic!("expected End-of-RIB");
    };
    assert_eq!(eor.as_end_of_rib(), Some(Family::IPV4_UNICAST));
    send(
        &mut s,
        update_with(&["198.51.100.0/25", "198.51.100.128/25"]),
    )
    .await;
    send(&mut s, update_with(&["203.0.113.0/24"])).await;
    let Message::Notification(n) = read_non_keepalive(&mut s).await else {
        panic!("expected NOTIFICATION");
    };
    assert_eq!((n.code, n.subcode), (code::CEASE, 1));
    // RFC 4486 §4: AFI 1, SAFI 1, then the limit.
    assert_eq!(&n.data[..], &[0, 1, 1, 0, 0, 0, 2]);
}

#[tokio::test]
async fn shutting_a_peer_down_sends_cease_administrative_shutdown_and_closes() {
    let (mut s, tasks) = fake_peer_session_with_tasks("").await;
    let peers = tasks.peers;
    let Message::Update(eor) = read_non_keepalive(&mut s).await else {
        panic!("expected End-of-RIB");
    };
    assert!(eor.as_end_of_rib().is_some());
    let (done, wait) = tokio::sync::oneshot::channel();
    let tx = peers.read().unwrap().values().next().unwrap().clone();
    tx.send(Input::Shutdown(done)).await.unwrap();
    let Message::Notification(n) = read_non_keepalive(&mut s).await else {
        panic!("expected NOTIFICATION");
    };
    assert_eq!(
        (n.code, n.subcode),
        (code::CEASE, wire::cease_subcode::ADMINISTRATIVE_SHUTDOWN)
    );
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "the connection is closed after the NOTIFICATION");
}

#[test]
fn jitter_keeps_timers_between_three_quarters_and_all_of_their_value() {
    let base = Duration::from_secs(120);
    let seen: Vec<Duration> = (0..200).map(|_| jitter(base)).collect();
    assert!(seen.iter().all(|d| *d >= base.mul_f64(0.75) && *d <= base));
    assert!(
        seen.iter().any(|d| *d != seen[0]),
        "200 draws should not all be equal"
    );
}
