//! # calico — Calico's datastore in, wren's configuration out (what confd did for BIRD)
//!
//! Inside calico-node, confd watches the etcd v3 datastore and renders `bird.cfg`,
//! `bird_aggr.cfg` and `bird_ipam.cfg` (and the `bird6*` twins) from Go templates; BIRD then
//! reloads them. wren replaces both: this module is the template logic, as pure Rust.
//!
//! ```text
//!  etcd key → JSON bytes ──Datastore::from_kv──► Datastore ──derive(node, env)──► Derived
//!  (the datastore adapter)   (serde models,        (typed      (mesh, peers, RR,     (config::Peer,
//!                             one bad key skipped)  snapshot)   blocks, pools …)      Originate, Tunnel …)
//! ```
//!
//! **Owns:**
//! * the serde models of the Calico v3 values wren reads ([`model`]): Node, BGPConfiguration,
//!   BGPPeer, IPPool, IPAM block affinities and blocks — unknown fields are ignored, a malformed
//!   value is reported with its key ([`KeyError`]) and skipped, never stopping the rest;
//! * the [`Datastore`] snapshot and its incremental [`Datastore::insert`] / [`Datastore::remove`];
//! * Calico's label [`selector`] language (`all()`, `has(k)`, `==`, `!=`, `in`, `not in`, `!`,
//!   `&&`, `||`, parentheses), with errors that name the column;
//! * [`derive`](derive()): confd's decisions for one node — AS numbers, router id, the
//!   node-to-node mesh (`Mesh_<ip>`), global (`Global_<ip>`) and node-specific (`Node_<ip>`)
//!   BGPPeers including selector and reverse peerings, route-reflector roles, per-peer options,
//!   what is exported (blocks, service ranges, communities) and how pools are programmed into the
//!   kernel (IP-in-IP tunnels, VXLAN left to Felix) — expressed as wren's own types
//!   ([`config::Peer`](crate::config::Peer), [`config::Originate`](crate::config::Originate),
//!   [`fib::sync::Tunnel`](crate::fib::sync::Tunnel),
//!   [`fib::sync::LearnRule`](crate::fib::sync::LearnRule));
//! * [`Derived::render`], a stable text form for golden tests (`src/calico/testdata/`).
//!
//! **Must not do I/O.** No etcd, no files, no environment, no clock: the etcd watcher
//! ([`crate::datastore`]) hands over the key→value map, the daemon reads the environment and the
//! secrets directory into an [`Env`]. Everything here is a function of its arguments, so the same
//! datastore always derives the same configuration. `docs/calico.md` lists what is supported.

pub mod derive;
pub mod model;
pub mod selector;
mod sha256;

#[cfg(test)]
mod derive_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod selector_tests;

use std::collections::BTreeMap;

pub use crate::policy::{CommunityRule, ExportPolicy};
pub use derive::{derive, Derived, DerivedGlobal, PeerDetail, PeerKind, StaticRoute};
pub use model::{from_kv, Datastore};
pub use selector::Selector;

/// The AS number confd uses when neither the node nor the global BGPConfiguration sets one.
pub const DEFAULT_AS: u32 = 64512;

/// Environment variable: the router id (`a.b.c.d`, or `hash` for one derived from the node name).
pub const ENV_ROUTER_ID: &str = "CALICO_ROUTER_ID";
/// Environment variable: service cluster IP ranges to advertise (comma separated), used when the
/// default BGPConfiguration has no `serviceClusterIPs`.
pub const ENV_ADVERTISE_CLUSTER_IPS: &str = "CALICO_ADVERTISE_CLUSTER_IPS";
/// Environment variable: `true` when the node's blocks are its `status.podCIDRs` (host-local IPAM).
pub const ENV_USE_POD_CIDR: &str = "USE_POD_CIDR";

/// Everything wrong with a Calico value or a derivation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The value is not JSON, or not the JSON shape of its resource (serde_json's message, with
    /// the line and column it reported).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The key has a known prefix but not the shape Calico writes (e.g. a block key without a
    /// CIDR).
    #[error("{0}")]
    Key(String),
    /// A field parsed but holds a value Calico would not accept.
    #[error("{field}: {problem}")]
    Value {
        /// The JSON path of the field, such as `spec.peerSelector`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A label selector could not be parsed.
    #[error("selector {selector:?}: column {column}: {problem}")]
    Selector {
        /// The selector text.
        selector: String,
        /// 1-based column (in characters) where the problem is.
        column: usize,
        /// What is wrong, and what was expected there.
        problem: String,
    },
    /// The node to derive for has no Node resource.
    #[error("node {0:?} is not in the datastore (no key /calico/resources/v3/projectcalico.org/nodes/{0})")]
    UnknownNode(String),
    /// No router id: the node has no IPv4 address and `CALICO_ROUTER_ID` is not set.
    #[error("node {0:?} has no IPv4 address (spec.bgp.ipv4Address) and CALICO_ROUTER_ID is not set, so there is no BGP router id")]
    NoRouterId(String),
    /// `CALICO_ROUTER_ID` is neither an IPv4 address nor `hash`.
    #[error("CALICO_ROUTER_ID {0:?} is neither an IPv4 address nor \"hash\"")]
    BadRouterId(String),
    /// The node's `routeReflectorClusterID` is not an IPv4 address (RFC 4456 cluster ids are 4
    /// octets).
    #[error("node {node:?}: spec.bgp.routeReflectorClusterID {value:?} is not an IPv4 address")]
    BadClusterId {
        /// The node.
        node: String,
        /// The value found.
        value: String,
    },
    /// The AS number the node would use is 0 or AS_TRANS (23456), which no session can carry.
    #[error("node {node:?}: AS number {asn} cannot be used (0 and 23456 are reserved)")]
    BadAs {
        /// The node.
        node: String,
        /// The AS number.
        asn: u32,
    },
}

/// A value that could not be used, with its key. [`Datastore::from_kv`] skips such keys and
/// returns one of these for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The etcd key.
    pub key: String,
    /// What is wrong with its value (or with the key itself).
    pub error: Error,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.error)
    }
}

/// The log level Calico asks for: `logSeverityScreen` of the node's `node.<name>`
/// BGPConfiguration, else of `default`, in wren's words (`Debug` → `debug`, `Info` → `info`,
/// `Warning` → `warn`, `Error`/`Fatal`/`Panic` → `error`); `None` when unset or unknown.
pub fn log_level(ds: &model::Datastore, node: &str) -> Option<&'static str> {
    let screen = |name: &str| {
        ds.bgp_configurations
            .get(name)
            .and_then(|c| c.spec.log_severity_screen.clone())
    };
    let s = screen(&format!("node.{node}")).or_else(|| screen("default"))?;
    match s.to_ascii_lowercase().as_str() {
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warning" | "warn" => Some("warn"),
        "error" | "fatal" | "panic" => Some("error"),
        _ => None,
    }
}

/// Kubernetes secrets as mounted in a directory (`<dir>/<secret name>/<key>`), read by the
/// caller: secret name → key → contents. BGP passwords (`secretKeyRef`) are looked up here.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, BTreeMap<String, String>>);

impl Secrets {
    /// No secrets.
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Adds (or replaces) key `key` of secret `name`.
    pub fn insert(&mut self, name: &str, key: &str, value: &str) {
        self.0
            .entry(name.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
    }

    /// The contents of key `key` of secret `name`, if present.
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        self.0.get(name)?.get(key).map(String::as_str)
    }
}

impl std::fmt::Debug for Secrets {
    /// Shows the secret and key names, never the contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .flat_map(|(n, keys)| keys.keys().map(move |k| format!("{n}/{k}")))
            .collect();
        f.debug_tuple("Secrets").field(&names).finish()
    }
}

/// What confd took from outside the datastore: calico-node's environment and the secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `CALICO_ROUTER_ID`: an IPv4 address, or `hash`; `None` (or empty) means the node's IPv4
    /// address.
    pub router_id: Option<String>,
    /// `CALICO_ADVERTISE_CLUSTER_IPS`: comma-separated ranges, used when the default
    /// BGPConfiguration has no `serviceClusterIPs`.
    pub advertise_cluster_ips: Option<String>,
    /// `USE_POD_CIDR=true`: the node's blocks are its `status.podCIDRs`, not IPAM affinities.
    pub use_pod_cidr: bool,
    /// BGP passwords referenced by `secretKeyRef`.
    pub secrets: Secrets,
}

impl Env {
    /// Picks the variables this module reads ([`ENV_ROUTER_ID`], [`ENV_ADVERTISE_CLUSTER_IPS`],
    /// [`ENV_USE_POD_CIDR`]) out of `vars` (for example `std::env::vars()`); others are ignored.
    /// Secrets stay empty.
    pub fn from_vars<I, K, V>(vars: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut env = Env::default();
        for (k, v) in vars {
            let v = v.as_ref();
            match k.as_ref() {
                ENV_ROUTER_ID if !v.is_empty() => env.router_id = Some(v.to_string()),
                ENV_ADVERTISE_CLUSTER_IPS if !v.is_empty() => {
                    env.advertise_cluster_ips = Some(v.to_string())
                }
                ENV_USE_POD_CIDR => env.use_pod_cidr = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        env
    }
}

/// The etcd prefixes confd's BGP syncer watches for node `node`: the v3 resources wren reads and
/// this node's block affinities. The datastore adapter lists and watches these.
pub fn watch_prefixes(node: &str) -> Vec<String> {
    let mut v: Vec<String> = model::RESOURCE_PLURALS
        .iter()
        .map(|p| format!("{}{p}/", model::RESOURCE_PREFIX))
        .collect();
    v.push(format!("{}{node}/", model::IPAM_HOST_PREFIX));
    v
}
