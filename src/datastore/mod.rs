//! Where desired state comes from: Calico's etcd v3 datastore, as a stream of key/value events.
//!
//! **Owns:** the connection settings for etcd ([`EtcdSettings`], read from calico-node's
//! environment with [`EtcdSettings::from_env`] and merged over file values with
//! [`EtcdSettings::overridden_by`]), the event shape every source emits ([`Event`]), a helper that
//! keeps a consistent key→value map from those events ([`KvMap`]), and the etcd v3 watcher
//! ([`etcd::watch`]: list at one revision, then watch from the next; on any failure back off,
//! reconnect and list again).
//!
//! **Contract with the consumer.** A source first sends [`Event::Synced`] with the complete set of
//! keys under its prefixes, then [`Event::Put`] / [`Event::Delete`] for each change. Whenever the
//! source loses its view (etcd unreachable, watch cancelled or compacted) it sends nothing until it
//! has listed again, then another `Synced` that *replaces* the consumer's map. In between the
//! consumer keeps its last map: an outage never empties the desired state. [`KvMap::apply`] does
//! exactly this and reports whether anything changed.
//!
//! **Values are bytes.** Keys are UTF-8 (Calico's always are; a key that is not is skipped with a
//! warning), values are passed on untouched: parsing Calico's JSON objects is the job of the module
//! that turns them into configuration, so a malformed value reaches it as it is.
//!
//! **Must not depend on:** sessions, the RIB or the FIB. Only [`etcd`] does I/O.

pub mod etcd;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Environment variable with the etcd endpoints, comma separated (calico-node's `ETCD_ENDPOINTS`).
pub const ENV_ENDPOINTS: &str = "ETCD_ENDPOINTS";
/// Environment variable with the CA certificate file (PEM) that signs etcd's server certificate.
pub const ENV_CA_CERT_FILE: &str = "ETCD_CA_CERT_FILE";
/// Environment variable with the client certificate file (PEM).
pub const ENV_CERT_FILE: &str = "ETCD_CERT_FILE";
/// Environment variable with the client private key file (PEM).
pub const ENV_KEY_FILE: &str = "ETCD_KEY_FILE";

/// Prefix of Calico's v3 resources (nodes, BGP configurations, peers, filters, IP pools).
pub const CALICO_RESOURCES_PREFIX: &str = "/calico/resources/v3/projectcalico.org/";
/// Prefix of the IPAM block affinities of all hosts; one host's are under `<prefix><node>/`.
pub const CALICO_IPAM_HOST_PREFIX: &str = "/calico/ipam/v2/host/";

/// Errors of the datastore adapter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings cannot work (no endpoints, no prefixes, a certificate without its key, …).
    #[error("invalid etcd settings: {0}")]
    Settings(String),
    /// A TLS file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The etcd client failed (connection, transport, gRPC status).
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// An etcd request took longer than its deadline.
    #[error("etcd: {0} timed out")]
    Timeout(&'static str),
    /// etcd cancelled the watch; `compact_revision` is non-zero when the watch's start revision
    /// had been compacted away.
    #[error("etcd cancelled the watch (compact revision {compact_revision}): {reason}")]
    WatchCancelled {
        /// etcd's reason text.
        reason: String,
        /// The compaction revision etcd reported, or 0.
        compact_revision: i64,
    },
    /// etcd ended the watch stream.
    #[error("etcd closed the watch stream")]
    WatchClosed,
    /// etcd answered something the protocol does not allow (e.g. a response without a header).
    #[error("unexpected etcd response: {0}")]
    Protocol(String),
}

/// One change of a source's key→value set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The complete key→value set under the source's prefixes after a (re)list. It replaces
    /// whatever the consumer held before.
    Synced(BTreeMap<String, Vec<u8>>),
    /// A key was created or modified.
    Put {
        /// The full key, e.g. `/calico/resources/v3/projectcalico.org/bgppeers/rack1-tor`.
        key: String,
        /// The value, exactly as stored.
        value: Vec<u8>,
    },
    /// The connection to the source was lost: the consumer keeps its map, which is no longer
    /// current until the next [`Event::Synced`].
    Lost,
    /// A key was deleted.
    Delete {
        /// The full key.
        key: String,
    },
}

// ------------------------------------------------------------------------------------------------
// KvMap

/// A key→value map kept consistent with a stream of [`Event`]s.
///
/// It starts empty and unsynced; the first [`Event::Synced`] marks it synced. It never forgets
/// anything on its own: while the source is away it simply keeps the last state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvMap {
    map: BTreeMap<String, Vec<u8>>,
    synced: bool,
    lost: bool,
}

impl KvMap {
    /// An empty, not yet synced map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event and returns whether the map's contents changed. The first `Synced`
    /// counts as a change even when it is empty, so the consumer acts once it has a full view.
    pub fn apply(&mut self, event: Event) -> bool {
        match event {
            Event::Synced(map) => {
                let changed = !self.synced || self.map != map;
                self.map = map;
                self.synced = true;
                self.lost = false;
                changed
            }
            Event::Lost => {
                self.lost = true;
                false
            }
            Event::Put { key, value } => {
                if self.map.get(&key) == Some(&value) {
                    return false;
                }
                self.map.insert(key, value);
                true
            }
            Event::Delete { key } => self.map.remove(&key).is_some(),
        }
    }

    /// Whether the map follows the source right now: synced, and no [`Event::Lost`] since the
    /// last [`Event::Synced`].
    pub fn is_current(&self) -> bool {
        self.synced && !self.lost
    }

    /// Whether a full list has been applied.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The whole map.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.map
    }
}

// ------------------------------------------------------------------------------------------------
// Settings

/// How to reach etcd and what to read from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdSettings {
    /// Endpoints such as `https://10.0.0.1:2379`; a plain `host:port` means HTTP without TLS files
    /// and HTTPS with them.
    pub endpoints: Vec<String>,
    /// CA certificate (PEM) that signs etcd's server certificate. Needed for `https://`: the
    /// system trust store is not used.
    pub ca_cert_file: Option<PathBuf>,
    /// Client certificate (PEM), together with [`EtcdSettings::key_file`].
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM), together with [`EtcdSettings::cert_file`].
    pub key_file: Option<PathBuf>,
    /// Key prefixes to list and watch, e.g. [`EtcdSettings::calico_prefixes`]. A prefix inside
    /// another one is redundant and ignored.
    pub prefixes: Vec<String>,
}

impl EtcdSettings {
    /// The settings calico-node's environment gives ([`ENV_ENDPOINTS`], [`ENV_CA_CERT_FILE`],
    /// [`ENV_CERT_FILE`], [`ENV_KEY_FILE`]); unset and empty variables leave a field empty.
    /// `prefixes` is always empty: the environment does not name them.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`EtcdSettings::from_env`], reading variables through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let endpoints = non_empty(ENV_ENDPOINTS)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            endpoints,
            ca_cert_file: non_empty(ENV_CA_CERT_FILE).map(PathBuf::from),
            cert_file: non_empty(ENV_CERT_FILE).map(PathBuf::from),
            key_file: non_empty(ENV_KEY_FILE).map(PathBuf::from),
            prefixes: Vec::new(),
        }
    }

    /// `self` (e.g. from the configuration file) with every field that `env` sets taking its
    /// place: the environment wins over the file, field by field (non-empty lists, `Some` paths).
    #[must_use]
    pub fn overridden_by(self, env: EtcdSettings) -> Self {
        let list = |file: Vec<String>, env: Vec<String>| if env.is_empty() { file } else { env };
        Self {
            endpoints: list(self.endpoints, env.endpoints),
            ca_cert_file: env.ca_cert_file.or(self.ca_cert_file),
            cert_file: env.cert_file.or(self.cert_file),
            key_file: env.key_file.or(self.key_file),
            prefixes: list(self.prefixes, env.prefixes),
        }
    }

    /// What confd watches for node `node` (reference §1.3): all Calico v3 resources (IP pools,
    /// BGP configurations, nodes, BGP peers, BGP filters and the rest of that prefix) and this
    /// node's IPAM block affinities.
    pub fn calico_prefixes(node: &str) -> Vec<String> {
        vec![
            CALICO_RESOURCES_PREFIX.to_owned(),
            format!("{CALICO_IPAM_HOST_PREFIX}{node}/"),
        ]
    }

    /// Whether TLS files are given (then scheme-less endpoints use HTTPS).
    pub fn uses_tls(&self) -> bool {
        self.ca_cert_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// Checks that the settings can work: at least one endpoint and one non-empty prefix, a client
    /// certificate only with its key, no `http://` endpoint when TLS files are given, and a CA
    /// file for `https://` endpoints.
    pub fn validate(&self) -> Result<(), Error> {
        if self.endpoints.is_empty() {
            return Err(Error::Settings(format!(
                "no etcd endpoints (set {ENV_ENDPOINTS})"
            )));
        }
        if self.prefixes.is_empty() || self.prefixes.iter().any(String::is_empty) {
            return Err(Error::Settings(
                "at least one non-empty key prefix is needed".to_owned(),
            ));
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(Error::Settings(format!(
                "{ENV_CERT_FILE} and {ENV_KEY_FILE} go together"
            )));
        }
        let has_scheme = |e: &str, scheme: &str| {
            e.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        };
        if self.uses_tls() {
            if let Some(e) = self.endpoints.iter().find(|e| has_scheme(e, "http://")) {
                return Err(Error::Settings(format!(
                    "endpoint {e} is plain HTTP but TLS files are set; use https://"
                )));
            }
        }
        if self.ca_cert_file.is_none() {
            if let Some(e) = self.endpoints.iter().find(|e| has_scheme(e, "https://")) {
                return Err(Error::Settings(format!(
                    "endpoint {e} needs {ENV_CA_CERT_FILE}: the system trust store is not used"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
