//! The kernel FIB: wren's best routes as Linux routes, the way Calico's BIRD installs them.
//!
//! **Owns:** the shape of a kernel route ([`KernelRoute`]: protocol `bird` = 12 by default,
//! unicast via a gateway, ECMP, blackhole, per-route device and `onlink` for IP-in-IP), the pure
//! reconciler that turns (wanted routes, routes the kernel has) into the fewest operations
//! ([`reconcile`]), the [`Fib`] trait with an in-memory implementation for unit tests
//! ([`MemoryFib`]) and the netlink one ([`netlink`]), and the sync state machine that adopts the
//! routes a previous run left behind and deletes only unwanted ones after the restart settles
//! ([`sync`]).
//!
//! **Ownership rule:** wren touches only routes of its own protocol number in its own table.
//! Routes of other protocols (Felix's workload routes, `proto boot`, static ones) are never
//! modified or deleted: [`reconcile`] never emits an operation for them.
//!
//! **Must not depend on:** the RIB or sessions. The pure parts ([`reconcile`], [`sync`]) must not
//! depend on tokio, sockets or the clock either; only [`netlink`] does I/O.

pub mod netlink;
pub mod sync;
pub mod task;

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

/// BIRD's route protocol number (`/etc/iproute2/rt_protos`: 12 `bird`), which Felix and Calico's
/// tooling recognise; wren's default.
pub const PROTO_BIRD: u8 = 12;

/// The main routing table.
pub const TABLE_MAIN: u32 = 254;

/// Errors of the kernel adapter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink request failed.
    #[error("netlink: {op} {prefix}: {message}")]
    Netlink {
        /// What was attempted (`replace`, `delete`, `dump`).
        op: &'static str,
        /// The route, or `-` for a dump.
        prefix: String,
        /// The kernel's error.
        message: String,
    },
    /// The netlink socket could not be opened.
    #[error("netlink socket: {0}")]
    Socket(String),
    /// A device named in a route does not exist.
    #[error("no such device: {0}")]
    NoDevice(String),
}

/// One next hop of a kernel route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hop {
    /// The gateway (`via`); `None` for a device route.
    pub gateway: Option<IpAddr>,
    /// The output device by name (`dev`), e.g. `tunl0`; `None` lets the kernel choose from the
    /// gateway. A route read back from the kernel always has it.
    pub device: Option<String>,
    /// `onlink`: the gateway is reachable on the device even though no address of the device's
    /// subnets covers it (Calico's IP-in-IP routes: `via <peer> dev tunl0 onlink`).
    pub onlink: bool,
}

/// What a route does with packets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Forward via one next hop, or several (ECMP multipath) when the list has more than one.
    Unicast(Vec<Hop>),
    /// Drop silently (`blackhole`): Calico's routes for the node's own IPAM blocks.
    Blackhole,
}

/// A route as wren installs it and as it reads routes back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelRoute {
    /// Destination.
    pub prefix: IpNet,
    /// Routing table (254 = main).
    pub table: u32,
    /// Route protocol (`proto`): 12 for wren's own routes.
    pub protocol: u8,
    /// Metric (`metric` / priority); 0 when unset.
    pub metric: u32,
    /// Forward or drop.
    pub action: Action,
}

impl KernelRoute {
    /// True when `other` would be a no-op replacement of `self`: same destination, table,
    /// protocol, metric and action. Next hops are compared as sets, and a `None` device in `self`
    /// (let the kernel choose) matches any device the kernel reports.
    pub fn same_as_installed(&self, installed: &KernelRoute) -> bool {
        if (self.prefix, self.table, self.protocol, self.metric)
            != (
                installed.prefix,
                installed.table,
                installed.protocol,
                installed.metric,
            )
        {
            return false;
        }
        match (&self.action, &installed.action) {
            (Action::Blackhole, Action::Blackhole) => true,
            (Action::Unicast(want), Action::Unicast(have)) => {
                want.len() == have.len()
                    && want.iter().all(|w| {
                        have.iter().any(|h| {
                            w.gateway == h.gateway
                                && w.onlink == h.onlink
                                && (w.device.is_none() || w.device == h.device)
                        })
                    })
            }
            _ => false,
        }
    }
}

/// One change to make in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Install where wren has no route (`ip route add`, exclusive): fails rather than overwrite a
    /// route of another protocol with the same destination, table and metric.
    Add(KernelRoute),
    /// Replace a route wren owns (`ip route replace`): never leaves a gap where the old route was.
    Replace(KernelRoute),
    /// Delete exactly this route.
    Delete(KernelRoute),
}

/// The fewest operations that make the kernel's routes of `protocol` in `table` equal to
/// `wanted`: an `Add` for each wanted route we have no route for, a `Replace` for each one of
/// ours that differs, a `Delete` for each route of ours that is not wanted. Routes of other protocols or tables in `kernel` are ignored,
/// so they are never touched. Deletes come first, then replaces, each sorted by prefix.
pub fn reconcile(
    wanted: &HashMap<IpNet, KernelRoute>,
    kernel: &[KernelRoute],
    table: u32,
    protocol: u8,
) -> Vec<Op> {
    let ours: HashMap<IpNet, &KernelRoute> = kernel
        .iter()
        .filter(|r| r.table == table && r.protocol == protocol)
        .map(|r| (r.prefix, r))
        .collect();
    let mut deletes: Vec<&KernelRoute> = ours
        .values()
        .filter(|r| !wanted.contains_key(&r.prefix))
        .copied()
        .collect();
    deletes.sort_by_key(|r| r.prefix);
    let mut replaces: Vec<&KernelRoute> = wanted
        .values()
        .filter(|w| !ours.get(&w.prefix).is_some_and(|k| w.same_as_installed(k)))
        .collect();
    replaces.sort_by_key(|r| r.prefix);
    deletes
        .into_iter()
        .map(|r| Op::Delete(r.clone()))
        .chain(replaces.into_iter().map(|r| {
            if ours.contains_key(&r.prefix) {
                Op::Replace(r.clone())
            } else {
                Op::Add(r.clone())
            }
        }))
        .collect()
}

/// What applying a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Operations the kernel accepted (a delete of a route already gone counts as done).
    pub done: usize,
    /// Operations that failed, with the error.
    pub failed: Vec<(Op, String)>,
}

/// A kernel routing table wren can read and change.
pub trait Fib {
    /// Every route in `table` (all protocols), for adoption at start and for tests.
    fn dump(
        &mut self,
        table: u32,
    ) -> impl std::future::Future<Output = Result<Vec<KernelRoute>, Error>> + Send;

    /// Every interface address, `(interface, address/prefix length)`, for `cross-subnet` and for
    /// recognising our own addresses as next hops.
    fn addresses(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Vec<(String, IpNet)>, Error>> + Send;

    /// Applies `ops` in order, as fast as the kernel takes them. A failed operation does not
    /// stop the others; a delete of a route that is already gone (ESRCH) and a replace that
    /// raced with an equal route (EEXIST) count as done.
    fn apply(&mut self, ops: Vec<Op>) -> impl std::future::Future<Output = Applied> + Send;
}

/// An in-memory [`Fib`] for unit tests: a map from (table, prefix) to route.
#[derive(Debug, Default, Clone)]
pub struct MemoryFib {
    /// The routes, all protocols.
    pub routes: HashMap<(u32, IpNet), KernelRoute>,
    /// Every operation applied, in order.
    pub log: Vec<Op>,
    /// What [`Fib::addresses`] returns.
    pub addresses: Vec<(String, IpNet)>,
}

impl Fib for MemoryFib {
    async fn addresses(&mut self) -> Result<Vec<(String, IpNet)>, Error> {
        Ok(self.addresses.clone())
    }

    async fn dump(&mut self, table: u32) -> Result<Vec<KernelRoute>, Error> {
        Ok(self
            .routes
            .values()
            .filter(|r| r.table == table)
            .cloned()
            .collect())
    }

    async fn apply(&mut self, ops: Vec<Op>) -> Applied {
        let mut applied = Applied::default();
        for op in ops {
            match &op {
                Op::Add(r) => {
                    if self.routes.contains_key(&(r.table, r.prefix)) {
                        applied.failed.push((op, "File exists".into()));
                        continue;
                    }
                    self.routes.insert((r.table, r.prefix), r.clone());
                }
                Op::Replace(r) => {
                    self.routes.insert((r.table, r.prefix), r.clone());
                }
                Op::Delete(r) => {
                    self.routes.remove(&(r.table, r.prefix));
                }
            }
            self.log.push(op);
            applied.done += 1;
        }
        applied
    }
}
