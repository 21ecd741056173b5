//! The RIB task: the one task that owns the [`Rib`]. Peer tasks send it what their sessions
//! learn ([`RibInput`]); it applies each input, encodes the resulting UPDATEs once per update
//! group and hands the bytes to every member's connection writer.
//!
//! Flow control: each peer's reader holds a permit of a small per-peer semaphore for every
//! UPDATE until this task has applied it, so a peer that floods UPDATEs faster than the RIB
//! absorbs them is slowed down by TCP, while its own and every other peer's KEEPALIVEs and Hold
//! timers (run by the peer tasks) keep their timing. Output to a peer goes through an unbounded
//! queue drained by that connection's writer at the speed TCP allows; an UPDATE encoded for a
//! group is one shared buffer however many members receive it.
//!
//! Timers here are graceful-restart timers (RFC 4724 §4.2): the restart time a peer advertised,
//! started when its session drops without a NOTIFICATION, and the stale-path time, started
//! when it comes back; when either fires the peer's remaining stale paths are withdrawn.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::driver::Input;
use crate::fib::sync::Want;
use crate::fib::task::{FibInput, Learned};
use crate::rib::{Output, PeerId, Rib, RouteAttrs, SessionInfo, Target, LOCAL};
use crate::wire::{self, code, Ctx, EncodeError, Family, Message, Notification, Update};

/// How long a returning peer has to send End-of-RIB before its stale paths are withdrawn
/// (RFC 4724 §4.2 leaves the value local; GoBGP and FRR use 360 s).
pub const STALE_PATH_TIME: Duration = Duration::from_secs(360);

/// Most inputs applied before their outputs are delivered together.
pub const MAX_BATCH: usize = 64;

/// How an originated prefix goes into the kernel while an originated route is its best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRoute {
    /// A blackhole (Calico's local blocks, `blackhole = true`).
    Blackhole,
    /// Via the configured next hop (Calico's `reachableBy` routes to BGP peers).
    ViaNextHop,
}

/// The originated prefixes that go into the kernel, and how.
pub type LocalRoutes = HashMap<ipnet::IpNet, LocalRoute>;

/// What the RIB task receives.
#[derive(Debug)]
pub enum RibInput {
    /// A session reached Established.
    PeerUp {
        /// The peer.
        peer: PeerId,
        /// What was negotiated.
        info: SessionInfo,
        /// The connection's RIB output queue.
        out: super::outq::RouteSender,
        /// The peer task's input queue, to ask it to stop the session (prefix limit).
        control: mpsc::Sender<Input>,
    },
    /// A session left Established.
    PeerDown {
        /// The peer.
        peer: PeerId,
        /// It dropped without a NOTIFICATION, so a Graceful Restart peer's routes are kept.
        graceful: bool,
        /// The restart time the peer advertised (RFC 4724 §3).
        restart_time: Duration,
    },
    /// An UPDATE (or End-of-RIB) received from an established peer.
    Update {
        /// The peer.
        peer: PeerId,
        /// The decoded UPDATE.
        update: Box<Update>,
        /// Released once the UPDATE is applied (flow control, see the module docs).
        permit: Option<OwnedSemaphorePermit>,
    },
    /// The configuration was reloaded (SIGHUP, the datastore): originate exactly these routes
    /// from now on, and put these prefixes into the kernel while an originated route is their
    /// best.
    SetOriginated(Vec<(ipnet::IpNet, RouteAttrs)>, LocalRoutes),
    /// The export policy changed (Calico mode; [`crate::rib::Rib::set_export_policy`]).
    SetExportPolicy(Option<crate::policy::ExportPolicy>),
    /// The cluster id changed (Calico's `routeReflectorClusterID`;
    /// [`crate::rib::Rib::set_cluster_id`]).
    SetClusterId(std::net::Ipv4Addr),
    /// A route learned from the kernel appeared or went away (`[[kernel.learn]]`).
    Learned(Learned),
    /// A peer was added to the configuration (SIGHUP or the datastore); the reply is its id.
    AddPeer {
        /// Its routing settings.
        config: crate::rib::PeerConfig,
        /// Where its id goes.
        reply: tokio::sync::oneshot::Sender<PeerId>,
    },
    /// A peer left the configuration: its routes are withdrawn at once.
    RemovePeer(PeerId),
    /// The control socket wants the table and per-peer counts.
    View(tokio::sync::oneshot::Sender<RibView>),
    /// The peer asked for our routes again (ROUTE-REFRESH, RFC 2918).
    RouteRefresh {
        /// The peer.
        peer: PeerId,
        /// The family asked for.
        family: Family,
    },
}

struct Member {
    out: super::outq::RouteSender,
    control: mpsc::Sender<Input>,
    ctx: Ctx,
}

/// The RIB as the control socket shows it.
#[derive(Debug, Default)]
pub struct RibView {
    /// Every prefix with its paths, best first, with the reason each other path lost.
    pub routes: Vec<crate::control::RouteInfo>,
    /// Per configured peer (index = peer id − 1): (prefixes imported, prefixes where its path
    /// is the best, stale paths kept for graceful restart).
    pub peers: Vec<(u32, u32, u32)>,
    /// Prefixes each established peer is sent (index = peer id − 1).
    pub advertised: Vec<u32>,
    /// The kernel table has settled after the start (every peer's End-of-RIB seen).
    pub settled: bool,
}

/// The RIB task's state. Build with [`RibTask::new`], then spawn [`RibTask::run`].
pub struct RibTask {
    rib: Rib,
    rx: mpsc::UnboundedReceiver<RibInput>,
    members: HashMap<PeerId, Member>,
    stale_deadline: HashMap<PeerId, Instant>,
    originated: HashMap<ipnet::IpNet, RouteAttrs>,
    /// Every prefix learned from the kernel, exported or not (see [`RibTask::covered`]).
    learned: HashSet<ipnet::IpNet>,
    fib: Option<mpsc::UnboundedSender<FibInput>>,
    /// Outputs of UPDATEs applied and not yet delivered (see [`RibTask::run`]).
    pending: Vec<Output>,
    local_routes: LocalRoutes,
    /// Families each configured peer still owes an End-of-RIB for; `None` until it first comes
    /// up. Once all are done the FIB is told to settle (RFC 4724's restart is over).
    eor_missing: HashMap<PeerId, Option<HashSet<Family>>>,
    settled: bool,
}

impl RibTask {
    /// The task for `rib`, with `originate` already applied, reading `rx`.
    pub fn new(
        mut rib: Rib,
        originate: Vec<(ipnet::IpNet, RouteAttrs)>,
        rx: mpsc::UnboundedReceiver<RibInput>,
    ) -> RibTask {
        rib.track_best_changes(true);
        let mut originated = HashMap::new();
        for (prefix, attrs) in originate {
            // No peer is up yet, so there is nothing to send.
            let _ = rib.originate(prefix, attrs.clone());
            originated.insert(prefix, attrs);
        }
        RibTask {
            rib,
            rx,
            members: HashMap::new(),
            stale_deadline: HashMap::new(),
            originated,
            learned: HashSet::new(),
            fib: None,
            pending: Vec::new(),
            local_routes: LocalRoutes::new(),
            eor_missing: HashMap::new(),
            settled: false,
        }
    }

    /// Sends best-route changes to the FIB task `fib`: `peers` are every configured peer (the
    /// FIB settles once each has sent End-of-RIB), `blackholes` the originated prefixes to
    /// blackhole. Publishes the current table at once.
    pub fn with_fib(
        mut self,
        fib: mpsc::UnboundedSender<FibInput>,
        peers: &[PeerId],
        local_routes: LocalRoutes,
    ) -> RibTask {
        self.fib = Some(fib);
        self.local_routes = local_routes;
        self.eor_missing = peers.iter().map(|p| (*p, None)).collect();
        let prefixes: Vec<ipnet::IpNet> = self.rib.routes().map(|(p, _)| p).collect();
        self.publish(prefixes);
        self.maybe_settle();
        self
    }

    /// Whether a learned `prefix` lies inside a larger prefix we originate (Calico's local
    /// blocks): then the block stands for it and it is not exported on its own (confd's
    /// `calico_aggr`: "never anything more specific inside a local block").
    fn covered(&self, prefix: ipnet::IpNet) -> bool {
        self.originated
            .keys()
            .any(|o| o.prefix_len() < prefix.prefix_len() && o.contains(&prefix))
    }

    /// The table and counts for the control socket.
    fn view(&mut self) -> RibView {
        let advertised = self.rib.advertised_counts();
        use crate::control::{BgpPathInfo, Dest, PathInfo, PathOrigin, RouteInfo};
        let now = std::time::SystemTime::now();
        let n_peers = self.eor_missing.len().max(
            (1..)
                .take_while(|p| self.rib.peer_config(*p).is_some())
                .count(),
        );
        let mut peers: Vec<(u32, u32, u32)> = vec![(0, 0, 0); n_peers];
        let mut routes: Vec<RouteInfo> = Vec::new();
        for (prefix, paths) in self.rib.routes() {
            let reasons = self.rib.reasons(prefix);
            let mut infos = Vec::with_capacity(paths.len());
            for (i, p) in paths.iter().enumerate() {
                let peer = p.peer();
                if peer != LOCAL {
                    if let Some(c) = peers.get_mut(peer as usize - 1) {
                        if p.path_id() == 0 || !paths.iter().take(i).any(|q| q.peer() == peer) {
                            c.0 += 1;
                        }
                        if i == 0 {
                            c.1 += 1;
                        }
                        if p.is_stale() {
                            c.2 += 1;
                        }
                    }
                }
                let a = &p.attrs().attrs;
                let gateway = p.attrs().next_hop.map(|h| h.addr());
                let dest = match gateway {
                    Some(gateway) => Dest::Router {
                        gateway,
                        iface: String::new(),
                    },
                    None if self.local_routes.get(&prefix) == Some(&LocalRoute::Blackhole) => {
                        Dest::Blackhole
                    }
                    None => Dest::Unreachable,
                };
                let bgp = gateway.map(|next_hop| BgpPathInfo {
                    origin: match a.origin {
                        Some(crate::wire::Origin::Igp) => PathOrigin::Igp,
                        Some(crate::wire::Origin::Egp) => PathOrigin::Egp,
                        _ => PathOrigin::Incomplete,
                    },
                    as_path: a
                        .as_path
                        .as_ref()
                        .map(|p| p.asns().collect())
                        .unwrap_or_default(),
                    next_hop,
                    local_pref: a.local_pref,
                    med: a.med,
                    communities: a
                        .communities
                        .iter()
                        .map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff))
                        .collect(),
                    igp_metric: None,
                    originator_id: a.originator_id,
                    cluster_list: a.cluster_list.to_vec(),
                });
                infos.push(PathInfo {
                    dest,
                    protocol: if peer == LOCAL {
                        if p.path_id() == crate::rib::LEARNED {
                            "kernel1".into()
                        } else {
                            "static1".into()
                        }
                    } else {
                        self.name(peer)
                    },
                    since: now,
                    from: None,
                    primary: i == 0,
                    preference: if peer == LOCAL { 200 } else { 100 },
                    bgp,
                    lost_reason: reasons
                        .get(i)
                        .copied()
                        .flatten()
                        .map(|r| r.as_str().to_string()),
                });
            }
            routes.push(RouteInfo {
                prefix,
                paths: infos,
            });
        }
        routes.sort_by_key(|r| r.prefix);
        let mut adv = vec![0u32; peers.len()];
        for (peer, n) in advertised {
            if let Some(slot) = adv.get_mut((peer as usize).saturating_sub(1)) {
                *slot = n;
            }
        }
        RibView {
            routes,
            peers,
            advertised: adv,
            settled: self.settled,
        }
    }

    /// What the kernel should have for `prefix`.
    fn want(&self, prefix: ipnet::IpNet) -> Want {
        match self.rib.best(prefix) {
            None => Want::none(),
            Some(p) if p.peer() == LOCAL => match self.local_routes.get(&prefix) {
                Some(LocalRoute::Blackhole) => Want {
                    next_hops: Vec::new(),
                    blackhole: true,
                },
                Some(LocalRoute::ViaNextHop) => Want {
                    next_hops: p.attrs().next_hop.map(|h| h.addr()).into_iter().collect(),
                    blackhole: false,
                },
                None => Want::none(),
            },
            Some(_) => Want {
                next_hops: self
                    .rib
                    .multipath(prefix)
                    .iter()
                    .filter_map(|p| p.attrs().next_hop.map(|h| h.addr()))
                    .collect(),
                blackhole: false,
            },
        }
    }

    /// Sends the FIB task the wishes for `prefixes`.
    fn publish(&mut self, mut prefixes: Vec<ipnet::IpNet>) {
        let Some(fib) = &self.fib else {
            return;
        };
        prefixes.sort();
        prefixes.dedup();
        let list: Vec<(ipnet::IpNet, Want)> =
            prefixes.into_iter().map(|p| (p, self.want(p))).collect();
        if !list.is_empty() {
            let _ = fib.send(FibInput::Routes(list));
        }
    }

    fn maybe_settle(&mut self) {
        if self.settled || self.fib.is_none() {
            return;
        }
        let done = self
            .eor_missing
            .values()
            .all(|m| m.as_ref().is_some_and(HashSet::is_empty));
        if done {
            self.settled = true;
            tracing::info!("every peer sent End-of-RIB: the kernel table can settle");
            if let Some(fib) = &self.fib {
                let _ = fib.send(FibInput::Settle);
            }
        }
    }

    /// Runs until every sender of the input queue is gone.
    ///
    /// UPDATEs already queued when one is taken are applied with it, up to [`MAX_BATCH`]
    /// inputs, and the outputs of all of them are delivered together: one shared buffer, a
    /// slice or two per peer, instead of one queued message per UPDATE per peer (500
    /// route-reflector clients each announcing a block would otherwise queue 250,000 handles).
    pub async fn run(mut self) {
        loop {
            let next = self.stale_deadline.values().min().copied();
            tokio::select! {
                input = self.rx.recv() => match input {
                    Some(input) => {
                        self.on_input(input);
                        let mut n = 1;
                        while n < MAX_BATCH {
                            match self.rx.try_recv() {
                                Ok(input) => self.on_input(input),
                                Err(_) => break,
                            }
                            n += 1;
                        }
                        self.flush();
                    }
                    None => return,
                },
                _ = sleep_until(next), if next.is_some() => {
                    self.flush();
                    self.fire_timers();
                }
            }
        }
    }

    /// Delivers the outputs of the UPDATEs applied since the last delivery, and passes their
    /// best-path changes on to the kernel (also when nothing is to be sent).
    fn flush(&mut self) {
        let outputs = std::mem::take(&mut self.pending);
        self.deliver(outputs);
    }

    fn name(&self, peer: PeerId) -> String {
        self.rib
            .peer_config(peer)
            .map_or_else(|| format!("#{peer}"), |c| c.name.clone())
    }

    fn on_input(&mut self, input: RibInput) {
        // Everything but an UPDATE with routes (End-of-RIB too: it may settle the kernel table)
        // acts in order with what was sent: deliver what is pending first.
        let batched =
            matches!(&input, RibInput::Update { update, .. } if update.as_end_of_rib().is_none());
        if !batched {
            self.flush();
        }
        match input {
            RibInput::PeerUp {
                peer,
                info,
                out,
                control,
            } => {
                let ctx = Ctx {
                    four_octet_as: info.four_octet_as,
                    add_path_tx: info.add_path_tx.clone(),
                    ..Ctx::default()
                };
                if let Some(m @ None) = self.eor_missing.get_mut(&peer) {
                    *m = Some(info.families.iter().copied().collect());
                }
                self.members.insert(peer, Member { out, control, ctx });
                if self.stale_deadline.contains_key(&peer) {
                    self.stale_deadline
                        .insert(peer, Instant::now() + STALE_PATH_TIME);
                }
                let outputs = self.rib.peer_up(peer, info);
                if self.stale_deadline.contains_key(&peer) && self.rib.stale_count(peer) == 0 {
                    self.stale_deadline.remove(&peer);
                }
                let n = outputs
                    .iter()
                    .filter(|o| o.update.as_end_of_rib().is_none())
                    .count();
                tracing::info!(
                    "peer {}: sending the table in {n} UPDATEs, then End-of-RIB",
                    self.name(peer)
                );
                self.deliver(outputs);
            }
            RibInput::PeerDown {
                peer,
                graceful,
                restart_time,
            } => {
                self.members.remove(&peer);
                let before = self.rib.prefix_count(peer);
                let (outputs, kept) = self.rib.peer_down(peer, graceful);
                if kept {
                    tracing::info!(
                        "peer {}: graceful restart: keeping {before} prefixes as stale for up to {} s",
                        self.name(peer),
                        restart_time.as_secs()
                    );
                    self.stale_deadline
                        .insert(peer, Instant::now() + restart_time);
                } else {
                    tracing::info!("peer {}: withdrew its {before} prefixes", self.name(peer));
                    self.stale_deadline.remove(&peer);
                }
                self.deliver(outputs);
            }
            RibInput::Update {
                peer,
                update,
                permit,
            } => {
                let outputs = match update.as_end_of_rib() {
                    Some(family) => {
                        let stale = self.rib.stale_count(peer);
                        let outputs = self.rib.end_of_rib(peer, family);
                        tracing::info!(
                            peer = %self.name(peer),
                            prefixes = self.rib.prefix_count(peer),
                            "peer {}: End-of-RIB for {family}; {} prefixes, {} stale paths swept",
                            self.name(peer),
                            self.rib.prefix_count(peer),
                            stale - self.rib.stale_count(peer)
                        );
                        if self.rib.stale_count(peer) == 0 {
                            self.stale_deadline.remove(&peer);
                        }
                        if let Some(Some(missing)) = self.eor_missing.get_mut(&peer) {
                            missing.remove(&family);
                        }
                        self.maybe_settle();
                        outputs
                    }
                    None => self.rib.update(peer, &update),
                };
                drop(permit);
                // Delivered with the outputs of the UPDATEs queued behind this one (`run`).
                self.pending.extend(outputs);
                if let Some(max) = self.rib.over_max_prefixes(peer) {
                    self.stop_over_limit(peer, max);
                }
            }
            RibInput::SetClusterId(id) => {
                let outputs = self.rib.set_cluster_id(id);
                tracing::info!(
                    "cluster id now {id}: reflected routes announced again ({} UPDATEs)",
                    outputs.len()
                );
                self.deliver(outputs);
            }
            RibInput::SetExportPolicy(policy) => {
                let outputs = self.rib.set_export_policy(policy);
                tracing::info!("export policy changed: {} UPDATEs to send", outputs.len());
                self.deliver(outputs);
            }
            RibInput::SetOriginated(list, local_routes) => {
                let changed: Vec<ipnet::IpNet> = self
                    .local_routes
                    .iter()
                    .filter(|(p, r)| local_routes.get(*p) != Some(*r))
                    .chain(
                        local_routes
                            .iter()
                            .filter(|(p, r)| self.local_routes.get(*p) != Some(*r)),
                    )
                    .map(|(p, _)| *p)
                    .collect();
                self.local_routes = local_routes;
                self.publish(changed);
                let wanted: HashMap<_, _> = list.into_iter().collect();
                let gone: Vec<_> = self
                    .originated
                    .keys()
                    .filter(|p| !wanted.contains_key(*p))
                    .copied()
                    .collect();
                let mut outputs = Vec::new();
                for prefix in &gone {
                    outputs.extend(self.rib.withdraw_originated(*prefix));
                }
                let mut added = 0;
                for (prefix, attrs) in &wanted {
                    if self.originated.get(prefix) != Some(attrs) {
                        outputs.extend(self.rib.originate(*prefix, attrs.clone()));
                        added += 1;
                    }
                }
                tracing::info!(
                    "originated prefixes: {added} added or changed, {} withdrawn, {} in all",
                    gone.len(),
                    wanted.len()
                );
                self.originated = wanted;
                // Learned routes inside a block we originate stay behind it; those whose block
                // went come out, and those a new block now covers go in.
                let learned: Vec<ipnet::IpNet> = self.learned.iter().copied().collect();
                for prefix in learned {
                    if self.covered(prefix) {
                        outputs.extend(
                            self.rib
                                .withdraw_originated_path(prefix, crate::rib::LEARNED),
                        );
                    } else {
                        outputs.extend(self.rib.originate_path(
                            prefix,
                            crate::rib::LEARNED,
                            learned_attrs(),
                        ));
                    }
                }
                self.deliver(outputs);
            }
            RibInput::Learned(l) => {
                let outputs = match l {
                    Learned::Add(prefix) => {
                        self.learned.insert(prefix);
                        if self.covered(prefix) {
                            Vec::new()
                        } else {
                            self.rib
                                .originate_path(prefix, crate::rib::LEARNED, learned_attrs())
                        }
                    }
                    Learned::Remove(prefix) => {
                        self.learned.remove(&prefix);
                        self.rib
                            .withdraw_originated_path(prefix, crate::rib::LEARNED)
                    }
                };
                self.deliver(outputs);
            }
            RibInput::AddPeer { config, reply } => {
                let id = self.rib.add_peer(config);
                let _ = reply.send(id);
            }
            RibInput::RemovePeer(peer) => {
                self.members.remove(&peer);
                self.stale_deadline.remove(&peer);
                self.eor_missing.remove(&peer);
                let before = self.rib.prefix_count(peer);
                let outputs = self.rib.remove_peer(peer);
                tracing::info!(
                    "peer {}: removed from the configuration; withdrew its {before} prefixes",
                    self.name(peer)
                );
                self.deliver(outputs);
                self.maybe_settle();
            }
            RibInput::View(reply) => {
                let _ = reply.send(self.view());
            }
            RibInput::RouteRefresh { peer, family } => {
                let outputs = self.rib.refresh(peer, family);
                self.deliver(outputs);
            }
        }
    }

    fn stop_over_limit(&mut self, peer: PeerId, max: u32) {
        tracing::warn!(
            "peer {}: more than max_prefixes = {max} prefixes; closing the session (Cease 6/1)",
            self.name(peer)
        );
        if let Some(m) = self.members.get(&peer) {
            // RFC 4486 §4: the data carries the AFI, SAFI and the limit.
            let mut data = vec![0, 1, 1];
            data.extend_from_slice(&max.to_be_bytes());
            let n = Notification::with_data(code::CEASE, 1, data);
            let _ = m.control.try_send(Input::Stop(Box::new(n)));
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> = self
            .stale_deadline
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            self.stale_deadline.remove(&peer);
            let stale = self.rib.stale_count(peer);
            tracing::info!(
                "peer {}: graceful restart time over; withdrawing {stale} stale paths",
                self.name(peer)
            );
            let outputs = self.rib.sweep_stale(peer);
            self.deliver(outputs);
        }
    }

    /// Logs the best-path changes at debug level (`best P via NH from PEER`, `best P: none`).
    fn log_best_changes(&mut self) {
        let changed = self.rib.take_best_changes();
        if changed.is_empty() {
            return;
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            self.log_changes(&changed);
        }
        self.publish(changed);
    }

    fn log_changes(&self, changed: &[ipnet::IpNet]) {
        for &prefix in changed {
            match self.rib.best(prefix) {
                Some(p) => {
                    let via = p
                        .attrs()
                        .next_hop
                        .map_or_else(|| "self".to_string(), |h| h.addr().to_string());
                    tracing::debug!("best {prefix} via {via} from {}", self.name(p.peer()));
                }
                None => tracing::debug!("best {prefix}: none"),
            }
        }
    }

    /// Encodes each output once and queues it to its receivers.
    /// Encodes every output once and sends each peer what it receives
    /// ([`crate::rib::Rib::receives`]), in order. Small messages are copied one after the other
    /// into one buffer, and a peer's run of consecutive ones goes as one slice of it; a large
    /// message (a table transfer) goes as it is, shared by every peer that gets it.
    fn deliver(&mut self, outputs: Vec<Output>) {
        self.log_best_changes();
        if outputs.is_empty() {
            return;
        }
        /// Smaller encodings are coalesced.
        const SMALL: usize = 1024;
        enum Piece {
            Range(std::ops::Range<usize>),
            Whole(Bytes),
        }
        let mut all = BytesMut::new();
        let mut runs: HashMap<PeerId, Vec<Piece>> = HashMap::new();
        let mut add = |peer: PeerId, piece: Piece| {
            let list = runs.entry(peer).or_default();
            match (list.last_mut(), piece) {
                (Some(Piece::Range(last)), Piece::Range(r)) if last.end == r.start => {
                    last.end = r.end;
                }
                (_, piece) => list.push(piece),
            }
        };
        // Encoded messages of one output: coalesced into `all` when small.
        let place = |all: &mut BytesMut, encoded: Vec<Bytes>| -> Vec<Piece> {
            let size: usize = encoded.iter().map(Bytes::len).sum();
            if size < SMALL {
                let start = all.len();
                for b in &encoded {
                    all.extend_from_slice(b);
                }
                vec![Piece::Range(start..all.len())]
            } else {
                encoded.into_iter().map(Piece::Whole).collect()
            }
        };
        for o in outputs {
            match o.target {
                Target::Peer(p) => {
                    let Some(m) = self.members.get(&p) else {
                        continue;
                    };
                    if !self.rib.passes_as_rule(&o.update, p) {
                        continue;
                    }
                    for piece in place(&mut all, encode_update(o.update, &m.ctx)) {
                        add(p, piece);
                    }
                }
                Target::Group { group, except } => {
                    let Some(key) = self.rib.group_key(group) else {
                        continue;
                    };
                    let ctx = Ctx {
                        four_octet_as: key.four_octet_as,
                        add_path_tx: key.add_path_tx.clone(),
                        ..Ctx::default()
                    };
                    // External groups mix ASes: a member whose AS the path holds is skipped.
                    let check_as =
                        key.ebgp && (!o.update.nlri.is_empty() || o.update.mp_reach.is_some());
                    let gets: Vec<PeerId> = self
                        .rib
                        .group_members(group)
                        .iter()
                        .filter(|p| !except.contains(&Some(**p)) && self.members.contains_key(p))
                        .filter(|p| !check_as || self.rib.passes_as_rule(&o.update, **p))
                        .copied()
                        .collect();
                    if gets.is_empty() {
                        continue;
                    }
                    let pieces = place(&mut all, encode_update(o.update, &ctx));
                    for p in gets {
                        for piece in &pieces {
                            add(
                                p,
                                match piece {
                                    Piece::Range(r) => Piece::Range(r.clone()),
                                    Piece::Whole(b) => Piece::Whole(b.clone()),
                                },
                            );
                        }
                    }
                }
            }
        }
        let all = all.freeze();
        for (peer, list) in runs {
            if let Some(m) = self.members.get(&peer) {
                let _ = m.out.send_all(list.into_iter().map(|piece| match piece {
                    Piece::Range(r) => all.slice(r),
                    Piece::Whole(b) => b,
                }));
            }
        }
    }
}

/// The attributes of a route learned from the kernel: ORIGIN INCOMPLETE, as BIRD exports them.
fn learned_attrs() -> RouteAttrs {
    RouteAttrs {
        attrs: crate::wire::PathAttributes {
            origin: Some(crate::wire::Origin::Incomplete),
            ..Default::default()
        },
        next_hop: None,
    }
}

/// Encodes `update`, splitting it in two (recursively) when it does not fit one message.
pub fn encode_update(update: Update, ctx: &Ctx) -> Vec<Bytes> {
    let mut buf = BytesMut::with_capacity(wire::MAX_MESSAGE_LEN);
    let msg = Message::Update(update);
    match wire::encode(&msg, ctx, &mut buf) {
        // A small message gets a buffer of its own size: queued to many peers, or behind a slow
        // one, a 4 KiB buffer per 60-octet UPDATE would be most of wren's memory.
        Ok(()) if buf.len() < wire::MAX_MESSAGE_LEN / 2 => vec![Bytes::copy_from_slice(&buf)],
        Ok(()) => vec![buf.freeze()],
        Err(EncodeError::TooLong { .. }) => {
            let Message::Update(update) = msg else {
                return Vec::new();
            };
            match split_update(update) {
                Some((a, b)) => {
                    let mut v = encode_update(a, ctx);
                    v.extend(encode_update(b, ctx));
                    v
                }
                None => {
                    tracing::error!("an UPDATE with one prefix does not fit a message; dropped");
                    Vec::new()
                }
            }
        }
        Err(e) => {
            tracing::error!("cannot encode an UPDATE: {e}; dropped");
            Vec::new()
        }
    }
}

/// Splits an UPDATE's NLRI (or withdrawals) into two halves with the same attributes.
fn split_update(mut u: Update) -> Option<(Update, Update)> {
    fn halve<T>(v: &mut Vec<T>) -> Option<Vec<T>> {
        (v.len() > 1).then(|| v.split_off(v.len() / 2))
    }
    let mut b = Update {
        attrs: u.attrs.clone(),
        ..Update::default()
    };
    if let Some(rest) = halve(&mut u.nlri) {
        b.nlri = rest;
    } else if let Some(rest) = halve(&mut u.withdrawn) {
        b.withdrawn = rest;
    } else if let Some(mp) = u.mp_reach.as_mut() {
        let rest = halve(&mut mp.nlri)?;
        b.mp_reach = Some(wire::MpReach {
            nlri: rest,
            ..mp.clone()
        });
    } else if let Some(mp) = u.mp_unreach.as_mut() {
        let rest = halve(&mut mp.nlri)?;
        b.mp_unreach = Some(wire::MpUnreach {
            family: mp.family,
            nlri: rest,
        });
    } else {
        return None;
    }
    Some((u, b))
}

/// Sleeps until `at`, or forever when there is no timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
