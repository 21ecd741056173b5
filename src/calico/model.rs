//! The Calico v3 values wren reads, as serde types, and the [`Datastore`] snapshot built from
//! etcd's key→value pairs.
//!
//! Field names are Calico's JSON tags (`calico:api/pkg/apis/projectcalico/v3`,
//! `calico:libcalico-go/lib/apis/internalapi/node.go`, `libcalico-go/lib/backend/model`). Unknown
//! fields are ignored, so newer Calico versions load; every field wren reads is optional where
//! Calico's is. Values Calico's own validation would refuse (a bad node address, an unparsable
//! selector, a pool without a CIDR) make the whole key a [`KeyError`]; values confd itself only
//! warns about (a malformed `peerIP`, a bad community) are kept as text and become warnings in
//! [`derive`](super::derive()).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::selector::Selector;
use super::{Error, KeyError};

/// Prefix of Calico's v3 resources in etcd.
pub const RESOURCE_PREFIX: &str = "/calico/resources/v3/projectcalico.org/";
/// Prefix of the per-host IPAM block affinities: `<prefix><node>/ipv4/block/<a.b.c.d-len>`.
pub const IPAM_HOST_PREFIX: &str = "/calico/ipam/v2/host/";
/// Prefix of the IPAM allocation blocks: `<prefix>ipv4/block/<a.b.c.d-len>`.
pub const IPAM_BLOCK_PREFIX: &str = "/calico/ipam/v2/assignment/";

/// The resource plurals (key segments after [`RESOURCE_PREFIX`]) wren reads.
pub const RESOURCE_PLURALS: &[&str] = &[
    "nodes",
    "bgpconfigurations",
    "bgppeers",
    "ippools",
    "bgpfilters",
];

// ------------------------------------------------------------------------------------------------
// Scalar types

/// An AS number as Calico's `numorstring.ASNumber` accepts it: a JSON number, or a string holding
/// a plain number (`"64512"`) or asdot (`"1.10"` = 65546).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsNumber(pub u32);

impl FromStr for AsNumber {
    type Err = String;

    fn from_str(s: &str) -> Result<AsNumber, String> {
        let bad = || format!("{s:?} is not an AS number (a 32-bit number, or asdot \"1.10\")");
        if let Some((hi, lo)) = s.split_once('.') {
            let hi: u16 = hi.parse().map_err(|_| bad())?;
            let lo: u16 = lo.parse().map_err(|_| bad())?;
            return Ok(AsNumber((u32::from(hi) << 16) | u32::from(lo)));
        }
        s.parse::<u32>().map(AsNumber).map_err(|_| bad())
    }
}

impl fmt::Display for AsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for AsNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AsNumber, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(AsNumber)
                .ok_or_else(|| D::Error::custom(format!("AS number {n} is not 0..=4294967295"))),
            serde_json::Value::String(s) => s.trim().parse().map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "AS number must be a number or a string, got {other}"
            ))),
        }
    }
}

/// A Go `time.Duration` as Kubernetes' `metav1.Duration` writes it: `"2m0s"`, `"90s"`,
/// `"1h30m"`, `"1.5s"`, `"300ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Whole seconds, rounded half away from zero as confd does (`math.Round(d.Seconds())`).
    pub fn rounded_secs(&self) -> u64 {
        let nanos = self.0.as_nanos();
        u64::try_from((nanos + 500_000_000) / 1_000_000_000).unwrap_or(u64::MAX)
    }
}

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<GoDuration, String> {
        let bad = |why: &str| format!("{s:?} is not a duration such as \"2m0s\" ({why})");
        if s == "0" {
            return Ok(GoDuration(Duration::ZERO));
        }
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.starts_with('-') {
            return Err(bad("negative"));
        }
        let rest = s.strip_prefix('+').unwrap_or(s);
        let mut total: u128 = 0;
        let mut chars = rest.chars().peekable();
        while chars.peek().is_some() {
            let mut int = String::new();
            let mut frac = String::new();
            while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
                int.push(c);
                chars.next();
            }
            if chars.peek() == Some(&'.') {
                chars.next();
                while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
                    frac.push(c);
                    chars.next();
                }
            }
            if int.is_empty() && frac.is_empty() {
                return Err(bad("expected a number"));
            }
            let mut unit = String::new();
            while let Some(c) = chars
                .peek()
                .copied()
                .filter(|c| !c.is_ascii_digit() && *c != '.')
            {
                unit.push(c);
                chars.next();
            }
            let per: u128 = match unit.as_str() {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(bad("missing unit")),
                _ => return Err(bad("unknown unit")),
            };
            let whole: u128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| bad("number too large"))?
            };
            let mut part = whole.checked_mul(per).ok_or_else(|| bad("too large"))?;
            if !frac.is_empty() {
                let digits = u32::try_from(frac.len().min(18)).unwrap_or(18);
                let f: u128 = frac
                    .get(..digits as usize)
                    .unwrap_or("0")
                    .parse()
                    .map_err(|_| bad("bad fraction"))?;
                part += f * per / 10u128.pow(digits);
            }
            total = total.checked_add(part).ok_or_else(|| bad("too large"))?;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad("too large"))?;
        let nanos = u32::try_from(total % 1_000_000_000).unwrap_or(0);
        Ok(GoDuration(Duration::new(secs, nanos)))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        let s = String::deserialize(d)?;
        s.trim().parse().map_err(D::Error::custom)
    }
}

/// A node's BGP address as Calico stores it: `"10.192.0.2/16"` (the address *and* its subnet),
/// or a bare address (then the subnet is the host route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeAddress {
    /// The address.
    pub address: IpAddr,
    /// The subnet it is in (`network_v4` in confd's key space), host bits clear.
    pub network: IpNet,
}

impl FromStr for NodeAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<NodeAddress, String> {
        if s.contains('/') {
            let net: IpNet = s
                .parse()
                .map_err(|e| format!("{s:?} is not an address with a prefix length: {e}"))?;
            Ok(NodeAddress {
                address: net.addr(),
                network: net.trunc(),
            })
        } else {
            let address: IpAddr = s
                .parse()
                .map_err(|e| format!("{s:?} is not an IP address: {e}"))?;
            Ok(NodeAddress {
                address,
                network: IpNet::from(address),
            })
        }
    }
}

/// An IPPool's `ipipMode` / `vxlanMode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EncapMode {
    /// `Never` (or unset).
    #[default]
    Never,
    /// `Always`.
    Always,
    /// `CrossSubnet`: only to nodes outside this node's subnet.
    CrossSubnet,
}

impl FromStr for EncapMode {
    type Err = String;

    fn from_str(s: &str) -> Result<EncapMode, String> {
        match s {
            "" | "Never" | "never" => Ok(EncapMode::Never),
            "Always" | "always" => Ok(EncapMode::Always),
            "CrossSubnet" | "cross-subnet" => Ok(EncapMode::CrossSubnet),
            _ => Err(format!(
                "{s:?} is not an encapsulation mode (Never, Always or CrossSubnet)"
            )),
        }
    }
}

impl fmt::Display for EncapMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncapMode::Never => "Never",
            EncapMode::Always => "Always",
            EncapMode::CrossSubnet => "CrossSubnet",
        })
    }
}

/// Deserializes an optional `FromStr` value from a JSON string; absent, `null` and `""` are
/// `None`.
fn opt_parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(D::Error::custom),
    }
}

/// Deserializes an [`EncapMode`]; absent and `null` are `Never`.
fn encap<'de, D: Deserializer<'de>>(d: D) -> Result<EncapMode, D::Error> {
    Ok(opt_parsed(d)?.unwrap_or_default())
}

// ------------------------------------------------------------------------------------------------
// Resources

/// `metadata` of a v3 resource (only what wren reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`; selectors match against these.
    pub labels: BTreeMap<String, String>,
}

/// A Calico `Node` (`/calico/resources/v3/projectcalico.org/nodes/<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Node {
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`.
    pub spec: NodeSpec,
    /// `status`.
    pub status: NodeStatus,
}

/// `Node.spec` (only what wren reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NodeSpec {
    /// `spec.bgp`; absent means the node does not run BGP.
    pub bgp: Option<NodeBgpSpec>,
}

/// `Node.spec.bgp`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NodeBgpSpec {
    /// `asNumber`: the node's own AS (else the global one).
    #[serde(rename = "asNumber")]
    pub as_number: Option<AsNumber>,
    /// `ipv4Address`: `"10.192.0.2/16"`.
    #[serde(rename = "ipv4Address", deserialize_with = "opt_parsed")]
    pub ipv4_address: Option<NodeAddress>,
    /// `ipv6Address`: `"fd00:10::2/64"`.
    #[serde(rename = "ipv6Address", deserialize_with = "opt_parsed")]
    pub ipv6_address: Option<NodeAddress>,
    /// `ipv4IPIPTunnelAddr` (the tunl0 address; not used for BGP).
    #[serde(rename = "ipv4IPIPTunnelAddr")]
    pub ipv4_ipip_tunnel_addr: Option<String>,
    /// `routeReflectorClusterID`: set (an IPv4-formatted id) when the node is a route reflector.
    #[serde(rename = "routeReflectorClusterID")]
    pub route_reflector_cluster_id: Option<String>,
}

/// `Node.status` (only what wren reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    /// `podCIDRs`: with `USE_POD_CIDR`, these are the node's blocks.
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
}

/// A `{"cidr": …}` entry of the service IP lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CidrEntry {
    /// The range, such as `"10.96.0.0/12"`.
    pub cidr: String,
}

/// A named community (`communities` of a BGPConfiguration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CommunityDef {
    /// The name `prefixAdvertisements` refer to.
    pub name: String,
    /// `"a:b"` (standard) or `"a:b:c"` (large).
    pub value: String,
}

/// A `prefixAdvertisements` entry: routes inside `cidr` get `communities`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PrefixAdvertisement {
    /// The prefix.
    pub cidr: String,
    /// Community values or names from `communities`.
    pub communities: Vec<String>,
}

/// `{"secretKeyRef": {"name": …, "key": …}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PasswordSource {
    /// The Kubernetes secret and key holding the password.
    #[serde(rename = "secretKeyRef")]
    pub secret_key_ref: Option<SecretKeyRef>,
}

/// A reference to one key of a Kubernetes secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SecretKeyRef {
    /// The secret's name.
    pub name: String,
    /// The key inside it.
    pub key: String,
}

/// A `BGPConfiguration`: `default` (global) or `node.<nodename>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BgpConfiguration {
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`.
    pub spec: BgpConfigurationSpec,
}

/// `BGPConfiguration.spec` (only what wren reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BgpConfigurationSpec {
    /// `logSeverityScreen` (not used: wren's log level is `RUST_LOG`).
    #[serde(rename = "logSeverityScreen")]
    pub log_severity_screen: Option<String>,
    /// `nodeToNodeMeshEnabled` (default true).
    #[serde(rename = "nodeToNodeMeshEnabled")]
    pub node_to_node_mesh_enabled: Option<bool>,
    /// `asNumber` (default 64512).
    #[serde(rename = "asNumber")]
    pub as_number: Option<AsNumber>,
    /// `serviceLoadBalancerIPs`.
    #[serde(rename = "serviceLoadBalancerIPs")]
    pub service_load_balancer_ips: Option<Vec<CidrEntry>>,
    /// `serviceExternalIPs`.
    #[serde(rename = "serviceExternalIPs")]
    pub service_external_ips: Option<Vec<CidrEntry>>,
    /// `serviceClusterIPs`.
    #[serde(rename = "serviceClusterIPs")]
    pub service_cluster_ips: Option<Vec<CidrEntry>>,
    /// `serviceLoadBalancerAggregation`: `Enabled` (default) or `Disabled`.
    #[serde(rename = "serviceLoadBalancerAggregation")]
    pub service_load_balancer_aggregation: Option<String>,
    /// `communities`: named values.
    pub communities: Vec<CommunityDef>,
    /// `prefixAdvertisements`.
    #[serde(rename = "prefixAdvertisements")]
    pub prefix_advertisements: Option<Vec<PrefixAdvertisement>>,
    /// `listenPort` (default 179).
    #[serde(rename = "listenPort")]
    pub listen_port: Option<u16>,
    /// `nodeMeshPassword` (only on `default`).
    #[serde(rename = "nodeMeshPassword")]
    pub node_mesh_password: Option<PasswordSource>,
    /// `nodeMeshMaxRestartTime` (only on `default`).
    #[serde(rename = "nodeMeshMaxRestartTime")]
    pub node_mesh_max_restart_time: Option<GoDuration>,
    /// `bindMode`: `None` (default) or `NodeIP`.
    #[serde(rename = "bindMode")]
    pub bind_mode: Option<String>,
    /// `ignoredInterfaces` (BIRD's `protocol direct`; wren has none, so not used).
    #[serde(rename = "ignoredInterfaces")]
    pub ignored_interfaces: Vec<String>,
    /// `programClusterRoutes`: who programs pool routes into the kernel.
    #[serde(rename = "programClusterRoutes")]
    pub program_cluster_routes: Option<String>,
}

/// A `BGPPeer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BgpPeer {
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`.
    pub spec: BgpPeerSpec,
}

/// `BGPPeer.spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BgpPeerSpec {
    /// `node`: the one node this peering is for.
    pub node: Option<String>,
    /// `nodeSelector`: the nodes this peering is for.
    #[serde(rename = "nodeSelector")]
    pub node_selector: Option<String>,
    /// `peerIP`: `"a.b.c.d"`, `"a.b.c.d:port"` or `"[v6]:port"`.
    #[serde(rename = "peerIP")]
    pub peer_ip: Option<String>,
    /// `asNumber`: the peer's AS.
    #[serde(rename = "asNumber")]
    pub as_number: Option<AsNumber>,
    /// `localASNumber`: the AS this node presents on this peering.
    #[serde(rename = "localASNumber")]
    pub local_as_number: Option<AsNumber>,
    /// `peerSelector`: peer with the selected Calico nodes instead of `peerIP`.
    #[serde(rename = "peerSelector")]
    pub peer_selector: Option<String>,
    /// `keepOriginalNextHop` (deprecated; eBGP only).
    #[serde(rename = "keepOriginalNextHop")]
    pub keep_original_next_hop: bool,
    /// `nextHopMode`: `Auto`, `Self` or `Keep`.
    #[serde(rename = "nextHopMode")]
    pub next_hop_mode: Option<String>,
    /// `password`.
    pub password: Option<PasswordSource>,
    /// `sourceAddress`: `UseNodeIP` (default) or `None`.
    #[serde(rename = "sourceAddress")]
    pub source_address: Option<String>,
    /// `maxRestartTime`.
    #[serde(rename = "maxRestartTime")]
    pub max_restart_time: Option<GoDuration>,
    /// `keepaliveTime`.
    #[serde(rename = "keepaliveTime")]
    pub keepalive_time: Option<GoDuration>,
    /// `numAllowedLocalASNumbers`.
    #[serde(rename = "numAllowedLocalASNumbers")]
    pub num_allowed_local_as_numbers: Option<i64>,
    /// `ttlSecurity`: GTSM hop count.
    #[serde(rename = "ttlSecurity")]
    pub ttl_security: Option<u64>,
    /// `reachableBy`: the gateway to the peer.
    #[serde(rename = "reachableBy")]
    pub reachable_by: Option<String>,
    /// `filters`: BGPFilter names (not supported yet).
    pub filters: Vec<String>,
    /// `localWorkloadSelector` (not supported yet).
    #[serde(rename = "localWorkloadSelector")]
    pub local_workload_selector: Option<String>,
    /// `reversePeering`: `Auto` (default) or `Manual`.
    #[serde(rename = "reversePeering")]
    pub reverse_peering: Option<String>,
}

/// An `IPPool`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IpPool {
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`.
    pub spec: IpPoolSpec,
}

/// `IPPool.spec` (only what wren reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IpPoolSpec {
    /// `cidr` (required; host bits are ignored).
    #[serde(deserialize_with = "opt_parsed")]
    pub cidr: Option<IpNet>,
    /// `vxlanMode`.
    #[serde(rename = "vxlanMode", deserialize_with = "encap")]
    pub vxlan_mode: EncapMode,
    /// `ipipMode`.
    #[serde(rename = "ipipMode", deserialize_with = "encap")]
    pub ipip_mode: EncapMode,
    /// `natOutgoing` (Felix's business).
    #[serde(rename = "natOutgoing")]
    pub nat_outgoing: bool,
    /// `disabled`: no new allocations (routes are still exported).
    pub disabled: bool,
    /// `disableBGPExport`: never advertise routes inside the pool.
    #[serde(rename = "disableBGPExport")]
    pub disable_bgp_export: bool,
    /// `blockSize`.
    #[serde(rename = "blockSize")]
    pub block_size: Option<u8>,
}

/// The value of a block affinity key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BlockAffinity {
    /// `confirmed`, `pending` or `pendingDeletion`; absent in legacy values (implicitly
    /// confirmed).
    pub state: Option<String>,
    /// Marked for deletion.
    pub deleted: bool,
}

impl BlockAffinity {
    /// Confirmed and not deleted: the block is this host's (confd treats pending as absent).
    pub fn is_confirmed(&self) -> bool {
        !self.deleted && matches!(self.state.as_deref(), None | Some("") | Some("confirmed"))
    }
}

/// An IPAM allocation block (only what wren reads; allocations are not needed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IpamBlock {
    /// `cidr`.
    #[serde(deserialize_with = "opt_parsed")]
    pub cidr: Option<IpNet>,
    /// `affinity`: `host:<node>`, `virtual:<name>` or absent.
    pub affinity: Option<String>,
    /// `deleted`.
    pub deleted: bool,
}

// ------------------------------------------------------------------------------------------------
// Datastore

/// A snapshot of the Calico datastore: every resource wren reads, by name. Built with
/// [`Datastore::from_kv`] and kept current with [`Datastore::insert`] / [`Datastore::remove`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Datastore {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// BGPConfigurations by name (`default`, `node.<nodename>`).
    pub bgp_configurations: BTreeMap<String, BgpConfiguration>,
    /// BGPPeers by name.
    pub bgp_peers: BTreeMap<String, BgpPeer>,
    /// IPPools by name.
    pub ip_pools: BTreeMap<String, IpPool>,
    /// Names of the BGPFilters present (their rules are not supported yet).
    pub bgp_filters: BTreeSet<String>,
    /// Confirmed block affinities: node name → its blocks. Pending ones are absent.
    pub affinities: BTreeMap<String, BTreeSet<IpNet>>,
    /// IPAM blocks by CIDR.
    pub blocks: BTreeMap<IpNet, IpamBlock>,
}

/// Builds a [`Datastore`] from etcd's key→value pairs; see [`Datastore::from_kv`].
pub fn from_kv(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> (Datastore, Vec<KeyError>) {
    Datastore::from_kv(pairs)
}

/// What a key is, from its path alone.
enum KeyKind<'a> {
    Resource { plural: &'a str, name: &'a str },
    Affinity { node: &'a str, block: IpNet },
    Block { cidr: IpNet },
    Ignored,
}

/// `192.168.84.128-26` → `192.168.84.128/26` (Calico replaces the `/` with `-` in keys).
fn cidr_from_key(s: &str) -> Option<IpNet> {
    let (addr, len) = s.rsplit_once('-')?;
    format!("{addr}/{len}").parse::<IpNet>().ok()
}

fn classify(key: &str) -> Result<KeyKind<'_>, Error> {
    if let Some(rest) = key.strip_prefix(RESOURCE_PREFIX) {
        let (plural, name) = rest.split_once('/').unwrap_or((rest, ""));
        if !RESOURCE_PLURALS.contains(&plural) {
            return Ok(KeyKind::Ignored);
        }
        if name.is_empty() || name.contains('/') {
            return Err(Error::Key(format!(
                "expected {RESOURCE_PREFIX}{plural}/<name> ({plural} are cluster-scoped)"
            )));
        }
        return Ok(KeyKind::Resource { plural, name });
    }
    if let Some(rest) = key.strip_prefix(IPAM_HOST_PREFIX) {
        let parts: Vec<&str> = rest.split('/').collect();
        return match parts.as_slice() {
            [node, "ipv4" | "ipv6", "block", cidr] if !node.is_empty() => {
                let block = cidr_from_key(cidr).ok_or_else(|| {
                    Error::Key(format!("{cidr:?} is not a block CIDR such as 10.0.0.0-26"))
                })?;
                Ok(KeyKind::Affinity { node, block })
            }
            _ => Err(Error::Key(format!(
                "expected {IPAM_HOST_PREFIX}<node>/ipv4/block/<a.b.c.d-len>"
            ))),
        };
    }
    if let Some(rest) = key.strip_prefix(IPAM_BLOCK_PREFIX) {
        let parts: Vec<&str> = rest.split('/').collect();
        return match parts.as_slice() {
            ["ipv4" | "ipv6", "block", cidr] => {
                let cidr = cidr_from_key(cidr).ok_or_else(|| {
                    Error::Key(format!("{cidr:?} is not a block CIDR such as 10.0.0.0-26"))
                })?;
                Ok(KeyKind::Block { cidr })
            }
            _ => Ok(KeyKind::Ignored),
        };
    }
    Ok(KeyKind::Ignored)
}

fn parse<'a, T: Deserialize<'a>>(value: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(value).map_err(|e| Error::Json(e.to_string()))
}

/// Parses `text` as a selector, naming `field` in the error.
fn check_selector(field: &str, text: Option<&str>) -> Result<(), Error> {
    match text.map(str::trim) {
        None | Some("") => Ok(()),
        Some(s) => Selector::parse(s).map(|_| ()).map_err(|e| Error::Value {
            field: field.to_string(),
            problem: e.to_string(),
        }),
    }
}

impl Datastore {
    /// An empty datastore.
    pub fn new() -> Datastore {
        Datastore::default()
    }

    /// Builds a snapshot from etcd's key→value pairs. Keys outside what wren reads are ignored;
    /// a key whose value is malformed (or whose path is not one Calico writes) is skipped and
    /// reported, and never stops the others. Later pairs for the same key replace earlier ones.
    pub fn from_kv(
        pairs: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> (Datastore, Vec<KeyError>) {
        let mut ds = Datastore::default();
        let mut errors = Vec::new();
        for (key, value) in pairs {
            if let Err(e) = ds.insert(&key, &value) {
                errors.push(e);
            }
        }
        (ds, errors)
    }

    /// Applies a put of `key`. On error the key's previous value is removed too (it is no longer
    /// what etcd holds), and the error names the key.
    pub fn insert(&mut self, key: &str, value: &[u8]) -> Result<(), KeyError> {
        self.insert_inner(key, value).map_err(|error| {
            self.remove(key);
            KeyError {
                key: key.to_string(),
                error,
            }
        })
    }

    fn insert_inner(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        match classify(key)? {
            KeyKind::Ignored => {}
            KeyKind::Resource { plural, name } => match plural {
                "nodes" => {
                    let node: Node = parse(value)?;
                    self.nodes.insert(name.to_string(), node);
                }
                "bgpconfigurations" => {
                    let c: BgpConfiguration = parse(value)?;
                    self.bgp_configurations.insert(name.to_string(), c);
                }
                "bgppeers" => {
                    let p: BgpPeer = parse(value)?;
                    check_selector("spec.nodeSelector", p.spec.node_selector.as_deref())?;
                    check_selector("spec.peerSelector", p.spec.peer_selector.as_deref())?;
                    self.bgp_peers.insert(name.to_string(), p);
                }
                "ippools" => {
                    let p: IpPool = parse(value)?;
                    if p.spec.cidr.is_none() {
                        return Err(Error::Value {
                            field: "spec.cidr".into(),
                            problem: "an IPPool needs a cidr".into(),
                        });
                    }
                    self.ip_pools.insert(name.to_string(), p);
                }
                "bgpfilters" => {
                    let _: serde_json::Value = parse(value)?;
                    self.bgp_filters.insert(name.to_string());
                }
                _ => {}
            },
            KeyKind::Affinity { node, block } => {
                // Legacy affinities have an empty value: implicitly confirmed.
                let a: BlockAffinity = if value.iter().all(u8::is_ascii_whitespace) {
                    BlockAffinity::default()
                } else {
                    parse(value)?
                };
                let set = self.affinities.entry(node.to_string()).or_default();
                if a.is_confirmed() {
                    set.insert(block.trunc());
                } else {
                    set.remove(&block.trunc());
                    if set.is_empty() {
                        self.affinities.remove(node);
                    }
                }
            }
            KeyKind::Block { cidr } => {
                let b: IpamBlock = parse(value)?;
                self.blocks.insert(cidr.trunc(), b);
            }
        }
        Ok(())
    }

    /// Applies a delete of `key`; returns whether anything was removed.
    pub fn remove(&mut self, key: &str) -> bool {
        match classify(key) {
            Ok(KeyKind::Resource { plural, name }) => match plural {
                "nodes" => self.nodes.remove(name).is_some(),
                "bgpconfigurations" => self.bgp_configurations.remove(name).is_some(),
                "bgppeers" => self.bgp_peers.remove(name).is_some(),
                "ippools" => self.ip_pools.remove(name).is_some(),
                "bgpfilters" => self.bgp_filters.remove(name),
                _ => false,
            },
            Ok(KeyKind::Affinity { node, block }) => {
                let Some(set) = self.affinities.get_mut(node) else {
                    return false;
                };
                let removed = set.remove(&block.trunc());
                if set.is_empty() {
                    self.affinities.remove(node);
                }
                removed
            }
            Ok(KeyKind::Block { cidr }) => self.blocks.remove(&cidr.trunc()).is_some(),
            Ok(KeyKind::Ignored) | Err(_) => false,
        }
    }
}
