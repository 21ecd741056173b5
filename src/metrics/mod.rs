//! Prometheus metrics: what the daemon counts, in the text exposition format, over HTTP.
//!
//! **Owns:** one [`prometheus::Registry`] inside [`Metrics`] with every `wren_…` family
//! (`docs/operations.md` lists them), plain setters the daemon calls with plain data
//! ([`PeerSample`], counts, [`FibOp`]), and a minimal HTTP/1.1 server ([`serve`]) answering
//! `GET /metrics`.
//!
//! **Must not:** know any other wren module. Samples are plain values the daemon builds from its
//! own state (the peer tasks' views, the RIB task's counts, the FIB task's batches, the datastore
//! watch), so metrics never reaches into the routing state and nothing depends on metrics.
//!
//! Off by default: the daemon serves metrics only when `[metrics] listen` is set
//! ([`MetricsSettings`]). Gauges are refreshed just before each scrape through an optional
//! refresh channel ([`Refresh`]); counters the daemon keeps as running totals (a peer's messages)
//! are set from those totals, so a sample taken at any moment is exact.
//!
//! ```text
//!   peer views ─┐                                       GET /metrics
//!   RIB counts ─┼─ daemon ──set_peer / set_rib / …──► Metrics ◄──render── serve ◄── Prometheus
//!   FIB batches ┘      ▲                                                   │
//!                      └────────── refresh request (before each scrape) ───┘
//! ```

mod http;

pub use http::{get, serve, serve_on, HttpResponse, Refresh, MAX_CONNECTIONS, MAX_REQUEST};
pub use http::{REFRESH_TIMEOUT, REQUEST_TIMEOUT};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::core::{Collector, GenericCounter, GenericCounterVec, GenericGaugeVec};
use prometheus::{
    Gauge, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The `Content-Type` of the text exposition format (version 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `[metrics]` section of the configuration: where to serve metrics, if anywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `[metrics] listen`: the address and port of the HTTP endpoint (`GET /metrics`); `None`
    /// (the default) serves nothing.
    pub listen: Option<SocketAddr>,
}

/// A BGP session's state as exported in `wren_peer_state` (RFC 4271 §8.2.2; the BGP4-MIB's
/// `bgpPeerState` minus one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// 0: not trying (or waiting to try again).
    #[default]
    Idle,
    /// 1: connecting out.
    Connect,
    /// 2: waiting for the peer to connect (or for the next attempt).
    Active,
    /// 3: OPEN sent.
    OpenSent,
    /// 4: OPENs exchanged, waiting for the KEEPALIVE.
    OpenConfirm,
    /// 5: up.
    Established,
}

impl SessionState {
    /// The value of `wren_peer_state`: 0 (Idle) to 5 (Established).
    pub fn value(self) -> i64 {
        match self {
            SessionState::Idle => 0,
            SessionState::Connect => 1,
            SessionState::Active => 2,
            SessionState::OpenSent => 3,
            SessionState::OpenConfirm => 4,
            SessionState::Established => 5,
        }
    }
}

/// One peer as the daemon sees it at the moment of sampling. Counters are running totals since
/// the daemon started (not deltas); the `wren_peer_*_total` counters are set to them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSample {
    /// The peer's name (the `peer` label): the name the control socket shows.
    pub name: String,
    /// FSM state.
    pub state: SessionState,
    /// How long the session has been Established; zero when it is not.
    pub uptime: Duration,
    /// BGP messages received (all types).
    pub messages_received: u64,
    /// BGP messages sent (all types).
    pub messages_sent: u64,
    /// UPDATE messages received.
    pub updates_received: u64,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// Times the session entered Established (BGP4-MIB `bgpPeerFsmEstablishedTransitions`).
    pub established_transitions: u64,
    /// Prefixes the peer currently announces to us (Adj-RIB-In, before import rules).
    pub prefixes_received: u64,
    /// Of those, prefixes imported into the Loc-RIB (not dropped as loops or by policy).
    pub prefixes_accepted: u64,
    /// Prefixes we currently announce to the peer (its Adj-RIB-Out).
    pub prefixes_advertised: u64,
    /// The last error in BIRD's words (`Received: Hold timer expired`), if any.
    pub last_error: Option<String>,
}

/// A kind of kernel route operation (the `op` label of the `wren_fib_*` counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FibOp {
    /// An exclusive add (`ip route add`).
    Add,
    /// A replace of a route wren owns (`ip route replace`).
    Replace,
    /// A delete.
    Delete,
}

impl FibOp {
    /// The label value: `add`, `replace` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            FibOp::Add => "add",
            FibOp::Replace => "replace",
            FibOp::Delete => "delete",
        }
    }
}

/// Every `wren_…` metric family in one registry. Cheap to share (`Arc<Metrics>`); every setter
/// takes `&self` and may be called from any task.
pub struct Metrics {
    registry: Registry,
    peer_state: IntGaugeVec,
    peer_up: IntGaugeVec,
    peer_uptime: GaugeVec,
    peer_messages_received: IntCounterVec,
    peer_messages_sent: IntCounterVec,
    peer_updates_received: IntCounterVec,
    peer_updates_sent: IntCounterVec,
    peer_fsm_transitions: IntCounterVec,
    peer_prefixes_received: IntGaugeVec,
    peer_prefixes_accepted: IntGaugeVec,
    peer_prefixes_advertised: IntGaugeVec,
    peer_last_error: IntGaugeVec,
    /// The `error` label currently exported per peer; the lock also serialises [`Metrics::set_peer`]
    /// so two samples of one peer never interleave their counter updates.
    last_errors: Mutex<HashMap<String, String>>,
    rib_prefixes: IntGauge,
    rib_paths: IntGauge,
    fib_operations: IntCounterVec,
    fib_failures: IntCounterVec,
    datastore_synced: IntGauge,
    datastore_lag: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers `c` in `r` and hands it back.
fn register<C: Collector + Clone + 'static>(r: &Registry, c: C) -> prometheus::Result<C> {
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn int_gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    register(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn int_counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// Sets a counter to a running total kept elsewhere: adds the difference, or starts again from
/// the total when it went down (the daemon's counter was reset, e.g. the peer was re-created).
fn set_total<P: prometheus::core::Atomic<T = u64>>(c: &GenericCounter<P>, total: u64) {
    let current = c.get();
    if total >= current {
        c.inc_by(total - current);
    } else {
        c.reset();
        c.inc_by(total);
    }
}

/// The series of `vec` for `labels`; `None` only if the label count is wrong (a bug, reported
/// once per call in the log rather than a panic).
fn counter<P: prometheus::core::Atomic>(
    vec: &GenericCounterVec<P>,
    labels: &[&str],
) -> Option<GenericCounter<P>> {
    vec.get_metric_with_label_values(labels)
        .map_err(|e| tracing::error!("metrics: {e}"))
        .ok()
}

fn gauge<P: prometheus::core::Atomic>(
    vec: &GenericGaugeVec<P>,
    labels: &[&str],
) -> Option<prometheus::core::GenericGauge<P>> {
    vec.get_metric_with_label_values(labels)
        .map_err(|e| tracing::error!("metrics: {e}"))
        .ok()
}

/// A gauge value from a count (saturating; counts beyond `i64::MAX` do not occur).
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Every family registered, with no peer series yet, the datastore not synced, and every
    /// other value 0. Fails only if the families are defined wrongly (a bug, caught by the tests).
    pub fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let peer = &["peer"];
        let m = Metrics {
            peer_state: int_gauge_vec(
                &r,
                "wren_peer_state",
                "BGP session state: 0 Idle, 1 Connect, 2 Active, 3 OpenSent, 4 OpenConfirm, 5 Established.",
                peer,
            )?,
            peer_up: int_gauge_vec(&r, "wren_peer_up", "1 while the session is Established, else 0.", peer)?,
            peer_uptime: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "wren_peer_uptime_seconds",
                        "Seconds since the session reached Established; 0 while it is not.",
                    ),
                    peer,
                )?,
            )?,
            peer_messages_received: int_counter_vec(
                &r,
                "wren_peer_messages_received_total",
                "BGP messages received from the peer (all types).",
                peer,
            )?,
            peer_messages_sent: int_counter_vec(
                &r,
                "wren_peer_messages_sent_total",
                "BGP messages sent to the peer (all types).",
                peer,
            )?,
            peer_updates_received: int_counter_vec(
                &r,
                "wren_peer_updates_received_total",
                "UPDATE messages received from the peer.",
                peer,
            )?,
            peer_updates_sent: int_counter_vec(
                &r,
                "wren_peer_updates_sent_total",
                "UPDATE messages sent to the peer.",
                peer,
            )?,
            peer_fsm_transitions: int_counter_vec(
                &r,
                "wren_peer_fsm_transitions_total",
                "Times the session entered Established (BGP4-MIB bgpPeerFsmEstablishedTransitions).",
                peer,
            )?,
            peer_prefixes_received: int_gauge_vec(
                &r,
                "wren_peer_prefixes_received",
                "Prefixes the peer currently announces (Adj-RIB-In).",
                peer,
            )?,
            peer_prefixes_accepted: int_gauge_vec(
                &r,
                "wren_peer_prefixes_accepted",
                "Prefixes from the peer imported into the Loc-RIB.",
                peer,
            )?,
            peer_prefixes_advertised: int_gauge_vec(
                &r,
                "wren_peer_prefixes_advertised",
                "Prefixes currently announced to the peer (Adj-RIB-Out).",
                peer,
            )?,
            peer_last_error: int_gauge_vec(
                &r,
                "wren_peer_last_error_info",
                "The session's last error in BIRD's words, as the error label (value always 1); absent when there is none.",
                &["peer", "error"],
            )?,
            last_errors: Mutex::new(HashMap::new()),
            rib_prefixes: register(
                &r,
                IntGauge::new("wren_rib_prefixes", "Prefixes in the Loc-RIB.")?,
            )?,
            rib_paths: register(
                &r,
                IntGauge::new(
                    "wren_rib_paths",
                    "Paths in the Loc-RIB (every candidate of every prefix).",
                )?,
            )?,
            fib_operations: int_counter_vec(
                &r,
                "wren_fib_operations_total",
                "Kernel route operations attempted, by kind (add, replace, delete).",
                &["op"],
            )?,
            fib_failures: int_counter_vec(
                &r,
                "wren_fib_failures_total",
                "Kernel route operations that failed, by kind (add, replace, delete).",
                &["op"],
            )?,
            datastore_synced: register(
                &r,
                IntGauge::new(
                    "wren_datastore_synced",
                    "1 when wren's view of the datastore is complete and current (always 1 with a static file), else 0.",
                )?,
            )?,
            datastore_lag: register(
                &r,
                Gauge::new(
                    "wren_datastore_lag_seconds",
                    "How far wren's view of the datastore is behind the datastore, in seconds; 0 when caught up.",
                )?,
            )?,
            registry: r,
        };
        for op in [FibOp::Add, FibOp::Replace, FibOp::Delete] {
            // Present from the start (at 0), so rate() works from the first scrape.
            let _ = counter(&m.fib_operations, &[op.as_str()]);
            let _ = counter(&m.fib_failures, &[op.as_str()]);
        }
        Ok(m)
    }

    /// Publishes one peer's sample: state, uptime, message and transition counters (set to the
    /// sample's totals), prefix counts and last error. A peer's series appear on its first sample.
    pub fn set_peer(&self, s: &PeerSample) {
        let mut errors = self.last_errors.lock().unwrap_or_else(|e| e.into_inner());
        let peer = &[s.name.as_str()];
        let established = s.state == SessionState::Established;
        if let Some(g) = gauge(&self.peer_state, peer) {
            g.set(s.state.value());
        }
        if let Some(g) = gauge(&self.peer_up, peer) {
            g.set(i64::from(established));
        }
        if let Some(g) = gauge(&self.peer_uptime, peer) {
            g.set(if established {
                s.uptime.as_secs_f64()
            } else {
                0.0
            });
        }
        for (vec, total) in [
            (&self.peer_messages_received, s.messages_received),
            (&self.peer_messages_sent, s.messages_sent),
            (&self.peer_updates_received, s.updates_received),
            (&self.peer_updates_sent, s.updates_sent),
            (&self.peer_fsm_transitions, s.established_transitions),
        ] {
            if let Some(c) = counter(vec, peer) {
                set_total(&c, total);
            }
        }
        for (vec, n) in [
            (&self.peer_prefixes_received, s.prefixes_received),
            (&self.peer_prefixes_accepted, s.prefixes_accepted),
            (&self.peer_prefixes_advertised, s.prefixes_advertised),
        ] {
            if let Some(g) = gauge(vec, peer) {
                g.set(count(n));
            }
        }
        let old = errors.get(&s.name).cloned();
        if old != s.last_error {
            if let Some(old) = old {
                let _ = self
                    .peer_last_error
                    .remove_label_values(&[s.name.as_str(), old.as_str()]);
                errors.remove(&s.name);
            }
            if let Some(new) = &s.last_error {
                if let Some(g) = gauge(&self.peer_last_error, &[s.name.as_str(), new.as_str()]) {
                    g.set(1);
                }
                errors.insert(s.name.clone(), new.clone());
            }
        }
    }

    /// Removes every series of the peer named `name` (a peer removed from the configuration or
    /// the datastore). Nothing happens for an unknown name.
    pub fn remove_peer(&self, name: &str) {
        let mut errors = self.last_errors.lock().unwrap_or_else(|e| e.into_inner());
        let peer = &[name];
        for vec in [
            &self.peer_state,
            &self.peer_up,
            &self.peer_prefixes_received,
            &self.peer_prefixes_accepted,
            &self.peer_prefixes_advertised,
        ] {
            let _ = vec.remove_label_values(peer);
        }
        let _ = self.peer_uptime.remove_label_values(peer);
        for vec in [
            &self.peer_messages_received,
            &self.peer_messages_sent,
            &self.peer_updates_received,
            &self.peer_updates_sent,
            &self.peer_fsm_transitions,
        ] {
            let _ = vec.remove_label_values(peer);
        }
        if let Some(old) = errors.remove(name) {
            let _ = self
                .peer_last_error
                .remove_label_values(&[name, old.as_str()]);
        }
    }

    /// Publishes the Loc-RIB's size: `prefixes` with at least one path, `paths` in all.
    pub fn set_rib(&self, prefixes: u64, paths: u64) {
        self.rib_prefixes.set(count(prefixes));
        self.rib_paths.set(count(paths));
    }

    /// Counts one batch of kernel operations of kind `op`: `attempted` sent to the kernel, of
    /// which `failed` failed.
    pub fn add_fib(&self, op: FibOp, attempted: u64, failed: u64) {
        if let Some(c) = counter(&self.fib_operations, &[op.as_str()]) {
            c.inc_by(attempted);
        }
        if let Some(c) = counter(&self.fib_failures, &[op.as_str()]) {
            c.inc_by(failed);
        }
    }

    /// Publishes the datastore's state: `synced` once the initial listing is applied and the
    /// watch is current; `lag` how far behind the datastore wren's view is (zero when caught up).
    /// With a static configuration file, call `set_datastore(true, Duration::ZERO)` once.
    pub fn set_datastore(&self, synced: bool, lag: Duration) {
        self.datastore_synced.set(i64::from(synced));
        self.datastore_lag.set(lag.as_secs_f64());
    }

    /// The registry, for registering more collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in the text exposition format (served with [`CONTENT_TYPE`]).
    pub fn render(&self) -> prometheus::Result<String> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

/// The value of one series in a text exposition: `series` is written as in the exposition,
/// `wren_rib_prefixes` or `wren_peer_last_error_info{peer="tor1",error="…"}`, with labels in any
/// order (the exposition sorts them by name). For tests and scripts that check what a scrape
/// shows; `None` when the series is absent or `series` does not parse.
pub fn sample_value(exposition: &str, series: &str) -> Option<f64> {
    let (name, mut labels, rest) = parse_series(series)?;
    if !rest.trim().is_empty() {
        return None;
    }
    labels.sort();
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (n, mut ls, rest) = parse_series(l)?;
            ls.sort();
            if n != name || ls != labels {
                return None;
            }
            rest.split_whitespace().next()?.parse().ok()
        })
}

/// A series' labels as (name, unescaped value).
type Labels = Vec<(String, String)>;

/// Splits `name{label="value",…} rest` into the name, the labels and the rest.
fn parse_series(line: &str) -> Option<(&str, Labels, &str)> {
    let line = line.trim_start();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let close = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.trim().to_string(), value));
            rest = after.get(close + 1..)?;
        }
    }
    (!name.is_empty()).then_some((name, labels, rest))
}

#[cfg(test)]
mod tests;
