//! Byte-exact replies. Two sources of truth:
//!
//! * the reference transcripts (`show protocols`, `show protocols all Mesh_10_192_0_3`,
//!   `show status`, `calico-bird-integration.md` §3.7) over [`example_snapshot`];
//! * transcripts captured from a real BIRD 1.6.8 (Debian's `bird` package) in network
//!   namespaces: a mesh peer Established, a mesh peer refusing connections, an eBGP peer, a
//!   disabled peer, a passive peer, static blackhole/unreachable routes, a prefix learned from
//!   two peers, and the same daemon restarted with `-R` (graceful-restart recovery). The
//!   `lab_*` snapshots rebuild that state; the expected strings are BIRD's bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::control::example::{self, example_snapshot};
use crate::control::{
    BgpPathInfo, BgpState, ChangeCounters, Countdown, DaemonPhase, DaemonStatus, Dest, GrProgress,
    PathOrigin, ProtoKind, RouteStats, SessionInfo,
};

fn lines(text: &[&str]) -> String {
    let mut s = text.join("\n");
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------
// The reference transcripts

#[test]
fn show_protocols_matches_the_reference_transcript() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-static1  Static   master   up     10:15:30    ",
        " kernel1  Kernel   master   up     10:15:30    ",
        " device1  Device   master   up     10:15:30    ",
        " direct1  Direct   master   up     10:15:30    ",
        " Mesh_10_192_0_3 BGP      master   up     10:15:35    Established   ",
        " Mesh_10_192_0_4 BGP      master   start  10:15:30    Active        Socket: Connection refused",
        "0000 ",
    ]);
    assert_eq!(reply("show protocols", &example_snapshot()), expected);
}

#[test]
fn show_protocols_all_for_one_peer_matches_the_reference_transcript() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-Mesh_10_192_0_3 BGP      master   up     10:15:35    Established   ",
        "1006-  Description:    Connection to BGP peer",
        "   Preference:     100",
        "   Input filter:   ACCEPT",
        "   Output filter:  (unnamed)",
        "   Routes:         1 imported, 1 exported, 1 preferred",
        "   Route change stats:     received   rejected   filtered    ignored   accepted",
        "     Import updates:              1          0          0          0          1",
        "     Import withdraws:            0          0        ---          0          0",
        "     Export updates:              9          1          6        ---          2",
        "     Export withdraws:            0        ---        ---        ---          0",
        "   BGP state:          Established",
        "     Neighbor address: 10.192.0.3",
        "     Neighbor AS:      64512",
        "     Neighbor ID:      10.192.0.3",
        "     Neighbor caps:    refresh enhanced-refresh restart-able llgr-aware AS4 add-path-rx add-path-tx",
        "     Session:          internal multihop AS4 add-path-rx add-path-tx",
        "     Source address:   10.192.0.2",
        "     Hold timer:       187/240",
        "     Keepalive timer:  21/80",
        " ",
        "0000 ",
    ]);
    assert_eq!(
        reply("show protocols all Mesh_10_192_0_3", &example_snapshot()),
        expected
    );
}

#[test]
fn show_status_matches_the_reference_transcript() {
    let expected = lines(&[
        "1000-BIRD v0.3.3+birdv1.6.8",
        "1011-Router ID is 10.192.0.2",
        " Current server time is 2024-05-01 10:20:11",
        " Last reboot on 2024-05-01 10:15:30",
        " Last reconfiguration on 2024-05-01 10:15:31",
        "0013 Daemon is up and running",
    ]);
    assert_eq!(reply("show status", &example_snapshot()), expected);
}

#[test]
fn show_status_during_graceful_restart_adds_the_0024_lines_before_0013() {
    let mut snap = example_snapshot();
    snap.status.graceful_restart = Some(GrProgress {
        waiting_for: vec!["Mesh_10_192_0_3".into(), "Mesh_10_192_0_4".into()],
        wait_timer: Countdown {
            expires: snap.status.server_time + Duration::from_secs(215),
            period_secs: 240,
        },
    });
    let expected = lines(&[
        "1000-BIRD v0.3.3+birdv1.6.8",
        "1011-Router ID is 10.192.0.2",
        " Current server time is 2024-05-01 10:20:11",
        " Last reboot on 2024-05-01 10:15:30",
        " Last reconfiguration on 2024-05-01 10:15:31",
        "0024-Graceful restart recovery in progress",
        "   Waiting for 2 protocols to recover",
        "   Wait timer is 215/240",
        "0013 Daemon is up and running",
    ]);
    assert_eq!(reply("show status", &snap), expected);
}

#[test]
fn the_greeting_is_the_fork_version_and_ready() {
    let mut cli = Cli::new();
    assert_eq!(
        cli.greeting("v0.3.3+birdv1.6.8"),
        "0001 BIRD v0.3.3+birdv1.6.8 ready.\n"
    );
}

#[test]
fn show_route_prints_birds_columns_with_from_primary_mark_and_bgp_info() {
    let expected = lines(&[
        "1007-10.192.0.0/24      dev eth0 [direct1 10:15:30] * (240)",
        " 192.168.1.0/26     blackhole [static1 10:15:30] * (200)",
        " 192.168.1.5/32     dev cali6c9ad161b12 [kernel1 10:15:31] * (10)",
        " 192.168.2.0/26     via 10.192.0.3 on eth0 [Mesh_10_192_0_3 10:15:36] * (100/0) [i]",
        " 203.0.113.0/24     via 10.192.0.5 on eth0 [Mesh_10_192_0_3 10:15:36 from 10.192.0.3] * (100/0) [AS65000i]",
        "                    via 10.192.0.6 on eth0 [Mesh_10_192_0_3 10:15:36 from 10.192.0.3] (100/0) [AS65000i]",
        "0000 ",
    ]);
    assert_eq!(reply("show route", &example_snapshot()), expected);
}

#[test]
fn since_columns_show_a_date_once_the_change_is_20_hours_old() {
    let mut snap = example_snapshot();
    snap.status.server_time = example::at(20 * 3600);
    let text = reply("show protocols Mesh_10_192_0_4", &snap);
    assert!(text.contains(" start  2024-05-01  Active"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// A real BIRD 1.6.8: the lab state

/// 2026-11-23 11:00:00 UTC.
const LAB: u64 = 1_795_431_600;

fn lab_at(min: u64, sec: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(LAB + min * 60 + sec)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn counters(received: u32, rejected: u32, filtered: u32, accepted: u32) -> ChangeCounters {
    ChangeCounters {
        received,
        rejected,
        filtered,
        ignored: 0,
        accepted,
    }
}

fn stats(imported: u32, exported: u32, preferred: u32, iu: u32, eu: ChangeCounters) -> RouteStats {
    RouteStats {
        imported,
        exported,
        preferred,
        import_updates: counters(iu, 0, 0, iu),
        import_withdraws: ChangeCounters::default(),
        export_updates: eu,
        export_withdraws: ChangeCounters::default(),
    }
}

fn lab_plain(name: &str, kind: ProtoKind, pref: u32, out: &str, since: SystemTime) -> ProtocolInfo {
    ProtocolInfo {
        since,
        ..example::plain(name, kind, pref, out, 0)
    }
}

#[allow(clippy::too_many_arguments)]
fn lab_bgp(
    name: &str,
    state: ProtoState,
    bgp_state: BgpState,
    since: SystemTime,
    neighbor: &str,
    neighbor_as: u32,
    out_filter: &str,
    last_error: Option<&str>,
) -> ProtocolInfo {
    ProtocolInfo {
        name: name.into(),
        kind: ProtoKind::Bgp,
        state,
        since,
        description: Some("Connection to BGP peer".into()),
        preference: 100,
        input_filter: "ACCEPT".into(),
        output_filter: out_filter.into(),
        gr_pending: false,
        gr_waiting: false,
        stats: RouteStats::default(),
        bgp: Some(BgpInfo {
            state: bgp_state,
            neighbor_address: ip(neighbor),
            neighbor_as,
            local_as: 64512,
            neighbor_gr_active: false,
            error_wait: None,
            connect_delay: None,
            restart_timer: None,
            session: None,
            last_error: last_error.map(str::to_owned),
            counters: None,
        }),
    }
}

fn session(
    neighbor: &str,
    source: &str,
    internal: bool,
    now: SystemTime,
    hold: u64,
    keep: u64,
) -> SessionInfo {
    let mut caps = vec![
        "refresh",
        "enhanced-refresh",
        "restart-able",
        "llgr-aware",
        "AS4",
    ];
    let mut flags = vec!["external", "AS4"];
    if internal {
        caps.extend(["add-path-rx", "add-path-tx"]);
        flags = vec!["internal", "multihop", "AS4", "add-path-rx", "add-path-tx"];
    }
    SessionInfo {
        neighbor_id: neighbor.parse().unwrap(),
        neighbor_caps: caps.into_iter().map(String::from).collect(),
        session_flags: flags.into_iter().map(String::from).collect(),
        source_address: ip(source),
        route_limit: None,
        hold_timer: Countdown {
            expires: now + Duration::from_secs(hold),
            period_secs: 240,
        },
        keepalive_timer: Countdown {
            expires: now + Duration::from_secs(keep),
            period_secs: 80,
        },
    }
}

fn bgp_route(gw: &str, iface: &str, proto: &str, since: SystemTime, as_path: Vec<u32>) -> PathInfo {
    PathInfo {
        dest: Dest::Router {
            gateway: ip(gw),
            iface: iface.into(),
        },
        protocol: proto.into(),
        since,
        from: Some(ip(gw)),
        primary: true,
        preference: 100,
        bgp: Some(BgpPathInfo {
            origin: PathOrigin::Igp,
            as_path,
            next_hop: ip(gw),
            local_pref: Some(100),
            med: None,
            communities: vec![],
            igp_metric: Some(0),
            originator_id: None,
            cluster_list: vec![],
        }),
        lost_reason: None,
    }
}

fn other_path(dest: Dest, proto: &str, since: SystemTime, pref: u32) -> PathInfo {
    PathInfo {
        dest,
        protocol: proto.into(),
        since,
        from: None,
        primary: true,
        preference: pref,
        bgp: None,
        lost_reason: None,
    }
}

/// The lab node 198.18.0.1 after a plain start (protocols since 11:21:31, sessions 11:21:33).
fn lab_snapshot() -> Snapshot {
    let start = lab_at(21, 31);
    let up = lab_at(21, 33);
    let now = lab_at(21, 45);
    let mut mesh2 = lab_bgp(
        "Mesh_198_18_0_2",
        ProtoState::Up,
        BgpState::Established,
        up,
        "198.18.0.2",
        64512,
        "(unnamed)",
        None,
    );
    mesh2.stats = stats(1, 1, 1, 1, counters(3, 1, 1, 1));
    if let Some(b) = mesh2.bgp.as_mut() {
        b.session = Some(session("198.18.0.2", "198.18.0.1", true, now, 171, 57));
    }
    let mut global = lab_bgp(
        "Global_198_18_1_2",
        ProtoState::Up,
        BgpState::Established,
        up,
        "198.18.1.2",
        65000,
        "(unnamed)",
        None,
    );
    global.stats = stats(2, 1, 0, 2, counters(5, 0, 4, 1));
    if let Some(b) = global.bgp.as_mut() {
        b.session = Some(session("198.18.1.2", "198.18.1.1", false, now, 200, 58));
    }
    let mut node9 = lab_bgp(
        "Node_198_18_0_9",
        ProtoState::Down,
        BgpState::Down,
        start,
        "198.18.0.9",
        64512,
        "REJECT",
        None,
    );
    node9.stats = RouteStats::default();
    let node8 = lab_bgp(
        "Node_198_18_0_8",
        ProtoState::Start,
        BgpState::Passive,
        start,
        "198.18.0.8",
        64512,
        "REJECT",
        None,
    );
    let mut mesh3 = lab_bgp(
        "Mesh_198_18_0_3",
        ProtoState::Start,
        BgpState::Active,
        start,
        "198.18.0.3",
        64512,
        "(unnamed)",
        Some("Socket: Connection refused"),
    );
    if let Some(b) = mesh3.bgp.as_mut() {
        b.connect_delay = Some(Countdown {
            expires: now + Duration::from_secs(1),
            period_secs: 2,
        });
    }
    let net = |s: &str| -> IpNet { s.parse().unwrap() };
    let lost = |mut p: PathInfo| {
        p.primary = false;
        p
    };
    Snapshot {
        status: DaemonStatus {
            version: "1.6.8".into(),
            router_id: Ipv4Addr::new(198, 18, 0, 1),
            server_time: now,
            last_reboot: start,
            last_reconfig: start,
            phase: DaemonPhase::Running,
            graceful_restart: None,
        },
        protocols: vec![
            lab_plain("static1", ProtoKind::Static, 200, "REJECT", start),
            lab_plain("kernel1", ProtoKind::Kernel, 10, "ACCEPT", start),
            lab_plain("device1", ProtoKind::Device, 240, "REJECT", start),
            lab_plain("direct1", ProtoKind::Direct, 240, "REJECT", start),
            mesh2,
            mesh3,
            global,
            node9,
            node8,
        ],
        routes: vec![
            RouteInfo {
                prefix: net("198.51.100.0/26"),
                paths: vec![other_path(Dest::Blackhole, "static1", start, 200)],
            },
            RouteInfo {
                prefix: net("198.18.0.0/24"),
                paths: vec![other_path(
                    Dest::Device {
                        iface: "wc-a".into(),
                    },
                    "direct1",
                    start,
                    240,
                )],
            },
            RouteInfo {
                prefix: net("198.18.1.0/24"),
                paths: vec![other_path(
                    Dest::Device {
                        iface: "wc-a2".into(),
                    },
                    "direct1",
                    start,
                    240,
                )],
            },
            RouteInfo {
                prefix: net("203.0.113.0/26"),
                paths: vec![
                    bgp_route("198.18.0.2", "wc-a", "Mesh_198_18_0_2", up, vec![]),
                    lost(bgp_route(
                        "198.18.1.2",
                        "wc-a2",
                        "Global_198_18_1_2",
                        up,
                        vec![65000],
                    )),
                ],
            },
            RouteInfo {
                prefix: net("203.0.113.128/26"),
                paths: vec![
                    other_path(Dest::Unreachable, "static1", start, 200),
                    lost(bgp_route(
                        "198.18.1.2",
                        "wc-a2",
                        "Global_198_18_1_2",
                        up,
                        vec![65000],
                    )),
                ],
            },
        ],
    }
}

#[test]
fn show_protocols_matches_bird_with_established_refused_down_and_passive_peers() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-static1  Static   master   up     11:21:31    ",
        " kernel1  Kernel   master   up     11:21:31    ",
        " device1  Device   master   up     11:21:31    ",
        " direct1  Direct   master   up     11:21:31    ",
        " Mesh_198_18_0_2 BGP      master   up     11:21:33    Established   ",
        " Mesh_198_18_0_3 BGP      master   start  11:21:31    Active        Socket: Connection refused",
        " Global_198_18_1_2 BGP      master   up     11:21:33    Established   ",
        " Node_198_18_0_9 BGP      master   down   11:21:31    ",
        " Node_198_18_0_8 BGP      master   start  11:21:31    Passive       ",
        "0000 ",
    ]);
    assert_eq!(reply("show protocols", &lab_snapshot()), expected);
}

#[test]
fn show_protocols_all_matches_bird_for_an_ebgp_session() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-Global_198_18_1_2 BGP      master   up     11:21:33    Established   ",
        "1006-  Description:    Connection to BGP peer",
        "   Preference:     100",
        "   Input filter:   ACCEPT",
        "   Output filter:  (unnamed)",
        "   Routes:         2 imported, 1 exported, 0 preferred",
        "   Route change stats:     received   rejected   filtered    ignored   accepted",
        "     Import updates:              2          0          0          0          2",
        "     Import withdraws:            0          0        ---          0          0",
        "     Export updates:              5          0          4        ---          1",
        "     Export withdraws:            0        ---        ---        ---          0",
        "   BGP state:          Established",
        "     Neighbor address: 198.18.1.2",
        "     Neighbor AS:      65000",
        "     Neighbor ID:      198.18.1.2",
        "     Neighbor caps:    refresh enhanced-refresh restart-able llgr-aware AS4",
        "     Session:          external AS4",
        "     Source address:   198.18.1.1",
        "     Hold timer:       200/240",
        "     Keepalive timer:  58/80",
        " ",
        "0000 ",
    ]);
    assert_eq!(
        reply("show protocols all Global_198_18_1_2", &lab_snapshot()),
        expected
    );
}

#[test]
fn show_protocols_all_matches_bird_for_a_disabled_peer_without_stats() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-Node_198_18_0_9 BGP      master   down   11:21:31    ",
        "1006-  Description:    Connection to BGP peer",
        "   Preference:     100",
        "   Input filter:   ACCEPT",
        "   Output filter:  REJECT",
        "   BGP state:          Down",
        "     Neighbor address: 198.18.0.9",
        "     Neighbor AS:      64512",
        " ",
        "0000 ",
    ]);
    assert_eq!(
        reply("show protocols all Node_198_18_0_9", &lab_snapshot()),
        expected
    );
}

#[test]
fn show_protocols_all_matches_bird_for_a_passive_peer() {
    let expected = lines(&[
        "2002-name     proto    table    state  since       info",
        "1002-Node_198_18_0_8 BGP      master   start  11:21:31    Passive       ",
        "1006-  Description:    Connection to BGP peer",
        "   Preference:     100",
        "   Input filter:   ACCEPT",
        "   Output filter:  REJECT",
        "   Routes:         0 imported, 0 exported, 0 preferred",
        "   Route change stats:     received   rejected   filtered    ignored   accepted",
        "     Import updates:              0          0          0          0          0",
        "     Import withdraws:            0          0        ---          0          0",
        "     Export updates:              0          0          0        ---          0",
        "     Export withdraws:            0        ---        ---        ---          0",
        "   BGP state:          Passive",
        "     Neighbor address: 198.18.0.8",
        "     Neighbor AS:      64512",
        " ",
        "0000 ",
    ]);
    assert_eq!(
        reply("show protocols all Node_198_18_0_8", &lab_snapshot()),
        expected
    );
}

#[test]
fn show_protocols_all_for_several_protocols_restarts_the_1002_code_per_protocol() {
    let text = reply("show protocols all \"Node*\"", &lab_snapshot());
    assert!(
        text.starts_with(
            "2002-name     proto    table    state  since       info\n1002-Node_198_18_0_9"
        ),
        "{text}"
    );
    assert!(
        text.contains(" \n1002-Node_198_18_0_8 BGP "),
        "second protocol must start a new 1002 line:\n{text}"
    );
}

#[test]
fn show_route_matches_bird_with_two_paths_for_a_prefix_and_an_unreachable() {
    let expected = lines(&[
        "1007-198.51.100.0/26    blackhole [static1 11:21:31] * (200)",
        " 198.18.0.0/24      dev wc-a [direct1 11:21:31] * (240)",
        " 198.18.1.0/24      dev wc-a2 [direct1 11:21:31] * (240)",
        " 203.0.113.0/26     via 198.18.0.2 on wc-a [Mesh_198_18_0_2 11:21:33] * (100/0) [i]",
        "                    via 198.18.1.2 on wc-a2 [Global_198_18_1_2 11:21:33] (100/0) [AS65000i]",
        " 203.0.113.128/26   unreachable [static1 11:21:31] * (200)",
        "                    via 198.18.1.2 on wc-a2 [Global_198_18_1_2 11:21:33] (100/0) [AS65000i]",
        "0000 ",
    ]);
    assert_eq!(reply("show route", &lab_snapshot()), expected);
}

#[test]
fn show_route_count_counts_shown_routes_all_routes_and_networks_as_bird_does() {
    let snap = lab_snapshot();
    assert_eq!(
        reply("show route count", &snap),
        "0014 7 of 7 routes for 5 networks\n"
    );
    assert_eq!(
        reply("show route primary count", &snap),
        "0014 5 of 5 routes for 5 networks\n"
    );
    assert_eq!(
        reply("show route protocol Global_198_18_1_2 count", &snap),
        "0014 2 of 7 routes for 5 networks\n"
    );
    assert_eq!(
        reply("show route count protocol Mesh_198_18_0_3", &snap),
        "0014 0 of 7 routes for 5 networks\n"
    );
}

#[test]
fn show_route_for_an_address_prints_every_path_of_the_longest_match() {
    let expected = lines(&[
        "1007-203.0.113.0/26     via 198.18.0.2 on wc-a [Mesh_198_18_0_2 11:21:33] * (100/0) [i]",
        "                    via 198.18.1.2 on wc-a2 [Global_198_18_1_2 11:21:33] (100/0) [AS65000i]",
        "0000 ",
    ]);
    let snap = lab_snapshot();
    assert_eq!(reply("show route for 203.0.113.5", &snap), expected);
    assert_eq!(reply("show route for 203.0.113.0/27", &snap), expected);
    assert_eq!(reply("show route for 203.0.113.0 / 26", &snap), expected);
    assert_eq!(reply("show route 203.0.113.0/26", &snap), expected);
}

#[test]
fn show_route_for_one_prefix_ignores_count_as_bird_does() {
    assert_eq!(
        reply("show route for 203.0.113.5 count", &lab_snapshot()),
        "0000 \n"
    );
}

#[test]
fn show_route_protocol_prints_the_prefix_on_the_first_shown_path() {
    let expected = lines(&[
        "1007-203.0.113.0/26     via 198.18.1.2 on wc-a2 [Global_198_18_1_2 11:21:33] (100/0) [AS65000i]",
        " 203.0.113.128/26   via 198.18.1.2 on wc-a2 [Global_198_18_1_2 11:21:33] (100/0) [AS65000i]",
        "0000 ",
    ]);
    assert_eq!(
        reply("show route protocol Global_198_18_1_2", &lab_snapshot()),
        expected
    );
    assert_eq!(
        reply("show route protocol Node_198_18_0_9", &lab_snapshot()),
        "0000 \n"
    );
}

#[test]
fn errors_use_birds_codes_and_words() {
    let snap = lab_snapshot();
    let cases = [
        ("show protocols all Nope", "9002 Nope is not a protocol\n"),
        ("show protocols \"Zz*\"", "8003 No protocols match\n"),
        ("show route for 192.0.2.1", "8001 Network not in table\n"),
        (
            "show route for 192.0.2.1 count",
            "8001 Network not in table\n",
        ),
        ("show route 203.0.113.0/27", "8001 Network not in table\n"),
        ("show route protocol Nope", "9001 Nope is not a protocol\n"),
        ("foo", "9001 syntax error\n"),
        ("", "9001 syntax error\n"),
        ("show", "9001 syntax error\n"),
        ("SHOW STATUS", "9001 syntax error\n"),
        (
            "show protocols all Mesh_198_18_0_2 extra",
            "9001 syntax error\n",
        ),
        ("show protocols all all", "9001 syntax error\n"),
        ("show route 203.0.113.1", "9001 syntax error\n"),
        ("show route for 1.2.3", "9001 syntax error\n"),
        ("show route for 198.51.100.7/26", "9001 Invalid prefix\n"),
        (
            "show route for 198.51.100.0/33",
            "9001 Invalid prefix length 33\n",
        ),
        ("show route for \"x", "9001 syntax error\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(reply(cmd, &snap), want, "command {cmd:?}");
    }
}

#[test]
fn an_ipv4_socket_refuses_ipv6_addresses_with_birds_message() {
    let snap = lab_snapshot();
    assert_eq!(
        handle("show route for ::1", &snap, Some(Family::Ipv4)),
        Outcome::Reply(vec![Line::last(
            9001,
            "This is an IPv4 router, therefore IPv6 addresses are not supported"
        )])
    );
}

#[test]
fn bird_commands_wren_does_not_implement_say_so_under_9001() {
    let snap = lab_snapshot();
    assert_eq!(
        reply("show interfaces", &snap),
        "9001 show interfaces: not implemented by wren\n"
    );
    assert_eq!(
        reply("configure", &snap),
        "9001 configure: not implemented by wren\n"
    );
    assert_eq!(
        reply("show route all", &snap),
        "9001 show route all: not implemented by wren\n"
    );
}

#[test]
fn keywords_may_be_abbreviated_but_not_ambiguously() {
    let snap = lab_snapshot();
    let full = reply("show protocols", &snap);
    assert_eq!(reply("sh p", &snap), full);
    assert_eq!(reply("show   proto", &snap), full);
    assert_eq!(
        reply("sh pro a Global_198_18_1_2", &snap),
        reply("show protocols all Global_198_18_1_2", &snap)
    );
    assert_eq!(reply("sh rou cou", &snap), reply("show route count", &snap));
    // route, rip and roa all start with r.
    assert_eq!(reply("show r", &snap), "9001 syntax error\n");
    // primary and protocol both start with pr.
    assert_eq!(reply("show route pr", &snap), "9001 syntax error\n");
}

#[test]
fn quit_and_exit_close_the_connection() {
    let snap = lab_snapshot();
    assert_eq!(handle("quit", &snap, None), Outcome::Close);
    assert_eq!(handle("exit", &snap, None), Outcome::Close);
}

#[test]
fn the_continuation_shortcut_follows_the_previous_line_of_the_connection() {
    let snap = lab_snapshot();
    let mut cli = Cli::new();
    let _ = cli.greeting("1.6.8");
    let Outcome::Reply(status) = handle("show status", &snap, None) else {
        panic!()
    };
    let Outcome::Reply(again) = handle("show status", &snap, None) else {
        panic!()
    };
    let first = cli.encode(&status);
    let second = cli.encode(&again);
    // After `0013 …` the next reply's 1000 line differs, so it gets its code again.
    assert_eq!(first, second);
    // A reply whose first code repeats the previous line's uses the shortcut.
    assert_eq!(
        cli.encode(&[Line::more(13, "x"), Line::last(0, "")]),
        " x\n0000 \n"
    );
}

#[test]
fn graceful_restart_recovery_matches_bird_started_with_dash_r() {
    let mut snap = lab_snapshot();
    let start = lab_at(22, 6);
    let up = lab_at(22, 8);
    let now = lab_at(22, 13);
    snap.status.server_time = now;
    snap.status.last_reboot = start;
    snap.status.last_reconfig = start;
    snap.status.graceful_restart = Some(GrProgress {
        waiting_for: vec!["Mesh_198_18_0_3".into(), "Node_198_18_0_8".into()],
        wait_timer: Countdown {
            expires: now + Duration::from_secs(233),
            period_secs: 240,
        },
    });
    for p in &mut snap.protocols {
        p.since = start;
        match p.name.as_str() {
            "kernel1" => {
                p.state = ProtoState::Wait;
                p.output_filter = "ACCEPT".into();
                p.gr_waiting = true;
            }
            "static1" => p.stats = stats(2, 0, 2, 2, ChangeCounters::default()),
            "Mesh_198_18_0_2" | "Global_198_18_1_2" => {
                p.state = ProtoState::Wait;
                p.since = up;
                p.gr_waiting = true;
                p.stats = stats(1, 0, 1, 1, ChangeCounters::default());
                if let Some(s) = p.bgp.as_mut().and_then(|b| b.session.as_mut()) {
                    s.hold_timer.expires = now + Duration::from_secs(189);
                    s.keepalive_timer.expires = now + Duration::from_secs(57);
                }
            }
            "Mesh_198_18_0_3" | "Node_198_18_0_8" => {
                p.gr_pending = true;
                if let Some(t) = p.bgp.as_mut().and_then(|b| b.connect_delay.as_mut()) {
                    t.expires = now + Duration::from_secs(1);
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        reply("show status", &snap),
        lines(&[
            "1000-BIRD 1.6.8",
            "1011-Router ID is 198.18.0.1",
            " Current server time is 2026-11-23 11:22:13",
            " Last reboot on 2026-11-23 11:22:06",
            " Last reconfiguration on 2026-11-23 11:22:06",
            "0024-Graceful restart recovery in progress",
            "   Waiting for 2 protocols to recover",
            "   Wait timer is 233/240",
            "0013 Daemon is up and running",
        ])
    );
    assert_eq!(
        reply("show protocols", &snap),
        lines(&[
            "2002-name     proto    table    state  since       info",
            "1002-static1  Static   master   up     11:22:06    ",
            " kernel1  Kernel   master   wait   11:22:06    ",
            " device1  Device   master   up     11:22:06    ",
            " direct1  Direct   master   up     11:22:06    ",
            " Mesh_198_18_0_2 BGP      master   wait   11:22:08    Established   ",
            " Mesh_198_18_0_3 BGP      master   start  11:22:06    Active        Socket: Connection refused",
            " Global_198_18_1_2 BGP      master   wait   11:22:08    Established   ",
            " Node_198_18_0_9 BGP      master   down   11:22:06    ",
            " Node_198_18_0_8 BGP      master   start  11:22:06    Passive       ",
            "0000 ",
        ])
    );
    assert_eq!(
        reply("show protocols all Mesh_198_18_0_2", &snap),
        lines(&[
            "2002-name     proto    table    state  since       info",
            "1002-Mesh_198_18_0_2 BGP      master   wait   11:22:08    Established   ",
            "1006-  Description:    Connection to BGP peer",
            "   Preference:     100",
            "   Input filter:   ACCEPT",
            "   Output filter:  (unnamed)",
            "   GR recovery:    waiting",
            "   Routes:         1 imported, 0 exported, 1 preferred",
            "   Route change stats:     received   rejected   filtered    ignored   accepted",
            "     Import updates:              1          0          0          0          1",
            "     Import withdraws:            0          0        ---          0          0",
            "     Export updates:              0          0          0        ---          0",
            "     Export withdraws:            0        ---        ---        ---          0",
            "   BGP state:          Established",
            "     Neighbor address: 198.18.0.2",
            "     Neighbor AS:      64512",
            "     Neighbor ID:      198.18.0.2",
            "     Neighbor caps:    refresh enhanced-refresh restart-able llgr-aware AS4 add-path-rx add-path-tx",
            "     Session:          internal multihop AS4 add-path-rx add-path-tx",
            "     Source address:   198.18.0.1",
            "     Hold timer:       189/240",
            "     Keepalive timer:  57/80",
            " ",
            "0000 ",
        ])
    );
    assert_eq!(
        reply("show protocols all Mesh_198_18_0_3", &snap),
        lines(&[
            "2002-name     proto    table    state  since       info",
            "1002-Mesh_198_18_0_3 BGP      master   start  11:22:06    Active        Socket: Connection refused",
            "1006-  Description:    Connection to BGP peer",
            "   Preference:     100",
            "   Input filter:   ACCEPT",
            "   Output filter:  (unnamed)",
            "   GR recovery:    pending",
            "   Routes:         0 imported, 0 exported, 0 preferred",
            "   Route change stats:     received   rejected   filtered    ignored   accepted",
            "     Import updates:              0          0          0          0          0",
            "     Import withdraws:            0          0        ---          0          0",
            "     Export updates:              0          0          0        ---          0",
            "     Export withdraws:            0        ---        ---        ---          0",
            "   BGP state:          Active",
            "     Neighbor address: 198.18.0.3",
            "     Neighbor AS:      64512",
            "     Connect delay:    1/2",
            "     Last error:       Socket: Connection refused",
            " ",
            "0000 ",
        ])
    );
    assert_eq!(
        reply("show protocols all static1", &snap),
        lines(&[
            "2002-name     proto    table    state  since       info",
            "1002-static1  Static   master   up     11:22:06    ",
            "1006-  Preference:     200",
            "   Input filter:   ACCEPT",
            "   Output filter:  REJECT",
            "   GR recovery:   ",
            "   Routes:         2 imported, 0 exported, 2 preferred",
            "   Route change stats:     received   rejected   filtered    ignored   accepted",
            "     Import updates:              2          0          0          0          2",
            "     Import withdraws:            0          0        ---          0          0",
            "     Export updates:              0          0          0        ---          0",
            "     Export withdraws:            0        ---        ---        ---          0",
            " ",
            "0000 ",
        ])
    );
    assert_eq!(
        reply("show protocols all kernel1", &snap),
        lines(&[
            "2002-name     proto    table    state  since       info",
            "1002-kernel1  Kernel   master   wait   11:22:06    ",
            "1006-  Preference:     10",
            "   Input filter:   ACCEPT",
            "   Output filter:  ACCEPT",
            "   GR recovery:    waiting",
            "   Routes:         0 imported, 0 exported, 0 preferred",
            "   Route change stats:     received   rejected   filtered    ignored   accepted",
            "     Import updates:              0          0          0          0          0",
            "     Import withdraws:            0          0        ---          0          0",
            "     Export updates:              0          0          0        ---          0",
            "     Export withdraws:            0        ---        ---        ---          0",
            " ",
            "0000 ",
        ])
    );
}

#[test]
fn patterns_match_like_birds_patmatch() {
    assert!(pattern_match("Mesh*", "Mesh_1_2_3_4"));
    assert!(pattern_match("Mesh_198_18_0_?", "Mesh_198_18_0_2"));
    assert!(!pattern_match("Mesh_198_18_0_?", "Mesh_198_18_0_22"));
    assert!(pattern_match("*_0_2", "Mesh_198_18_0_2"));
    assert!(pattern_match("*", ""));
    assert!(!pattern_match("Node*", "Mesh_1"));
}

#[test]
fn wren_json_answers_one_json_line_under_code_1900() {
    let snap = example_snapshot();
    let text = reply("wren json peer Mesh_10_192_0_3", &snap);
    let json = text
        .strip_prefix("1900-")
        .and_then(|t| t.strip_suffix("\n0000 \n"))
        .unwrap();
    let back: ProtocolInfo = serde_json::from_str(json).unwrap();
    assert_eq!(Some(&back), snap.protocol("Mesh_10_192_0_3"));
    let routes = reply("wren json route 203.0.113.9", &snap);
    let json = routes
        .strip_prefix("1900-")
        .and_then(|t| t.strip_suffix("\n0000 \n"))
        .unwrap();
    let back: Vec<RouteInfo> = serde_json::from_str(json).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(
        back[0].paths[1].lost_reason.as_deref(),
        Some("longer as-path")
    );
    assert_eq!(
        reply("wren json peer Nope", &snap),
        "9002 Nope is not a protocol\n"
    );
    let whole: Snapshot = Snapshot {
        status: serde_json::from_str(
            reply("wren json status", &snap)
                .strip_prefix("1900-")
                .and_then(|t| t.strip_suffix("\n0000 \n"))
                .unwrap(),
        )
        .unwrap(),
        ..snap.clone()
    };
    assert_eq!(whole, snap);
}

#[test]
fn the_ipv6_view_keeps_only_ipv6_peers_and_routes() {
    let mut snap = example_snapshot();
    snap.protocols.push(example::refused_peer(
        "Mesh_fd00_10__3",
        "fd00:10::3".parse().unwrap(),
        0,
    ));
    let v6 = snap.for_family(Family::Ipv6);
    let names: Vec<&str> = v6.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "static1",
            "kernel1",
            "device1",
            "direct1",
            "Mesh_fd00_10__3"
        ]
    );
    assert!(v6.routes.is_empty());
    let v4 = snap.for_family(Family::Ipv4);
    assert_eq!(v4.protocols.len(), 6);
}
