//! confd's decisions for one node, from a [`Datastore`] to wren's configuration types.
//!
//! This mirrors, field by field, what calico-node's confd renders into `bird.cfg`/`bird6.cfg`
//! (peers), `bird_aggr.cfg` (blocks and static routes) and `bird_ipam.cfg` (export and kernel
//! filters), for Calico ≤ v3.31 templates and v3.32+'s `bgp_processor.go` alike:
//!
//! * **AS and router id.** Local AS = the node's `spec.bgp.asNumber`, else the default
//!   BGPConfiguration's `asNumber`, else 64512. Router id = `CALICO_ROUTER_ID` (an address, or
//!   `hash` for confd's `hashToIPv4(nodename)`), else the node's IPv4 address.
//! * **Mesh.** With `nodeToNodeMeshEnabled` (default true) and this node not a route reflector,
//!   one iBGP session per other node that has an address of the family and no
//!   `routeReflectorClusterID`: `Mesh_<ip>`, passive on the side whose own address string sorts
//!   lower (Go string comparison, so the peering is one-directional), `nodeMeshPassword`,
//!   `nodeMeshMaxRestartTime`.
//! * **BGPPeers.** confd's `updatePeersV1`: global peerings (no `node`/`nodeSelector`) first,
//!   then node-specific ones for this node (skipped where a global one to the same address and
//!   port exists), then the automatic reverse peerings of peerings that target this node (by
//!   `peerSelector`, or by `peerIP` + AS matching it) unless `reversePeering: Manual`. The first
//!   peering for an address and port wins. Names: `Global_<ip>`, `Node_<ip>`, with
//!   `_port_<port>` when a port is set.
//! * **Route reflection.** A node with `routeReflectorClusterID` skips the mesh, uses the id as
//!   its cluster id, and makes every iBGP peer whose own cluster id differs an `rr client`.
//! * **Export.** A blackhole [`Originate`] per confirmed local block (the block is announced,
//!   anything more specific inside it is not: [`ExportPolicy::aggregate`]); pools are announced
//!   unless `disableBGPExport`; the service cluster/external/LoadBalancer ranges are announced
//!   and never programmed into the kernel; `prefixAdvertisements` add communities.
//! * **Kernel.** VXLAN pools are left to Felix, IP-in-IP `Always` pools go through `tunl0`,
//!   `CrossSubnet` pools through `tunl0` only off-subnet, no-encap pools directly. Workload /32s on
//!   `cali*` interfaces inside the pools are learned.
//!
//! What wren cannot express yet (BGPFilters, local-workload peers, per-service routes) becomes a
//! warning in [`Derived::warnings`], never a silent difference. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

use super::model::{BgpConfiguration, BgpPeer, Datastore, EncapMode, NodeAddress, SecretKeyRef};
use super::selector::Selector;
use super::{sha256, Env, Error, DEFAULT_AS};
use crate::config::{self, AddPaths, Originate, Password, Peer};
use crate::fib::sync::{LearnRule, Tunnel, TunnelMode};
use crate::policy::{CommunityRule, ExportPolicy};
use crate::wire::{Community, Family, LargeCommunity};

/// BIRD's default hold time (`proto/bgp/config.Y`); Calico's template does not change it.
pub const BIRD_HOLD_TIME: u16 = 240;
/// `connect retry time 5;` in Calico's `bgp_template`.
pub const CALICO_CONNECT_RETRY: Duration = Duration::from_secs(5);
/// BIRD's TTL for a bare `multihop;`.
pub const BIRD_MULTIHOP_TTL: u8 = 64;
/// The IP-in-IP device Calico uses.
pub const IPIP_DEVICE: &str = "tunl0";
/// The workload interfaces whose routes Calico's BIRD learns (`cali*`).
pub const WORKLOAD_INTERFACES: &str = "cali*";
/// The node label that keeps service ranges from being advertised by this node.
pub const EXCLUDE_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// Which of confd's peer kinds a derived peer is; it decides the name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// Node-to-node mesh: `Mesh_<ip>`.
    Mesh,
    /// A BGPPeer without `node`/`nodeSelector`: `Global_<ip>`.
    Global,
    /// A BGPPeer for this node (`node`, `nodeSelector`, or a reverse peering): `Node_<ip>`.
    Node,
}

impl PeerKind {
    /// The name prefix, without the `_`.
    pub fn prefix(self) -> &'static str {
        match self {
            PeerKind::Mesh => "Mesh",
            PeerKind::Global => "Global",
            PeerKind::Node => "Node",
        }
    }
}

impl fmt::Display for PeerKind {
    /// As `calicoctl node status` prints the peer type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerKind::Mesh => "node-to-node mesh",
            PeerKind::Global => "global",
            PeerKind::Node => "node specific",
        })
    }
}

/// What a derived peer carries beyond [`config::Peer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDetail {
    /// The kind (name prefix).
    pub kind: PeerKind,
    /// The BGPPeer resource it came from (`None` for the mesh).
    pub source: Option<String>,
    /// BIRD's per-peer `graceful restart time` (`maxRestartTime` / `nodeMeshMaxRestartTime`),
    /// seconds; wren's restart time is global for now.
    pub restart_time: Option<u16>,
    /// BGPFilter names the peering references (not applied yet).
    pub filters: Vec<String>,
}

/// A kernel route to a BGP peer's address through a gateway (`reachableBy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    /// The peer's host prefix (/32 or /128).
    pub prefix: IpNet,
    /// The gateway.
    pub via: IpAddr,
    /// The peer it is for.
    pub peer: String,
}

/// `[global]` as Calico decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedGlobal {
    /// Local AS.
    pub asn: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// `bindMode: NodeIP`: listen on the node's address only; `None` = every address.
    pub listen_address: Option<IpAddr>,
    /// `listenPort` (node-specific BGPConfiguration, else global, else 179).
    pub listen_port: u16,
    /// The node's `routeReflectorClusterID` when it is a route reflector.
    pub cluster_id: Option<Ipv4Addr>,
    /// Whether this node takes part in the node-to-node mesh.
    pub node_to_node_mesh: bool,
}

/// Everything derived for one node. [`Derived::render`] prints it as stable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The node it was derived for.
    pub node: String,
    /// Global settings.
    pub global: DerivedGlobal,
    /// BGP sessions, sorted by name; addresses are unique.
    pub peers: Vec<Peer>,
    /// Per-peer facts [`config::Peer`] cannot carry, by peer name.
    pub peer_details: BTreeMap<String, PeerDetail>,
    /// Announced prefixes: local blocks (with a kernel blackhole) and service ranges (without).
    pub originate: Vec<Originate>,
    /// Export policy.
    pub export: ExportPolicy,
    /// IP-in-IP pools (`[[kernel.tunnel]]`).
    pub tunnels: Vec<Tunnel>,
    /// Kernel routes learned and exported (`[[kernel.learn]]`): `cali*` inside each pool.
    pub learn: Vec<LearnRule>,
    /// Never program routes inside these into the kernel (VXLAN pools, pools Felix owns,
    /// service ranges).
    pub kernel_reject: Vec<IpNet>,
    /// Local blocks blackholed in the kernel but not announced (in `disableBGPExport` pools).
    pub blackholes: Vec<IpNet>,
    /// Kernel routes to peers behind a gateway (`reachableBy`).
    pub static_routes: Vec<StaticRoute>,
    /// What was skipped or cannot be expressed yet, one sentence each.
    pub warnings: Vec<String>,
}

// ------------------------------------------------------------------------------------------------
// The derivation

/// One node's BGP-relevant facts, as confd's v1 keys hold them.
struct NodeView<'a> {
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
    v4: Option<NodeAddress>,
    v6: Option<NodeAddress>,
    asn: Option<u32>,
    /// `rr_cluster_id`: empty when not a route reflector.
    rr: String,
}

impl NodeView<'_> {
    fn addr(&self, v6: bool) -> Option<NodeAddress> {
        if v6 {
            self.v6
        } else {
            self.v4
        }
    }

    fn has_ip(&self, ip: IpAddr) -> bool {
        self.v4.is_some_and(|a| a.address == ip) || self.v6.is_some_and(|a| a.address == ip)
    }
}

/// confd's v1 peering value (`backends.BGPPeer`), before it becomes a [`Peer`].
#[derive(Debug, Clone, Default)]
struct V1Peer {
    ip: Option<IpAddr>,
    port: u16,
    asn: u32,
    local_asn: Option<u32>,
    rr_cluster_id: String,
    password: Option<SecretKeyRef>,
    use_node_ip: bool,
    restart_time: Option<u64>,
    keepalive_time: Option<u64>,
    keep_next_hop: bool,
    next_hop_mode: Option<String>,
    calico_node: bool,
    num_allow_local_as: i64,
    ttl_security: u64,
    reachable_by: Option<String>,
    filters: Vec<String>,
    source: Option<String>,
}

/// `peer_v4/<ip>[-<port>]`: port 179 and "unset" are the same key.
fn key_port(port: u16) -> u16 {
    if port == config::DEFAULT_PORT {
        0
    } else {
        port
    }
}

/// Go's `net.SplitHostPort` as confd's `parseIPPort` uses it: `a.b.c.d:port`, `[v6]:port`, or
/// the whole string with port 0.
fn parse_ip_port(s: &str) -> (String, Option<u16>) {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            return (host.to_string(), port.parse().ok());
        }
        return (s.to_string(), Some(0));
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host.to_string(), port.parse().ok()),
        _ => (s.to_string(), Some(0)),
    }
}

fn is_reserved_as(asn: u32) -> bool {
    asn == 0 || asn == config::AS_TRANS
}

/// A TCP-MD5 password as [`config::Password`], validated exactly as a `[[peer]] password` key
/// (1..=80 octets). `config::Password` has no public constructor, so this goes through the
/// configuration parser with a one-peer document.
fn make_password(secret: &str) -> Result<Password, String> {
    let quoted = toml::Value::String(secret.to_string()).to_string();
    let doc = format!(
        "[global]\nasn = 65000\nrouter_id = \"192.0.2.1\"\n[[peer]]\naddress = \"192.0.2.2\"\n\
         asn = 65000\npassword = {quoted}\n"
    );
    let cfg = config::Config::from_str(&doc, "calico secret").map_err(|e| match e {
        config::Error::Invalid { problem, .. } => problem,
        other => other.to_string(),
    })?;
    cfg.peers
        .into_iter()
        .next()
        .and_then(|p| p.password)
        .ok_or_else(|| "password was not accepted".to_string())
}

struct Ctx<'a> {
    ds: &'a Datastore,
    env: &'a Env,
    nodes: Vec<NodeView<'a>>,
    me: usize,
    default_cfg: Option<&'a BgpConfiguration>,
    global_asn: u32,
    global_port: Option<u16>,
    my_asn: u32,
    my_cluster: String,
    warnings: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn me(&self) -> Option<&NodeView<'a>> {
        self.nodes.get(self.me)
    }

    fn node(&self, name: &str) -> Option<&NodeView<'a>> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    /// The node's `listenPort`: its `node.<name>` BGPConfiguration, else the global one.
    fn listen_port_of(&self, node: &str) -> Option<u16> {
        self.ds
            .bgp_configurations
            .get(&format!("node.{node}"))
            .and_then(|c| c.spec.listen_port)
            .filter(|p| *p != 0)
            .or(self.global_port)
    }

    /// Names of the nodes `sel` selects, sorted.
    fn nodes_matching(&self, sel: &Selector) -> Vec<&'a str> {
        self.nodes
            .iter()
            .filter(|n| sel.matches(n.labels))
            .map(|n| n.name)
            .collect()
    }

    /// confd's `nodesWithIPPortAndAS`: Calico nodes with address `ip`, AS `asn` (0 = the global
    /// AS) and, when `port` is set, that listen port.
    fn nodes_with_ip_port_as(&self, ip: IpAddr, asn: u32, port: u16) -> Vec<&'a str> {
        let want_as = if asn == 0 { self.global_asn } else { asn };
        self.nodes
            .iter()
            .filter(|n| n.has_ip(ip))
            .filter(|n| n.asn.unwrap_or(self.global_asn) == want_as)
            .filter(|n| {
                port == 0 || self.listen_port_of(n.name).unwrap_or(config::DEFAULT_PORT) == port
            })
            .map(|n| n.name)
            .collect()
    }

    /// confd's `nodeAsBGPPeers`: node `name` as a peer, over IPv4 and/or IPv6.
    fn node_as_peers(&self, name: &str, v4: bool, v6: bool) -> Vec<V1Peer> {
        let Some(n) = self.node(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (want, addr) in [(v4, n.v4), (v6, n.v6)] {
            let (true, Some(addr)) = (want, addr) else {
                continue;
            };
            out.push(V1Peer {
                ip: Some(addr.address),
                port: self.listen_port_of(name).unwrap_or(0),
                asn: n.asn.unwrap_or(self.global_asn),
                rr_cluster_id: n.rr.clone(),
                ..V1Peer::default()
            });
        }
        out
    }

    fn selector(&mut self, resource: &str, field: &str, text: Option<&str>) -> Option<Selector> {
        let text = text.map(str::trim).filter(|s| !s.is_empty())?;
        match Selector::parse(text) {
            Ok(s) => Some(s),
            Err(e) => {
                self.warn(format!(
                    "BGPPeer {resource}: {field}: {e}; the peering is skipped"
                ));
                None
            }
        }
    }

    /// confd's `setPeerConfigFieldsFromV3Resource`, plus the newer per-peer fields. `forward`
    /// peerings also take the fields that describe this node's side (`localASNumber`) and the
    /// route to an explicit `peerIP` (`reachableBy`); reverse ones do not.
    fn set_fields(peers: &mut [V1Peer], name: &str, res: &BgpPeer, forward: bool) {
        let s = &res.spec;
        for p in peers {
            p.source = Some(name.to_string());
            p.password = s.password.as_ref().and_then(|pw| pw.secret_key_ref.clone());
            p.use_node_ip = matches!(s.source_address.as_deref(), None | Some("" | "UseNodeIP"));
            p.restart_time = s.max_restart_time.map(|d| d.rounded_secs());
            p.keepalive_time = s.keepalive_time.map(|d| d.rounded_secs());
            p.ttl_security = s.ttl_security.unwrap_or(0);
            p.next_hop_mode = s.next_hop_mode.clone();
            p.keep_next_hop = s.keep_original_next_hop;
            p.num_allow_local_as = s.num_allowed_local_as_numbers.unwrap_or(0);
            p.filters = s.filters.clone();
            if forward {
                p.local_asn = s.local_as_number.map(|a| a.0).filter(|a| *a != 0);
                if s.peer_selector
                    .as_deref()
                    .is_none_or(|x| x.trim().is_empty())
                {
                    p.reachable_by = s.reachable_by.clone().filter(|r| !r.trim().is_empty());
                }
            }
        }
    }

    /// The peerings of one BGPPeer as seen from its local side (its `peerSelector` nodes or its
    /// `peerIP`).
    fn forward_peers(&mut self, name: &str, res: &BgpPeer) -> Vec<V1Peer> {
        let s = &res.spec;
        let mut peers = Vec::new();
        if s.peer_selector
            .as_deref()
            .is_some_and(|x| !x.trim().is_empty())
        {
            let Some(sel) = self.selector(name, "spec.peerSelector", s.peer_selector.as_deref())
            else {
                return Vec::new();
            };
            for n in self.nodes_matching(&sel) {
                peers.extend(self.node_as_peers(n, true, true));
            }
        } else {
            let raw = s.peer_ip.clone().unwrap_or_default();
            let (host, port) = parse_ip_port(&raw);
            let ip = match (host.parse::<IpAddr>(), port) {
                (Ok(ip), Some(port)) => Some((ip, port)),
                _ => None,
            };
            let Some((ip, mut port)) = ip else {
                self.warn(format!(
                    "BGPPeer {name}: peerIP {raw:?} is not an IP address (with an optional \
                     port); the peering is skipped"
                ));
                return Vec::new();
            };
            let asn = s.as_number.map_or(0, |a| a.0);
            if port == 0 {
                let nodes = self.nodes_with_ip_port_as(ip, asn, 0);
                if let Some(first) = nodes.first() {
                    port = self.listen_port_of(first).unwrap_or(0);
                }
            }
            let calico_node = self.nodes.iter().any(|n| n.has_ip(ip));
            peers.push(V1Peer {
                ip: Some(ip),
                port,
                asn,
                calico_node,
                ..V1Peer::default()
            });
        }
        Self::set_fields(&mut peers, name, res, true);
        peers
    }

    /// confd's `updatePeersV1`, for this node only: (global, node-specific) peerings by
    /// (address, key port).
    #[allow(clippy::type_complexity)]
    fn bgp_peerings(
        &mut self,
    ) -> (
        BTreeMap<(IpAddr, u16), V1Peer>,
        BTreeMap<(IpAddr, u16), V1Peer>,
    ) {
        let mut global: BTreeMap<(IpAddr, u16), V1Peer> = BTreeMap::new();
        let mut node: BTreeMap<(IpAddr, u16), V1Peer> = BTreeMap::new();
        let Some(me) = self.me() else {
            return (global, node);
        };
        let my_name = me.name.to_string();

        let mut resources: Vec<(&'a String, &'a BgpPeer)> = Vec::new();
        for (name, res) in &self.ds.bgp_peers {
            if res
                .spec
                .local_workload_selector
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
            {
                self.warn(format!(
                    "BGPPeer {name}: localWorkloadSelector (peering with local workloads) is not \
                     supported yet; the peering is skipped"
                ));
                continue;
            }
            resources.push((name, res));
        }

        let is_global = |res: &BgpPeer| {
            res.spec.node.as_deref().is_none_or(|n| n.trim().is_empty())
                && res
                    .spec
                    .node_selector
                    .as_deref()
                    .is_none_or(|n| n.trim().is_empty())
        };

        // Forward peerings: global ones first, so node-specific ones can defer to them.
        for global_pass in [true, false] {
            for &(name, res) in &resources {
                if global_pass != is_global(res) {
                    continue;
                }
                let local_nodes: Vec<String> = if global_pass {
                    Vec::new()
                } else if res
                    .spec
                    .node_selector
                    .as_deref()
                    .is_some_and(|s| !s.trim().is_empty())
                {
                    let Some(sel) =
                        self.selector(name, "spec.nodeSelector", res.spec.node_selector.as_deref())
                    else {
                        continue;
                    };
                    self.nodes_matching(&sel)
                        .into_iter()
                        .map(str::to_string)
                        .collect()
                } else {
                    res.spec.node.iter().map(|n| n.trim().to_string()).collect()
                };
                let peers = self.forward_peers(name, res);
                for p in peers {
                    let Some(ip) = p.ip else { continue };
                    let key = (ip, key_port(p.port));
                    if global_pass {
                        global.entry(key).or_insert(p);
                    } else if local_nodes.contains(&my_name) && !global.contains_key(&key) {
                        node.entry(key).or_insert(p);
                    }
                }
            }
        }

        // Reverse peerings: where this node is the *remote* side of a BGPPeer.
        for &(name, res) in &resources {
            let s = &res.spec;
            if s.reverse_peering.as_deref() == Some("Manual") {
                continue;
            }
            let (remote_nodes, v4, v6) = if s
                .peer_selector
                .as_deref()
                .is_some_and(|x| !x.trim().is_empty())
            {
                let Some(sel) =
                    self.selector(name, "spec.peerSelector", s.peer_selector.as_deref())
                else {
                    continue;
                };
                (self.nodes_matching(&sel), true, true)
            } else {
                let raw = s.peer_ip.clone().unwrap_or_default();
                let (host, port) = parse_ip_port(&raw);
                let (Ok(ip), Some(port)) = (host.parse::<IpAddr>(), port) else {
                    continue;
                };
                let nodes = self.nodes_with_ip_port_as(ip, s.as_number.map_or(0, |a| a.0), port);
                (nodes, ip.is_ipv4(), ip.is_ipv6())
            };
            if !remote_nodes.contains(&my_name.as_str()) {
                continue;
            }
            let peer_nodes: Vec<&str> = if s
                .node_selector
                .as_deref()
                .is_some_and(|x| !x.trim().is_empty())
            {
                let Some(sel) =
                    self.selector(name, "spec.nodeSelector", s.node_selector.as_deref())
                else {
                    continue;
                };
                self.nodes_matching(&sel)
            } else if let Some(n) = s.node.as_deref().filter(|n| !n.trim().is_empty()) {
                self.nodes
                    .iter()
                    .filter(|v| v.name == n.trim())
                    .map(|v| v.name)
                    .collect()
            } else {
                self.nodes.iter().map(|v| v.name).collect()
            };
            let mut peers: Vec<V1Peer> = peer_nodes
                .iter()
                .flat_map(|n| self.node_as_peers(n, v4, v6))
                .collect();
            Self::set_fields(&mut peers, name, res, false);
            for p in peers {
                let Some(ip) = p.ip else { continue };
                let key = (ip, key_port(p.port));
                if !global.contains_key(&key) {
                    node.entry(key).or_insert(p);
                }
            }
        }
        (global, node)
    }

    /// confd's mesh peers for this node.
    fn mesh_peerings(&self) -> Vec<V1Peer> {
        let Some(me) = self.me() else {
            return Vec::new();
        };
        let default = self.default_cfg.map(|c| &c.spec);
        let password = default
            .and_then(|s| s.node_mesh_password.as_ref())
            .and_then(|p| p.secret_key_ref.clone());
        let restart_time = default
            .and_then(|s| s.node_mesh_max_restart_time)
            .map(|d| d.rounded_secs());
        let mut out = Vec::new();
        for v6 in [false, true] {
            let Some(mine) = me.addr(v6) else { continue };
            for other in &self.nodes {
                let Some(addr) = other.addr(v6) else { continue };
                if addr.address == mine.address || !other.rr.is_empty() {
                    continue;
                }
                out.push(V1Peer {
                    ip: Some(addr.address),
                    port: self.listen_port_of(other.name).unwrap_or(0),
                    asn: other.asn.unwrap_or(self.global_asn),
                    password: password.clone(),
                    use_node_ip: true,
                    restart_time,
                    calico_node: true,
                    source: None,
                    ..V1Peer::default()
                });
            }
        }
        out
    }

    /// confd's `buildPeerFromData`: a v1 peering as a wren peer, or `None` (with a warning when
    /// the reason is worth one).
    fn build_peer(
        &mut self,
        v1: &V1Peer,
        kind: PeerKind,
    ) -> Option<(Peer, PeerDetail, Option<StaticRoute>)> {
        let ip = v1.ip?;
        let what = match &v1.source {
            Some(s) => format!("BGPPeer {s}: peer {ip}"),
            None => format!("mesh peer {ip}"),
        };
        let mine = self.me().and_then(|m| m.addr(ip.is_ipv6()));
        let Some(mine) = mine else {
            let fam = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
            self.warn(format!(
                "{what}: skipped, this node has no {fam} address (Calico renders \"{fam} disabled \
                 on this node\")"
            ));
            return None;
        };
        if ip == mine.address {
            return None; // "Skipping ourselves"
        }
        let ip_text = ip.to_string();
        let mut name = format!("{}_{}", kind.prefix(), ip_text.replace(['.', ':'], "_"));
        if kind != PeerKind::Mesh && v1.port > 0 {
            name.push_str(&format!("_port_{}", v1.port));
        }
        let local_asn = v1.local_asn.unwrap_or(self.my_asn);
        if is_reserved_as(v1.asn) {
            self.warn(format!(
                "{what}: AS number {} cannot be used (no asNumber, or a reserved one); the \
                 peering is skipped",
                v1.asn
            ));
            return None;
        }
        if is_reserved_as(local_asn) {
            self.warn(format!(
                "{what}: localASNumber {local_asn} is reserved; the peering is skipped"
            ));
            return None;
        }
        let ibgp = v1.asn == local_asn;
        let passive = match kind {
            PeerKind::Mesh => ip_text > mine.address.to_string(),
            PeerKind::Global => v1.calico_node && ip_text > mine.address.to_string(),
            PeerKind::Node => false,
        };
        let ttl_security = match v1.ttl_security {
            0 => None,
            h @ 1..=254 => u8::try_from(h).ok(),
            h => {
                self.warn(format!(
                    "{what}: ttlSecurity {h} is more than 254 hops; GTSM is not set"
                ));
                None
            }
        };
        let multihop = (ttl_security.is_none() && !ibgp).then_some(BIRD_MULTIHOP_TTL);
        let keepalive = match v1.keepalive_time {
            None => None,
            Some(k) if (1..u64::from(BIRD_HOLD_TIME)).contains(&k) => u16::try_from(k).ok(),
            Some(k) => {
                self.warn(format!(
                    "{what}: keepaliveTime {k}s must be 1..{BIRD_HOLD_TIME}s (below the hold \
                     time); the default (a third of the hold time) is used"
                ));
                None
            }
        };
        let password = match &v1.password {
            None => None,
            Some(r) => match self.env.secrets.get(&r.name, &r.key) {
                None => {
                    self.warn(format!(
                        "{what}: password secret {}/{} not found; the session runs without \
                         TCP-MD5",
                        r.name, r.key
                    ));
                    None
                }
                Some(secret) => match make_password(secret) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.warn(format!(
                            "{what}: password from secret {}/{}: {e}; the session runs without \
                             TCP-MD5",
                            r.name, r.key
                        ));
                        None
                    }
                },
            },
        };
        let next_hop_self = v1.next_hop_mode.as_deref() == Some("Self");
        let next_hop_keep = !next_hop_self
            && (v1.next_hop_mode.as_deref() == Some("Keep") || (v1.keep_next_hop && !ibgp));
        let allow_local_as = match u8::try_from(v1.num_allow_local_as) {
            Ok(n) if n <= config::MAX_ALLOW_LOCAL_AS => n,
            _ => {
                self.warn(format!(
                    "{what}: numAllowedLocalASNumbers {} is not 0..={}; 0 is used",
                    v1.num_allow_local_as,
                    config::MAX_ALLOW_LOCAL_AS
                ));
                0
            }
        };
        let rr_client = kind != PeerKind::Mesh
            && ibgp
            && !self.my_cluster.is_empty()
            && v1.rr_cluster_id != self.my_cluster;
        let restart_time = v1.restart_time.map(|t| {
            u16::try_from(t)
                .ok()
                .filter(|t| *t <= config::MAX_RESTART_TIME)
                .unwrap_or_else(|| {
                    self.warnings.push(format!(
                        "{what}: restart time {t}s is above {}s; {}s is used",
                        config::MAX_RESTART_TIME,
                        config::MAX_RESTART_TIME
                    ));
                    config::MAX_RESTART_TIME
                })
        });
        let static_route = match v1.reachable_by.as_deref().map(str::trim) {
            None => None,
            Some(gw) => match gw.parse::<IpAddr>() {
                Ok(via) if via.is_ipv4() == ip.is_ipv4() => Some(StaticRoute {
                    prefix: IpNet::from(ip),
                    via,
                    peer: name.clone(),
                }),
                _ => {
                    self.warn(format!(
                        "{what}: reachableBy {gw:?} is not an address of the peer's family; no \
                         static route"
                    ));
                    None
                }
            },
        };
        if !v1.filters.is_empty() {
            self.warn(format!(
                "{what}: BGPFilters {} are not supported yet; the peering exports and imports \
                 as if it had none",
                v1.filters.join(", ")
            ));
        }
        let peer = Peer {
            name: name.clone(),
            address: ip,
            asn: v1.asn,
            port: if v1.port == 0 {
                config::DEFAULT_PORT
            } else {
                v1.port
            },
            passive,
            local_address: v1.use_node_ip.then_some(mine.address),
            hold_time: BIRD_HOLD_TIME,
            keepalive,
            connect_retry: CALICO_CONNECT_RETRY,
            password,
            ttl_security,
            multihop,
            families: vec![if ip.is_ipv6() {
                Family::IPV6_UNICAST
            } else {
                Family::IPV4_UNICAST
            }],
            local_asn,
            rr_client,
            next_hop_self,
            next_hop_keep,
            allow_local_as,
            max_prefixes: None,
            add_paths: AddPaths::Both,
            next_hop_v4: None,
            next_hop_v6: None,
            restart_time: None,
        };
        let detail = PeerDetail {
            kind,
            source: v1.source.clone(),
            restart_time,
            filters: v1.filters.clone(),
        };
        Some((peer, detail, static_route))
    }
}

/// Parses one configured CIDR (service range, advertisement); `None` with a warning if bad.
fn parse_cidr(warnings: &mut Vec<String>, what: &str, s: &str) -> Option<IpNet> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    match s.parse::<IpNet>() {
        Ok(n) => Some(n.trunc()),
        Err(_) => match s.parse::<IpAddr>() {
            Ok(a) => Some(IpNet::from(a)),
            Err(_) => {
                warnings.push(format!("{what}: {s:?} is not a CIDR; ignored"));
                None
            }
        },
    }
}

/// confd's `isValidCommunity` + parse: `a:b` (16-bit parts) or `a:b:c` (32-bit parts).
enum AnyCommunity {
    Standard(Community),
    Large(LargeCommunity),
}

fn parse_community_value(s: &str) -> Option<AnyCommunity> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    match parts.as_slice() {
        [a, b] => Some(AnyCommunity::Standard(Community::new(
            a.parse().ok()?,
            b.parse().ok()?,
        ))),
        [a, b, c] => Some(AnyCommunity::Large(LargeCommunity {
            global: a.parse().ok()?,
            local1: b.parse().ok()?,
            local2: c.parse().ok()?,
        })),
        _ => None,
    }
}

/// Derives wren's configuration for node `node_name` from the datastore, the way confd renders
/// BIRD's for it. Fails only when there is no usable identity for the node (it is missing, has
/// no router id, or a reserved AS); everything narrower becomes a warning in the result.
pub fn derive(ds: &Datastore, node_name: &str, env: &Env) -> Result<Derived, Error> {
    let mut nodes: Vec<NodeView<'_>> = ds
        .nodes
        .iter()
        .map(|(name, n)| {
            let bgp = n.spec.bgp.as_ref();
            NodeView {
                name: name.as_str(),
                labels: &n.metadata.labels,
                v4: bgp
                    .and_then(|b| b.ipv4_address)
                    .filter(|a| a.address.is_ipv4()),
                v6: bgp
                    .and_then(|b| b.ipv6_address)
                    .filter(|a| a.address.is_ipv6()),
                asn: bgp.and_then(|b| b.as_number).map(|a| a.0),
                rr: bgp
                    .and_then(|b| b.route_reflector_cluster_id.clone())
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(b.name));
    let me = nodes
        .iter()
        .position(|n| n.name == node_name)
        .ok_or_else(|| Error::UnknownNode(node_name.to_string()))?;
    let (my_v4, my_asn_opt, my_cluster) = nodes
        .get(me)
        .map(|n| (n.v4, n.asn, n.rr.clone()))
        .unwrap_or_default();

    let default_cfg = ds.bgp_configurations.get("default");
    let global_asn = default_cfg
        .and_then(|c| c.spec.as_number)
        .map_or(DEFAULT_AS, |a| a.0);
    let my_asn = my_asn_opt.unwrap_or(global_asn);
    if is_reserved_as(my_asn) {
        return Err(Error::BadAs {
            node: node_name.to_string(),
            asn: my_asn,
        });
    }
    let router_id = match env.router_id.as_deref().map(str::trim) {
        Some("hash") => sha256::hash_to_ipv4(node_name),
        Some(r) if !r.is_empty() => r
            .parse::<Ipv4Addr>()
            .map_err(|_| Error::BadRouterId(r.to_string()))?,
        _ => match my_v4.map(|a| a.address) {
            Some(IpAddr::V4(a)) => a,
            _ => return Err(Error::NoRouterId(node_name.to_string())),
        },
    };
    let cluster_id = if my_cluster.is_empty() {
        None
    } else {
        Some(
            my_cluster
                .parse::<Ipv4Addr>()
                .map_err(|_| Error::BadClusterId {
                    node: node_name.to_string(),
                    value: my_cluster.clone(),
                })?,
        )
    };

    let mut cx = Ctx {
        ds,
        env,
        nodes,
        me,
        default_cfg,
        global_asn,
        global_port: default_cfg
            .and_then(|c| c.spec.listen_port)
            .filter(|p| *p != 0),
        my_asn,
        my_cluster,
        warnings: Vec::new(),
    };

    // ---- peers
    let mesh_enabled = default_cfg
        .and_then(|c| c.spec.node_to_node_mesh_enabled)
        .unwrap_or(true);
    let in_mesh = mesh_enabled && cluster_id.is_none();
    let mut candidates: Vec<(V1Peer, PeerKind)> = Vec::new();
    if in_mesh {
        candidates.extend(cx.mesh_peerings().into_iter().map(|p| (p, PeerKind::Mesh)));
    }
    let (global_peers, node_peers) = cx.bgp_peerings();
    candidates.extend(global_peers.into_values().map(|p| (p, PeerKind::Global)));
    candidates.extend(node_peers.into_values().map(|p| (p, PeerKind::Node)));

    let mut built: Vec<(Peer, PeerDetail, Option<StaticRoute>)> = candidates
        .iter()
        .filter_map(|(p, kind)| cx.build_peer(p, *kind))
        .collect();
    built.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut peers = Vec::new();
    let mut peer_details = BTreeMap::new();
    let mut static_routes = Vec::new();
    let mut seen_addr: BTreeMap<IpAddr, String> = BTreeMap::new();
    for (peer, detail, route) in built {
        if let Some(first) = seen_addr.get(&peer.address) {
            cx.warnings.push(format!(
                "{}: {} already has a session ({first}); wren keeps one session per address, \
                 so this one is dropped",
                peer.name, peer.address
            ));
            continue;
        }
        seen_addr.insert(peer.address, peer.name.clone());
        if let Some(r) = route {
            static_routes.push(r);
        }
        peer_details.insert(peer.name.clone(), detail);
        peers.push(peer);
    }

    // ---- global
    let has_v4_peers = peers.iter().any(|p| p.address.is_ipv4());
    let has_v6_peers = peers.iter().any(|p| p.address.is_ipv6());
    let node_ip = cx.me().map(|m| (m.v4, m.v6)).unwrap_or_default();
    let bind_node_ip = default_cfg.and_then(|c| c.spec.bind_mode.as_deref()) == Some("NodeIP");
    let listen_address = if !bind_node_ip {
        None
    } else {
        match node_ip {
            (Some(v4), None) => Some(v4.address),
            (None, Some(v6)) => Some(v6.address),
            (Some(v4), Some(_)) if !has_v6_peers => Some(v4.address),
            (Some(_), Some(v6)) if !has_v4_peers => Some(v6.address),
            (Some(_), Some(_)) => {
                cx.warnings.push(
                    "bindMode NodeIP: wren has one listener and this node has IPv4 and IPv6 \
                     sessions, so it listens on every address"
                        .to_string(),
                );
                None
            }
            (None, None) => None,
        }
    };
    let global = DerivedGlobal {
        asn: my_asn,
        router_id,
        listen_address,
        listen_port: cx.listen_port_of(node_name).unwrap_or(config::DEFAULT_PORT),
        cluster_id,
        node_to_node_mesh: in_mesh,
    };

    // ---- communities
    let node_cfg = ds.bgp_configurations.get(&format!("node.{node_name}"));
    let adv_cfg = node_cfg
        .filter(|c| c.spec.prefix_advertisements.is_some())
        .or(default_cfg);
    let mut community_rules = Vec::new();
    if let Some(cfg) = adv_cfg {
        let cfg_name = if cfg.metadata.name.is_empty() {
            "BGPConfiguration".to_string()
        } else {
            format!("BGPConfiguration {}", cfg.metadata.name)
        };
        for adv in cfg.spec.prefix_advertisements.iter().flatten() {
            let what = format!("{cfg_name}: prefixAdvertisements");
            let Some(prefix) = parse_cidr(&mut cx.warnings, &what, &adv.cidr) else {
                continue;
            };
            let mut values = BTreeSet::new();
            for c in &adv.communities {
                if parse_community_value(c).is_some() {
                    values.insert(c.trim().to_string());
                } else if let Some(def) = cfg.spec.communities.iter().find(|d| d.name == *c) {
                    values.insert(def.value.trim().to_string());
                } else {
                    cx.warnings.push(format!(
                        "{what} {prefix}: {c:?} is neither a community value nor a name in \
                         communities; ignored"
                    ));
                }
            }
            let mut rule = CommunityRule {
                prefix,
                communities: Vec::new(),
                large_communities: Vec::new(),
            };
            for v in values {
                match parse_community_value(&v) {
                    Some(AnyCommunity::Standard(c)) => rule.communities.push(c),
                    Some(AnyCommunity::Large(c)) => rule.large_communities.push(c),
                    None => cx.warnings.push(format!(
                        "{what} {prefix}: community value {v:?} is not a:b or a:b:c; ignored"
                    )),
                }
            }
            rule.communities.sort();
            rule.communities.dedup();
            rule.large_communities.sort();
            rule.large_communities.dedup();
            if !rule.communities.is_empty() || !rule.large_communities.is_empty() {
                community_rules.push(rule);
            }
        }
    }
    let communities_for = |prefix: &IpNet| -> Vec<Community> {
        let mut v: Vec<Community> = community_rules
            .iter()
            .filter(|r| r.prefix.contains(prefix))
            .flat_map(|r| r.communities.iter().copied())
            .collect();
        v.sort();
        v.dedup();
        v
    };

    // ---- pools
    let pcr = default_cfg
        .and_then(|c| c.spec.program_cluster_routes.as_deref())
        .unwrap_or("Enabled");
    let (program_ipip, program_noencap) = match pcr {
        "" | "Enabled" => (true, true),
        "Disabled" => (false, false),
        "EnabledIPIPOnly" => (true, false),
        "EnabledNoEncapOnly" => (false, true),
        other => {
            cx.warnings.push(format!(
                "programClusterRoutes {other:?} is not Enabled, Disabled, EnabledIPIPOnly or \
                 EnabledNoEncapOnly; Enabled is used"
            ));
            (true, true)
        }
    };
    let mut pools: Vec<(IpNet, &super::model::IpPool)> = ds
        .ip_pools
        .values()
        .filter_map(|p| p.spec.cidr.map(|c| (c.trunc(), p)))
        .collect();
    pools.sort_by_key(|a| a.0);
    let mut export = ExportPolicy {
        communities: community_rules.clone(),
        ..ExportPolicy::default()
    };
    let mut tunnels = Vec::new();
    let mut learn = Vec::new();
    let mut kernel_reject = Vec::new();
    for (cidr, pool) in &pools {
        let s = &pool.spec;
        if s.disable_bgp_export {
            export.no_export.push(*cidr);
        } else {
            export.accept_within.push(*cidr);
            learn.push(LearnRule {
                interface: Some(WORKLOAD_INTERFACES.to_string()),
                within: Some(*cidr),
                ..LearnRule::default()
            });
        }
        if s.vxlan_mode != EncapMode::Never {
            kernel_reject.push(*cidr); // VXLAN routes are Felix's.
        } else if cidr.addr().is_ipv4() && s.ipip_mode != EncapMode::Never {
            if program_ipip {
                tunnels.push(Tunnel {
                    pool: *cidr,
                    mode: if s.ipip_mode == EncapMode::Always {
                        TunnelMode::Always
                    } else {
                        TunnelMode::CrossSubnet
                    },
                    device: IPIP_DEVICE.to_string(),
                });
            } else {
                kernel_reject.push(*cidr);
            }
        } else if !program_noencap {
            kernel_reject.push(*cidr);
        }
    }

    // ---- blocks
    let mut blocks: BTreeSet<IpNet> = BTreeSet::new();
    if env.use_pod_cidr {
        let pod_cidrs = ds
            .nodes
            .get(node_name)
            .map(|n| n.status.pod_cidrs.clone())
            .unwrap_or_default();
        for c in pod_cidrs {
            let what = format!("Node {node_name}: status.podCIDRs");
            if let Some(n) = parse_cidr(&mut cx.warnings, &what, &c) {
                blocks.insert(n);
            }
        }
    } else if let Some(set) = ds.affinities.get(node_name) {
        blocks.extend(set.iter().map(IpNet::trunc));
    }
    let mut originate: Vec<Originate> = Vec::new();
    let mut blackholes = Vec::new();
    for block in &blocks {
        export.aggregate.push(*block);
        if block.prefix_len() == block.max_prefix_len() {
            continue; // a /32 block is its one workload's learned route
        }
        if pools
            .iter()
            .any(|(p, pool)| pool.spec.disable_bgp_export && p.contains(block))
        {
            blackholes.push(*block);
            continue;
        }
        originate.push(Originate {
            prefix: *block,
            next_hop: None,
            communities: communities_for(block),
            blackhole: true,
            install: false,
        });
    }

    // ---- service ranges
    let excluded = cx
        .me()
        .and_then(|m| m.labels.get(EXCLUDE_LB_LABEL))
        .map(String::as_str)
        == Some("true");
    let spec = default_cfg.map(|c| &c.spec);
    let cluster: Vec<String> = match spec.and_then(|s| s.service_cluster_ips.as_ref()) {
        Some(list) => list.iter().map(|c| c.cidr.clone()).collect(),
        None => env
            .advertise_cluster_ips
            .as_deref()
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let list = |v: Option<&Vec<super::model::CidrEntry>>| -> Vec<String> {
        v.map(|l| l.iter().map(|c| c.cidr.clone()).collect())
            .unwrap_or_default()
    };
    let external = list(spec.and_then(|s| s.service_external_ips.as_ref()));
    let lb = list(spec.and_then(|s| s.service_load_balancer_ips.as_ref()));
    let lb_aggregated =
        spec.and_then(|s| s.service_load_balancer_aggregation.as_deref()) != Some("Disabled");
    let mut ranges: Vec<(&str, IpNet, bool)> = Vec::new();
    for (what, items, announce) in [
        ("serviceClusterIPs", &cluster, true),
        ("serviceExternalIPs", &external, true),
        ("serviceLoadBalancerIPs", &lb, lb_aggregated),
    ] {
        for c in items {
            let w = format!("BGPConfiguration default: {what}");
            if let Some(n) = parse_cidr(&mut cx.warnings, &w, c) {
                ranges.push((what, n, announce));
            }
        }
    }
    for (what, range, announce) in &ranges {
        kernel_reject.push(*range);
        if excluded || !announce {
            continue;
        }
        if originate.iter().any(|o| o.prefix == *range) {
            cx.warnings
                .push(format!("{what} {range} is already announced; listed once"));
            continue;
        }
        export.accept_within.push(*range);
        originate.push(Originate {
            prefix: *range,
            next_hop: None,
            communities: communities_for(range),
            blackhole: false,
            install: false,
        });
    }
    if excluded && !ranges.is_empty() {
        cx.warnings.push(format!(
            "this node is labelled {EXCLUDE_LB_LABEL}=true: service ranges are not announced"
        ));
    }
    if !lb_aggregated && !lb.is_empty() {
        cx.warnings.push(
            "serviceLoadBalancerAggregation Disabled: the LoadBalancer ranges are not announced, \
             and per-service routes are not supported yet"
                .to_string(),
        );
    }
    if cluster_id.is_some() {
        // A route reflector passes on the LoadBalancer and external ranges other nodes announce.
        for (what, range, _) in &ranges {
            if *what != "serviceClusterIPs" && !export.accept_within.contains(range) {
                export.accept_within.push(*range);
            }
        }
    }
    kernel_reject.sort();
    kernel_reject.dedup();
    for p in &mut peers {
        p.restart_time = peer_details
            .get(&p.name)
            .and_then(|d| d.restart_time)
            .map(|t| t.min(config::MAX_RESTART_TIME));
    }

    Ok(Derived {
        node: node_name.to_string(),
        global,
        peers,
        peer_details,
        originate,
        export,
        tunnels,
        learn,
        kernel_reject,
        blackholes,
        static_routes,
        warnings: cx.warnings,
    })
}

// ------------------------------------------------------------------------------------------------
// Output

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Derived {
    /// Replaces what Calico decides in `base` (a validated configuration: its `[control]` and
    /// `[kernel]` settings are kept) and returns the result: `[global]` AS, router id, listener
    /// and cluster id, every `[[peer]]`, every `[[originate]]` (blocks, service ranges, the
    /// blackholes of [`Derived::blackholes`] and the kernel routes of
    /// [`Derived::static_routes`]), the export policy ([`Derived::export`]), and the kernel's
    /// tunnel, learn and reject rules ([`Derived::kernel_reject`] added to the file's). The
    /// listener binds `::` when there are IPv6 sessions and no bind address.
    ///
    /// Not carried by [`config::Config`] yet: the per-peer restart times in
    /// [`Derived::peer_details`] (wren's restart time is global).
    pub fn apply(&self, base: &config::Config) -> config::Config {
        let mut c = base.clone();
        c.global.asn = self.global.asn;
        c.global.router_id = self.global.router_id;
        c.global.listen_port = self.global.listen_port;
        c.global.listen_address = self.global.listen_address.unwrap_or_else(|| {
            if self.peers.iter().any(|p| p.address.is_ipv6()) {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        });
        c.global.cluster_id = self.global.cluster_id.unwrap_or(self.global.router_id);
        c.peers = self.peers.clone();
        c.originate = self.originate.clone();
        // Blocks of disableBGPExport pools: blackholed, kept from peers by the export policy.
        for b in &self.blackholes {
            c.originate.push(Originate {
                prefix: *b,
                next_hop: None,
                communities: Vec::new(),
                blackhole: true,
                install: false,
            });
        }
        // Routes to peers behind a gateway: into the kernel; the export policy keeps them from
        // peers unless they lie inside a pool, as BIRD's static protocol does.
        for r in &self.static_routes {
            if c.originate.iter().any(|o| o.prefix == r.prefix) {
                continue;
            }
            c.originate.push(Originate {
                prefix: r.prefix,
                next_hop: Some(r.via),
                communities: Vec::new(),
                blackhole: false,
                install: true,
            });
        }
        c.export = Some(self.export.clone());
        c.kernel.tunnels = self.tunnels.clone();
        c.kernel.learn = self.learn.clone();
        let mut reject = base.kernel.reject.reject.clone();
        reject.extend(self.kernel_reject.iter().copied());
        reject.sort();
        reject.dedup();
        c.kernel.reject = crate::policy::KernelPolicy { reject };
        c
    }

    /// Everything, as stable text (one item per line, sorted, secrets never shown) for golden
    /// tests and for `wren` to show what it derived.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let g = &self.global;
        let _ = writeln!(s, "node {}", self.node);
        let _ = writeln!(s, "global");
        let _ = writeln!(s, "  asn {}", g.asn);
        let _ = writeln!(s, "  router_id {}", g.router_id);
        let _ = writeln!(
            s,
            "  listen {} port {}",
            g.listen_address
                .map_or_else(|| "any".to_string(), |a| a.to_string()),
            g.listen_port
        );
        let _ = writeln!(
            s,
            "  cluster_id {}",
            g.cluster_id.map_or_else(
                || "none (not a route reflector)".to_string(),
                |c| c.to_string()
            )
        );
        let _ = writeln!(s, "  node_to_node_mesh {}", yes_no(g.node_to_node_mesh));

        let _ = writeln!(s, "peers {}", self.peers.len());
        for p in &self.peers {
            let detail = self.peer_details.get(&p.name);
            let kind = detail.map_or_else(String::new, |d| format!(" ({})", d.kind));
            let _ = writeln!(s, "  {}{kind}", p.name);
            let _ = writeln!(
                s,
                "    neighbor {} port {} as {}, local as {}, {}",
                p.address,
                p.port,
                p.asn,
                p.local_asn,
                if p.is_ibgp() { "iBGP" } else { "eBGP" }
            );
            let families: Vec<String> = p.families.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                s,
                "    source {}, passive {}, families {}",
                p.local_address
                    .map_or_else(|| "auto".to_string(), |a| a.to_string()),
                yes_no(p.passive),
                families.join(",")
            );
            let _ = writeln!(
                s,
                "    hold {}s, keepalive {}, connect retry {}s, restart time {}",
                p.hold_time,
                p.keepalive
                    .map_or_else(|| "auto".to_string(), |k| format!("{k}s")),
                p.connect_retry.as_secs(),
                detail
                    .and_then(|d| d.restart_time)
                    .map_or_else(|| "default".to_string(), |t| format!("{t}s"))
            );
            let _ = writeln!(
                s,
                "    password {}, ttl security {}, multihop {}",
                p.password.as_ref().map_or_else(
                    || "none".to_string(),
                    |pw| format!("set ({} octets)", pw.expose().len())
                ),
                p.ttl_security
                    .map_or_else(|| "off".to_string(), |h| format!("max {h} hops")),
                p.multihop
                    .map_or_else(|| "default".to_string(), |t| format!("ttl {t}"))
            );
            let next_hop = if p.next_hop_self {
                "self"
            } else if p.next_hop_keep {
                "keep"
            } else {
                "auto"
            };
            let add_paths = match p.add_paths {
                AddPaths::Off => "off",
                AddPaths::Receive => "receive",
                AddPaths::Send => "send",
                AddPaths::Both => "both",
            };
            let _ = writeln!(
                s,
                "    rr client {}, next hop {next_hop}, allow local as {}, add paths {add_paths}",
                yes_no(p.rr_client),
                p.allow_local_as
            );
            if let Some(d) = detail {
                if let Some(src) = &d.source {
                    let _ = writeln!(s, "    from BGPPeer {src}");
                }
                if !d.filters.is_empty() {
                    let _ = writeln!(s, "    filters (not applied) {}", d.filters.join(" "));
                }
            }
        }

        let _ = writeln!(s, "originate {}", self.originate.len());
        for o in &self.originate {
            let mut line = format!("  {}", o.prefix);
            if o.blackhole {
                line.push_str(" blackhole");
            }
            if let Some(nh) = o.next_hop {
                line.push_str(&format!(" next hop {nh}"));
            }
            if !o.communities.is_empty() {
                line.push_str(&format!(" communities {}", join(&o.communities)));
            }
            let _ = writeln!(s, "{line}");
        }

        let e = &self.export;
        let _ = writeln!(s, "export");
        let nets = |label: &str, v: &[IpNet], s: &mut String| {
            for n in v {
                let _ = writeln!(s, "  {label} {n}");
            }
        };
        nets("aggregate", &e.aggregate, &mut s);
        nets("accept within", &e.accept_within, &mut s);
        nets("never export", &e.no_export, &mut s);
        for r in &e.communities {
            let mut line = format!("  communities {}", r.prefix);
            if !r.communities.is_empty() {
                line.push_str(&format!(" standard {}", join(&r.communities)));
            }
            if !r.large_communities.is_empty() {
                line.push_str(&format!(" large {}", join(&r.large_communities)));
            }
            let _ = writeln!(s, "{line}");
        }

        let _ = writeln!(s, "kernel");
        for t in &self.tunnels {
            let mode = match t.mode {
                TunnelMode::Always => "always",
                TunnelMode::CrossSubnet => "cross-subnet",
            };
            let _ = writeln!(s, "  tunnel {} {mode} dev {}", t.pool, t.device);
        }
        for l in &self.learn {
            let mut parts = Vec::new();
            if let Some(i) = &l.interface {
                parts.push(format!("interface {i}"));
            }
            if let Some(w) = l.within {
                parts.push(format!("within {w}"));
            }
            if let Some(p) = l.protocol {
                parts.push(format!("protocol {p}"));
            }
            if let Some(t) = l.table {
                parts.push(format!("table {t}"));
            }
            let _ = writeln!(s, "  learn {}", parts.join(" "));
        }
        nets("reject", &self.kernel_reject, &mut s);
        nets("blackhole (not announced)", &self.blackholes, &mut s);

        let _ = writeln!(s, "static routes {}", self.static_routes.len());
        for r in &self.static_routes {
            let _ = writeln!(s, "  {} via {} for {}", r.prefix, r.via, r.peer);
        }

        let _ = writeln!(s, "warnings {}", self.warnings.len());
        for w in &self.warnings {
            let _ = writeln!(s, "  {w}");
        }
        s
    }
}
