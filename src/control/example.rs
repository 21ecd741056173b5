//! An example [`Snapshot`] of a Calico node: the state behind the transcripts in
//! `docs/control.md` and in the reference (`show protocols`, `show protocols all
//! Mesh_10_192_0_3`, `show status`). Tests start from it and change what they need.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use super::{
    BgpInfo, BgpPathInfo, BgpState, ChangeCounters, Countdown, DaemonPhase, DaemonStatus, Dest,
    PathInfo, PathOrigin, ProtoKind, ProtoState, ProtocolInfo, RouteInfo, RouteStats, SessionInfo,
    Snapshot, BIRD_COMPAT_VERSION,
};

/// 2024-05-01 10:15:30 UTC, when the example node booted.
pub const BOOT: u64 = 1_714_558_530;

/// `BOOT + secs`.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(BOOT + secs)
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap_or_else(|_| IpNet::from(v4(0, 0, 0, 0)))
}

/// A non-BGP protocol row, up since `since`.
pub fn plain(name: &str, kind: ProtoKind, preference: u32, out: &str, since: u64) -> ProtocolInfo {
    ProtocolInfo {
        name: name.to_owned(),
        kind,
        state: ProtoState::Up,
        since: at(since),
        description: None,
        preference,
        input_filter: "ACCEPT".to_owned(),
        output_filter: out.to_owned(),
        gr_pending: false,
        gr_waiting: false,
        stats: RouteStats::default(),
        bgp: None,
    }
}

/// A Calico mesh peer in `start`/`Active` with `Socket: Connection refused`.
pub fn refused_peer(name: &str, addr: IpAddr, since: u64) -> ProtocolInfo {
    ProtocolInfo {
        name: name.to_owned(),
        kind: ProtoKind::Bgp,
        state: ProtoState::Start,
        since: at(since),
        description: Some("Connection to BGP peer".to_owned()),
        preference: 100,
        input_filter: "ACCEPT".to_owned(),
        output_filter: "(unnamed)".to_owned(),
        gr_pending: false,
        gr_waiting: false,
        stats: RouteStats::default(),
        bgp: Some(BgpInfo {
            state: BgpState::Active,
            neighbor_address: addr,
            neighbor_as: 64512,
            local_as: 64512,
            neighbor_gr_active: false,
            error_wait: None,
            connect_delay: None,
            restart_timer: None,
            session: None,
            last_error: Some("Socket: Connection refused".to_owned()),
            counters: None,
        }),
    }
}

/// A Calico mesh peer, `up`/`Established` since `since`, as in the reference transcript
/// (hold timer 187/240, keepalive 21/80 at `now`).
pub fn established_peer(
    name: &str,
    addr: IpAddr,
    local: IpAddr,
    since: u64,
    now: SystemTime,
) -> ProtocolInfo {
    let id = match addr {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::new(10, 192, 0, 3),
    };
    ProtocolInfo {
        name: name.to_owned(),
        kind: ProtoKind::Bgp,
        state: ProtoState::Up,
        since: at(since),
        description: Some("Connection to BGP peer".to_owned()),
        preference: 100,
        input_filter: "ACCEPT".to_owned(),
        output_filter: "(unnamed)".to_owned(),
        gr_pending: false,
        gr_waiting: false,
        stats: RouteStats {
            imported: 1,
            exported: 1,
            preferred: 1,
            import_updates: ChangeCounters {
                received: 1,
                accepted: 1,
                ..ChangeCounters::default()
            },
            import_withdraws: ChangeCounters::default(),
            export_updates: ChangeCounters {
                received: 9,
                rejected: 1,
                filtered: 6,
                ignored: 0,
                accepted: 2,
            },
            export_withdraws: ChangeCounters::default(),
        },
        bgp: Some(BgpInfo {
            state: BgpState::Established,
            neighbor_address: addr,
            neighbor_as: 64512,
            local_as: 64512,
            neighbor_gr_active: false,
            error_wait: None,
            connect_delay: None,
            restart_timer: None,
            session: Some(SessionInfo {
                neighbor_id: id,
                neighbor_caps: [
                    "refresh",
                    "enhanced-refresh",
                    "restart-able",
                    "llgr-aware",
                    "AS4",
                    "add-path-rx",
                    "add-path-tx",
                ]
                .map(str::to_owned)
                .to_vec(),
                session_flags: ["internal", "multihop", "AS4", "add-path-rx", "add-path-tx"]
                    .map(str::to_owned)
                    .to_vec(),
                source_address: local,
                route_limit: None,
                hold_timer: Countdown {
                    expires: now + Duration::from_secs(187),
                    period_secs: 240,
                },
                keepalive_timer: Countdown {
                    expires: now + Duration::from_secs(21),
                    period_secs: 80,
                },
            }),
            last_error: None,
            counters: None,
        }),
    }
}

fn path(dest: Dest, protocol: &str, since: u64, preference: u32) -> PathInfo {
    PathInfo {
        dest,
        protocol: protocol.to_owned(),
        since: at(since),
        from: None,
        primary: true,
        preference,
        bgp: None,
        lost_reason: None,
    }
}

fn bgp_path(gw: IpAddr, since: u64, as_path: Vec<u32>) -> PathInfo {
    PathInfo {
        dest: Dest::Router {
            gateway: gw,
            iface: "eth0".to_owned(),
        },
        protocol: "Mesh_10_192_0_3".to_owned(),
        since: at(since),
        from: Some(v4(10, 192, 0, 3)),
        primary: true,
        preference: 100,
        bgp: Some(BgpPathInfo {
            origin: PathOrigin::Igp,
            as_path,
            next_hop: gw,
            local_pref: Some(100),
            med: None,
            communities: Vec::new(),
            igp_metric: Some(0),
            originator_id: None,
            cluster_list: Vec::new(),
        }),
        lost_reason: None,
    }
}

/// The example node 10.192.0.2 (AS 64512) at 2024-05-01 10:20:11 UTC: mesh peer 10.192.0.3
/// Established, mesh peer 10.192.0.4 refusing connections, its block 192.168.1.0/26, one
/// workload, the peer's block, and a prefix learned twice over ADD-PATH (the second path lost
/// on AS-path length).
pub fn example_snapshot() -> Snapshot {
    let now = at(281);
    let lost = PathInfo {
        primary: false,
        lost_reason: Some("longer as-path".to_owned()),
        ..bgp_path(v4(10, 192, 0, 6), 6, vec![65001, 65000])
    };
    Snapshot {
        status: DaemonStatus {
            version: BIRD_COMPAT_VERSION.to_owned(),
            router_id: Ipv4Addr::new(10, 192, 0, 2),
            server_time: now,
            last_reboot: at(0),
            last_reconfig: at(1),
            phase: DaemonPhase::Running,
            graceful_restart: None,
        },
        protocols: vec![
            plain("static1", ProtoKind::Static, 200, "REJECT", 0),
            plain(
                "kernel1",
                ProtoKind::Kernel,
                10,
                "calico_kernel_programming",
                0,
            ),
            plain("device1", ProtoKind::Device, 240, "REJECT", 0),
            plain("direct1", ProtoKind::Direct, 240, "REJECT", 0),
            established_peer(
                "Mesh_10_192_0_3",
                v4(10, 192, 0, 3),
                v4(10, 192, 0, 2),
                5,
                now,
            ),
            refused_peer("Mesh_10_192_0_4", v4(10, 192, 0, 4), 0),
        ],
        routes: vec![
            RouteInfo {
                prefix: net("10.192.0.0/24"),
                paths: vec![path(
                    Dest::Device {
                        iface: "eth0".to_owned(),
                    },
                    "direct1",
                    0,
                    240,
                )],
            },
            RouteInfo {
                prefix: net("192.168.1.0/26"),
                paths: vec![path(Dest::Blackhole, "static1", 0, 200)],
            },
            RouteInfo {
                prefix: net("192.168.1.5/32"),
                paths: vec![path(
                    Dest::Device {
                        iface: "cali6c9ad161b12".to_owned(),
                    },
                    "kernel1",
                    1,
                    10,
                )],
            },
            RouteInfo {
                prefix: net("192.168.2.0/26"),
                paths: vec![PathInfo {
                    from: None,
                    ..bgp_path(v4(10, 192, 0, 3), 6, Vec::new())
                }],
            },
            RouteInfo {
                prefix: net("203.0.113.0/24"),
                paths: vec![bgp_path(v4(10, 192, 0, 5), 6, vec![65000]), lost],
            },
        ],
    }
}
