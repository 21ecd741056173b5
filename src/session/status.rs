//! What the control socket shows: each peer task keeps a [`PeerView`] up to date, the RIB task
//! answers route queries, and [`run`] turns both into a [`control::Snapshot`] whenever a client
//! sends a command (on demand, so a large table costs nothing while nobody looks).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use super::rib_task::{RibInput, RibView};
use crate::control::{self, BgpInfo, BgpState, ProtoKind, ProtoState, ProtocolInfo, Snapshot};
use crate::fsm;

/// The established part of a [`PeerView`].
#[derive(Debug, Clone, PartialEq)]
pub struct Established {
    /// The peer's BGP identifier.
    pub router_id: std::net::Ipv4Addr,
    /// Negotiated hold time, seconds.
    pub hold_time: u16,
    /// Keepalive interval, seconds.
    pub keepalive: u16,
    /// The peer's capabilities in BIRD's words.
    pub caps: Vec<String>,
    /// Our address on the session.
    pub local: IpAddr,
}

/// One peer as its task last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    /// The peer's name.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
    /// Its AS.
    pub remote_asn: u32,
    /// Our AS towards it.
    pub local_asn: u32,
    /// Internal peer.
    pub ibgp: bool,
    /// Our route-reflector client.
    pub rr_client: bool,
    /// Passive (never connects).
    pub passive: bool,
    /// FSM state.
    pub state: fsm::State,
    /// When the state last changed between Established and not.
    pub since: SystemTime,
    /// The last error, in BIRD's words.
    pub last_error: Option<String>,
    /// The session, while Established.
    pub session: Option<Established>,
    /// Counters.
    pub counters: control::PeerCounters,
}

/// A shared, updatable [`PeerView`].
pub type SharedView = Arc<Mutex<PeerView>>;

/// Every running peer's view with its RIB id, in configuration order; peers come and go at
/// run time.
pub type Views = Arc<Mutex<Vec<(crate::rib::PeerId, SharedView)>>>;

/// A new view for `peer`.
pub fn view(p: &crate::config::Peer) -> SharedView {
    Arc::new(Mutex::new(PeerView {
        name: p.name.clone(),
        address: p.address,
        remote_asn: p.asn,
        local_asn: p.local_asn,
        ibgp: p.is_ibgp(),
        rr_client: p.rr_client,
        passive: p.passive,
        state: fsm::State::Idle,
        since: SystemTime::now(),
        last_error: None,
        session: None,
        counters: control::PeerCounters::default(),
    }))
}

/// BIRD's words for a session that went down (`Received: …`, `Socket: …`, …).
pub fn bird_error(reason: &fsm::DownReason) -> String {
    use fsm::DownReason as D;
    match reason {
        D::ManualStop => control::misc_error("Administrative shutdown"),
        D::AutomaticStop(n) | D::NotificationSent(n) => {
            control::sent_notification(n.code, n.subcode)
        }
        D::NotificationReceived(n) => control::received_notification(n.code, n.subcode),
        D::HoldTimerExpired => control::sent_notification(4, 0),
        D::ConnectionFailed => control::socket_error(None),
        D::Collision => control::sent_notification(6, 7),
        D::UnexpectedEvent => control::misc_error("Unexpected event"),
    }
}

fn bgp_state(s: fsm::State, passive: bool) -> BgpState {
    match s {
        fsm::State::Idle if passive => BgpState::Passive,
        fsm::State::Idle => BgpState::Idle,
        fsm::State::Connect => BgpState::Connect,
        fsm::State::Active if passive => BgpState::Passive,
        fsm::State::Active => BgpState::Active,
        fsm::State::OpenSent => BgpState::OpenSent,
        fsm::State::OpenConfirm => BgpState::OpenConfirm,
        fsm::State::Established => BgpState::Established,
    }
}

/// What stays the same between snapshots.
pub struct Fixed {
    /// Router id.
    pub router_id: std::net::Ipv4Addr,
    /// When wren started.
    pub started: SystemTime,
    /// Started with `-R`: graceful-restart recovery is shown until the kernel settles.
    pub restarting: bool,
    /// `[kernel] restart_wait`.
    pub restart_wait: Duration,
}

/// Builds one snapshot from the peer views and the RIB's answer.
pub fn build(fixed: &Fixed, views: &Views, rib: RibView) -> Snapshot {
    let now = SystemTime::now();
    let views: Vec<(crate::rib::PeerId, PeerView)> = views
        .lock()
        .map(|vs| {
            vs.iter()
                .filter_map(|(id, v)| v.lock().ok().map(|g| (*id, g.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut protocols = Vec::with_capacity(views.len());
    for (id, v) in views {
        let up = v.state == fsm::State::Established;
        let counts = rib
            .peers
            .get((id as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default();
        let session = v.session.as_ref().map(|s| control::SessionInfo {
            neighbor_id: s.router_id,
            neighbor_caps: s.caps.clone(),
            session_flags: {
                let mut f = vec![if v.ibgp { "internal" } else { "external" }.to_string()];
                if v.rr_client {
                    f.push("route-reflector".into());
                }
                f.push("AS4".into());
                f
            },
            source_address: s.local,
            route_limit: None,
            hold_timer: control::Countdown {
                expires: now + Duration::from_secs(u64::from(s.hold_time)),
                period_secs: u32::from(s.hold_time),
            },
            keepalive_timer: control::Countdown {
                expires: now + Duration::from_secs(u64::from(s.keepalive)),
                period_secs: u32::from(s.keepalive),
            },
        });
        protocols.push(ProtocolInfo {
            name: v.name.clone(),
            kind: ProtoKind::Bgp,
            state: if up {
                ProtoState::Up
            } else {
                ProtoState::Start
            },
            since: v.since,
            description: None,
            preference: 100,
            input_filter: "ACCEPT".into(),
            output_filter: "ACCEPT".into(),
            gr_pending: false,
            gr_waiting: false,
            stats: control::RouteStats {
                imported: counts.0,
                exported: rib
                    .advertised
                    .get((id as usize).saturating_sub(1))
                    .copied()
                    .unwrap_or(0),
                preferred: counts.1,
                ..Default::default()
            },
            bgp: Some(BgpInfo {
                state: bgp_state(v.state, v.passive),
                neighbor_address: v.address,
                neighbor_as: v.remote_asn,
                local_as: v.local_asn,
                neighbor_gr_active: counts.2 > 0,
                error_wait: None,
                connect_delay: None,
                restart_timer: None,
                session: if up { session } else { None },
                last_error: if up { None } else { v.last_error.clone() },
                counters: Some(v.counters),
            }),
        });
    }
    let graceful_restart = (fixed.restarting && !rib.settled).then(|| control::GrProgress {
        waiting_for: protocols
            .iter()
            .filter(|p| p.state != ProtoState::Up)
            .map(|p| p.name.clone())
            .collect(),
        wait_timer: control::Countdown {
            expires: fixed.started + fixed.restart_wait,
            period_secs: u32::try_from(fixed.restart_wait.as_secs()).unwrap_or(u32::MAX),
        },
    });
    Snapshot {
        status: control::DaemonStatus {
            version: control::default_version(),
            router_id: fixed.router_id,
            server_time: now,
            last_reboot: fixed.started,
            last_reconfig: fixed.started,
            phase: control::DaemonPhase::Running,
            graceful_restart,
        },
        protocols,
        routes: rib.routes,
    }
}

/// Serves refresh requests from the control socket: asks the RIB task for its view, builds a
/// snapshot and publishes it on `tx` before acknowledging.
pub async fn run(
    fixed: Fixed,
    views: Views,
    rib: mpsc::UnboundedSender<RibInput>,
    tx: watch::Sender<Arc<Snapshot>>,
    mut requests: mpsc::Receiver<oneshot::Sender<()>>,
) {
    while let Some(done) = requests.recv().await {
        let (ask, answer) = oneshot::channel();
        if rib.send(RibInput::View(ask)).is_err() {
            return;
        }
        let Ok(view) = answer.await else {
            return;
        };
        let snapshot = build(&fixed, &views, view);
        let _ = tx.send(Arc::new(snapshot));
        let _ = done.send(());
    }
}

/// Copies the peer views and the RIB's counts into the Prometheus gauges and counters; peers in
/// `known` that are gone are removed from the metrics.
pub fn publish_metrics(
    m: &crate::metrics::Metrics,
    views: &Views,
    rib: &RibView,
    known: &mut std::collections::HashSet<String>,
) {
    use crate::metrics::{PeerSample, SessionState};
    let now = SystemTime::now();
    let views: Vec<(crate::rib::PeerId, PeerView)> = views
        .lock()
        .map(|vs| {
            vs.iter()
                .filter_map(|(id, v)| v.lock().ok().map(|g| (*id, g.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (id, v) in views {
        let counts = rib
            .peers
            .get((id as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default();
        let up = v.state == fsm::State::Established;
        let sample = PeerSample {
            name: v.name.clone(),
            state: match v.state {
                fsm::State::Idle => SessionState::Idle,
                fsm::State::Connect => SessionState::Connect,
                fsm::State::Active => SessionState::Active,
                fsm::State::OpenSent => SessionState::OpenSent,
                fsm::State::OpenConfirm => SessionState::OpenConfirm,
                fsm::State::Established => SessionState::Established,
            },
            uptime: if up {
                now.duration_since(v.since).unwrap_or_default()
            } else {
                Duration::ZERO
            },
            messages_received: v.counters.messages_received,
            messages_sent: v.counters.messages_sent,
            updates_received: v.counters.updates_received,
            updates_sent: v.counters.updates_sent,
            established_transitions: v.counters.established_transitions,
            prefixes_received: u64::from(counts.0),
            prefixes_accepted: u64::from(counts.0),
            prefixes_advertised: u64::from(
                rib.advertised
                    .get((id as usize).saturating_sub(1))
                    .copied()
                    .unwrap_or(0),
            ),
            last_error: v.last_error.clone(),
        };
        m.set_peer(&sample);
        seen.insert(v.name);
    }
    for gone in known.difference(&seen) {
        m.remove_peer(gone);
    }
    *known = seen;
    let paths: usize = rib.routes.iter().map(|r| r.paths.len()).sum();
    m.set_rib(rib.routes.len() as u64, paths as u64);
}
