//! Route policy: which best routes leave towards BGP peers (with which communities added) and
//! which go into the kernel. Calico's two BIRD filters, as data:
//!
//! * [`ExportPolicy`] is confd's `calico_export_to_bgp_peers` (`bird_ipam.cfg`, with
//!   `calico_aggr` from `bird_aggr.cfg` and `apply_communities` from `bird.cfg`), evaluated by
//!   the RIB for every route it exports ([`crate::rib::Rib::set_export_policy`]).
//! * [`KernelPolicy`] is the reject part of `calico_kernel_programming`: prefixes inside
//!   VXLAN pools, pools whose routes Felix programs (`programClusterRoutes`) and service ranges
//!   never reach the kernel. The tunnel part (IP-in-IP via `tunl0`, CrossSubnet) lives with the
//!   kernel sync ([`crate::fib::sync::Tunnel`]).
//!
//! Both are pure functions of a prefix: no I/O, no clock, no dependency on an adapter. The
//! static file has no export policy (every best route is exported, as with BIRD's
//! `export all`); Calico mode builds one from the datastore ([`crate::calico::derive()`]).

use ipnet::IpNet;

use crate::wire::{Community, LargeCommunity};

/// Communities added to routes equal to or inside a prefix (Calico's `prefixAdvertisements`,
/// confd's `apply_communities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityRule {
    /// Routes equal to or inside this prefix get the communities.
    pub prefix: IpNet,
    /// Standard communities (RFC 1997).
    pub communities: Vec<Community>,
    /// Large communities (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
}

/// confd's `calico_export_to_bgp_peers`, evaluated in BIRD's order:
///
/// 1. a route inside a pool with `disableBGPExport` is rejected (`reject_disabled_pools`);
/// 2. communities of every matching [`CommunityRule`] are added (`apply_communities`);
/// 3. a local block itself is accepted, anything more specific inside it rejected
///    (`calico_aggr`: the block stands for its workloads);
/// 4. a route inside a pool, a service range, or (on a route reflector) another node's
///    LoadBalancer/external range is accepted;
/// 5. everything else is rejected (the caller's `reject;`), so routes learned from a ToR, node
///    subnets and anything outside Calico's address space are not passed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportPolicy {
    /// This node's blocks (`calico_aggr`): the block itself is exported, any more specific
    /// route inside it (a local workload /32) is not.
    pub aggregate: Vec<IpNet>,
    /// Never export anything inside these (`disableBGPExport` pools).
    pub no_export: Vec<IpNet>,
    /// Export routes inside these (pools, service ranges; on a route reflector also the
    /// LoadBalancer and external ranges other nodes announce). Everything else is not exported.
    pub accept_within: Vec<IpNet>,
    /// Communities to add (`prefixAdvertisements`; node-specific ones replace global ones).
    pub communities: Vec<CommunityRule>,
}

/// Why [`ExportPolicy::evaluate`] rejected a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Inside a pool with `disableBGPExport`.
    #[error("inside {0}, a pool with disableBGPExport")]
    DisabledPool(IpNet),
    /// More specific than one of this node's blocks, which is announced instead.
    #[error("inside the local block {0}, which is announced instead")]
    InsideLocalBlock(IpNet),
    /// Outside every pool and service range.
    #[error("outside every IP pool and service range")]
    NotCalico,
}

/// What to add to an exported route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    /// Standard communities to add (each once).
    pub communities: Vec<Community>,
    /// Large communities to add (each once).
    pub large_communities: Vec<LargeCommunity>,
}

impl Additions {
    /// True when nothing is added.
    pub fn is_empty(&self) -> bool {
        self.communities.is_empty() && self.large_communities.is_empty()
    }
}

/// `inner` is `outer` or more specific inside it (BIRD's `net ~ outer`).
fn within(inner: &IpNet, outer: &IpNet) -> bool {
    outer.contains(inner)
}

impl ExportPolicy {
    /// Whether a route for `prefix` is exported, and what it gets added. See the type's
    /// documentation for the order of the rules.
    pub fn evaluate(&self, prefix: IpNet) -> Result<Additions, Error> {
        if let Some(pool) = self.no_export.iter().find(|p| within(&prefix, p)) {
            return Err(Error::DisabledPool(*pool));
        }
        let mut add = Additions::default();
        for rule in self
            .communities
            .iter()
            .filter(|r| within(&prefix, &r.prefix))
        {
            for c in &rule.communities {
                if !add.communities.contains(c) {
                    add.communities.push(*c);
                }
            }
            for c in &rule.large_communities {
                if !add.large_communities.contains(c) {
                    add.large_communities.push(*c);
                }
            }
        }
        if self.aggregate.contains(&prefix) {
            return Ok(add);
        }
        if let Some(block) = self.aggregate.iter().find(|b| within(&prefix, b)) {
            return Err(Error::InsideLocalBlock(*block));
        }
        if self.accept_within.iter().any(|r| within(&prefix, r)) {
            return Ok(add);
        }
        Err(Error::NotCalico)
    }
}

/// Adds `add` to the attributes of an exported route, each community once (BIRD's
/// `bgp_community.add`).
pub fn apply(attrs: &mut crate::wire::PathAttributes, add: &Additions) {
    for c in &add.communities {
        if !attrs.communities.contains(c) {
            attrs.communities.push(*c);
        }
    }
    for c in &add.large_communities {
        if !attrs.large_communities.contains(c) {
            attrs.large_communities.push(*c);
        }
    }
}

/// The reject part of confd's `calico_kernel_programming`: best routes inside these prefixes
/// are never programmed into the kernel (a route already there is removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelPolicy {
    /// VXLAN pools (Felix's), pools Felix programs under `programClusterRoutes`, service
    /// ranges (`/calico/rejectcidrs`), and `[kernel] reject` of the static file.
    pub reject: Vec<IpNet>,
}

impl KernelPolicy {
    /// Whether a route for `prefix` may be programmed.
    pub fn allows(&self, prefix: &IpNet) -> bool {
        !self.reject.iter().any(|r| within(prefix, r))
    }
}

#[cfg(test)]
mod tests;
