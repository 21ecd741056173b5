//! The BGP decision process: which of the paths to one prefix is best, and why each other path lost
//! (RFC 4271 §9.1.2.2 with the route-reflection tie-breaks of RFC 4456 §9).
//!
//! This module owns the comparison and the [`Reason`]s a path loses, which the CLI shows as they
//! are. It is pure: it sees only [`crate::wire`] attribute types and the plain values in
//! [`Candidate`] (no tokio, no sockets, no clock, no RIB). Whoever calls it has already applied
//! import policy, stripped LOCAL_PREF from eBGP-learned paths, and resolved each next hop (whether
//! it is reachable, and at what IGP cost).
//!
//! ## Steps, in order
//!
//! The first step at which two paths differ decides; the loser's [`Reason`] names that step.
//!
//! 0. A reachable next hop over a known-unreachable one — [`Reason::NextHopUnreachable`]
//!    (RFC 4271 §9.1.2.1).
//! 1. A path this speaker originated (configuration, kernel) over a learned one —
//!    [`Reason::NotLocal`] (not in the RFC; BIRD gets the same effect from protocol preference).
//! 2. Highest LOCAL_PREF, [`DEFAULT_LOCAL_PREF`] when absent — [`Reason::LocalPref`]
//!    (RFC 4271 §9.1.1, §5.1.5).
//! 3. Shortest AS_PATH, an AS_SET counting one and confederation segments zero —
//!    [`Reason::AsPathLength`] (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3).
//! 4. Lowest ORIGIN, IGP < EGP < INCOMPLETE, INCOMPLETE when absent — [`Reason::Origin`]
//!    (RFC 4271 §9.1.2.2 b).
//! 5. Lowest MED, 0 when absent, between paths of the same [`NeighbourAs`] only unless
//!    `always_compare_med` — [`Reason::Med`] (RFC 4271 §9.1.2.2 c).
//! 6. Learned over eBGP over learned over iBGP — [`Reason::EbgpOverIbgp`] (RFC 4271 §9.1.2.2 d).
//! 7. Lowest IGP cost to the next hop, where both costs are known — [`Reason::IgpCost`]
//!    (RFC 4271 §9.1.2.2 e).
//! 8. Lowest ORIGINATOR_ID when present, else the peer's BGP identifier — [`Reason::RouterId`]
//!    (RFC 4271 §9.1.2.2 f, RFC 4456 §9).
//! 9. Shortest CLUSTER_LIST — [`Reason::ClusterListLength`] (RFC 4456 §9).
//! 10. Lowest peer address, IPv4 before IPv6 — [`Reason::PeerAddress`] (RFC 4271 §9.1.2.2 g).
//!
//! RFC 4271 §9.1.2.1 excludes paths with an unresolvable next hop; step 0 ranks them last instead,
//! so that they still show up with a reason. The caller must not install or advertise a best path
//! whose next hop is unreachable.
//!
//! The neighbour AS of step 5 ([`NeighbourAs`]) is the first AS of the first AS_SEQUENCE after any
//! leading confederation segments (as BIRD does); an empty path, a path of confederation segments
//! only, or one that begins with an AS_SET is [`NeighbourAs::Local`], following the definition of
//! `neighborAS` in RFC 4271 §9.1.2.2 c.
//!
//! ## MED makes pairwise comparison non-transitive
//!
//! Because MED is compared only between paths from the same neighbour AS, "is better than" is not
//! an order: path A (AS 1, MED 0) beats B (AS 1, MED 10) on MED, B beats C (AS 2) on router id, and
//! C beats A on router id. Folding [`compare`] over the paths in arrival order would then pick a
//! winner that depends on the order — the temporal dependence BIRD documents for its default mode
//! and fixes with `deterministic med`. An unknown IGP cost, "treated as equal" to any other, breaks
//! transitivity the same way.
//!
//! [`select`] therefore implements RFC 4271 §9.1.2.2 literally, as set elimination: each step is
//! applied to the set of paths still in the running, and every path that another remaining path
//! beats at that step is removed, with the step recorded as its [`Reason`]. At the MED step this
//! removes, within each neighbour-AS group, the paths whose MED is above that group's minimum; at
//! the IGP step it removes the paths whose known cost is above the lowest known cost. Paths still
//! tied after step 10 agree on everything the steps look at; the one kept is the least in a fixed
//! order of all its fields (losers get [`Reason::Equal`]). The result depends only on the set of
//! candidates, never on their order. [`compare`] stays available for display and for tests; with
//! `always_compare_med` and IGP costs known for all paths or none it is a total preorder and agrees
//! with [`select`].

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::wire::{Origin, PathAttributes, SegmentType};

/// Where a candidate path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Originated by this speaker (configuration or kernel); always preferred over learned paths.
    pub local: bool,
    /// Learned over eBGP.
    pub ebgp: bool,
    /// The peer's address (`0.0.0.0` or `::` for a local path).
    pub peer_address: IpAddr,
    /// The peer's BGP identifier (our own router id for a local path).
    pub router_id: Ipv4Addr,
}

/// One candidate path for a prefix as the decision process sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The path's attributes after import policy (LOCAL_PREF already stripped for eBGP).
    pub attrs: &'a PathAttributes,
    /// Where the path came from.
    pub source: Source,
    /// `false` only when the next hop is known to be unreachable.
    pub next_hop_reachable: bool,
    /// IGP cost to the next hop; `None` is unknown, treated as equal to any other cost.
    pub igp_cost: Option<u32>,
}

/// Knobs of the decision process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Compare MED between paths from different neighbour ASes (BIRD `med metric`).
    pub always_compare_med: bool,
    /// Report every path equal to the best up to and including the IGP cost step, for ECMP.
    pub multipath: bool,
}

/// The step of the decision process at which a path lost, in step order (holo-style reasons).
///
/// `Display` gives the short words the CLI shows, e.g. `lower local-pref`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Step 0: its next hop is unreachable and another path's is not (RFC 4271 §9.1.2.1).
    NextHopUnreachable,
    /// Step 1: another path was originated by this speaker.
    NotLocal,
    /// Step 2: lower LOCAL_PREF (RFC 4271 §9.1.1).
    LocalPref,
    /// Step 3: longer AS_PATH (RFC 4271 §9.1.2.2 a).
    AsPathLength,
    /// Step 4: higher ORIGIN (RFC 4271 §9.1.2.2 b).
    Origin,
    /// Step 5: higher MED than another path from the same neighbour AS, or from any AS with
    /// `always_compare_med` (RFC 4271 §9.1.2.2 c).
    Med,
    /// Step 6: learned over iBGP while another path was learned over eBGP (RFC 4271 §9.1.2.2 d).
    EbgpOverIbgp,
    /// Step 7: higher IGP cost to the next hop (RFC 4271 §9.1.2.2 e).
    IgpCost,
    /// Step 8: higher ORIGINATOR_ID or peer BGP identifier (RFC 4271 §9.1.2.2 f, RFC 4456 §9).
    RouterId,
    /// Step 9: longer CLUSTER_LIST (RFC 4456 §9).
    ClusterListLength,
    /// Step 10: higher peer address (RFC 4271 §9.1.2.2 g).
    PeerAddress,
    /// Equal in every step: from [`compare`], the two paths tie; in [`Selection::lost`], the path
    /// lost only the final fixed-order tie-break.
    Equal,
}

impl Reason {
    /// The decision steps in order (every reason but [`Reason::Equal`]).
    pub const STEPS: [Reason; 11] = [
        Reason::NextHopUnreachable,
        Reason::NotLocal,
        Reason::LocalPref,
        Reason::AsPathLength,
        Reason::Origin,
        Reason::Med,
        Reason::EbgpOverIbgp,
        Reason::IgpCost,
        Reason::RouterId,
        Reason::ClusterListLength,
        Reason::PeerAddress,
    ];

    /// The short words shown by the CLI: why a path lost.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::NextHopUnreachable => "unreachable next-hop",
            Reason::NotLocal => "not local",
            Reason::LocalPref => "lower local-pref",
            Reason::AsPathLength => "longer as-path",
            Reason::Origin => "worse origin",
            Reason::Med => "higher med",
            Reason::EbgpOverIbgp => "ibgp vs ebgp",
            Reason::IgpCost => "higher igp-cost",
            Reason::RouterId => "higher router-id",
            Reason::ClusterListLength => "longer cluster-list",
            Reason::PeerAddress => "higher peer-address",
            Reason::Equal => "equal",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// LOCAL_PREF assumed when the attribute is absent (RFC 4271 leaves it to the implementation;
/// BIRD, GoBGP and most vendors use 100).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// The neighbour AS whose MEDs are comparable (RFC 4271 §9.1.2.2 c, `neighborAS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NeighbourAs {
    /// Our own AS: an empty path, confederation segments only, or a path beginning with an AS_SET.
    Local,
    /// The first AS of the first AS_SEQUENCE (after any confederation segments).
    As(u32),
}

impl Candidate<'_> {
    /// LOCAL_PREF, or [`DEFAULT_LOCAL_PREF`] when absent.
    pub fn local_pref(&self) -> u32 {
        self.attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }

    /// AS_PATH length for step 3: each AS of an AS_SEQUENCE counts one, an AS_SET counts one,
    /// confederation segments count zero; an absent AS_PATH is empty.
    pub fn as_path_len(&self) -> usize {
        self.attrs.as_path.as_ref().map_or(0, |p| p.path_len())
    }

    /// ORIGIN, or INCOMPLETE when absent.
    pub fn origin(&self) -> Origin {
        self.attrs.origin.unwrap_or(Origin::Incomplete)
    }

    /// MULTI_EXIT_DISC, or 0 when absent (RFC 4271 §9.1.2.2 c).
    pub fn med(&self) -> u32 {
        self.attrs.med.unwrap_or(0)
    }

    /// The neighbour AS for MED comparison; see [`NeighbourAs`].
    pub fn neighbour_as(&self) -> NeighbourAs {
        let Some(path) = &self.attrs.as_path else {
            return NeighbourAs::Local;
        };
        for s in &path.segments {
            match s.kind {
                SegmentType::ConfedSequence | SegmentType::ConfedSet => {}
                SegmentType::Set => return NeighbourAs::Local,
                SegmentType::Sequence => {
                    if let Some(&asn) = s.asns.first() {
                        return NeighbourAs::As(asn);
                    }
                }
            }
        }
        NeighbourAs::Local
    }

    /// The identifier compared at step 8: ORIGINATOR_ID when present, else the peer's BGP
    /// identifier (RFC 4456 §9).
    pub fn tie_break_id(&self) -> Ipv4Addr {
        self.attrs.originator_id.unwrap_or(self.source.router_id)
    }

    /// CLUSTER_LIST length (0 when absent).
    pub fn cluster_list_len(&self) -> usize {
        self.attrs.cluster_list.len()
    }
}

/// Pairwise comparison: `Ordering::Less` means `a` is better than `b`. The [`Reason`] is the step
/// that decided, [`Reason::Equal`] when the paths tie in every step.
///
/// MED is compared only between paths of the same [`NeighbourAs`] unless `always_compare_med`,
/// and IGP cost only when both are known, so this is not transitive in general: choose the best
/// path with [`select`], not by folding this over the candidates.
pub fn compare(a: &Candidate, b: &Candidate, opts: &Options) -> (Ordering, Reason) {
    for step in Reason::STEPS {
        if let (Some((ga, ka)), Some((gb, kb))) = (key(step, a, opts), key(step, b, opts)) {
            if ga == gb {
                match ka.cmp(&kb) {
                    Ordering::Equal => {}
                    decided => return (decided, step),
                }
            }
        }
    }
    (Ordering::Equal, Reason::Equal)
}

/// Result of selecting among all candidates of one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the best candidate.
    pub best: usize,
    /// Per input index: `None` for the best, else the step at which the candidate was eliminated.
    pub lost: Vec<Option<Reason>>,
    /// Indexes, ascending, of the candidates still in the running after the IGP cost step (equal to
    /// the best up to and including IGP cost), for ECMP. Always contains `best`; only `best` when
    /// multipath is off.
    pub multipath: Vec<usize>,
}

/// Runs the decision process over all candidates of one prefix by set elimination (see the module
/// documentation). `None` when there are no candidates. The result does not depend on the order of
/// `cands`, other than in the indexes it reports.
pub fn select(cands: &[Candidate], opts: &Options) -> Option<Selection> {
    let mut lost = vec![None; cands.len()];
    let mut remaining: Vec<(usize, &Candidate)> = cands.iter().enumerate().collect();
    let mut after_igp = Vec::new();
    for step in Reason::STEPS {
        if remaining.len() > 1 {
            let keys: Vec<_> = remaining.iter().map(|(_, c)| key(step, c, opts)).collect();
            // The best key of each comparability group at this step.
            let mut best: BTreeMap<Group, Key> = BTreeMap::new();
            for &(g, k) in keys.iter().flatten() {
                best.entry(g).and_modify(|b| *b = (*b).min(k)).or_insert(k);
            }
            let mut kept = Vec::with_capacity(remaining.len());
            for (entry, k) in remaining.into_iter().zip(keys) {
                let beaten = k.is_some_and(|(g, k)| best.get(&g).is_some_and(|b| k > *b));
                if beaten {
                    if let Some(l) = lost.get_mut(entry.0) {
                        *l = Some(step);
                    }
                } else {
                    kept.push(entry);
                }
            }
            remaining = kept;
        }
        if step == Reason::IgpCost {
            after_igp = remaining.iter().map(|&(i, _)| i).collect();
        }
    }
    // Whatever is left ties in every step; keep the least in a fixed order of all its fields.
    let (best, _) = remaining
        .iter()
        .copied()
        .min_by(|(i, a), (j, b)| full_order(a, b).then(i.cmp(j)))?;
    for &(i, _) in &remaining {
        if i != best {
            if let Some(l) = lost.get_mut(i) {
                *l = Some(Reason::Equal);
            }
        }
    }
    let multipath = if opts.multipath {
        after_igp
    } else {
        vec![best]
    };
    Some(Selection {
        best,
        lost,
        multipath,
    })
}

/// Which paths a step compares with each other: all of them, or only those of one neighbour AS
/// (MED without `always_compare_med`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    All,
    Neighbour(NeighbourAs),
}

/// A step's sort key; lower is better. Within one step every path has the same variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Low(u64),
    High(Reverse<u32>),
    Addr(IpAddr),
}

fn low_len(n: usize) -> Key {
    Key::Low(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The group and key of `c` at `step`; `None` when the step does not apply to `c` (unknown IGP
/// cost), so that `c` neither beats nor is beaten at that step.
fn key(step: Reason, c: &Candidate, opts: &Options) -> Option<(Group, Key)> {
    let k = match step {
        Reason::NextHopUnreachable => Key::Low(u64::from(!c.next_hop_reachable)),
        Reason::NotLocal => Key::Low(u64::from(!c.source.local)),
        Reason::LocalPref => Key::High(Reverse(c.local_pref())),
        Reason::AsPathLength => low_len(c.as_path_len()),
        Reason::Origin => Key::Low(match c.origin() {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }),
        Reason::Med => {
            let group = if opts.always_compare_med {
                Group::All
            } else {
                Group::Neighbour(c.neighbour_as())
            };
            return Some((group, Key::Low(u64::from(c.med()))));
        }
        Reason::EbgpOverIbgp => Key::Low(u64::from(!c.source.ebgp)),
        Reason::IgpCost => Key::Low(u64::from(c.igp_cost?)),
        Reason::RouterId => Key::Low(u64::from(u32::from(c.tie_break_id()))),
        Reason::ClusterListLength => low_len(c.cluster_list_len()),
        Reason::PeerAddress => Key::Addr(c.source.peer_address),
        Reason::Equal => return None,
    };
    Some((Group::All, k))
}

/// A total order on everything a candidate holds, for the final tie-break of [`select`].
fn full_order(a: &Candidate, b: &Candidate) -> Ordering {
    a.attrs
        .cmp(b.attrs)
        .then_with(|| a.source.peer_address.cmp(&b.source.peer_address))
        .then_with(|| a.source.router_id.cmp(&b.source.router_id))
        .then_with(|| a.source.local.cmp(&b.source.local))
        .then_with(|| a.source.ebgp.cmp(&b.source.ebgp))
        .then_with(|| a.next_hop_reachable.cmp(&b.next_hop_reachable))
        .then_with(|| a.igp_cost.cmp(&b.igp_cost))
}

#[cfg(test)]
#[path = "best_tests.rs"]
mod tests;
