//! Calico mode: the configuration comes from Calico's etcd v3 datastore, as BIRD's came from
//! confd. The etcd watcher ([`crate::datastore::etcd`]) keeps a key→value map; after the initial
//! list is in sync, and after every later change, [`crate::calico::derive()`] turns it into the
//! peers, originated blocks and kernel rules of this node, applied on top of the static file's
//! `[control]`, `[kernel]` and `[metrics]`.
//!
//! Nothing is started before the first complete list (the issue's "nothing is acted on until the
//! initial list is in sync"). While etcd is unreachable the watcher keeps retrying and wren keeps
//! every session and route as they are; when it returns, the fresh list is derived and only the
//! difference is applied (the same per-peer rules as a SIGHUP reload).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::calico;
use crate::config::Config;
use crate::datastore::{self, EtcdSettings, KvMap};

/// The control socket in Calico mode when `[control] socket` is left at its default: where
/// calico-node's `-bird-ready` / `-bird-live` checks and `calicoctl node status` connect.
pub const CALICO_CONTROL_SOCKET: &str = "/var/run/calico/bird.ctl";

/// Changes that arrive within this window are derived once.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The etcd settings for `config`'s `[datastore]`, with calico-node's environment on top.
pub fn settings(ds: &crate::config::Datastore, node: &str) -> EtcdSettings {
    let file = EtcdSettings {
        endpoints: ds.endpoints.clone(),
        ca_cert_file: ds.ca_cert_file.clone(),
        cert_file: ds.cert_file.clone(),
        key_file: ds.key_file.clone(),
        prefixes: calico::watch_prefixes(node),
    };
    file.overridden_by(EtcdSettings::from_env())
}

/// This node's Calico name: `NODENAME`, else `[datastore] node_name`, else the host name.
pub fn node_name(ds: &crate::config::Datastore) -> String {
    std::env::var("NODENAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| ds.node_name.clone())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_default()
}

/// Reads the Secrets mounted under `dir` (`<dir>/<secret name>/<key>`, as a Kubernetes Secret
/// volume; entries starting with `.`, such as the volume's `..data` links, are skipped). A
/// trailing newline is not part of a password. Unreadable entries are logged and skipped.
pub fn read_secrets(dir: &std::path::Path) -> calico::Secrets {
    let mut secrets = calico::Secrets::new();
    let visible = |e: &std::fs::DirEntry| !e.file_name().to_string_lossy().starts_with('.');
    let Ok(names) = std::fs::read_dir(dir) else {
        tracing::warn!(
            "calico: cannot read the secrets directory {}",
            dir.display()
        );
        return secrets;
    };
    for name in names.flatten().filter(visible) {
        let Ok(keys) = std::fs::read_dir(name.path()) else {
            continue;
        };
        for key in keys.flatten().filter(visible) {
            match std::fs::read_to_string(key.path()) {
                Ok(v) => secrets.insert(
                    &name.file_name().to_string_lossy(),
                    &key.file_name().to_string_lossy(),
                    v.trim_end_matches(['\n', '\r']),
                ),
                Err(e) => tracing::warn!("calico: cannot read {}: {e}", key.path().display()),
            }
        }
    }
    secrets
}

fn derive(base: &Config, kv: &KvMap, node: &str, env: &calico::Env) -> Option<Config> {
    let mut env = env.clone();
    if let Some(dir) = base
        .datastore
        .as_ref()
        .and_then(|d| d.secrets_dir.as_deref())
    {
        env.secrets = read_secrets(dir);
    }
    let env = &env;
    let pairs = kv.iter().map(|(k, v)| (k.to_string(), v.to_vec()));
    let (ds, errors) = calico::from_kv(pairs);
    for e in errors {
        tracing::warn!("datastore: {e}; key skipped");
    }
    match calico::derive(&ds, node, env) {
        Ok(d) => {
            for w in &d.warnings {
                tracing::warn!("calico: {w}");
            }
            let mut c = d.apply(base);
            if let Some(level) = calico::log_level(&ds, node) {
                c.global.log_level = level.to_string();
            }
            Some(c)
        }
        Err(e) => {
            tracing::error!("calico: cannot derive this node's configuration: {e}");
            None
        }
    }
}

/// Whether wren's view of the datastore is current, for `wren_datastore_synced` and
/// `wren_datastore_lag_seconds`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncState {
    /// The last full list applies and the watch is running.
    pub current: bool,
    /// Since when the view is not current (the connection was lost).
    pub lost_since: Option<std::time::Instant>,
}

/// A shared [`SyncState`].
pub type SharedSync = std::sync::Arc<std::sync::Mutex<SyncState>>;

/// What [`start`] returns: the first derived configuration, later ones, and the sync state.
pub type Started = (Config, mpsc::Receiver<Config>, SharedSync);

/// Starts watching etcd and waits for the first complete list; returns the derived
/// configuration, a channel of later ones (sent only when something changed), and the sync
/// state.
pub async fn start(base: Config) -> Result<Started, String> {
    let Some(ds) = base.datastore.clone() else {
        return Err("not in Calico mode".into());
    };
    let node = node_name(&ds);
    if node.is_empty() {
        return Err("datastore.node_name: no node name (set NODENAME or node_name)".into());
    }
    let settings = settings(&ds, &node);
    settings.validate().map_err(|e| format!("datastore: {e}"))?;
    let env = calico::Env::from_vars(std::env::vars());
    let (tx, mut events) = mpsc::channel(1024);
    tokio::spawn(async move {
        if let Err(e) = datastore::etcd::watch(settings, tx).await {
            tracing::error!("datastore: watcher stopped: {e}");
        }
    });
    tracing::info!("calico mode: node {node}; waiting for the datastore's initial list");
    let mut kv = KvMap::new();
    let first = loop {
        let Some(event) = events.recv().await else {
            return Err("datastore: the watcher stopped before the initial list".into());
        };
        kv.apply(event);
        if kv.is_synced() {
            if let Some(c) = derive(&base, &kv, &node, &env) {
                break c;
            }
        }
    };
    tracing::info!(
        "calico mode: in sync ({} keys): AS {}, router id {}, {} peers, {} originated prefixes",
        kv.len(),
        first.global.asn,
        first.global.router_id,
        first.peers.len(),
        first.originate.len()
    );
    let (out, rx) = mpsc::channel(8);
    let mut last = first.clone();
    let sync: SharedSync = std::sync::Arc::new(std::sync::Mutex::new(SyncState {
        current: true,
        lost_since: None,
    }));
    let shared = sync.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let mut changed = kv.apply(event);
            if let Ok(mut s) = shared.lock() {
                s.current = kv.is_current();
                if s.current {
                    s.lost_since = None;
                } else if s.lost_since.is_none() {
                    s.lost_since = Some(std::time::Instant::now());
                }
            }
            // Take whatever else arrives at once.
            let deadline = tokio::time::sleep(DEBOUNCE);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Some(e) => changed |= kv.apply(e),
                        None => break,
                    },
                    _ = &mut deadline => break,
                }
            }
            if !changed || !kv.is_synced() {
                continue;
            }
            if let Some(c) = derive(&base, &kv, &node, &env) {
                if c != last {
                    last = c.clone();
                    if out.send(c).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok((first, rx, sync))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn secrets_are_read_as_a_mounted_secret_volume_without_hidden_entries_or_newlines() {
        let dir = std::env::temp_dir().join(format!("wren-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bgp-tor")).unwrap();
        std::fs::create_dir_all(dir.join("..data")).unwrap();
        std::fs::write(dir.join("bgp-tor/password"), "s3cret\n").unwrap();
        std::fs::write(dir.join("bgp-tor/..hidden"), "x").unwrap();
        let s = read_secrets(&dir);
        assert_eq!(s.get("bgp-tor", "password"), Some("s3cret"));
        assert_eq!(s.get("bgp-tor", "..hidden"), None);
        assert_eq!(s.get("..data", "anything"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod log_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use crate::calico;

    fn ds(default: &str, node: Option<&str>) -> calico::model::Datastore {
        let mut kv = vec![(
            "/calico/resources/v3/projectcalico.org/bgpconfigurations/default".to_string(),
            format!(
                r#"{{"kind":"BGPConfiguration","metadata":{{"name":"default"}},"spec":{{"logSeverityScreen":"{default}"}}}}"#
            )
            .into_bytes(),
        )];
        if let Some(n) = node {
            kv.push((
                "/calico/resources/v3/projectcalico.org/bgpconfigurations/node.node1".to_string(),
                format!(
                    r#"{{"kind":"BGPConfiguration","metadata":{{"name":"node.node1"}},"spec":{{"logSeverityScreen":"{n}"}}}}"#
                )
                .into_bytes(),
            ));
        }
        calico::from_kv(kv).0
    }

    #[test]
    fn log_severity_screen_maps_to_wren_levels_with_the_node_configuration_first() {
        assert_eq!(calico::log_level(&ds("Info", None), "node1"), Some("info"));
        assert_eq!(
            calico::log_level(&ds("Warning", None), "node1"),
            Some("warn")
        );
        assert_eq!(
            calico::log_level(&ds("Fatal", None), "node1"),
            Some("error")
        );
        assert_eq!(
            calico::log_level(&ds("Info", Some("Debug")), "node1"),
            Some("debug")
        );
        assert_eq!(
            calico::log_level(&ds("Info", Some("Debug")), "node2"),
            Some("info")
        );
        assert_eq!(calico::log_level(&ds("Loud", None), "node1"), None);
    }
}
