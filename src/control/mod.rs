//! # control — the BIRD-compatible control socket and the `wren` CLI
//!
//! Calico talks to its BGP daemon over BIRD 1.x's control socket: `calico-node -bird-ready` sends
//! `show protocols` and `show status`, `-bird-live` runs `birdcl show status`, `calicoctl node
//! status` parses the `show protocols` table, and the node-status reporter also reads
//! `show protocols all NAME` and `show route`. This module speaks that protocol byte for byte
//! (the formats were checked against a running BIRD 1.6.8, see `docs/control.md`), so those
//! parsers and the real `birdc`/`birdcl` work unchanged against wren.
//!
//! ## Pieces
//!
//! | item | level | does |
//! |------|-------|------|
//! | [`Snapshot`] and its parts (this file) | data | what the daemon publishes: status, protocols, routes — plain values |
//! | [`protocol`] | pure | command parsing (`show protocols all Mesh_1_2_3_4`, abbreviations) and the exact reply bytes |
//! | [`server`] | adapter | tokio unix-socket server: greeting, line commands, one fresh snapshot per command |
//! | [`client`] | adapter | blocking client for the `wren show …` / `wren status` commands, tables and `--json` |
//! | [`example`] | data | the example Calico node behind the transcripts in `docs/control.md` |
//!
//! ## How the daemon plugs in
//!
//! The daemon owns a `tokio::sync::watch::Sender<Arc<Snapshot>>` and sends a new snapshot
//! whenever something visible changes (a session state, a route, a counter — or simply every
//! second). [`server::serve`] holds the receiver and reads the latest value for each command;
//! nothing in this module touches the RIB or the sessions. Times are absolute
//! ([`SystemTime`]): the server sets [`DaemonStatus::server_time`] to the current time when it
//! answers, and every "since"/"remaining" column is computed from that, so a snapshot does not
//! go stale just because nothing changed.
//!
//! ## Dependency rules
//!
//! Imports only std, serde, `ipnet` (and tokio in [`server`]); nothing from the core.

pub mod client;
pub mod example;
pub mod protocol;
pub mod server;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The version string Calico's BIRD fork reports (`BIRD v0.3.3+birdv1.6.8 ready.`).
pub const BIRD_COMPAT_VERSION: &str = "v0.3.3+birdv1.6.8";

/// The IPv4 control socket Calico's tools connect to.
pub const CALICO_SOCKET: &str = "/var/run/calico/bird.ctl";

/// The IPv6 control socket Calico's tools connect to.
pub const CALICO_SOCKET_V6: &str = "/var/run/calico/bird6.ctl";

/// wren's own control socket outside Calico mode (and the CLI's default).
pub const DEFAULT_SOCKET: &str = "/run/wren/wren.ctl";

/// The version string wren reports: Calico's fork version (Calico's status reporter wants a
/// `BIRD v…` line) followed by `+wren` and wren's own version.
pub fn default_version() -> String {
    format!("{BIRD_COMPAT_VERSION}+wren{}", env!("CARGO_PKG_VERSION"))
}

/// Everything the control socket can show, as published by the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `show status`.
    pub status: DaemonStatus,
    /// `show protocols`, in the order to print them (BIRD: configuration order — `static1`,
    /// `kernel1`, `device1`, `direct1`, then the BGP protocols).
    pub protocols: Vec<ProtocolInfo>,
    /// `show route`: every prefix with all its paths, the primary (best) path first.
    pub routes: Vec<RouteInfo>,
}

/// An address family, to split one snapshot between `bird.ctl` (IPv4) and `bird6.ctl` (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
}

impl Family {
    /// Whether `addr` belongs to this family.
    pub fn has(self, addr: IpAddr) -> bool {
        matches!(
            (self, addr),
            (Family::Ipv4, IpAddr::V4(_)) | (Family::Ipv6, IpAddr::V6(_))
        )
    }
}

impl Snapshot {
    /// The view one family's socket shows, as BIRD (v4) and BIRD6 (v6) would: BGP protocols
    /// whose neighbour is of the other family and routes of the other family are left out;
    /// the other protocols appear in both.
    pub fn for_family(&self, family: Family) -> Snapshot {
        Snapshot {
            status: self.status.clone(),
            protocols: self
                .protocols
                .iter()
                .filter(|p| {
                    p.bgp
                        .as_ref()
                        .is_none_or(|b| family.has(b.neighbor_address))
                })
                .cloned()
                .collect(),
            routes: self
                .routes
                .iter()
                .filter(|r| family.has(r.prefix.addr()))
                .cloned()
                .collect(),
        }
    }

    /// The protocol called `name`, if any.
    pub fn protocol(&self, name: &str) -> Option<&ProtocolInfo> {
        self.protocols.iter().find(|p| p.name == name)
    }
}

/// `show status`: what the daemon is and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Printed after `BIRD ` in the greeting and the first status line; see [`default_version`].
    pub version: String,
    /// `Router ID is …`.
    pub router_id: Ipv4Addr,
    /// The current time. The server overwrites it with the time of each reply; every relative
    /// value (since columns, timers) is computed against it.
    #[serde(with = "rfc3339")]
    pub server_time: SystemTime,
    /// `Last reboot on …`: when the daemon started.
    #[serde(with = "rfc3339")]
    pub last_reboot: SystemTime,
    /// `Last reconfiguration on …`: when the configuration was last (re)loaded.
    #[serde(with = "rfc3339")]
    pub last_reconfig: SystemTime,
    /// The last `show status` line (`0013 …`).
    pub phase: DaemonPhase,
    /// `Some` while graceful-restart recovery is in progress (wren started with `-R`): adds the
    /// `0024` lines calico-node's readiness check looks for.
    pub graceful_restart: Option<GrProgress>,
}

/// What the daemon is doing, for the final `show status` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonPhase {
    /// `Daemon is up and running`.
    Running,
    /// `Reconfiguration in progress`.
    Reconfiguring,
    /// `Shutdown in progress`.
    ShuttingDown,
}

impl DaemonPhase {
    /// The words BIRD prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            DaemonPhase::Running => "Daemon is up and running",
            DaemonPhase::Reconfiguring => "Reconfiguration in progress",
            DaemonPhase::ShuttingDown => "Shutdown in progress",
        }
    }
}

/// Graceful-restart recovery in progress (BIRD's `graceful_restart_show_status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrProgress {
    /// The protocols recovery still waits for (BIRD counts them: `Waiting for N protocols to
    /// recover`).
    pub waiting_for: Vec<String>,
    /// The recovery wait timer (`Wait timer is 215/240`).
    pub wait_timer: Countdown,
}

/// A running timer: when it fires and its full period, for BIRD's `left/period` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Countdown {
    /// When the timer fires.
    #[serde(with = "rfc3339")]
    pub expires: SystemTime,
    /// Its configured period in seconds.
    pub period_secs: u32,
}

impl Countdown {
    /// Whole seconds left at `now` (0 once it has fired), as BIRD's `tm_remains`.
    pub fn remaining(&self, now: SystemTime) -> u32 {
        let left = self.expires.duration_since(now).unwrap_or(Duration::ZERO);
        u32::try_from(left.as_secs()).unwrap_or(u32::MAX)
    }
}

/// A protocol instance: one row of `show protocols`, and the block of `show protocols all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolInfo {
    /// The protocol name. In Calico mode BGP peers are named as confd names them
    /// ([`calico_peer_name`]): `Mesh_10_192_0_3`, `Global_…`, `Node_…`.
    pub name: String,
    /// The protocol column (`BGP`, `Static`, `Kernel`, `Device`, `Direct`).
    pub kind: ProtoKind,
    /// The state column.
    pub state: ProtoState,
    /// When the protocol last changed state (the since column).
    #[serde(with = "rfc3339")]
    pub since: SystemTime,
    /// `Description:` (Calico's template: `Connection to BGP peer`).
    pub description: Option<String>,
    /// `Preference:` (BGP 100, static 200, kernel 10, device and direct 240).
    pub preference: u32,
    /// `Input filter:`: `ACCEPT`, `REJECT`, `(unnamed)` or a filter name.
    pub input_filter: String,
    /// `Output filter:`, as [`ProtocolInfo::input_filter`].
    pub output_filter: String,
    /// During graceful-restart recovery: this protocol still holds the recovery (`pending`).
    pub gr_pending: bool,
    /// During graceful-restart recovery: this protocol waits for recovery to end before
    /// exporting (`waiting`).
    pub gr_waiting: bool,
    /// Route counters (`Routes:` and `Route change stats:`), not printed while down.
    pub stats: RouteStats,
    /// BGP details, for BGP protocols.
    pub bgp: Option<BgpInfo>,
}

/// The protocol column of `show protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtoKind {
    /// `BGP`.
    Bgp,
    /// `Static` (Calico's blackholes for its blocks).
    Static,
    /// `Kernel` (the FIB).
    Kernel,
    /// `Device` (interface scanning).
    Device,
    /// `Direct` (connected routes).
    Direct,
}

impl ProtoKind {
    /// The name BIRD prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtoKind::Bgp => "BGP",
            ProtoKind::Static => "Static",
            ProtoKind::Kernel => "Kernel",
            ProtoKind::Device => "Device",
            ProtoKind::Direct => "Direct",
        }
    }
}

/// BIRD's protocol state words (`proto_state_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtoState {
    /// `up`: running and exporting. Calico counts only this as established.
    Up,
    /// `start`: starting (a BGP session not yet Established).
    Start,
    /// `down`: disabled or stopped.
    Down,
    /// `stop`: shutting down.
    Stop,
    /// `feed`: up, routes being fed to it.
    Feed,
    /// `wait`: up, waiting for graceful-restart recovery before exporting.
    Wait,
    /// `flush`: down, routes being flushed.
    Flush,
}

impl ProtoState {
    /// The word BIRD prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtoState::Up => "up",
            ProtoState::Start => "start",
            ProtoState::Down => "down",
            ProtoState::Stop => "stop",
            ProtoState::Feed => "feed",
            ProtoState::Wait => "wait",
            ProtoState::Flush => "flush",
        }
    }
}

/// The BGP state words of the info column and `BGP state:` (`bgp_state_dsc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BgpState {
    /// `Idle`.
    Idle,
    /// `Connect`.
    Connect,
    /// `Active`.
    Active,
    /// `OpenSent`.
    OpenSent,
    /// `OpenConfirm`.
    OpenConfirm,
    /// `Established`: the only state calico-node counts as ready.
    Established,
    /// `Close`.
    Close,
    /// `Passive`: idle and waiting for the peer to connect (`passive on`).
    Passive,
    /// `Down`: the protocol is down.
    Down,
}

impl BgpState {
    /// The word BIRD prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            BgpState::Idle => "Idle",
            BgpState::Connect => "Connect",
            BgpState::Active => "Active",
            BgpState::OpenSent => "OpenSent",
            BgpState::OpenConfirm => "OpenConfirm",
            BgpState::Established => "Established",
            BgpState::Close => "Close",
            BgpState::Passive => "Passive",
            BgpState::Down => "Down",
        }
    }
}

impl fmt::Display for BgpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Routes:` and `Route change stats:` of `show protocols all`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStats {
    /// Routes imported from the protocol into the table.
    pub imported: u32,
    /// Routes exported from the table to the protocol.
    pub exported: u32,
    /// Imported routes that are the best for their prefix.
    pub preferred: u32,
    /// `Import updates:` (every column).
    pub import_updates: ChangeCounters,
    /// `Import withdraws:` (`filtered` is not printed).
    pub import_withdraws: ChangeCounters,
    /// `Export updates:` (`ignored` is not printed).
    pub export_updates: ChangeCounters,
    /// `Export withdraws:` (only `received` and `accepted` are printed).
    pub export_withdraws: ChangeCounters,
}

/// One row of `Route change stats:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounters {
    /// Changes seen.
    pub received: u32,
    /// Invalid ones.
    pub rejected: u32,
    /// Ones a filter rejected.
    pub filtered: u32,
    /// Ones that changed nothing.
    pub ignored: u32,
    /// Ones applied.
    pub accepted: u32,
}

/// The BGP part of a protocol (`bgp_show_proto_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpInfo {
    /// The session state (info column and `BGP state:`).
    pub state: BgpState,
    /// `Neighbor address:`.
    pub neighbor_address: IpAddr,
    /// `Neighbor AS:`.
    pub neighbor_as: u32,
    /// Our AS on this session (not printed by BIRD; `wren show peer` shows it).
    pub local_as: u32,
    /// The neighbour is restarting and we keep its routes as stale
    /// (`Neighbor graceful restart active`).
    pub neighbor_gr_active: bool,
    /// While starting: the error-wait (IdleHold) timer (`Error wait:`).
    pub error_wait: Option<Countdown>,
    /// While starting: the connect-retry timer (`Connect delay:`).
    pub connect_delay: Option<Countdown>,
    /// While the neighbour restarts: when its restart time runs out (`Restart timer: N/-`).
    pub restart_timer: Option<Countdown>,
    /// The established session, when there is one.
    pub session: Option<SessionInfo>,
    /// The last error, already in BIRD's words: see [`socket_error`], [`received_notification`],
    /// [`sent_notification`], [`misc_error`]. Shown in the info column and as `Last error:`.
    pub last_error: Option<String>,
    /// Message counters, if the daemon keeps them (wren's CLI only).
    pub counters: Option<PeerCounters>,
}

/// An established session (printed while the protocol is up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `Neighbor ID:` (the peer's BGP identifier).
    pub neighbor_id: Ipv4Addr,
    /// `Neighbor caps:` in BIRD's words and order: `refresh`, `enhanced-refresh`,
    /// `restart-able` or `restart-aware`, `llgr-able` or `llgr-aware`, `AS4`, `add-path-rx`,
    /// `add-path-tx`, `ext-messages`.
    pub neighbor_caps: Vec<String>,
    /// `Session:`: `internal` or `external`, then `multihop`, `route-reflector`,
    /// `route-server`, `AS4`, `add-path-rx`, `add-path-tx`, `ext-messages` as they apply.
    pub session_flags: Vec<String>,
    /// `Source address:`.
    pub source_address: IpAddr,
    /// `Route limit:` (routes, limit), if a limit is configured.
    pub route_limit: Option<(u32, u32)>,
    /// `Hold timer:` (left / negotiated hold time).
    pub hold_timer: Countdown,
    /// `Keepalive timer:` (left / keepalive time).
    pub keepalive_timer: Countdown,
}

/// Message counters of a session (not part of BIRD's output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCounters {
    /// Messages received.
    pub messages_received: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// UPDATE messages received.
    pub updates_received: u64,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// How many times the session reached Established.
    pub established_transitions: u64,
}

/// One prefix of `show route` with every path to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// The prefix.
    #[serde(with = "ipnet_str")]
    pub prefix: IpNet,
    /// Its paths, the primary (best) one first.
    pub paths: Vec<PathInfo>,
}

/// One path (BIRD: one `rte`) of a prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathInfo {
    /// Where packets go.
    pub dest: Dest,
    /// The protocol that supplied it (`Mesh_…`, `static1`, `kernel1`, `direct1`).
    pub protocol: String,
    /// When it last changed.
    #[serde(with = "rfc3339")]
    pub since: SystemTime,
    /// The neighbour it came from, when that differs from the gateway (` from 10.0.0.5`).
    pub from: Option<IpAddr>,
    /// The best path of its prefix (` *`).
    pub primary: bool,
    /// BIRD's preference (`(100/0)`, `(200)`).
    pub preference: u32,
    /// BGP attributes, for BGP paths.
    pub bgp: Option<BgpPathInfo>,
    /// For a path that is not the best: the decision step at which it lost (the words of
    /// `rib::best::Reason`, e.g. `lower local-pref`). wren's CLI only.
    pub lost_reason: Option<String>,
}

/// The destination of a path (BIRD's `via`, `dev`, `blackhole`, … column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Dest {
    /// `via GW on IFACE`.
    Router {
        /// The gateway.
        gateway: IpAddr,
        /// The outgoing interface.
        iface: String,
    },
    /// `dev IFACE`.
    Device {
        /// The interface.
        iface: String,
    },
    /// `blackhole`.
    Blackhole,
    /// `unreachable`.
    Unreachable,
    /// `prohibited`.
    Prohibited,
    /// `multipath`, then one `via GW on IFACE weight W` line per next hop.
    Multipath {
        /// The next hops.
        hops: Vec<NextHop>,
    },
}

/// One next hop of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextHop {
    /// The gateway.
    pub gateway: IpAddr,
    /// The outgoing interface.
    pub iface: String,
    /// The weight as printed (1 = default).
    pub weight: u32,
}

/// BGP attributes of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpPathInfo {
    /// ORIGIN.
    pub origin: PathOrigin,
    /// AS_PATH, flattened, leftmost (neighbour) first.
    pub as_path: Vec<u32>,
    /// NEXT_HOP.
    pub next_hop: IpAddr,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// Communities, as text (`64512:100`, `no-export`, large ones `1:2:3`).
    pub communities: Vec<String>,
    /// The IGP metric to the next hop when it was resolved recursively (BIRD's `/0` after the
    /// preference); `None` prints no slash.
    pub igp_metric: Option<u32>,
    /// ORIGINATOR_ID (reflected routes).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (reflected routes).
    pub cluster_list: Vec<Ipv4Addr>,
}

/// The ORIGIN attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathOrigin {
    /// IGP (`i`).
    Igp,
    /// EGP (`e`).
    Egp,
    /// INCOMPLETE (`?`).
    Incomplete,
}

impl PathOrigin {
    /// BIRD's one-letter code.
    pub const fn letter(self) -> char {
        match self {
            PathOrigin::Igp => 'i',
            PathOrigin::Egp => 'e',
            PathOrigin::Incomplete => '?',
        }
    }
}

/// The kind of Calico BGP peer, which gives the protocol-name prefix confd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalicoPeerKind {
    /// Node-to-node mesh (`Mesh_`).
    Mesh,
    /// A BGPPeer for every node (`Global_`).
    Global,
    /// A BGPPeer for selected nodes (`Node_`).
    Node,
    /// A BGPPeer with a local workload selector (`Local_Workload_`); Calico's tools ignore it.
    LocalWorkload,
}

/// The protocol name confd gives a peer: `<Prefix>_<ip with . or : replaced by _>`, plus
/// `_port_<port>` for a non-default port (`Mesh_10_192_0_3`, `Mesh_fd00_10__3`,
/// `Global_172_19_4_87_port_5000`).
pub fn calico_peer_name(kind: CalicoPeerKind, peer: IpAddr, port: Option<u16>) -> String {
    let prefix = match kind {
        CalicoPeerKind::Mesh => "Mesh",
        CalicoPeerKind::Global => "Global",
        CalicoPeerKind::Node => "Node",
        CalicoPeerKind::LocalWorkload => "Local_Workload",
    };
    let ip = peer.to_string().replace(['.', ':'], "_");
    match port {
        Some(p) if p != 179 => format!("{prefix}_{ip}_port_{p}"),
        _ => format!("{prefix}_{ip}"),
    }
}

/// BIRD's text for a NOTIFICATION error code and subcode (`bgp_error_dsc` in BIRD 1.6.8),
/// e.g. `Hold timer expired` for 4/0, `Unknown error 9.9` for codes it does not know.
pub fn notification_text(code: u8, subcode: u8) -> String {
    let known = match (code, subcode) {
        (1, 0) => "Invalid message header",
        (1, 1) => "Connection not synchronized",
        (1, 2) => "Bad message length",
        (1, 3) => "Bad message type",
        (2, 0) => "Invalid OPEN message",
        (2, 1) => "Unsupported version number",
        (2, 2) => "Bad peer AS",
        (2, 3) => "Bad BGP identifier",
        (2, 4) => "Unsupported optional parameter",
        (2, 5) => "Authentication failure",
        (2, 6) => "Unacceptable hold time",
        (2, 7) => "Required capability missing",
        (2, 8) => "No supported AFI/SAFI",
        (3, 0) => "Invalid UPDATE message",
        (3, 1) => "Malformed attribute list",
        (3, 2) => "Unrecognized well-known attribute",
        (3, 3) => "Missing mandatory attribute",
        (3, 4) => "Invalid attribute flags",
        (3, 5) => "Invalid attribute length",
        (3, 6) => "Invalid ORIGIN attribute",
        (3, 7) => "AS routing loop",
        (3, 8) => "Invalid NEXT_HOP attribute",
        (3, 9) => "Optional attribute error",
        (3, 10) => "Invalid network field",
        (3, 11) => "Malformed AS_PATH",
        (4, 0) => "Hold timer expired",
        (5, 0) => "Finite state machine error",
        (5, 1) => "Unexpected message in OpenSent state",
        (5, 2) => "Unexpected message in OpenConfirm state",
        (5, 3) => "Unexpected message in Established state",
        (6, 0) => "Cease",
        (6, 1) => "Maximum number of prefixes reached",
        (6, 2) => "Administrative shutdown",
        (6, 3) => "Peer de-configured",
        (6, 4) => "Administrative reset",
        (6, 5) => "Connection rejected",
        (6, 6) => "Other configuration change",
        (6, 7) => "Connection collision resolution",
        (6, 8) => "Out of Resources",
        (7, 0) => "Invalid ROUTE-REFRESH message",
        (7, 1) => "Invalid ROUTE-REFRESH message length",
        _ => return format!("Unknown error {code}.{subcode}"),
    };
    known.to_owned()
}

/// The last error after a NOTIFICATION from the peer: `Received: Hold timer expired`.
pub fn received_notification(code: u8, subcode: u8) -> String {
    format!("Received: {}", notification_text(code, subcode))
}

/// The last error after we sent a NOTIFICATION: `BGP Error: Hold timer expired`.
pub fn sent_notification(code: u8, subcode: u8) -> String {
    format!("BGP Error: {}", notification_text(code, subcode))
}

/// The last error after a transport failure, with the C library's words as BIRD prints them:
/// `Socket: Connection refused`; `Socket: Connection closed` when the peer closed the
/// connection (no OS error).
pub fn socket_error(err: Option<&std::io::Error>) -> String {
    match err {
        None => "Socket: Connection closed".to_owned(),
        Some(e) => {
            let text = e.to_string();
            // std formats OS errors as "<strerror> (os error N)"; BIRD prints strerror only.
            let words = match text.rfind(" (os error ") {
                Some(at) => text.get(..at).unwrap_or(&text),
                None => text.as_str(),
            };
            format!("Socket: {words}")
        }
    }
}

/// The last error for BIRD's other causes: `Error: Neighbor lost`, `Error: Graceful restart`,
/// `Error: Kernel MD5 auth failed`, …
pub fn misc_error(what: &str) -> String {
    format!("Error: {what}")
}

/// The last error after a prefix limit shut the session down:
/// `Automatic shutdown: Route limit exceeded`.
pub fn limit_shutdown() -> String {
    "Automatic shutdown: Route limit exceeded".to_owned()
}

/// Calendar date and time of `t` in UTC: (year, month, day, hour, minute, second). No date
/// crate: BIRD's timestamps and the benchmarks' result directories are all that need one.
pub fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        y,
        small(m),
        small(d),
        small(rem / 3600),
        small(rem % 3600 / 60),
        small(rem % 60),
    )
}

/// Seconds since the epoch of a UTC calendar date and time (inverse of [`civil`]).
fn from_civil(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (BIRD's `%F %T`).
pub fn format_datetime(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// BIRD's default time format for the since columns: `%T` (HH:MM:SS) when `t` is less than
/// 20 hours before `now`, else `%F` (YYYY-MM-DD). UTC.
pub fn format_since(t: SystemTime, now: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    let age = now.duration_since(t).unwrap_or(Duration::ZERO);
    if age < Duration::from_secs(20 * 3600) {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02}")
    }
}

/// Serde for [`SystemTime`] as an RFC 3339 UTC string (`2024-05-01T10:15:30Z`).
mod rfc3339 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let (y, mo, d, h, mi, sec) = super::civil(*t);
        s.serialize_str(&format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("bad time {text:?}")))
    }

    fn parse(text: &str) -> Option<SystemTime> {
        let t = text.strip_suffix('Z')?;
        let (date, time) = t.split_once('T')?;
        let mut dp = date.splitn(3, '-');
        let y: i64 = dp.next()?.parse().ok()?;
        let mo: u32 = dp.next()?.parse().ok()?;
        let d: u32 = dp.next()?.parse().ok()?;
        let mut tp = time.splitn(3, ':');
        let h: u32 = tp.next()?.parse().ok()?;
        let mi: u32 = tp.next()?.parse().ok()?;
        let s: u32 = tp.next()?.parse().ok()?;
        let secs = super::from_civil(y, mo, d, h, mi, s);
        let abs = Duration::from_secs(secs.unsigned_abs());
        if secs >= 0 {
            UNIX_EPOCH.checked_add(abs)
        } else {
            UNIX_EPOCH.checked_sub(abs)
        }
    }
}

/// Serde for [`IpNet`] as its text form (`10.0.0.0/24`).
mod ipnet_str {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(n: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(n)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_notification_is_described_in_birds_words() {
        assert_eq!(received_notification(4, 0), "Received: Hold timer expired");
        assert_eq!(
            sent_notification(6, 2),
            "BGP Error: Administrative shutdown"
        );
        assert_eq!(notification_text(2, 2), "Bad peer AS");
        assert_eq!(notification_text(9, 9), "Unknown error 9.9");
    }

    #[test]
    fn a_socket_error_is_strerror_without_rusts_suffix() {
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(socket_error(Some(&refused)), "Socket: Connection refused");
        assert_eq!(socket_error(None), "Socket: Connection closed");
    }

    #[test]
    fn calico_peer_names_replace_dots_and_colons() {
        let v4: IpAddr = "10.192.0.3".parse().unwrap();
        let v6: IpAddr = "fd00:10::3".parse().unwrap();
        assert_eq!(
            calico_peer_name(CalicoPeerKind::Mesh, v4, None),
            "Mesh_10_192_0_3"
        );
        assert_eq!(
            calico_peer_name(CalicoPeerKind::Mesh, v6, Some(179)),
            "Mesh_fd00_10__3"
        );
        assert_eq!(
            calico_peer_name(CalicoPeerKind::Global, v4, Some(5000)),
            "Global_10_192_0_3_port_5000"
        );
    }

    #[test]
    fn times_print_as_utc_and_the_since_column_switches_to_a_date_after_20_hours() {
        // 2024-05-01 10:15:30 UTC
        let t = at(1_714_558_530);
        assert_eq!(format_datetime(t), "2024-05-01 10:15:30");
        assert_eq!(format_since(t, at(1_714_558_530 + 71_999)), "10:15:30");
        assert_eq!(format_since(t, at(1_714_558_530 + 72_000)), "2024-05-01");
        assert_eq!(format_datetime(at(951_782_400)), "2000-02-29 00:00:00");
    }

    #[test]
    fn times_round_trip_through_json_text() {
        for secs in [0, 951_782_400, 1_714_558_530, 4_102_444_799] {
            let c = Countdown {
                expires: at(secs),
                period_secs: 240,
            };
            let json = serde_json::to_string(&c).unwrap();
            let back: Countdown = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c, "{json}");
        }
    }

    #[test]
    fn a_countdown_never_goes_below_zero() {
        let c = Countdown {
            expires: at(100),
            period_secs: 240,
        };
        assert_eq!(c.remaining(at(40)), 60);
        assert_eq!(c.remaining(at(400)), 0);
    }
}
