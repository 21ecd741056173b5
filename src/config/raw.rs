//! The file format as serde sees it: one struct per table, unknown keys refused, values typed.
//! [`RawConfig::validate`] applies the defaults and the rules that types cannot express.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::{
    default_peer_name, parse_community, Config, Control, Datastore, Error, Global, Kernel,
    Originate, Password, Peer, AS_TRANS, DEFAULT_CONNECT_RETRY_SECS, DEFAULT_CONTROL_SOCKET,
    DEFAULT_PORT, DEFAULT_RESTART_TIME, DEFAULT_RESTART_WAIT_SECS, MAX_ALLOW_LOCAL_AS,
    MAX_NAME_LEN, MAX_PASSWORD_LEN, MAX_RESTART_TIME,
};
use crate::fsm::DEFAULT_HOLD_TIME;
use crate::wire::Family;

/// The whole file, as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[global]` (required).
    pub global: RawGlobal,
    /// `[control]` (optional).
    #[serde(default)]
    pub control: RawControl,
    /// `[[peer]]`, any number.
    #[serde(default)]
    pub peer: Vec<RawPeer>,
    /// `[[originate]]`, any number.
    #[serde(default)]
    pub originate: Vec<RawOriginate>,
    /// `[kernel]` (optional).
    #[serde(default)]
    pub kernel: RawKernel,
    /// `[metrics]` (optional).
    #[serde(default)]
    pub metrics: RawMetrics,
    /// `[datastore]` (optional).
    #[serde(default)]
    pub datastore: RawDatastore,
}

/// `[datastore]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatastore {
    /// `"static"` (default) or `"etcdv3"`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// etcd endpoints.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// CA file.
    pub ca_cert_file: Option<PathBuf>,
    /// Client certificate.
    pub cert_file: Option<PathBuf>,
    /// Client key.
    pub key_file: Option<PathBuf>,
    /// This node's Calico name.
    pub node_name: Option<String>,
    /// Where Kubernetes Secrets with BGP passwords are mounted.
    pub secrets_dir: Option<PathBuf>,
}

/// `[metrics]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address and port of the Prometheus endpoint (default: off).
    pub listen: Option<std::net::SocketAddr>,
}

/// `[kernel]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKernel {
    /// Install best routes into the kernel (default true).
    pub enabled: Option<bool>,
    /// Route protocol number (default 12, `bird`).
    pub protocol: Option<u8>,
    /// Routing table (default 254, main).
    pub table: Option<u32>,
    /// Route metric (default 0).
    pub metric: Option<u32>,
    /// Seconds to wait for every peer's End-of-RIB before deleting adopted routes (default 240).
    pub restart_wait: Option<u32>,
    /// IP-in-IP rules.
    #[serde(default)]
    pub tunnel: Vec<RawTunnel>,
    /// Rules for learning routes of other protocols.
    #[serde(default)]
    pub learn: Vec<RawLearn>,
    /// Prefixes whose routes (and more specific ones) are never programmed.
    #[serde(default)]
    pub reject: Vec<String>,
}

/// `[[kernel.tunnel]]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTunnel {
    /// The pool.
    #[serde(deserialize_with = "from_str_value")]
    pub pool: IpNet,
    /// `"always"` or `"cross-subnet"`.
    pub mode: TunnelModeName,
    /// The device (default `tunl0`).
    pub device: Option<String>,
}

/// `kernel.tunnel.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelModeName {
    /// Calico's `Always`.
    Always,
    /// Calico's `CrossSubnet`.
    CrossSubnet,
}

/// `[[kernel.learn]]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLearn {
    /// Device name, `*` at the end matches any suffix.
    pub interface: Option<String>,
    /// Route protocol number.
    pub protocol: Option<u8>,
    /// Routing table.
    pub table: Option<u32>,
    /// Only prefixes inside this one.
    #[serde(default, deserialize_with = "opt_from_str_value")]
    pub within: Option<IpNet>,
}

/// `[global]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    /// Local AS.
    pub asn: u32,
    /// BGP Identifier, a dotted quad.
    pub router_id: Ipv4Addr,
    /// Listener address (default `0.0.0.0`).
    pub listen_address: Option<IpAddr>,
    /// Listener port (default 179).
    pub listen_port: Option<u16>,
    /// Route-reflector CLUSTER_ID (default the router id).
    pub cluster_id: Option<Ipv4Addr>,
    /// Compare MED across neighbour ASes (default false).
    pub always_compare_med: Option<bool>,
    /// Keep equal-cost paths as a set for the kernel (default false).
    pub multipath: Option<bool>,
    /// Advertise Graceful Restart and help restarting peers (default true).
    pub graceful_restart: Option<bool>,
    /// Restart time advertised, seconds (default 120).
    pub restart_time: Option<u16>,
    /// Log level when RUST_LOG is not set (default "info").
    pub log_level: Option<String>,
}

/// `[control]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    /// Control socket path (default `/run/wren/wren.ctl`).
    pub socket: Option<PathBuf>,
}

/// A family name in `peer.families`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FamilyName {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

impl FamilyName {
    /// The AFI/SAFI it stands for.
    pub fn family(self) -> Family {
        match self {
            FamilyName::Ipv4 => Family::IPV4_UNICAST,
            FamilyName::Ipv6 => Family::IPV6_UNICAST,
        }
    }
}

/// `[[peer]]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    /// Peer address.
    pub address: IpAddr,
    /// Peer AS.
    pub asn: u32,
    /// Name (default `Peer_<address>`).
    pub name: Option<String>,
    /// Peer port (default 179).
    pub port: Option<u16>,
    /// Only accept (default false).
    pub passive: Option<bool>,
    /// Source address.
    pub local_address: Option<IpAddr>,
    /// Hold time, seconds (default 90).
    pub hold_time: Option<u16>,
    /// Keepalive, seconds (default a third of the negotiated hold time).
    pub keepalive: Option<u16>,
    /// ConnectRetry, seconds (default 120).
    pub connect_retry: Option<u32>,
    /// TCP-MD5 password.
    pub password: Option<String>,
    /// GTSM hop count.
    pub ttl_security: Option<u16>,
    /// Multihop TTL.
    pub multihop: Option<u16>,
    /// Families (default the address's family).
    pub families: Option<Vec<FamilyName>>,
    /// The AS presented to this peer (default `global.asn`).
    pub local_asn: Option<u32>,
    /// The peer is a route-reflector client (default false).
    pub rr_client: Option<bool>,
    /// Always announce our address as next hop (default false).
    pub next_hop_self: Option<bool>,
    /// Never change the next hop (default false).
    pub next_hop_keep: Option<bool>,
    /// Occurrences of our AS allowed in received AS paths (default 0).
    pub allow_local_as: Option<u8>,
    /// Prefix limit (default none).
    pub max_prefixes: Option<u32>,
    /// Graceful-restart time announced to this peer (default `global.restart_time`).
    pub restart_time: Option<u16>,
    /// ADD-PATH (default "off").
    pub add_paths: Option<AddPaths>,
    /// Our IPv4 next hop for IPv4 routes when the session runs over IPv6.
    pub next_hop_v4: Option<std::net::Ipv4Addr>,
    /// Our IPv6 next hop for IPv6 routes when the session runs over IPv4.
    pub next_hop_v6: Option<std::net::Ipv6Addr>,
}

/// `peer.add_paths`: which ADD-PATH directions (RFC 7911) to negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddPaths {
    /// No ADD-PATH.
    #[default]
    Off,
    /// Accept several paths per prefix from the peer.
    Receive,
    /// Send every path of a prefix to the peer, each with a path identifier.
    Send,
    /// Both directions.
    Both,
}

/// `[[originate]]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOriginate {
    /// The prefix, such as `198.51.100.0/24`.
    #[serde(deserialize_with = "from_str_value")]
    pub prefix: IpNet,
    /// Next hop (default: the session's own address).
    pub next_hop: Option<IpAddr>,
    /// Communities, `"asn:value"` or a well-known name.
    #[serde(default)]
    pub communities: Vec<String>,
    /// Install a blackhole route for the prefix (Calico's local IPAM blocks; default false).
    pub blackhole: Option<bool>,
}

/// Like [`from_str_value`] for an optional key.
fn opt_from_str_value<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    from_str_value(d).map(Some)
}

/// Deserializes any `FromStr` type from a TOML string, keeping its parse error as the message.
fn from_str_value<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    s.parse::<T>()
        .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
}

impl RawConfig {
    /// Parses TOML text; errors carry `origin`, the line and column, and the key path there.
    pub fn parse(text: &str, origin: &str) -> Result<RawConfig, Error> {
        toml::from_str(text).map_err(|e| {
            let start = e.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_column(text, start);
            Error::Toml {
                file: origin.to_string(),
                line,
                column,
                key: key_path_at(text, start),
                message: e.message().trim().to_string(),
            }
        })
    }

    /// Applies defaults and checks every rule; the first broken rule is the error.
    pub fn validate(&self, origin: &str) -> Result<Config, Error> {
        let err = |key: String, problem: String| Error::Invalid {
            file: origin.to_string(),
            key,
            problem,
        };
        let g = &self.global;
        check_asn(g.asn).map_err(|p| err("global.asn".into(), p))?;
        if g.router_id.is_unspecified() {
            return Err(err(
                "global.router_id".into(),
                "router_id must not be 0.0.0.0 (RFC 6286: a non-zero 32-bit identifier)".into(),
            ));
        }
        if g.listen_port == Some(0) {
            return Err(err(
                "global.listen_port".into(),
                "listen_port must be 1..=65535".into(),
            ));
        }
        if g.cluster_id.is_some_and(|c| c.is_unspecified()) {
            return Err(err(
                "global.cluster_id".into(),
                "cluster_id must not be 0.0.0.0 (RFC 4456 §7: a 4-octet non-zero id)".into(),
            ));
        }
        let restart_time = g.restart_time.unwrap_or(DEFAULT_RESTART_TIME);
        if restart_time > MAX_RESTART_TIME {
            return Err(err(
                "global.restart_time".into(),
                format!(
                    "restart_time must be at most {MAX_RESTART_TIME} seconds (a 12-bit field, \
                     RFC 4724 §3), got {restart_time}"
                ),
            ));
        }
        let log_level = g.log_level.clone().unwrap_or_else(|| "info".into());
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
            return Err(err(
                "global.log_level".into(),
                format!(
                    "log_level {log_level:?} is not one of \"error\", \"warn\", \"info\", \
                     \"debug\", \"trace\""
                ),
            ));
        }
        let global = Global {
            log_level,
            asn: g.asn,
            router_id: g.router_id,
            listen_address: g
                .listen_address
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            listen_port: g.listen_port.unwrap_or(DEFAULT_PORT),
            cluster_id: g.cluster_id.unwrap_or(g.router_id),
            always_compare_med: g.always_compare_med.unwrap_or(false),
            multipath: g.multipath.unwrap_or(false),
            graceful_restart: g.graceful_restart.unwrap_or(true),
            restart_time,
        };
        let control = Control {
            socket: self
                .control
                .socket
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        };
        if control.socket.as_os_str().is_empty() {
            return Err(err(
                "control.socket".into(),
                "socket must be a non-empty path".into(),
            ));
        }

        let mut peers = Vec::with_capacity(self.peer.len());
        let mut addresses = HashSet::new();
        let mut names = HashSet::new();
        for (i, p) in self.peer.iter().enumerate() {
            let key = |k: &str| format!("peer[{i}].{k}");
            let peer = p
                .validate(g.asn)
                .map_err(|(k, problem)| err(key(k), problem))?;
            if !addresses.insert(peer.address) {
                return Err(err(
                    key("address"),
                    format!(
                        "address {} is already used by an earlier peer",
                        peer.address
                    ),
                ));
            }
            if !names.insert(peer.name.clone()) {
                return Err(err(
                    key("name"),
                    format!(
                        "name {:?} is already used by an earlier peer (names must be unique)",
                        peer.name
                    ),
                ));
            }
            peers.push(peer);
        }

        let mut originate = Vec::with_capacity(self.originate.len());
        let mut prefixes = HashSet::new();
        for (i, o) in self.originate.iter().enumerate() {
            let key = |k: &str| format!("originate[{i}].{k}");
            let o = o.validate().map_err(|(k, problem)| err(key(&k), problem))?;
            if !prefixes.insert(o.prefix) {
                return Err(err(
                    key("prefix"),
                    format!("prefix {} is already originated above", o.prefix),
                ));
            }
            originate.push(o);
        }

        let kernel = self
            .kernel
            .validate()
            .map_err(|(k, problem)| err(format!("kernel.{k}"), problem))?;

        let datastore = match self.datastore.kind.as_deref() {
            None | Some("static") => None,
            Some("etcdv3") => Some(Datastore {
                endpoints: self.datastore.endpoints.clone(),
                ca_cert_file: self.datastore.ca_cert_file.clone(),
                cert_file: self.datastore.cert_file.clone(),
                key_file: self.datastore.key_file.clone(),
                node_name: self.datastore.node_name.clone(),
                secrets_dir: self.datastore.secrets_dir.clone(),
            }),
            Some(other) => {
                return Err(err(
                    "datastore.type".into(),
                    format!("type {other:?} is not supported; use \"static\" or \"etcdv3\""),
                ))
            }
        };

        Ok(Config {
            origin: origin.to_string(),
            datastore,
            kernel,
            metrics: crate::metrics::MetricsSettings {
                listen: self.metrics.listen,
            },
            global,
            control,
            peers,
            originate,
            export: None,
            restarting: false,
        })
    }
}

fn check_asn(asn: u32) -> Result<(), String> {
    match asn {
        0 => Err("asn must not be 0 (reserved, RFC 7607)".into()),
        AS_TRANS => Err("asn must not be 23456 (AS_TRANS, RFC 6793 reserves it)".into()),
        _ => Ok(()),
    }
}

fn family_of(a: IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::IPV4_UNICAST,
        IpAddr::V6(_) => Family::IPV6_UNICAST,
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl RawPeer {
    /// Checks one peer on its own; errors are (key, problem).
    fn validate(&self, global_asn: u32) -> Result<Peer, (&'static str, String)> {
        let a = self.address;
        if a.is_unspecified() || a.is_multicast() || a == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(("address", format!("address {a} is not a unicast address")));
        }
        check_asn(self.asn).map_err(|p| ("asn", p))?;
        let name = match &self.name {
            Some(n) => {
                if n.is_empty() || n.len() > MAX_NAME_LEN || !is_valid_name(n) {
                    return Err((
                        "name",
                        format!(
                            "name {n:?} must be 1..={MAX_NAME_LEN} letters, digits or '_', \
                             starting with a letter or '_' (a BIRD protocol name)"
                        ),
                    ));
                }
                n.clone()
            }
            None => default_peer_name(a),
        };
        if self.port == Some(0) {
            return Err(("port", "port must be 1..=65535".into()));
        }
        if let Some(l) = self.local_address {
            if l == a {
                return Err((
                    "local_address",
                    format!("local_address {l} is the peer's own address"),
                ));
            }
            if family_of(l) != family_of(a) {
                return Err((
                    "local_address",
                    format!("local_address {l} is not the same address family as address {a}"),
                ));
            }
        }
        let hold_time = self.hold_time.unwrap_or(DEFAULT_HOLD_TIME);
        if matches!(hold_time, 1 | 2) {
            return Err((
                "hold_time",
                format!(
                    "hold_time must be 0 or at least 3 seconds (RFC 4271 §4.2), got {hold_time}"
                ),
            ));
        }
        if let Some(k) = self.keepalive {
            if hold_time == 0 && k != 0 {
                return Err((
                    "keepalive",
                    format!("keepalive {k} needs a hold_time; with hold_time 0 no keepalives are sent, use 0 or omit it"),
                ));
            }
            if hold_time != 0 && (k == 0 || k >= hold_time) {
                return Err((
                    "keepalive",
                    format!(
                        "keepalive must be at least 1 and less than hold_time ({hold_time}), \
                         got {k}"
                    ),
                ));
            }
        }
        let connect_retry = self.connect_retry.unwrap_or(DEFAULT_CONNECT_RETRY_SECS);
        if connect_retry == 0 {
            return Err((
                "connect_retry",
                "connect_retry must be at least 1 second".into(),
            ));
        }
        let password = match &self.password {
            None => None,
            Some(p) if p.is_empty() => {
                return Err((
                    "password",
                    "password must not be empty; omit the key for no TCP-MD5".into(),
                ))
            }
            Some(p) if p.len() > MAX_PASSWORD_LEN => {
                return Err((
                    "password",
                    format!(
                        "password is {} octets; TCP-MD5 keys are at most {MAX_PASSWORD_LEN} \
                         (TCP_MD5SIG_MAXKEYLEN)",
                        p.len()
                    ),
                ))
            }
            Some(p) => Some(Password(p.clone())),
        };
        let ttl_security = match self.ttl_security {
            None => None,
            Some(h) => match u8::try_from(h) {
                Ok(h @ 1..=254) => Some(h),
                _ => {
                    return Err((
                        "ttl_security",
                        format!("ttl_security must be 1..=254 hops (RFC 5082), got {h}"),
                    ))
                }
            },
        };
        let multihop = match self.multihop {
            None => None,
            Some(t) => match u8::try_from(t) {
                Ok(t @ 1..=255) => Some(t),
                _ => {
                    return Err((
                        "multihop",
                        format!("multihop must be a TTL of 1..=255, got {t}"),
                    ))
                }
            },
        };
        if ttl_security.is_some() && multihop.is_some() {
            return Err((
                "ttl_security",
                "ttl_security and multihop cannot both be set: GTSM already sends TTL 255 and \
                 takes the hop count itself"
                    .into(),
            ));
        }
        let families = match &self.families {
            None => vec![family_of(a)],
            Some(list) => {
                if list.is_empty() {
                    return Err((
                        "families",
                        "families must list at least one of \"ipv4\", \"ipv6\" (or be omitted)"
                            .into(),
                    ));
                }
                let mut out: Vec<Family> = Vec::with_capacity(list.len());
                for f in list {
                    let f = f.family();
                    if out.contains(&f) {
                        return Err(("families", format!("families lists {f} twice")));
                    }
                    out.push(f);
                }
                out
            }
        };
        let local_asn = self.local_asn.unwrap_or(global_asn);
        check_asn(local_asn).map_err(|p| ("local_asn", p))?;
        let rr_client = self.rr_client.unwrap_or(false);
        if rr_client && local_asn != self.asn {
            return Err((
                "rr_client",
                format!(
                    "rr_client needs an internal peer (RFC 4456 reflects between iBGP peers), \
                     but asn {} differs from the local AS {local_asn}",
                    self.asn
                ),
            ));
        }
        let next_hop_self = self.next_hop_self.unwrap_or(false);
        let next_hop_keep = self.next_hop_keep.unwrap_or(false);
        if next_hop_self && next_hop_keep {
            return Err((
                "next_hop_keep",
                "next_hop_keep and next_hop_self contradict each other; set one".into(),
            ));
        }
        let allow_local_as = self.allow_local_as.unwrap_or(0);
        if allow_local_as > MAX_ALLOW_LOCAL_AS {
            return Err((
                "allow_local_as",
                format!("allow_local_as must be 0..={MAX_ALLOW_LOCAL_AS}, got {allow_local_as}"),
            ));
        }
        if let Some(t) = self.restart_time.filter(|t| *t > MAX_RESTART_TIME) {
            return Err((
                "restart_time",
                format!(
                    "restart_time must be at most {MAX_RESTART_TIME} seconds (a 12-bit field, \
                     RFC 4724 §3), got {t}"
                ),
            ));
        }
        if self.max_prefixes == Some(0) {
            return Err((
                "max_prefixes",
                "max_prefixes must be at least 1 (omit it for no limit)".into(),
            ));
        }
        if self
            .next_hop_v6
            .is_some_and(|a| a.is_unspecified() || a.is_multicast())
        {
            return Err((
                "next_hop_v6",
                "next_hop_v6 must be a unicast address".into(),
            ));
        }
        if self
            .next_hop_v4
            .is_some_and(|a| a.is_unspecified() || a.is_multicast() || a.is_broadcast())
        {
            return Err((
                "next_hop_v4",
                "next_hop_v4 must be a unicast address".into(),
            ));
        }
        let add_paths = self.add_paths.unwrap_or_default();
        Ok(Peer {
            name,
            address: a,
            asn: self.asn,
            local_asn,
            rr_client,
            next_hop_self,
            next_hop_keep,
            allow_local_as,
            max_prefixes: self.max_prefixes,
            add_paths,
            next_hop_v4: self.next_hop_v4,
            next_hop_v6: self.next_hop_v6,
            restart_time: self.restart_time,
            port: self.port.unwrap_or(DEFAULT_PORT),
            passive: self.passive.unwrap_or(false),
            local_address: self.local_address,
            hold_time,
            keepalive: self.keepalive,
            connect_retry: Duration::from_secs(u64::from(connect_retry)),
            password,
            ttl_security,
            multihop,
            families,
        })
    }
}

impl RawOriginate {
    /// Checks one originated prefix; errors are (key, problem).
    fn validate(&self) -> Result<Originate, (String, String)> {
        let p = self.prefix;
        if p.trunc() != p {
            return Err((
                "prefix".into(),
                format!("prefix {p} has host bits set; did you mean {}?", p.trunc()),
            ));
        }
        if let Some(nh) = self.next_hop {
            if family_of(nh) != family_of(p.addr()) {
                return Err((
                    "next_hop".into(),
                    format!("next_hop {nh} is not the same address family as prefix {p}"),
                ));
            }
            if nh.is_unspecified() || nh.is_multicast() {
                return Err((
                    "next_hop".into(),
                    format!("next_hop {nh} is not a unicast address"),
                ));
            }
        }
        let mut communities = Vec::with_capacity(self.communities.len());
        for (i, c) in self.communities.iter().enumerate() {
            communities.push(parse_community(c).map_err(|e| (format!("communities[{i}]"), e))?);
        }
        Ok(Originate {
            prefix: p,
            next_hop: self.next_hop,
            communities,
            blackhole: self.blackhole.unwrap_or(false),
            install: false,
        })
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = prefix_upto(text, offset);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `text` up to byte `offset`, backing off to a character boundary.
fn prefix_upto(text: &str, offset: usize) -> &str {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    text.get(..o).unwrap_or("")
}

/// The key path at byte `offset`, such as `peer[1].hold_time`, found from the table headers
/// above it and the `key =` on its line. Best effort for the plain layout the examples use;
/// `(document)` when nothing is found.
pub(super) fn key_path_at(text: &str, offset: usize) -> String {
    let before = prefix_upto(text, offset);
    // The whole line the offset is on: its start is after the last newline before the offset.
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let above = text.get(..line_start).unwrap_or("");
    let current = text
        .get(line_start..)
        .and_then(|rest| rest.split('\n').next())
        .unwrap_or("");
    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut header = |line: &str| {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("[[") {
            let name = rest.split("]]").next().unwrap_or("").trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(rest) = t.strip_prefix('[') {
            table = rest.split(']').next().unwrap_or("").trim().to_string();
        }
    };
    for line in above.split('\n').chain(std::iter::once(current)) {
        header(line);
    }
    let t = current.trim();
    let key = if t.starts_with('[') || t.starts_with('#') {
        None
    } else {
        t.split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty())
    };
    match (table.is_empty(), key) {
        (true, None) => "(document)".to_string(),
        (true, Some(k)) => k,
        (false, None) => table,
        (false, Some(k)) => format!("{table}.{k}"),
    }
}

impl RawKernel {
    /// Checks `[kernel]`; errors are (key below `kernel.`, problem).
    fn validate(&self) -> Result<Kernel, (String, String)> {
        let protocol = self.protocol.unwrap_or(crate::fib::PROTO_BIRD);
        if protocol < 5 {
            return Err((
                "protocol".into(),
                format!(
                    "protocol {protocol} is reserved for the kernel (0 unspec, 1 redirect, \
                     2 kernel, 3 boot, 4 static); use 12 (bird) or another number above 4"
                ),
            ));
        }
        let table = self.table.unwrap_or(crate::fib::TABLE_MAIN);
        if matches!(table, 0 | 253 | 255) {
            return Err((
                "table".into(),
                format!("table {table} is reserved (0 unspec, 253 default, 255 local)"),
            ));
        }
        let mut tunnels = Vec::with_capacity(self.tunnel.len());
        for (i, t) in self.tunnel.iter().enumerate() {
            if t.pool.trunc() != t.pool {
                return Err((
                    format!("tunnel[{i}].pool"),
                    format!(
                        "pool {} has host bits set; did you mean {}?",
                        t.pool,
                        t.pool.trunc()
                    ),
                ));
            }
            let device = t.device.clone().unwrap_or_else(|| "tunl0".into());
            if device.is_empty() || device.len() > 15 || device.contains(['/', ' ']) {
                return Err((
                    format!("tunnel[{i}].device"),
                    format!("device {device:?} is not a Linux interface name (1-15 characters)"),
                ));
            }
            tunnels.push(crate::fib::sync::Tunnel {
                pool: t.pool,
                mode: match t.mode {
                    TunnelModeName::Always => crate::fib::sync::TunnelMode::Always,
                    TunnelModeName::CrossSubnet => crate::fib::sync::TunnelMode::CrossSubnet,
                },
                device,
            });
        }
        let mut learn = Vec::with_capacity(self.learn.len());
        for (i, l) in self.learn.iter().enumerate() {
            if l.interface.is_none()
                && l.protocol.is_none()
                && l.table.is_none()
                && l.within.is_none()
            {
                return Err((
                    format!("learn[{i}]"),
                    "a learn rule needs at least one of interface, protocol, table, within \
                     (an empty rule would learn every route)"
                        .into(),
                ));
            }
            if l.protocol == Some(protocol) {
                return Err((
                    format!("learn[{i}].protocol"),
                    format!("protocol {protocol} is wren's own; its routes are never learned"),
                ));
            }
            learn.push(crate::fib::sync::LearnRule {
                interface: l.interface.clone(),
                protocol: l.protocol,
                table: l.table,
                within: l.within,
            });
        }
        let mut reject = Vec::with_capacity(self.reject.len());
        for (i, r) in self.reject.iter().enumerate() {
            match r.parse::<IpNet>() {
                Ok(n) if n.trunc() == n => reject.push(n),
                Ok(n) => {
                    return Err((
                        format!("reject[{i}]"),
                        format!("prefix {n} has host bits set; did you mean {}?", n.trunc()),
                    ))
                }
                Err(_) => {
                    return Err((
                        format!("reject[{i}]"),
                        format!("{r:?} is not a prefix such as 198.18.0.0/16"),
                    ))
                }
            }
        }
        Ok(Kernel {
            enabled: self.enabled.unwrap_or(true),
            protocol,
            table,
            metric: self.metric.unwrap_or(0),
            restart_wait: Duration::from_secs(u64::from(
                self.restart_wait.unwrap_or(DEFAULT_RESTART_WAIT_SECS),
            )),
            tunnels,
            learn,
            reject: crate::policy::KernelPolicy { reject },
        })
    }
}
