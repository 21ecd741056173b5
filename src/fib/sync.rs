//! The kernel sync state machine: from "what the RIB wants for this prefix" to kernel operations,
//! with BIRD's restart behaviour (`persist` + graceful restart, as Calico runs it).
//!
//! Pure: no tokio, no sockets, no clock. The FIB task feeds it and applies what it returns.
//!
//! * **Start:** the routes of our protocol already in our table (left by a previous wren, or by
//!   BIRD, which uses the same protocol number) are *adopted*: kept as they are, and counted as
//!   installed, so that a wanted route equal to one of them causes no operation at all.
//! * **Running:** a prefix the RIB wants is replaced in place (never deleted and re-added); a
//!   prefix it stops wanting is deleted — unless it is an adopted route the RIB has not spoken
//!   about yet, which waits.
//! * **Settled:** once every peer has sent End-of-RIB (or the restart wait, default 240 s as
//!   BIRD's `graceful restart wait`, is over), [`Sync::settle`] deletes the adopted routes nobody
//!   wanted.
//!
//! Route shape: a blackhole for an originated block marked `blackhole`, else unicast via the best
//! paths' next hops (several = ECMP). A prefix inside a [`Tunnel`] rule goes `via <next hop> dev
//! <device> onlink` (Calico's IP-in-IP): always, or with `cross-subnet` only when the next hop is
//! outside every subnet of the node's own addresses.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Action, Applied, Hop, KernelRoute, Op};

/// What the RIB wants in the kernel for one prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    /// Next hops of the best path(s); empty with `blackhole` false means "no route".
    pub next_hops: Vec<IpAddr>,
    /// An originated block to blackhole (Calico's local IPAM blocks).
    pub blackhole: bool,
}

impl Want {
    /// No route for the prefix.
    pub fn none() -> Want {
        Want::default()
    }
}

/// When a [`Tunnel`] rule applies (Calico's IPPool `ipipMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelMode {
    /// Every route in the pool goes through the tunnel.
    Always,
    /// Only routes whose next hop is outside the node's own subnets.
    CrossSubnet,
}

/// Routes to prefixes inside `pool` go through `device` with `onlink`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// The pool (a route's prefix must be inside it).
    pub pool: IpNet,
    /// When.
    pub mode: TunnelMode,
    /// The tunnel device, `tunl0` for Calico's IP-in-IP.
    pub device: String,
}

/// Fixed settings of the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Our table.
    pub table: u32,
    /// Our protocol number.
    pub protocol: u8,
    /// Metric of our routes.
    pub metric: u32,
    /// IP-in-IP rules.
    pub tunnels: Vec<Tunnel>,
    /// Prefixes never programmed (`[kernel] reject`; Calico's VXLAN pools, Felix-owned pools,
    /// service ranges).
    pub reject: crate::policy::KernelPolicy,
}

/// The sync state. See the module documentation.
#[derive(Debug)]
pub struct Sync {
    settings: Settings,
    wanted: HashMap<IpNet, Want>,
    installed: HashMap<IpNet, KernelRoute>,
    adopted: HashSet<IpNet>,
    /// Adopted routes of our protocol with another metric than ours: never equal to a wanted
    /// route (the kernel keys routes by metric too), so they all go at settle.
    adopted_other_metric: Vec<KernelRoute>,
    /// Prefixes whose last replace failed: the kernel's state is unknown, so the next change
    /// replaces again even if it looks equal.
    dirty: HashSet<IpNet>,
    settled: bool,
    local: Vec<IpNet>,
}

impl Sync {
    /// Starts from `existing`, the kernel's routes of `settings.table` (any protocol; only ours
    /// are adopted).
    pub fn new(settings: Settings, existing: Vec<KernelRoute>) -> Sync {
        let (ours, adopted_other_metric): (Vec<KernelRoute>, Vec<KernelRoute>) = existing
            .into_iter()
            .filter(|r| r.table == settings.table && r.protocol == settings.protocol)
            .partition(|r| r.metric == settings.metric);
        let installed: HashMap<IpNet, KernelRoute> =
            ours.into_iter().map(|r| (r.prefix, r)).collect();
        let adopted = installed.keys().copied().collect();
        Sync {
            settings,
            wanted: HashMap::new(),
            installed,
            adopted,
            adopted_other_metric,
            dirty: HashSet::new(),
            settled: false,
            local: Vec::new(),
        }
    }

    /// Number of adopted routes still waiting for the RIB's word (or for settle).
    pub fn adopted(&self) -> usize {
        self.adopted.len() + self.adopted_other_metric.len()
    }

    /// Number of routes wren believes it has in the kernel.
    pub fn installed(&self) -> usize {
        self.installed.len()
    }

    /// Our table.
    pub fn table(&self) -> u32 {
        self.settings.table
    }

    /// True once [`Sync::settle`] ran.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// The route `want` means for `prefix`, or `None` for no route.
    pub fn route_for(&self, prefix: IpNet, want: &Want) -> Option<KernelRoute> {
        if !self.settings.reject.allows(&prefix) {
            return None;
        }
        let action = if want.blackhole {
            Action::Blackhole
        } else {
            let mut hops: Vec<Hop> = want
                .next_hops
                .iter()
                .filter(|h| !self.is_local_address(**h) && !h.is_unspecified())
                .map(|&gw| self.hop(prefix, gw))
                .collect();
            hops.sort();
            hops.dedup();
            if hops.is_empty() {
                return None;
            }
            Action::Unicast(hops)
        };
        Some(KernelRoute {
            prefix,
            table: self.settings.table,
            protocol: self.settings.protocol,
            metric: self.settings.metric,
            action,
        })
    }

    fn is_local_address(&self, a: IpAddr) -> bool {
        self.local.iter().any(|n| n.addr() == a)
    }

    fn hop(&self, prefix: IpNet, gateway: IpAddr) -> Hop {
        let rule = self
            .settings
            .tunnels
            .iter()
            .filter(|t| t.pool.contains(&prefix))
            .max_by_key(|t| t.pool.prefix_len());
        let tunnel = match rule {
            Some(t) if t.mode == TunnelMode::Always => Some(t),
            Some(t) if !self.local.iter().any(|n| n.contains(&gateway)) => Some(t),
            _ => None,
        };
        match tunnel {
            Some(t) => Hop {
                gateway: Some(gateway),
                device: Some(t.device.clone()),
                onlink: true,
            },
            None => Hop {
                gateway: Some(gateway),
                device: None,
                onlink: false,
            },
        }
    }

    /// The RIB's wish for `prefix` changed; returns the operations to apply.
    pub fn set(&mut self, prefix: IpNet, want: Want) -> Vec<Op> {
        let route = self.route_for(prefix, &want);
        let was_adopted = self.adopted.remove(&prefix);
        // Kept even when it makes no route now (rejected, or via ourselves): a change of rules
        // or addresses may make one.
        if want.blackhole || !want.next_hops.is_empty() {
            self.wanted.insert(prefix, want);
        } else {
            self.wanted.remove(&prefix);
        }
        self.converge(prefix, route, was_adopted)
    }

    /// The tunnel and reject rules changed (Calico's pools changed); returns the operations for
    /// the routes whose shape changes, appear or go.
    pub fn set_rules(
        &mut self,
        tunnels: Vec<Tunnel>,
        reject: crate::policy::KernelPolicy,
    ) -> Vec<Op> {
        self.settings.tunnels = tunnels;
        self.settings.reject = reject;
        self.reshape()
    }

    /// Recomputes the route of every wanted prefix.
    fn reshape(&mut self) -> Vec<Op> {
        let mut prefixes: Vec<IpNet> = self.wanted.keys().copied().collect();
        prefixes.sort();
        let mut ops = Vec::new();
        for p in prefixes {
            let want = self.wanted.get(&p).cloned().unwrap_or_default();
            let route = self.route_for(p, &want);
            ops.extend(self.converge(p, route, false));
        }
        ops
    }

    fn converge(&mut self, prefix: IpNet, route: Option<KernelRoute>, adopted: bool) -> Vec<Op> {
        match route {
            Some(r) => {
                let dirty = self.dirty.remove(&prefix);
                if !dirty
                    && self
                        .installed
                        .get(&prefix)
                        .is_some_and(|k| r.same_as_installed(k))
                {
                    return Vec::new();
                }
                match self.installed.insert(prefix, r.clone()) {
                    Some(_) => vec![Op::Replace(r)],
                    None => vec![Op::Add(r)],
                }
            }
            None if adopted && !self.settled => {
                // Not wanted now, but the restart has not settled: keep it until then.
                self.adopted.insert(prefix);
                Vec::new()
            }
            None => match self.installed.remove(&prefix) {
                Some(k) => vec![Op::Delete(k)],
                None => Vec::new(),
            },
        }
    }

    /// Every peer sent End-of-RIB, or the restart wait is over: deletes the adopted routes that
    /// nothing wanted.
    pub fn settle(&mut self) -> Vec<Op> {
        self.settled = true;
        let mut stale: Vec<IpNet> = self.adopted.drain().collect();
        stale.sort();
        let mut ops: Vec<Op> = stale
            .into_iter()
            .filter_map(|p| self.installed.remove(&p))
            .map(Op::Delete)
            .collect();
        ops.extend(self.adopted_other_metric.drain(..).map(Op::Delete));
        ops
    }

    /// The node's own addresses changed (they decide `cross-subnet` and which next hops are
    /// ourselves); returns the operations for the routes whose shape changes.
    pub fn set_local_addresses(&mut self, addresses: Vec<IpNet>) -> Vec<Op> {
        self.local = addresses;
        self.reshape()
    }

    /// Someone else removed one of our routes from the kernel (a device went down, an operator
    /// ran `ip route del`): installs it again if it is still wanted.
    pub fn kernel_removed(&mut self, route: &KernelRoute) -> Vec<Op> {
        if route.table != self.settings.table || route.protocol != self.settings.protocol {
            return Vec::new();
        }
        let prefix = route.prefix;
        if !self
            .installed
            .get(&prefix)
            .is_some_and(|r| r == route || r.same_as_installed(route))
        {
            return Vec::new();
        }
        self.installed.remove(&prefix);
        self.adopted.remove(&prefix);
        match self.wanted.get(&prefix).cloned() {
            Some(want) => {
                let r = self.route_for(prefix, &want);
                self.converge(prefix, r, false)
            }
            None => Vec::new(),
        }
    }

    /// Records what applying returned: a failed add is forgotten (the next change tries again),
    /// a failed replace leaves the prefix dirty (the next change replaces again), a failed
    /// delete is remembered as still installed.
    pub fn applied(&mut self, result: &Applied) {
        for (op, _) in &result.failed {
            match op {
                Op::Add(r) => {
                    self.installed.remove(&r.prefix);
                }
                Op::Replace(r) => {
                    self.dirty.insert(r.prefix);
                }
                Op::Delete(r) => {
                    self.installed.insert(r.prefix, r.clone());
                }
            }
        }
    }
}

/// A rule for learning routes of other protocols from the kernel (Calico's `learn`): every set
/// field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnRule {
    /// Output device name; a trailing `*` matches any suffix (`cali*`).
    pub interface: Option<String>,
    /// Route protocol number.
    pub protocol: Option<u8>,
    /// Routing table.
    pub table: Option<u32>,
    /// The route's prefix must be inside this one.
    pub within: Option<IpNet>,
}

impl LearnRule {
    /// Whether `route` (never one of ours) is learned by this rule.
    pub fn matches(&self, route: &KernelRoute) -> bool {
        let device_ok = self.interface.as_ref().is_none_or(|pattern| {
            let Action::Unicast(hops) = &route.action else {
                return false;
            };
            hops.iter().any(|h| {
                h.device
                    .as_deref()
                    .is_some_and(|d| match pattern.strip_suffix('*') {
                        Some(prefix) => d.starts_with(prefix),
                        None => d == pattern,
                    })
            })
        });
        device_ok
            && self.protocol.is_none_or(|p| p == route.protocol)
            && self.table.is_none_or(|t| t == route.table)
            && self.within.is_none_or(|w| w.contains(&route.prefix))
    }
}

/// Whether any rule learns `route`; routes of `own_protocol` are never learned.
pub fn learns(rules: &[LearnRule], route: &KernelRoute, own_protocol: u8) -> bool {
    route.protocol != own_protocol && rules.iter().any(|r| r.matches(route))
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
