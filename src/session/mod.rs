//! TCP sessions: the tokio adapter that drives one [`fsm::Peer`](crate::fsm::Peer) per configured
//! peer over real sockets.
//!
//! **Owns:** the listening socket ([`listener`]), one task per configured peer ([`driver`]) that
//! owns that peer's state machine, its TCP connections (one per [`Direction`](crate::fsm::Direction)),
//! its timers, its codec context and, for this first slice, its Adj-RIB-In. It is the **only**
//! place in wren that touches peer sockets or tokio time on behalf of a peer: the FSM asks for
//! connections, messages and timers as plain actions, and this module performs them and feeds the
//! outcomes back as events.
//!
//! **Must not:** decide anything the FSM decides (states, collisions, back-off), nor block a peer
//! task on a socket. Writes go through the connection's [`outq`] (the session's own messages
//! bounded and ahead of the RIB task's UPDATEs) to a per-connection writer task, so a slow peer
//! can never stall the task that also runs its KEEPALIVE and Hold timers. Reads are framed by
//! a per-connection reader task with a bounded buffer ([`wire::frame_len`](crate::wire::frame_len))
//! and decoded in the peer task with the session's negotiated [`Ctx`](crate::wire::Ctx).
//!
//! ```text
//!   listener ──accepted socket──► peer task (fsm::Peer, timers, Adj-RIB-In)
//!                                   │  ▲            │
//!                        encoded    │  │ frames,    │ connect attempts
//!                        messages   ▼  │ closes     ▼
//!                               writer  reader   connector
//! ```
//!
//! Timing: the work a peer task does per received message is small (decode, a map update per
//! prefix, no best-path run), so KEEPALIVEs and Hold expiries are never starved by route
//! processing. When a RIB task arrives, route processing moves there and the peer task only
//! forwards UPDATEs over a channel.
//!
//! Security: a peer's TCP-MD5 key (RFC 2385) is installed on the listener before `listen(2)` and on
//! each outbound socket before `connect(2)`; GTSM (RFC 5082) goes on outbound sockets before
//! `connect` and on accepted ones at once; both through [`crate::sockopt`]. A failure to set either
//! stops startup or fails that connection attempt with the error logged — never a silent fallback.
//!
//! Shutdown: on SIGINT/SIGTERM, with `graceful_restart` on (the default), [`run`] returns and the
//! runtime drops every task, which closes the sockets without a NOTIFICATION, so that peers
//! helping with graceful restart (RFC 4724 §4.2) keep our routes until we are back. With
//! `graceful_restart = false` every peer first gets Cease/Administrative Shutdown (RFC 4486
//! subcode 2) and its queued messages are flushed (at most [`driver::SHUTDOWN_FLUSH`]).
//!
//! Reload: SIGHUP re-reads the file and applies its `[[originate]]` list and its peer changes
//! (`apply_peers`).

pub mod calico_mode;
pub mod driver;
pub mod listener;
pub mod outq;
pub mod rib_task;
pub mod status;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tokio::sync::mpsc;

use crate::config::Config;
use crate::rib::{PeerId, Rib, RouteAttrs};
use crate::wire::{NextHop, Origin, PathAttributes};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address and port.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Calico mode could not start (datastore settings, or the watcher ended).
    #[error("{0}")]
    Datastore(String),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(String),
    /// The metrics endpoint could not be opened.
    #[error("metrics endpoint {addr}: {source}")]
    MetricsListen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The control socket could not be created.
    #[error("control socket {path}: {source}")]
    Control {
        /// The socket path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel routing table could not be opened.
    #[error("kernel: {0}")]
    Kernel(crate::fib::Error),
    /// The signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
}

/// Binds the listening socket with every peer's TCP-MD5 key installed before `listen(2)`, so
/// that a signed SYN is accepted and an unsigned one from a peer with a key is dropped by the kernel
/// (RFC 2385 §4; a key added after `accept` would be too late). On a dual-stack `::` listener,
/// IPv4 peers' keys are installed for their IPv4-mapped addresses.
fn bind_listener(config: &Config) -> Result<tokio::net::TcpListener, Error> {
    let listen = SocketAddr::new(config.global.listen_address, config.global.listen_port);
    let io_err = |source| Error::Listen {
        addr: listen,
        source,
    };
    let socket = match listen {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(io_err)?;
    socket.set_reuseaddr(true).map_err(io_err)?;
    for p in &config.peers {
        let Some(password) = &p.password else {
            continue;
        };
        let addr = match (listen, p.address) {
            (SocketAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
            (SocketAddr::V4(_), IpAddr::V6(_)) => {
                tracing::warn!(
                    "peer {}: IPv6 peer cannot reach the IPv4 listener {listen}; no key installed",
                    p.name
                );
                continue;
            }
            (_, a) => a,
        };
        crate::sockopt::set_md5_key(&socket, addr, password.expose().as_bytes())
            .map_err(|e| io_err(std::io::Error::other(e)))?;
    }
    socket.bind(listen).map_err(io_err)?;
    socket.listen(1024).map_err(io_err)
}

/// Changes the log level at run time (`error`, `warn`, `info`, `debug`, `trace`).
pub type SetLogLevel = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Runs the daemon until SIGINT or SIGTERM: binds the listener, starts one task per peer, and
/// returns when a signal arrives (the caller's runtime then drops every session).
pub async fn run(config: Config) -> Result<(), Error> {
    run_with_log(config, None).await
}

/// [`run`], with a way to change the log level: Calico mode applies the datastore's
/// `logSeverityScreen` through it (the caller passes `None` when `RUST_LOG` is set, which wins).
pub async fn run_with_log(config: Config, set_level: Option<SetLogLevel>) -> Result<(), Error> {
    use tokio::signal::unix::{signal, SignalKind};

    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(Error::Signal)?;

    // Calico mode: wait for the datastore and derive the configuration before starting.
    let mut sync_state = None;
    let (config, mut updates) = if config.datastore.is_some() {
        let (mut c, rx, sync) = calico_mode::start(config).await.map_err(Error::Datastore)?;
        sync_state = Some(sync);
        if let Some(set) = &set_level {
            set(&c.global.log_level);
        }
        // Where calico-node's readiness check and calicoctl look, unless configured otherwise.
        if c.control.socket == std::path::Path::new(crate::config::DEFAULT_CONTROL_SOCKET) {
            c.control.socket = std::path::PathBuf::from(calico_mode::CALICO_CONTROL_SOCKET);
        }
        (c, Some(rx))
    } else {
        (config, None)
    };
    let listen = SocketAddr::new(config.global.listen_address, config.global.listen_port);
    let listener = bind_listener(&config)?;
    tracing::info!(
        "listening on {listen}; local AS {}, router id {}, {} peers",
        config.global.asn,
        config.global.router_id,
        config.peers.len()
    );

    let metrics = match crate::metrics::Metrics::new() {
        Ok(m) => std::sync::Arc::new(m),
        Err(e) => return Err(Error::Metrics(e.to_string())),
    };
    let (fib, learned) = match start_kernel(&config, &metrics).await? {
        Some((fib, learned)) => (Some(fib), Some(learned)),
        None => (None, None),
    };
    let fib_rules = fib.clone();
    let mut tasks = spawn_tasks(&config, fib);
    let rib = tasks.rib.clone();
    start_control(&config, &rib, tasks.views.clone())?;
    start_metrics(
        &config,
        &rib,
        tasks.views.clone(),
        metrics.clone(),
        sync_state,
    )
    .await?;
    if let Some(mut learned) = learned {
        let rib = rib.clone();
        tokio::spawn(async move {
            while let Some(l) = learned.recv().await {
                if rib.send(rib_task::RibInput::Learned(l)).is_err() {
                    return;
                }
            }
        });
    }
    let listener = std::sync::Arc::new(listener);
    tokio::spawn(listener::accept_loop(listener.clone(), tasks.peers.clone()));
    let mut config = config;

    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: shutting down");
                break;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: shutting down");
                break;
            }
            Some(fresh) = next_update(&mut updates) => {
                tracing::info!("datastore changed: applying the difference");
                if fresh.global.log_level != config.global.log_level {
                    if let Some(set) = &set_level {
                        tracing::info!("log level now {} (logSeverityScreen)", fresh.global.log_level);
                        set(&fresh.global.log_level);
                    }
                }
                if fresh.global.cluster_id != config.global.cluster_id {
                    let _ = rib.send(rib_task::RibInput::SetClusterId(fresh.global.cluster_id));
                }
                let same_global = crate::config::Global {
                    log_level: config.global.log_level.clone(),
                    cluster_id: config.global.cluster_id,
                    ..fresh.global.clone()
                } == config.global;
                if !same_global {
                    tracing::warn!(
                        "calico: AS number, router id or listener changed; \
                         they take effect after a restart"
                    );
                }
                if fresh.export != config.export {
                    let _ = rib.send(rib_task::RibInput::SetExportPolicy(fresh.export.clone()));
                }
                let _ = rib.send(rib_task::RibInput::SetOriginated(
                    originated(&fresh),
                    local_routes(&fresh),
                ));
                let (k, old) = (&fresh.kernel, &config.kernel);
                if k.tunnels != old.tunnels || k.reject != old.reject {
                    if let Some(fib) = &fib_rules {
                        let _ = fib.send(crate::fib::task::FibInput::Rules {
                            tunnels: k.tunnels.clone(),
                            reject: k.reject.clone(),
                        });
                    }
                }
                if k.learn != old.learn {
                    tracing::warn!(
                        "calico: the pools' learn rules changed; workload routes of new pools \
                         are learned after a restart"
                    );
                }
                apply_peers(&config, &fresh, &mut tasks, &listener, "datastore").await;
                config = Config {
                    restarting: config.restarting,
                    ..fresh
                };
            }
            _ = hup.recv() => {
                if config.datastore.is_some() {
                    tracing::info!("SIGHUP: Calico mode follows the datastore; nothing to reload");
                } else if let Some(fresh) = reload(&config, &rib) {
                    apply_peers(&config, &fresh, &mut tasks, &listener, "SIGHUP").await;
                    config = Config {
                        restarting: config.restarting,
                        ..fresh
                    };
                }
            }
        }
    }
    if config.global.graceful_restart {
        // RFC 4724: leave without a NOTIFICATION, so that peers keep our routes (and the
        // forwarding through us) until we are back and have sent End-of-RIB.
        tracing::info!("closing sessions without NOTIFICATION (graceful restart)");
    } else {
        tracing::info!("sending Cease/Administrative Shutdown to every peer");
        let mut waits = Vec::new();
        let peers: Vec<mpsc::Sender<driver::Input>> = tasks
            .peers
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for tx in &peers {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(driver::Input::Shutdown(done)).await.is_ok() {
                waits.push(wait);
            }
        }
        for w in waits {
            let _ = w.await;
        }
    }
    Ok(())
}

/// The next configuration from the datastore, or never in static mode.
async fn next_update(updates: &mut Option<mpsc::Receiver<Config>>) -> Option<Config> {
    match updates {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// SIGHUP: re-reads the configuration file and applies its `[[originate]]` list (announcing new
/// prefixes and withdrawing removed ones); returns the new configuration for the peer changes
/// ([`apply_peers`]). `[global]`, `[control]` and `[kernel]` changes need a restart and are
/// reported; a file that does not load is reported and changes nothing.
fn reload(config: &Config, rib: &mpsc::UnboundedSender<rib_task::RibInput>) -> Option<Config> {
    let fresh = if config.origin == crate::config::EMBEDDED_ORIGIN {
        Config::embedded_default()
    } else {
        Config::load(&config.origin)
    };
    let fresh = match fresh {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SIGHUP: configuration not reloaded: {e}");
            return None;
        }
    };
    if fresh.global != config.global
        || fresh.control != config.control
        || fresh.kernel != config.kernel
    {
        tracing::warn!(
            "SIGHUP: [global], [control] and [kernel] changes in {} need a restart; \
             [[peer]] and [[originate]] changes are applied",
            config.origin
        );
    }
    tracing::info!("SIGHUP: reloading [[originate]] from {}", config.origin);
    let _ = rib.send(rib_task::RibInput::SetOriginated(
        originated(&fresh),
        local_routes(&fresh),
    ));
    Some(fresh)
}

/// Applies the difference between the peers of `old` and `new`: a removed peer gets
/// Cease/Peer De-configured and its routes are withdrawn; an added one starts; a peer whose
/// settings changed (AS, password, timers, …) is removed and added again — only that peer's
/// session resets. Unchanged peers are not touched.
async fn apply_peers(
    old: &Config,
    new: &Config,
    tasks: &mut Tasks,
    listener: &tokio::net::TcpListener,
    why: &str,
) {
    let key = |p: &crate::config::Peer| p.address.to_canonical();
    let before: HashMap<IpAddr, &crate::config::Peer> =
        old.peers.iter().map(|p| (key(p), p)).collect();
    let after: HashMap<IpAddr, &crate::config::Peer> =
        new.peers.iter().map(|p| (key(p), p)).collect();
    let (mut removed, mut added, mut changed) = (0, 0, 0);
    for (addr, p) in &before {
        match after.get(addr) {
            None => {
                tracing::info!("{why}: peer {} removed", p.name);
                tasks.stop_peer(*addr).await;
                removed += 1;
            }
            Some(q) if q != p => {
                tracing::info!(
                    "SIGHUP: peer {} changed; resetting only its session",
                    p.name
                );
                tasks.stop_peer(*addr).await;
                install_key(listener, new, q);
                tasks.add_peer(new, q).await;
                changed += 1;
            }
            Some(_) => {}
        }
    }
    for p in &new.peers {
        if !before.contains_key(&key(p)) {
            tracing::info!("{why}: peer {} added", p.name);
            install_key(listener, new, p);
            tasks.add_peer(new, p).await;
            added += 1;
        }
    }
    tracing::info!("{why}: peers: {added} added, {removed} removed, {changed} reset");
}

/// Installs `peer`'s TCP-MD5 key on the running listener (a key for an address replaces the
/// previous one), so that its signed SYNs are accepted.
fn install_key(listener: &tokio::net::TcpListener, config: &Config, peer: &crate::config::Peer) {
    let Some(password) = &peer.password else {
        return;
    };
    let addr = match (config.global.listen_address, peer.address) {
        (IpAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
        (_, a) => a,
    };
    if let Err(e) = crate::sockopt::set_md5_key(listener, addr, password.expose().as_bytes()) {
        tracing::error!(
            "peer {}: cannot install its TCP-MD5 key on the listener: {e}",
            peer.name
        );
    }
}

/// The running tasks' handles.
pub struct Tasks {
    /// The peer tasks' input queues by peer address (for the listener).
    pub peers: listener::PeerMap,
    /// The RIB task's queue.
    pub rib: mpsc::UnboundedSender<rib_task::RibInput>,
    /// What each peer task publishes for the control socket.
    pub views: status::Views,
    /// Each running peer's RIB id, by address.
    pub ids: HashMap<IpAddr, PeerId>,
}

/// Starts the RIB task and one task per peer; with `fib`, the RIB task sends its best routes
/// there.
pub fn spawn_tasks(
    config: &Config,
    fib: Option<mpsc::UnboundedSender<crate::fib::task::FibInput>>,
) -> Tasks {
    let (rib, originate) = build_rib(config);
    let (rib_tx, rib_rx) = mpsc::unbounded_channel();
    let mut task = rib_task::RibTask::new(rib, originate, rib_rx);
    if let Some(fib) = fib {
        let ids: Vec<PeerId> = (1..=config.peers.len())
            .filter_map(|i| PeerId::try_from(i).ok())
            .collect();
        task = task.with_fib(fib, &ids, local_routes(config));
    }
    tokio::spawn(task.run());
    let mut tasks = Tasks {
        peers: listener::PeerMap::default(),
        rib: rib_tx,
        views: status::Views::default(),
        ids: HashMap::new(),
    };
    for (i, peer) in config.peers.iter().enumerate() {
        let id = PeerId::try_from(i + 1).unwrap_or(PeerId::MAX);
        tasks.start_peer(config, peer, id);
    }
    tasks
}

impl Tasks {
    /// Starts the task of `peer`, already known to the RIB as `id`.
    fn start_peer(&mut self, config: &Config, peer: &crate::config::Peer, id: PeerId) {
        let (tx, rx) = mpsc::channel(driver::INPUT_QUEUE);
        let address = peer.address.to_canonical();
        if let Ok(mut m) = self.peers.write() {
            m.insert(address, tx.clone());
        }
        let view = status::view(peer);
        if let Ok(mut vs) = self.views.lock() {
            vs.push((id, view.clone()));
        }
        self.ids.insert(address, id);
        let task = driver::PeerTask::new(config, peer, id, self.rib.clone(), view, tx, rx);
        tokio::spawn(task.run());
    }

    /// Stops the task of the peer at `address` with Cease/Peer De-configured and removes it
    /// from the RIB (its routes are withdrawn), the listener and the control socket.
    async fn stop_peer(&mut self, address: IpAddr) {
        let address = address.to_canonical();
        let tx = self.peers.write().ok().and_then(|mut m| m.remove(&address));
        if let Some(tx) = tx {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(driver::Input::Deconfigured(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
        if let Some(id) = self.ids.remove(&address) {
            if let Ok(mut vs) = self.views.lock() {
                vs.retain(|(i, _)| *i != id);
            }
            let _ = self.rib.send(rib_task::RibInput::RemovePeer(id));
        }
    }

    /// Adds `peer` at run time: the RIB assigns its id, then its task starts.
    async fn add_peer(&mut self, config: &Config, peer: &crate::config::Peer) {
        let (reply, id) = tokio::sync::oneshot::channel();
        let add = rib_task::RibInput::AddPeer {
            config: config.rib_peer(peer),
            reply,
        };
        if self.rib.send(add).is_err() {
            return;
        }
        if let Ok(id) = id.await {
            self.start_peer(config, peer, id);
        }
    }
}

/// The RIB for `config`, with its peers added in configuration order (peer `i` of the file is
/// [`PeerId`] `i + 1`), and the originated routes.
pub fn build_rib(config: &Config) -> (Rib, Vec<(ipnet::IpNet, RouteAttrs)>) {
    let mut rib = Rib::new(config.rib_global());
    // Empty before any peer is up: nothing to send.
    let _ = rib.set_export_policy(config.export.clone());
    for p in &config.peers {
        rib.add_peer(config.rib_peer(p));
    }
    (rib, originated(config))
}

/// The originated prefixes that go into the kernel: `blackhole = true`, and Calico's routes to
/// peers behind a gateway.
fn local_routes(config: &Config) -> rib_task::LocalRoutes {
    config
        .originate
        .iter()
        .filter_map(|o| {
            if o.blackhole {
                Some((o.prefix, rib_task::LocalRoute::Blackhole))
            } else if o.install && o.next_hop.is_some() {
                Some((o.prefix, rib_task::LocalRoute::ViaNextHop))
            } else {
                None
            }
        })
        .collect()
}

/// The routes `[[originate]]` asks for, as the RIB stores them.
fn originated(config: &Config) -> Vec<(ipnet::IpNet, RouteAttrs)> {
    config
        .originate
        .iter()
        .map(|o| {
            let attrs = PathAttributes {
                origin: Some(Origin::Igp),
                communities: o.communities.as_slice().into(),
                ..PathAttributes::default()
            };
            let next_hop = o.next_hop.map(NextHop::from);
            (o.prefix, RouteAttrs { attrs, next_hop })
        })
        .collect()
}

/// Starts the control socket (`[control] socket`) and the task that builds its snapshots on
/// demand.
fn start_control(
    config: &Config,
    rib: &mpsc::UnboundedSender<rib_task::RibInput>,
    views: status::Views,
) -> Result<(), Error> {
    let path = config.control.socket.clone();
    let fixed = status::Fixed {
        router_id: config.global.router_id,
        started: std::time::SystemTime::now(),
        restarting: config.restarting,
        restart_wait: config.kernel.restart_wait,
    };
    let first = status::build(&fixed, &views, rib_task::RibView::default());
    let (tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(first));
    let (refresh, requests) = mpsc::channel(16);
    tokio::spawn(status::run(fixed, views, rib.clone(), tx, requests));
    let listener = crate::control::server::bind(&path).map_err(|source| Error::Control {
        path: path.display().to_string(),
        source,
    })?;
    tracing::info!("control socket on {}", path.display());
    tokio::spawn(async move {
        let options = crate::control::server::Options::default();
        if let Err(e) =
            crate::control::server::serve_bound(listener, rx, options, Some(refresh)).await
        {
            tracing::error!("control socket stopped: {e}");
        }
    });
    Ok(())
}

/// Serves Prometheus metrics on `[metrics] listen` when set; each scrape first refreshes the
/// per-peer and RIB gauges from the peer views and the RIB task.
async fn start_metrics(
    config: &Config,
    rib: &mpsc::UnboundedSender<rib_task::RibInput>,
    views: status::Views,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    sync: Option<calico_mode::SharedSync>,
) -> Result<(), Error> {
    let Some(addr) = config.metrics.listen else {
        return Ok(());
    };
    // Static configuration: the "datastore" is always in sync.
    metrics.set_datastore(true, std::time::Duration::ZERO);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::MetricsListen { addr, source })?;
    tracing::info!("metrics on http://{addr}/metrics");
    let (refresh, mut requests) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>(16);
    let rib = rib.clone();
    let m = metrics.clone();
    tokio::spawn(async move {
        let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
        while let Some(done) = requests.recv().await {
            let (ask, answer) = tokio::sync::oneshot::channel();
            if rib.send(rib_task::RibInput::View(ask)).is_err() {
                return;
            }
            let Ok(view) = answer.await else {
                return;
            };
            status::publish_metrics(&m, &views, &view, &mut known);
            if let Some(s) = sync.as_ref().and_then(|s| s.lock().ok().map(|g| *g)) {
                let lag = s.lost_since.map(|t| t.elapsed()).unwrap_or_default();
                m.set_datastore(s.current, lag);
            }
            let _ = done.send(());
        }
    });
    tokio::spawn(crate::metrics::serve_on(listener, metrics, Some(refresh)));
    Ok(())
}

/// The FIB task's input queue and the queue of routes it learns from the kernel.
type KernelQueues = (
    mpsc::UnboundedSender<crate::fib::task::FibInput>,
    mpsc::UnboundedReceiver<crate::fib::task::Learned>,
);

/// Starts the FIB task when `[kernel] enabled` (the default): wren's best routes go into the
/// kernel through netlink, and routes matching `[[kernel.learn]]` come back as learned routes.
async fn start_kernel(
    config: &Config,
    metrics: &std::sync::Arc<crate::metrics::Metrics>,
) -> Result<Option<KernelQueues>, Error> {
    let k = &config.kernel;
    if !k.enabled {
        tracing::info!("kernel: disabled ([kernel] enabled = false); routes stay in the RIB");
        return Ok(None);
    }
    // Subscribe before reading the table, so that no change between the two is missed.
    let events = crate::fib::netlink::monitor()
        .await
        .map_err(Error::Kernel)?;
    let fib = crate::fib::netlink::NetlinkFib::new()
        .await
        .map_err(Error::Kernel)?;
    let settings = crate::fib::sync::Settings {
        table: k.table,
        protocol: k.protocol,
        metric: k.metric,
        tunnels: k.tunnels.clone(),
        reject: k.reject.clone(),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let (learned_tx, learned_rx) = mpsc::unbounded_channel();
    let io = crate::fib::task::KernelIo {
        events: Some(events),
        learn: k.learn.clone(),
        learned: Some(learned_tx),
        metrics: Some(metrics.clone()),
    };
    tokio::spawn(crate::fib::task::run(fib, settings, k.restart_wait, rx, io));
    Ok(Some((tx, learned_rx)))
}
