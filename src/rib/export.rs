//! Import and export rules: what a path looks like when it enters the RIB from a peer, and what
//! it looks like (or whether it goes at all) when it leaves towards a group of peers.
//!
//! Pure functions of plain values. The rules are RFC 4271 §9.1.1 / §9.1.3 / §5.1, RFC 4456 §8
//! (reflection, ORIGINATOR_ID, CLUSTER_LIST), RFC 1997 (well-known communities) and the usual
//! per-peer knobs (`next_hop_self`, `next_hop_keep`, `allow_local_as`, `local_asn`).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::attrs::RouteAttrs;
use super::{Global, PeerConfig};
use crate::wire::{AsPath, Community, Family, NextHop};

/// Why an UPDATE's path was not accepted into the RIB (it is treated as a withdrawal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejected {
    /// Our AS appears in AS_PATH more often than `allow_local_as` permits (RFC 4271 §9.1.2).
    #[error("AS path loop: local AS {asn} appears {count} times")]
    AsLoop {
        /// The local AS found.
        asn: u32,
        /// How often.
        count: usize,
    },
    /// ORIGINATOR_ID is our router id (RFC 4456 §8).
    #[error("ORIGINATOR_ID is our own router id")]
    OriginatorLoop,
    /// CLUSTER_LIST holds our cluster id (RFC 4456 §8).
    #[error("CLUSTER_LIST contains our cluster id")]
    ClusterLoop,
    /// No usable next hop for the family.
    #[error("no next hop")]
    NoNextHop,
}

/// Where the path being exported was learned, as far as the export rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Originated by this speaker (`[[originate]]`, later the kernel).
    Local,
    /// From an internal peer; `client` when that peer is our route-reflector client.
    Ibgp {
        /// The peer is a route-reflector client (`rr_client = true`).
        client: bool,
        /// The peer's BGP identifier, the ORIGINATOR_ID when we reflect (RFC 4456 §8).
        router_id: Ipv4Addr,
    },
    /// From an external peer.
    Ebgp,
}

/// Everything that decides how a route is exported: peers with equal keys share one update
/// group, so each change is exported and encoded once for all of them.
///
/// External peers of different ASes share a group: the one rule that depends on the peer's AS
/// (a route whose AS_PATH holds it is not sent to it, see [`sent_to`]) is applied per member
/// when a group's message is delivered, so 100 eBGP peers of 100 ASes cost one export and one
/// encoding per change, not 100.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The peers are external.
    pub ebgp: bool,
    /// The AS we present to them (`local_asn`, default `global.asn`).
    pub local_asn: u32,
    /// They are route-reflector clients.
    pub rr_client: bool,
    /// `next_hop_self`: always put our address as next hop.
    pub next_hop_self: bool,
    /// `next_hop_keep`: never change the next hop, even over eBGP.
    pub next_hop_keep: bool,
    /// Our IPv4 address on the session, the "self" next hop for IPv4 routes.
    pub self_v4: Option<Ipv4Addr>,
    /// Our IPv6 address on the session, the "self" next hop for IPv6 routes.
    pub self_v6: Option<Ipv6Addr>,
    /// The session carries 4-octet AS numbers (encoding).
    pub four_octet_as: bool,
    /// Families negotiated on the session, sorted.
    pub families: Vec<Family>,
    /// Families in which every path goes out with a path identifier (ADD-PATH send, RFC 7911),
    /// sorted.
    pub add_path_tx: Vec<Family>,
}

/// Whether a route exported to an external peer's group with attributes `exported` goes to the
/// member of AS `peer_asn`: not when its AS_PATH already holds that AS (the peer would drop it
/// as a loop, RFC 4271 §9.1.2; sender-side loop detection). Always true for internal peers.
pub fn sent_to(exported: &crate::wire::PathAttributes, ebgp: bool, peer_asn: u32) -> bool {
    !ebgp
        || exported
            .as_path
            .as_ref()
            .is_none_or(|p| p.count(peer_asn) == 0)
}

/// The default LOCAL_PREF put on routes sent to internal peers (RFC 4271 §5.1.5).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Applies the import rules of `peer` to a received path: loop checks (AS_PATH with
/// `allow_local_as`, ORIGINATOR_ID, CLUSTER_LIST) and, from external peers, the removal of
/// LOCAL_PREF, which only has meaning inside an AS (RFC 4271 §5.1.5).
pub fn import(
    global: &Global,
    peer: &PeerConfig,
    mut ra: RouteAttrs,
) -> Result<RouteAttrs, Rejected> {
    if ra.next_hop.is_none() {
        return Err(Rejected::NoNextHop);
    }
    let allowed = usize::from(peer.allow_local_as);
    if let Some(path) = &ra.attrs.as_path {
        for asn in [peer.local_asn, global.asn] {
            let count = path.count(asn);
            if count > allowed {
                return Err(Rejected::AsLoop { asn, count });
            }
        }
    }
    if peer.is_ebgp() {
        ra.attrs.local_pref = None;
    } else {
        if ra.attrs.originator_id == Some(global.router_id) {
            return Err(Rejected::OriginatorLoop);
        }
        if ra.attrs.cluster_list.contains(&global.cluster_id) {
            return Err(Rejected::ClusterLoop);
        }
    }
    Ok(ra)
}

/// The attributes to send for a best path learned as `learned` to the peers of group `g`, or
/// `None` when the path must not go to them:
///
/// - NO_ADVERTISE goes nowhere; NO_EXPORT and NO_EXPORT_SUBCONFED not to external peers
///   (RFC 1997).
/// - iBGP split horizon: a path from an internal non-client goes to no other internal
///   non-client; between clients and non-clients it is reflected with ORIGINATOR_ID set (if not
///   yet) and our cluster id prepended to CLUSTER_LIST (RFC 4456 §8).
/// - To external peers: the local AS is prepended, LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST are
///   removed, a MED learned from another router is removed (RFC 4271 §5.1.4), the next hop is
///   ours unless `next_hop_keep` (or a next hop configured on an originated route). A path that
///   already holds a member's AS is not delivered to that member ([`sent_to`]).
/// - To internal peers: LOCAL_PREF is set to 100 when absent; the next hop is kept, except for
///   originated routes without one and for `next_hop_self` groups.
pub fn export(
    global: &Global,
    learned: Learned,
    ra: &RouteAttrs,
    family: Family,
    g: &GroupKey,
) -> Option<RouteAttrs> {
    if !g.families.contains(&family) {
        return None;
    }
    let communities = &ra.attrs.communities;
    if communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    let mut out = ra.clone();
    let self_hop = || -> Option<NextHop> {
        if family == Family::IPV4_UNICAST {
            g.self_v4.map(NextHop::V4)
        } else {
            g.self_v6.map(|global| NextHop::V6 {
                global,
                link_local: None,
            })
        }
    };
    if g.ebgp {
        if communities.contains(&Community::NO_EXPORT)
            || communities.contains(&Community::NO_EXPORT_SUBCONFED)
        {
            return None;
        }
        let mut path = out.attrs.as_path.take().unwrap_or_default();
        path.prepend(g.local_asn);
        out.attrs.as_path = Some(path);
        out.attrs.local_pref = None;
        out.attrs.originator_id = None;
        out.attrs.cluster_list.clear();
        if learned != Learned::Local {
            out.attrs.med = None;
        }
        // A configured next hop of an originated route is kept, as is any with `next_hop_keep`.
        let keep = g.next_hop_keep || learned == Learned::Local;
        if !(keep && out.next_hop.is_some()) {
            out.next_hop = Some(self_hop()?);
        }
    } else {
        match learned {
            Learned::Local | Learned::Ebgp => {}
            Learned::Ibgp { client, router_id } => {
                if !client && !g.rr_client {
                    return None;
                }
                out.attrs.originator_id.get_or_insert(router_id);
                out.attrs.cluster_list.insert(0, global.cluster_id);
            }
        }
        if out.attrs.as_path.is_none() {
            out.attrs.as_path = Some(AsPath::default());
        }
        out.attrs.local_pref.get_or_insert(DEFAULT_LOCAL_PREF);
        if g.next_hop_self || out.next_hop.is_none() {
            out.next_hop = Some(self_hop()?);
        }
    }
    if out.attrs.origin.is_none() {
        out.attrs.origin = Some(crate::wire::Origin::Igp);
    }
    // A link-local next hop only means something on the link it was learned on (RFC 2545 §3).
    if let Some(NextHop::V6 { link_local, .. }) = out.next_hop.as_mut() {
        *link_local = None;
    }
    Some(out)
}
