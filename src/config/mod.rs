//! The static TOML configuration: `[global]`, `[control]`, `[[peer]]` and `[[originate]]`.
//!
//! **Owns:** the file format (the serde structs [`RawConfig`] and its tables, every key spelled
//! once), the validation pass that turns a [`RawConfig`] into a checked [`Config`] (rustybgp
//! style: deserialize first, then validate), the defaults, the embedded default configuration
//! (`config/wren.toml`), the one-line errors that name the file, the key and the problem
//! ([`Error`]), and the conversion of a validated peer into the state machine's [`fsm::Config`].
//!
//! **Must not depend on:** tokio, sockets, the clock, or any adapter. This is pure parsing and
//! validation; the only I/O is [`Config::load`] reading one file. Nothing here opens a socket or
//! checks that an address is configured on the machine: that is the session layer's job.
//!
//! ```text
//!   text ──toml+serde──► RawConfig ──validate()──► Config ──Config::fsm_config(peer)──► fsm::Config
//!          (types, unknown keys)     (ranges, uniqueness, cross-key rules)
//! ```

mod raw;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::fsm;
use crate::rib;
use crate::wire::{
    AddPathFamily, AddPathMode, Capability, Community, Family, GracefulRestart,
    GracefulRestartFamily,
};

pub use raw::{
    AddPaths, FamilyName, RawConfig, RawControl, RawDatastore, RawGlobal, RawKernel, RawLearn,
    RawMetrics, RawOriginate, RawPeer, RawTunnel, TunnelModeName,
};

/// The annotated default configuration, `config/wren.toml`, compiled into the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/wren.toml");

/// The origin name [`Config::embedded_default`] reports in errors and summaries.
pub const EMBEDDED_ORIGIN: &str = "<embedded default config/wren.toml>";

/// The BGP port (RFC 4271 §8.2.1), default for `global.listen_port` and `peer.port`.
pub const DEFAULT_PORT: u16 = 179;

/// The default `control.socket` path.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/wren/wren.ctl";

/// The default `peer.connect_retry`, in seconds (RFC 4271 §10 suggests 120).
pub const DEFAULT_CONNECT_RETRY_SECS: u32 = 120;

/// The longest TCP-MD5 key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`, RFC 2385).
pub const MAX_PASSWORD_LEN: usize = 80;

/// The longest peer name (BIRD's `SYM_MAX_LEN` is 64).
pub const MAX_NAME_LEN: usize = 64;

/// The default `kernel.restart_wait`, in seconds (BIRD's `graceful restart wait`).
pub const DEFAULT_RESTART_WAIT_SECS: u32 = 240;

/// The default `global.restart_time`, in seconds (BIRD's and Calico's 120).
pub const DEFAULT_RESTART_TIME: u16 = 120;

/// The largest restart time the 12-bit capability field carries (RFC 4724 §3).
pub const MAX_RESTART_TIME: u16 = 4095;

/// The largest `peer.allow_local_as` (Calico's `numAllowedLocalASNumbers` is 0..=10).
pub const MAX_ALLOW_LOCAL_AS: u8 = 10;

/// AS_TRANS (RFC 6793 §9): never a real AS, so never a configured one.
pub const AS_TRANS: u32 = 23456;

/// A configuration error. Its `Display` always names the file (or origin), the key path (such as
/// `peer[1].hold_time`) and what is wrong, on one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{file}: cannot read the configuration file: {source}")]
    Read {
        /// The path given.
        file: String,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// TOML syntax error, wrong type, unknown or missing key: the toml crate's message, with the
    /// line and column it reported and the key path found at that position.
    #[error("{file}:{line}:{column}: {key}: {message}")]
    Toml {
        /// The file (or origin name).
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The key path at that position, such as `peer[0].hold_time`, or `(document)`.
        key: String,
        /// The toml crate's description of the problem.
        message: String,
    },
    /// The file parsed but breaks a rule, such as a hold time of 2 seconds.
    #[error("{file}: {key}: {problem}")]
    Invalid {
        /// The file (or origin name).
        file: String,
        /// The key path, such as `peer[1].hold_time`.
        key: String,
        /// What is wrong, and when possible how to fix it.
        problem: String,
    },
}

impl Error {
    /// The file (or origin name) the error is about.
    pub fn file(&self) -> &str {
        match self {
            Error::Read { file, .. } | Error::Toml { file, .. } | Error::Invalid { file, .. } => {
                file
            }
        }
    }

    /// The key path the error is about (`(file)` for a read error).
    pub fn key(&self) -> &str {
        match self {
            Error::Read { .. } => "(file)",
            Error::Toml { key, .. } | Error::Invalid { key, .. } => key,
        }
    }
}

/// A TCP-MD5 password (RFC 2385). `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself, for the socket option.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password(<{} octets>)", self.0.len())
    }
}

/// Validated `[global]`: who we are and where we listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Local AS (4-octet; never 0 or AS_TRANS).
    pub asn: u32,
    /// BGP Identifier (never 0.0.0.0).
    pub router_id: Ipv4Addr,
    /// Address the listener binds (default `0.0.0.0`; `::` for dual stack).
    pub listen_address: IpAddr,
    /// TCP port the listener binds (default 179).
    pub listen_port: u16,
    /// CLUSTER_ID for route reflection (RFC 4456 §7); default the router id.
    pub cluster_id: Ipv4Addr,
    /// Compare MED between paths from different neighbour ASes (default false).
    pub always_compare_med: bool,
    /// Keep equal-cost best paths as a set for the kernel (ECMP; default false).
    pub multipath: bool,
    /// Advertise the Graceful Restart capability and keep the routes of restarting peers that
    /// advertise it (RFC 4724; default true).
    pub graceful_restart: bool,
    /// Restart time we advertise, seconds (default 120, at most 4095).
    pub restart_time: u16,
    /// Log level when `RUST_LOG` is not set: `error`, `warn`, `info` (default), `debug`, `trace`.
    /// At `info` wren logs one line per session change and per error, never one per route.
    pub log_level: String,
}

/// Validated `[control]`: the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Path of the unix control socket (default `/run/wren/wren.ctl`).
    pub socket: PathBuf,
}

/// A validated `[[peer]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Unique name, as shown by the control socket: `name`, or `Peer_<address>` with `.` and `:`
    /// replaced by `_` (like Calico's `Mesh_<ip>` and `Node_<ip>`).
    pub name: String,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS; iBGP when it equals `global.asn`.
    pub asn: u32,
    /// The peer's TCP port (default 179).
    pub port: u16,
    /// Never connect out, only accept (default false).
    pub passive: bool,
    /// Source address for the session, when set.
    pub local_address: Option<IpAddr>,
    /// Hold time we propose, seconds: 0 or at least 3 (default 90).
    pub hold_time: u16,
    /// Keepalive interval, seconds, below `hold_time`; `None` means a third of the negotiated
    /// hold time. The state machine caps it at a third of the negotiated hold time
    /// ([`fsm::Config::keepalive_interval`]).
    pub keepalive: Option<u16>,
    /// ConnectRetryTime (default 120 s).
    pub connect_retry: Duration,
    /// TCP-MD5 password (RFC 2385), at most 80 octets.
    pub password: Option<Password>,
    /// GTSM (RFC 5082): accept only packets at most this many hops away (1..=254).
    pub ttl_security: Option<u8>,
    /// Multihop eBGP: the TTL of outgoing packets (1..=255).
    pub multihop: Option<u8>,
    /// Address families announced with Multiprotocol capabilities; default the address's family.
    pub families: Vec<Family>,
    /// The AS we present to this peer (default `global.asn`); decides iBGP or eBGP.
    pub local_asn: u32,
    /// The peer is our route-reflector client (RFC 4456; iBGP only).
    pub rr_client: bool,
    /// Always announce our address as next hop.
    pub next_hop_self: bool,
    /// Never change the next hop, even over eBGP.
    pub next_hop_keep: bool,
    /// How often our AS may appear in a received AS_PATH before the path counts as a loop.
    pub allow_local_as: u8,
    /// Most prefixes accepted; above it the session is closed with Cease subcode 1 (RFC 4486).
    pub max_prefixes: Option<u32>,
    /// ADD-PATH directions negotiated (RFC 7911).
    pub add_paths: AddPaths,
    /// Our next hop for IPv4 routes on a session over IPv6 (default: the session's address when
    /// it is IPv4; none otherwise, so IPv4 routes that need "next hop self" are not sent).
    pub next_hop_v4: Option<std::net::Ipv4Addr>,
    /// Our next hop for IPv6 routes on a session over IPv4 (same rule for IPv6).
    pub next_hop_v6: Option<std::net::Ipv6Addr>,
    /// The restart time announced to this peer in the Graceful Restart capability (RFC 4724
    /// §3; BIRD's per-protocol `graceful restart time`); `None`: `global.restart_time`.
    pub restart_time: Option<u16>,
}

impl Peer {
    /// Whether the session is internal: the peer's AS is the one we present to it
    /// (`local_asn`, default `global.asn`).
    pub fn is_ibgp(&self) -> bool {
        self.asn == self.local_asn
    }
}

/// A validated `[[originate]]`: a prefix we announce to every peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// The prefix, host bits clear.
    pub prefix: IpNet,
    /// Next hop to announce, same family as the prefix; `None` means the session's own address.
    pub next_hop: Option<IpAddr>,
    /// Standard communities (RFC 1997) attached to the announcement.
    pub communities: Vec<Community>,
    /// Also install a blackhole route for the prefix in the kernel (Calico's local blocks).
    pub blackhole: bool,
    /// Not from the file: also install a kernel route via `next_hop` (Calico's `reachableBy`
    /// routes to BGP peers behind a gateway, BIRD's `route <peer>/32 via <gateway>`).
    pub install: bool,
}

/// Validated `[datastore]` in Calico mode (`type = "etcdv3"`). calico-node's environment
/// (`ETCD_ENDPOINTS`, `ETCD_*_FILE`, `NODENAME`) overrides each value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datastore {
    /// etcd endpoints, e.g. `https://10.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// CA certificate file (TLS).
    pub ca_cert_file: Option<PathBuf>,
    /// Client certificate file (TLS).
    pub cert_file: Option<PathBuf>,
    /// Client key file (TLS).
    pub key_file: Option<PathBuf>,
    /// This node's name in Calico (default: `NODENAME`, else the host name).
    pub node_name: Option<String>,
    /// Where the Kubernetes Secrets holding BGP passwords are mounted, laid out as a Secret
    /// volume: `<secrets_dir>/<secret name>/<key>` (BGPPeer `password.secretKeyRef`).
    pub secrets_dir: Option<PathBuf>,
}

/// Validated `[kernel]`: how best routes go into the Linux FIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Install routes at all (default true).
    pub enabled: bool,
    /// Route protocol of wren's routes (default 12, BIRD's number, which Calico expects).
    pub protocol: u8,
    /// Routing table (default 254, main).
    pub table: u32,
    /// Metric of wren's routes (default 0).
    pub metric: u32,
    /// After a start, how long to wait for every peer's End-of-RIB before deleting the routes a
    /// previous run left that nothing wants (default 240 s).
    pub restart_wait: Duration,
    /// IP-in-IP rules (`[[kernel.tunnel]]`).
    pub tunnels: Vec<crate::fib::sync::Tunnel>,
    /// Learn rules (`[[kernel.learn]]`).
    pub learn: Vec<crate::fib::sync::LearnRule>,
    /// `reject`: best routes inside these prefixes are never programmed (in Calico mode also
    /// VXLAN pools, pools Felix programs, and service ranges).
    pub reject: crate::policy::KernelPolicy,
}

/// A validated configuration: every rule in [`RawConfig::validate`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where it came from: the file path, or [`EMBEDDED_ORIGIN`].
    pub origin: String,
    /// `[global]`.
    pub global: Global,
    /// `[control]`.
    pub control: Control,
    /// Every `[[peer]]`, in file order.
    pub peers: Vec<Peer>,
    /// Every `[[originate]]`, in file order.
    pub originate: Vec<Originate>,
    /// `[kernel]`.
    pub kernel: Kernel,
    /// `[metrics]`: the Prometheus endpoint (off by default).
    pub metrics: crate::metrics::MetricsSettings,
    /// `[datastore] type = "etcdv3"`: Calico mode; peers, AS numbers and blocks come from etcd
    /// (the file's `[[peer]]`/`[[originate]]` are replaced). `None`: this file is the datastore.
    pub datastore: Option<Datastore>,
    /// Not from the file: the export policy every route sent to a peer passes (Calico mode's
    /// `calico_export_to_bgp_peers`); `None`, the static file's case, exports every best route.
    pub export: Option<crate::policy::ExportPolicy>,
    /// Not from the file: wren was started after a restart of its own (`wren run
    /// --graceful-restart`), so its OPENs set the Restart State bit (RFC 4724 §3).
    pub restarting: bool,
}

impl Config {
    /// Reads, parses and validates the file at `path`. Errors name the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            file: file.clone(),
            source,
        })?;
        Config::from_str(&text, &file)
    }

    /// Parses and validates `text`; `origin` (a path or a name) is what errors report.
    pub fn from_str(text: &str, origin: &str) -> Result<Config, Error> {
        RawConfig::parse(text, origin)?.validate(origin)
    }

    /// The embedded default, `config/wren.toml`: AS 64512, router id 198.51.100.1, the demo's
    /// GoBGP ToR as the one peer, and 198.51.100.0/24 originated.
    pub fn embedded_default() -> Result<Config, Error> {
        Config::from_str(EMBEDDED_DEFAULT, EMBEDDED_ORIGIN)
    }

    /// The state machine's configuration for `peer`: our AS and router id, the peer's AS, hold
    /// time, keepalive, ConnectRetry, passive, and one Multiprotocol capability per family (added
    /// by [`fsm::Config::local_open`]). Route Refresh is announced (the [`fsm::Config::new`]
    /// default) and 4-octet AS is always added by [`crate::wire::Open::new`].
    pub fn fsm_config(&self, peer: &Peer) -> fsm::Config {
        let mut c = fsm::Config::new(peer.local_asn, self.global.router_id, peer.asn);
        c.hold_time = peer.hold_time;
        c.keepalive_time = peer.keepalive;
        c.connect_retry = peer.connect_retry;
        c.passive = peer.passive;
        c.families = peer.families.clone();
        if !c.capabilities.contains(&Capability::RouteRefresh) {
            c.capabilities.push(Capability::RouteRefresh);
        }
        if self.global.graceful_restart {
            c.capabilities
                .push(Capability::GracefulRestart(GracefulRestart {
                    restart_state: self.restarting,
                    notification: false,
                    restart_time: peer.restart_time.unwrap_or(self.global.restart_time),
                    families: peer
                        .families
                        .iter()
                        .map(|&family| GracefulRestartFamily {
                            family,
                            forwarding_preserved: false,
                        })
                        .collect(),
                }));
        }
        let mode = match peer.add_paths {
            AddPaths::Off => None,
            AddPaths::Receive => Some(AddPathMode::Receive),
            AddPaths::Send => Some(AddPathMode::Send),
            AddPaths::Both => Some(AddPathMode::Both),
        };
        if let Some(mode) = mode {
            c.capabilities.push(Capability::AddPath(
                peer.families
                    .iter()
                    .map(|&family| AddPathFamily { family, mode })
                    .collect(),
            ));
        }
        c
    }

    /// The RIB's settings (RFC 4456 cluster id, decision options).
    pub fn rib_global(&self) -> rib::Global {
        let g = &self.global;
        rib::Global {
            asn: g.asn,
            router_id: g.router_id,
            cluster_id: g.cluster_id,
            best: rib::best::Options {
                always_compare_med: g.always_compare_med,
                multipath: g.multipath,
            },
        }
    }

    /// The RIB's view of `peer`: its routing options.
    pub fn rib_peer(&self, peer: &Peer) -> rib::PeerConfig {
        rib::PeerConfig {
            name: peer.name.clone(),
            address: peer.address.to_canonical(),
            remote_asn: peer.asn,
            local_asn: peer.local_asn,
            rr_client: peer.rr_client,
            next_hop_self: peer.next_hop_self,
            next_hop_keep: peer.next_hop_keep,
            allow_local_as: peer.allow_local_as,
            max_prefixes: peer.max_prefixes,
        }
    }

    /// A short human summary, as `wren check` prints it.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: OK\n", self.origin);
        s.push_str(&format!(
            "local AS {}, router id {}, listening on {}, control socket {}\n",
            self.global.asn,
            self.global.router_id,
            std::net::SocketAddr::new(self.global.listen_address, self.global.listen_port),
            self.control.socket.display()
        ));
        s.push_str(&format!("{}\n", plural(self.peers.len(), "peer", "peers")));
        for p in &self.peers {
            let families: Vec<String> = p.families.iter().map(ToString::to_string).collect();
            s.push_str(&format!(
                "  {}  {}  AS {}  {}  {}{}\n",
                p.name,
                p.address,
                p.asn,
                if p.is_ibgp() { "iBGP" } else { "eBGP" },
                families.join(","),
                if p.passive { "  passive" } else { "" }
            ));
        }
        s.push_str(&format!(
            "{}\n",
            plural(
                self.originate.len(),
                "originated prefix",
                "originated prefixes"
            )
        ));
        for o in &self.originate {
            let mut line = format!("  {}", o.prefix);
            if let Some(nh) = o.next_hop {
                line.push_str(&format!("  next hop {nh}"));
            }
            if !o.communities.is_empty() {
                let c: Vec<String> = o.communities.iter().map(ToString::to_string).collect();
                line.push_str(&format!("  communities {}", c.join(" ")));
            }
            s.push_str(&line);
            s.push('\n');
        }
        s
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The default peer name for `address`: `Peer_` and the address with `.` and `:` as `_`.
pub fn default_peer_name(address: IpAddr) -> String {
    format!("Peer_{}", address.to_string().replace(['.', ':'], "_"))
}

/// Parses a standard community: `asn:value` (two 16-bit numbers) or one of the well-known names
/// `no-export`, `no-advertise`, `no-export-subconfed` (RFC 1997).
pub fn parse_community(s: &str) -> Result<Community, String> {
    match s {
        "no-export" => return Ok(Community::NO_EXPORT),
        "no-advertise" => return Ok(Community::NO_ADVERTISE),
        "no-export-subconfed" => return Ok(Community::NO_EXPORT_SUBCONFED),
        _ => {}
    }
    let bad = || {
        format!(
            "community {s:?} is not \"asn:value\" with both parts 0..=65535, nor one of \
             \"no-export\", \"no-advertise\", \"no-export-subconfed\""
        )
    };
    let (a, v) = s.split_once(':').ok_or_else(bad)?;
    let a: u16 = a.parse().map_err(|_| bad())?;
    let v: u16 = v.parse().map_err(|_| bad())?;
    Ok(Community::new(a, v))
}
