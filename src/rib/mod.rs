//! The routing tables: Adj-RIB-In per peer, the Loc-RIB with its decision process, and the
//! export to update groups that stands for the Adj-RIB-Out (RFC 4271 §3.2, §9; RFC 4456; RFC 4724).
//!
//! **Owns:** every path wren knows, the choice of the best one per prefix ([`best`]), the import
//! and export rules ([`export`]: loop checks, split horizon, route reflection, next hop, AS path
//! prepending, well-known communities), update groups, and graceful-restart stale marking.
//!
//! **Must not depend on:** tokio, sockets, the clock or any adapter. A [`Rib`] is plain data
//! driven by method calls; each call returns the UPDATEs to send as [`Output`] values and the
//! session layer's RIB task encodes and delivers them. Timers (the peer's restart time) are the
//! caller's: it calls [`Rib::sweep_stale`] when one fires.
//!
//! ## Data layout
//!
//! ```text
//!   Loc-RIB:     table::Table<Ipv4Net>, table::Table<Ipv6Net>: 64 HashMap<prefix, Dest>
//!                shards each, hashed with a seeded foldhash (table::PrefixHash)
//!   Dest:        every candidate path for the prefix, best first  (one path inline, or a Vec)
//!   Path:        (Arc<RouteAttrs>, peer id + stale bit, path id)   16 octets
//!   RouteAttrs:  interned (attrs::AttrTable): equal attribute sets are stored once
//!   Adj-RIB-In:  per peer, counts of the prefixes it has paths for (its paths are in the
//!                Loc-RIB, found by a scan when all of them change)
//!   Adj-RIB-Out: not stored. Peers whose export rules are equal ([`export::GroupKey`]) form an
//!                update group; a change of best path is exported once per group and the
//!                group's view is recomputed from the Loc-RIB when a peer joins (as BIRD 2 does
//!                without `export table`).
//! ```
//!
//! Every operation is incremental: an UPDATE touches the prefixes it names, a peer going down
//! touches the prefixes in its Adj-RIB-In, and nothing rescans the table except a peer's
//! initial dump.
//!
//! Split horizon inside a group: a path is never sent back to the peer it came from. A group
//! message names up to two members to skip ([`Target::Group`]); those members get their own
//! correction ([`Target::Peer`]) when their view differs from the group's.

pub mod attrs;
pub mod best;
pub mod export;
pub mod outbox;
pub mod table;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use smallvec::SmallVec;

pub use attrs::{AttrTable, Attrs, RouteAttrs};
pub use export::{GroupKey, Learned, Rejected};
pub use outbox::{Outbox, Output, Slot, Target};

use crate::policy::ExportPolicy;
use crate::wire::{Family, NextHop, Nlri, Update};

/// An UPDATE's attributes for one next hop, after the import rules.
type Imported = (Option<NextHop>, Result<Attrs, Rejected>);

/// Index of a peer in the [`Rib`]; [`LOCAL`] is this speaker's own routes.
pub type PeerId = u32;

/// Index of an update group.
pub type GroupId = u32;

/// The pseudo-peer that owns originated routes.
pub const LOCAL: PeerId = 0;

/// Path id of a [`LOCAL`] route from `[[originate]]`.
pub const ORIGINATED: u32 = 0;

/// Path id of a [`LOCAL`] route learned from the kernel (`[[kernel.learn]]`).
pub const LEARNED: u32 = 1;

/// Settings of the whole RIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Local AS.
    pub asn: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// CLUSTER_ID for route reflection (RFC 4456 §7); the router id unless configured.
    pub cluster_id: Ipv4Addr,
    /// Decision-process options.
    pub best: best::Options,
}

/// A peer's routing settings (from `[[peer]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Name for logs.
    pub name: String,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS.
    pub remote_asn: u32,
    /// The AS we present to the peer (`local_asn`, default the global AS).
    pub local_asn: u32,
    /// The peer is our route-reflector client (RFC 4456).
    pub rr_client: bool,
    /// Always announce ourselves as next hop.
    pub next_hop_self: bool,
    /// Never change the next hop, even over eBGP.
    pub next_hop_keep: bool,
    /// How often our AS may appear in a received AS_PATH (Calico's `numAllowedLocalASNumbers`).
    pub allow_local_as: u8,
    /// Most prefixes accepted before the session is closed with Cease subcode 1 (RFC 4486).
    pub max_prefixes: Option<u32>,
}

impl PeerConfig {
    /// True when the session is external (the two AS numbers differ).
    pub fn is_ebgp(&self) -> bool {
        self.remote_asn != self.local_asn
    }
}

/// What the session layer learned when the session reached Established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer's BGP identifier.
    pub router_id: Ipv4Addr,
    /// Negotiated families.
    pub families: Vec<Family>,
    /// Both sides use 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Our IPv4 address towards the peer ("next hop self" for IPv4 routes).
    pub self_v4: Option<Ipv4Addr>,
    /// Our IPv6 address towards the peer ("next hop self" for IPv6 routes).
    pub self_v6: Option<Ipv6Addr>,
    /// The peer advertised the Graceful Restart capability (RFC 4724 §3), so we keep its routes
    /// as stale when its session drops without a NOTIFICATION.
    pub graceful_restart: bool,
    /// The families the capability lists, each with its Forwarding State bit (RFC 4724 §3):
    /// only these keep stale paths when the session drops, and when the peer comes back, stale
    /// paths of a family it no longer lists with the bit set are withdrawn at once (§4.2).
    pub restart_families: Vec<(Family, bool)>,
    /// Families in which we send several paths per prefix with path identifiers (ADD-PATH,
    /// RFC 7911: we announced Send and the peer Receive).
    pub add_path_tx: Vec<Family>,
}

/// Marks a path as stale in [`Path::peer`] (RFC 4724 §4.2).
const STALE: u32 = 1 << 31;

/// One candidate path for a prefix.
#[derive(Debug, Clone)]
pub struct Path {
    attrs: Attrs,
    peer: u32,
    path_id: u32,
}

impl Path {
    /// The peer the path came from.
    pub fn peer(&self) -> PeerId {
        self.peer & !STALE
    }
    /// True while the peer is restarting and has not re-announced the path (RFC 4724 §4.2).
    pub fn is_stale(&self) -> bool {
        self.peer & STALE != 0
    }
    /// The ADD-PATH path identifier (RFC 7911), 0 without ADD-PATH.
    pub fn path_id(&self) -> u32 {
        self.path_id
    }
    /// The path's attributes and next hop.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }
    fn same(a: Option<&Path>, b: Option<&Path>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.peer() == b.peer() && a.path_id == b.path_id && Arc::ptr_eq(&a.attrs, &b.attrs)
            }
            _ => false,
        }
    }
}

use std::collections::hash_map::Entry;
use table::{Dest, PrefixHash, ShardKey, Table};

/// What the RIB keeps of a peer's Adj-RIB-In besides its paths in the Loc-RIB (which hold
/// every path, best or not): how many prefixes it has paths for, per family, and whether some
/// may be stale. No per-peer index of prefixes: operations on all of a peer's paths (session
/// down, End-of-RIB after a restart) scan the table, as BIRD's flush does, which a full table
/// of 1M prefixes does in tens of milliseconds, and the index cost 12 bytes per path.
#[derive(Debug, Default)]
struct AdjIn {
    v4: usize,
    v6: usize,
    /// Paths of the family were marked stale and not all swept yet (IPv4, IPv6).
    stale: [bool; 2],
}

impl AdjIn {
    fn len(&self) -> usize {
        self.v4 + self.v6
    }

    /// Counts a prefix that the peer gained (`had` false, `has` true) or lost.
    fn count(&mut self, v6: bool, had: bool, has: bool) {
        let n = if v6 { &mut self.v6 } else { &mut self.v4 };
        match (had, has) {
            (false, true) => *n += 1,
            (true, false) => *n = n.saturating_sub(1),
            _ => {}
        }
    }
}

/// Index of `family` in [`AdjIn::stale`].
fn family_index(family: Family) -> usize {
    usize::from(family == Family::IPV6_UNICAST)
}

#[derive(Debug)]
struct PeerSlot {
    config: PeerConfig,
    session: Option<SessionInfo>,
    /// Kept after the session drops, for the decision process on stale paths.
    router_id: Ipv4Addr,
    group: Option<GroupId>,
    rejected: u64,
    /// Left the configuration ([`Rib::remove_peer`]).
    removed: bool,
}

#[derive(Debug)]
struct Group {
    key: GroupKey,
    members: Vec<PeerId>,
    /// External groups: the members by AS, for [`export::sent_to`].
    by_asn: HashMap<u32, SmallVec<[PeerId; 2]>>,
}

impl Group {
    fn join(&mut self, peer: PeerId, asn: u32) {
        self.members.push(peer);
        if self.key.ebgp {
            self.by_asn.entry(asn).or_default().push(peer);
        }
    }

    fn leave(&mut self, peer: PeerId) {
        self.members.retain(|&m| m != peer);
        for list in self.by_asn.values_mut() {
            list.retain(|m| *m != peer);
        }
        self.by_asn.retain(|_, l| !l.is_empty());
    }

    /// The members that must not get a path exported with AS_PATH `path` (their AS is in it).
    fn holding(&self, path: Option<&crate::wire::AsPath>) -> SmallVec<[PeerId; 2]> {
        let mut out = SmallVec::new();
        if !self.key.ebgp || self.by_asn.is_empty() {
            return out;
        }
        if let Some(path) = path {
            for asn in path.asns() {
                if let Some(list) = self.by_asn.get(&asn) {
                    for m in list {
                        if !out.contains(m) {
                            out.push(*m);
                        }
                    }
                }
            }
        }
        out
    }
}

/// Per-operation cache of exported attributes: (source attrs, source peer, group, family) →
/// result. The
/// source `Attrs` is held so that its address cannot be reused while the entry exists.
type ExportCache = HashMap<ExportKey, (Attrs, Option<Attrs>), IdHash>;

/// Key of the [`ExportCache`]: (source attrs address, source peer, group, family).
type ExportKey = (usize, PeerId, GroupId, Family);

/// Hasher for maps keyed by internal identifiers only (addresses of interned attributes, peer
/// and group ids, outbox targets): one multiply per word instead of SipHash. Peers cannot choose
/// these keys, so SipHash's resistance to collision flooding is not needed; the maps keyed by
/// prefixes or attributes, which peers choose, use a seeded foldhash ([`table::PrefixHash`]).
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply mixes into the high bits; hashbrown takes the bucket from the low ones.
        self.0.rotate_left(26)
    }
}

/// [`IdHasher`] for `HashMap`.
type IdHash = BuildHasherDefault<IdHasher>;

/// What the table operations need besides the table itself.
struct Cx<'a> {
    global: &'a Global,
    peers: &'a [PeerSlot],
    groups: &'a [Group],
    attrs: &'a mut AttrTable,
    cache: &'a mut ExportCache,
    out: &'a mut Outbox,
    changed: &'a mut Option<Vec<IpNet>>,
    /// Some group with members sends several paths per prefix (ADD-PATH, RFC 7911).
    add_path: bool,
    /// The export policy every exported route passes ([`Rib::set_export_policy`]).
    policy: Option<&'a ExportPolicy>,
    /// The entry of `cache` used last: the prefixes of one UPDATE share their attributes, so
    /// most lookups in a row are for the same key, and this saves hashing it again.
    last_export: Option<(ExportKey, Option<Attrs>)>,
    /// What [`Cx::emit`] sent for the last change of best path, reused while the next changes
    /// go between the same paths (see [`EmitPlan`]).
    plan: Option<EmitPlan>,
}

/// The messages [`Cx::emit`] queues for one change of best path, each for the changed prefix:
/// an announcement with the attributes, or a withdrawal (`None`).
type Sends = SmallVec<[(Target, Option<Attrs>); 2]>;

/// What [`Cx::emit`] sent when the best path changed from `old` to `new`: the outbox lists the
/// prefix went to. Without an export policy these depend only on the two paths' attributes and
/// peers (not on the prefix), so the prefixes of one UPDATE, which share their attributes, are
/// exported once for all of them. The paths' attributes are held so that their addresses cannot
/// be reused while the plan exists.
#[derive(Debug)]
struct EmitPlan {
    family: Family,
    old: Option<(Attrs, PeerId)>,
    new: Option<(Attrs, PeerId)>,
    slots: SmallVec<[Slot; 2]>,
}

impl EmitPlan {
    /// Whether the plan is the one for a change from `old` to `new` in `family`.
    fn fits(&self, family: Family, old: Option<&Path>, new: Option<&Path>) -> bool {
        fn same(held: &Option<(Attrs, PeerId)>, p: Option<&Path>) -> bool {
            match (held, p) {
                (None, None) => true,
                (Some((a, peer)), Some(p)) => *peer == p.peer() && Arc::ptr_eq(a, &p.attrs),
                _ => false,
            }
        }
        self.family == family && same(&self.old, old) && same(&self.new, new)
    }
}

/// Whether two exports of a route are the same message (interned attributes compare by address).
fn same_export(old: &Option<Attrs>, new: &Option<Attrs>) -> bool {
    match (old, new) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// The members a group target leaves out (none for a single-peer target).
fn target_except(target: Target) -> [Option<PeerId>; 2] {
    match target {
        Target::Group { except, .. } => except,
        Target::Peer(_) => [None, None],
    }
}

/// The path identifier wren sends for `path` to ADD-PATH peers (RFC 7911 §3): stable while the
/// path exists and unique among the prefix's paths — the source peer in the high 16 bits, its
/// own path id in the low 16.
pub fn path_ident(path: &Path) -> u32 {
    (path.peer() << 16) | (path.path_id() & 0xffff)
}

/// The change to make to one peer's path(s) for one prefix.
#[derive(Debug, Clone)]
enum Op {
    /// Add or replace the path with this path id.
    Set(u32, Attrs),
    /// Remove the path with this path id.
    Remove(u32),
    /// Remove every path of the peer.
    RemoveAll,
    /// Remove the peer's stale paths.
    RemoveStale,
    /// Mark every path of the peer stale.
    MarkStale,
}

trait Key: ShardKey + Into<IpNet> {
    const FAMILY: Family;
}
impl Key for Ipv4Net {
    const FAMILY: Family = Family::IPV4_UNICAST;
}
impl Key for Ipv6Net {
    const FAMILY: Family = Family::IPV6_UNICAST;
}

impl Cx<'_> {
    fn source(&self, peer: PeerId) -> (best::Source, Learned) {
        match self.peers.get(peer as usize) {
            Some(slot) if peer != LOCAL => {
                let ebgp = slot.config.is_ebgp();
                (
                    best::Source {
                        local: false,
                        ebgp,
                        peer_address: slot.config.address,
                        router_id: slot.router_id,
                    },
                    if ebgp {
                        Learned::Ebgp
                    } else {
                        Learned::Ibgp {
                            client: slot.config.rr_client,
                            router_id: slot.router_id,
                        }
                    },
                )
            }
            _ => (
                best::Source {
                    local: true,
                    ebgp: false,
                    peer_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    router_id: self.global.router_id,
                },
                Learned::Local,
            ),
        }
    }

    /// What `path` (the best path, or one of several under ADD-PATH) of `prefix` looks like
    /// sent to group `gid`, or `None` when it is not sent: the export rules, then the policy.
    fn export(
        &mut self,
        prefix: IpNet,
        path: &Path,
        family: Family,
        gid: GroupId,
    ) -> Option<Attrs> {
        let out = self.export_rules(path, family, gid)?;
        self.with_policy(self.policy, prefix, out)
    }

    /// [`export::export`] for `path` to group `gid`, cached for the current operation.
    fn export_rules(&mut self, path: &Path, family: Family, gid: GroupId) -> Option<Attrs> {
        let key = (Arc::as_ptr(&path.attrs) as usize, path.peer(), gid, family);
        // `cache` holds the source attributes of `last_export` too, so its address is not reused.
        if let Some((k, out)) = &self.last_export {
            if *k == key {
                return out.clone();
            }
        }
        let out = match self.cache.get(&key) {
            Some((_, out)) => out.clone(),
            None => {
                let group = self.groups.get(gid as usize)?;
                let (_, learned) = self.source(path.peer());
                let out = export::export(self.global, learned, &path.attrs, family, &group.key)
                    .map(|ra| self.attrs.intern(ra));
                self.cache.insert(key, (path.attrs.clone(), out.clone()));
                out
            }
        };
        self.last_export = Some((key, out.clone()));
        out
    }

    /// `out` after `policy` for `prefix`: dropped when rejected, communities added.
    fn with_policy(
        &mut self,
        policy: Option<&ExportPolicy>,
        prefix: IpNet,
        out: Attrs,
    ) -> Option<Attrs> {
        let Some(policy) = policy else {
            return Some(out);
        };
        let add = policy.evaluate(prefix).ok()?;
        if add.is_empty() {
            return Some(out);
        }
        let mut ra = (*out).clone();
        crate::policy::apply(&mut ra.attrs, &add);
        Some(self.attrs.intern(ra))
    }

    /// The members of group `gid` (not in `except`) that had a route exported as `old` and do
    /// not get its replacement `new`, whose AS_PATH holds their AS: each needs a withdrawal of
    /// its own.
    fn lost_by_as_rule(
        &self,
        gid: GroupId,
        new: &Attrs,
        old: &Attrs,
        except: [Option<PeerId>; 2],
    ) -> SmallVec<[PeerId; 2]> {
        let holding = self
            .groups
            .get(gid as usize)
            .map(|g| g.holding(new.attrs.as_path.as_ref()))
            .unwrap_or_default();
        holding
            .into_iter()
            .filter(|m| !except.contains(&Some(*m)) && self.gets(*m, old))
            .collect()
    }

    /// Whether `peer` is delivered a route exported as `a` ([`export::sent_to`]).
    fn gets(&self, peer: PeerId, a: &Attrs) -> bool {
        self.peers
            .get(peer as usize)
            .is_none_or(|s| export::sent_to(&a.attrs, s.config.is_ebgp(), s.config.remote_asn))
    }

    fn member(&self, peer: Option<PeerId>, gid: GroupId) -> Option<PeerId> {
        let p = peer?;
        (self.peers.get(p as usize)?.group == Some(gid)).then_some(p)
    }

    /// Sends what changed for `prefix` when its best path went from `old` to `new`. Without an
    /// export policy the messages are those of the last change between the same paths when
    /// there was one ([`EmitPlan`]): computed once per UPDATE, not once per prefix.
    fn emit(&mut self, prefix: IpNet, family: Family, old: Option<&Path>, new: Option<&Path>) {
        if let Some(plan) = &self.plan {
            if plan.fits(family, old, new) {
                for slot in &plan.slots {
                    self.out.push(*slot, prefix);
                }
                return;
            }
        }
        let sends = self.sends(prefix, family, old, new);
        let slots: SmallVec<[Slot; 2]> = sends
            .iter()
            .map(|(target, a)| self.out.slot(*target, a.as_ref()))
            .collect();
        for slot in &slots {
            self.out.push(*slot, prefix);
        }
        if self.policy.is_none() {
            self.plan = Some(EmitPlan {
                family,
                old: old.map(|p| (p.attrs.clone(), p.peer())),
                new: new.map(|p| (p.attrs.clone(), p.peer())),
                slots,
            });
        }
    }

    /// The messages for `prefix` when its best path went from `old` to `new`, in the order they
    /// are queued: per group, the group's message (and withdrawals for members the AS rule
    /// keeps from the new path), then corrections for the old and new source peers.
    fn sends(
        &mut self,
        prefix: IpNet,
        family: Family,
        old: Option<&Path>,
        new: Option<&Path>,
    ) -> Sends {
        let mut sends = Sends::new();
        for gid in 0..self.groups.len() as GroupId {
            if self
                .groups
                .get(gid as usize)
                .is_none_or(|g| g.members.is_empty() || g.key.add_path_tx.contains(&family))
            {
                continue;
            }
            let old_out = old.and_then(|p| self.export(prefix, p, family, gid));
            let new_out = new.and_then(|p| self.export(prefix, p, family, gid));
            let ex_old = self.member(old.map(Path::peer), gid);
            let ex_new = self.member(new.map(Path::peer), gid);
            let same = same_export(&old_out, &new_out);
            let except = if ex_old == ex_new {
                [ex_old, None]
            } else {
                [ex_old, ex_new]
            };
            if !same {
                let target = Target::Group { group: gid, except };
                match &new_out {
                    Some(a) => {
                        sends.push((target, Some(a.clone())));
                        // Members whose AS the new path holds do not get it: they lose the old
                        // one (if they had it) by a withdrawal of their own.
                        if let Some(old_a) = &old_out {
                            for m in self.lost_by_as_rule(gid, a, old_a, except) {
                                sends.push((Target::Peer(m), None));
                            }
                        }
                    }
                    None => sends.push((target, None)),
                }
            }
            if ex_old != ex_new {
                // The old source had nothing from us and now gets the new path; the new source
                // had the old path and now gets nothing.
                if let (Some(p), Some(a)) = (ex_old, &new_out) {
                    if self.gets(p, a) {
                        sends.push((Target::Peer(p), Some(a.clone())));
                    }
                }
                if let (Some(p), Some(a)) = (ex_new, &old_out) {
                    if self.gets(p, a) {
                        sends.push((Target::Peer(p), None));
                    }
                }
            }
        }
        sends
    }

    /// Sends ADD-PATH groups (RFC 7911) what changed among all the paths of `prefix`: each
    /// exportable path goes out with its [`path_ident`], never to the peer it came from.
    fn emit_paths(&mut self, prefix: IpNet, family: Family, old: &[Path], new: &[Path]) {
        for gid in 0..self.groups.len() as GroupId {
            if self
                .groups
                .get(gid as usize)
                .is_none_or(|g| g.members.is_empty() || !g.key.add_path_tx.contains(&family))
            {
                continue;
            }
            let mut idents: SmallVec<[(u32, PeerId); 8]> = old
                .iter()
                .chain(new.iter())
                .map(|p| (path_ident(p), p.peer()))
                .collect();
            idents.sort_unstable();
            idents.dedup();
            for (ident, source) in idents {
                let find = |paths: &[Path]| paths.iter().find(|p| path_ident(p) == ident).cloned();
                let old_out = find(old).and_then(|p| self.export(prefix, &p, family, gid));
                let new_out = find(new).and_then(|p| self.export(prefix, &p, family, gid));
                let same = same_export(&old_out, &new_out);
                if same {
                    continue;
                }
                let target = Target::Group {
                    group: gid,
                    except: [self.member(Some(source), gid), None],
                };
                let nlri = Nlri::with_path_id(prefix, ident);
                match &new_out {
                    Some(a) => {
                        self.out.announce_path(target, nlri, a);
                        if let Some(old_a) = &old_out {
                            for m in self.lost_by_as_rule(gid, a, old_a, target_except(target)) {
                                self.out.withdraw_path(Target::Peer(m), nlri);
                            }
                        }
                    }
                    None => self.out.withdraw_path(target, nlri),
                }
            }
        }
    }

    /// Puts the best path first.
    fn reselect(&self, dest: &mut Dest) {
        if dest.len() < 2 {
            return;
        }
        let cands: SmallVec<[best::Candidate; 8]> = dest
            .iter()
            .map(|p| best::Candidate {
                attrs: &p.attrs.attrs,
                source: self.source(p.peer()).0,
                next_hop_reachable: true,
                igp_cost: None,
            })
            .collect();
        let opts = &self.global.best;
        let sel = quick_best(&cands, opts).or_else(|| best::select(&cands, opts).map(|s| s.best));
        if let Some(sel) = sel {
            drop(cands);
            dest.swap(0, sel);
        }
    }

    /// Applies `op` for `peer` at `key`; returns whether the peer had a path there before, and
    /// whether it still has one. The prefix is hashed and looked up once.
    fn change<K: Key>(
        &mut self,
        table: &mut Table<K>,
        key: K,
        peer: PeerId,
        op: Op,
    ) -> (bool, bool) {
        let mut entry = match table.entry(key) {
            Some(Entry::Occupied(o)) => o,
            Some(Entry::Vacant(v)) => {
                let Op::Set(path_id, attrs) = op else {
                    return (false, false);
                };
                // A new prefix: its one path is the best.
                let new: &[Path] = v.insert(Dest::One(Path {
                    attrs,
                    peer,
                    path_id,
                }));
                if self.add_path {
                    self.emit_paths(key.into(), K::FAMILY, &[], new);
                }
                self.emit(key.into(), K::FAMILY, None, new.first());
                if let Some(changed) = self.changed.as_mut() {
                    changed.push(key.into());
                }
                return (false, true);
            }
            None => return (false, false),
        };
        let dest = entry.get_mut();
        let old_best = dest.first().cloned();
        let old_paths: Option<Dest> = self.add_path.then(|| dest.clone());
        let mine = |p: &Path| p.peer() == peer;
        let had = dest.iter().any(mine);
        match op {
            Op::Set(path_id, attrs) => {
                let path = Path {
                    attrs,
                    peer,
                    path_id,
                };
                match dest.iter_mut().find(|p| mine(p) && p.path_id == path_id) {
                    Some(slot) => *slot = path,
                    None => dest.push(path),
                }
            }
            Op::Remove(path_id) => dest.retain(|p| !(mine(p) && p.path_id == path_id)),
            Op::RemoveAll => dest.retain(|p| !mine(p)),
            Op::RemoveStale => dest.retain(|p| !(mine(p) && p.is_stale())),
            Op::MarkStale => {
                for p in dest.iter_mut().filter(|p| mine(p)) {
                    p.peer |= STALE;
                }
                return (had, had);
            }
        }
        self.reselect(dest);
        let has = dest.iter().any(mine);
        let new_best = dest.first().cloned();
        if let Some(old_paths) = old_paths {
            let new_paths = dest.clone();
            self.emit_paths(key.into(), K::FAMILY, &old_paths, &new_paths);
        }
        if dest.is_empty() {
            entry.remove();
        }
        let best_changed = !Path::same(old_best.as_ref(), new_best.as_ref());
        if best_changed {
            self.emit(key.into(), K::FAMILY, old_best.as_ref(), new_best.as_ref());
        }
        // With multipath, a path joining or leaving the ECMP set changes the kernel route
        // without changing the best path.
        if best_changed || self.global.best.multipath {
            if let Some(changed) = self.changed.as_mut() {
                changed.push(key.into());
            }
        }
        (had, has)
    }
}

/// The index [`best::select`] picks among `cands`, found with one pairwise [`best::compare`] per
/// candidate and no allocation, or `None` when `select` itself must decide.
///
/// `select` eliminates by step; at every step whose paths form one comparability group with a
/// total order, that keeps exactly the paths whose keys are least so far, so over steps that all do
/// it keeps the lexicographic minima of the key vectors, which is what `compare` orders by. Two
/// steps can break this: MED, whose groups are the neighbour ASes, and IGP cost, which compares
/// only known costs. MED is still fine when every candidate has the same neighbour AS (one
/// group) or each a different one (the step then eliminates nothing, and `compare` skips it
/// between different groups); IGP cost when no cost is known (the RIB knows none). Otherwise, or
/// when the least candidate ties with another in every step (the final tie-break is `select`'s),
/// this returns `None`.
fn quick_best(cands: &[best::Candidate], opts: &best::Options) -> Option<usize> {
    if cands.iter().any(|c| c.igp_cost.is_some()) {
        return None;
    }
    if !opts.always_compare_med && cands.len() > 2 {
        let mut nas: SmallVec<[best::NeighbourAs; 8]> =
            cands.iter().map(best::Candidate::neighbour_as).collect();
        nas.sort_unstable();
        let one_group = nas.first() == nas.last();
        let all_distinct = nas.windows(2).all(|w| w.first() != w.last());
        if !(one_group || all_distinct) {
            return None;
        }
    }
    // With two candidates the groups are always one or two distinct ones.
    let mut least = cands.first()?;
    let mut index = 0;
    let mut tie = false;
    for (i, c) in cands.iter().enumerate().skip(1) {
        match best::compare(c, least, opts).0 {
            std::cmp::Ordering::Less => {
                least = c;
                index = i;
                tie = false;
            }
            std::cmp::Ordering::Equal => tie = true,
            std::cmp::Ordering::Greater => {}
        }
    }
    (!tie).then_some(index)
}

/// The RIB. See the module documentation.
#[derive(Debug)]
pub struct Rib {
    global: Global,
    peers: Vec<PeerSlot>,
    adj_in: Vec<AdjIn>,
    groups: Vec<Group>,
    group_index: HashMap<GroupKey, GroupId>,
    attrs: AttrTable,
    cache: ExportCache,
    v4: Table<Ipv4Net>,
    v6: Table<Ipv6Net>,
    changed: Option<Vec<IpNet>>,
    policy: Option<ExportPolicy>,
}

/// Counts for the CLI and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Prefixes in the Loc-RIB.
    pub prefixes: usize,
    /// Paths in the Loc-RIB (all candidates).
    pub paths: usize,
    /// Distinct attribute sets held.
    pub attr_sets: usize,
    /// Update groups with at least one member.
    pub groups: usize,
}

/// Runs `$body` with `$cx` (a [`Cx`]) and `$v4`, `$v6` and `$adj` borrowed from `$rib`.
macro_rules! with_cx {
    ($rib:expr, |$cx:ident, $v4:ident, $v6:ident, $adj:ident| $body:block) => {{
        let Rib {
            global,
            peers,
            adj_in: $adj,
            groups,
            attrs,
            cache,
            v4: $v4,
            v6: $v6,
            changed,
            policy,
            ..
        } = $rib;
        let mut out = Outbox::new();
        {
            #[allow(unused_mut)]
            let mut $cx = Cx {
                global,
                peers,
                groups,
                attrs,
                cache,
                out: &mut out,
                changed,
                policy: policy.as_ref(),
                last_export: None,
                plan: None,
                add_path: groups
                    .iter()
                    .any(|g| !g.key.add_path_tx.is_empty() && !g.members.is_empty()),
            };
            $body
        }
        cache.clear();
        out.finish()
    }};
}

impl Rib {
    /// An empty RIB with only the [`LOCAL`] pseudo-peer.
    pub fn new(global: Global) -> Rib {
        let local = PeerSlot {
            config: PeerConfig {
                name: "local".into(),
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                remote_asn: global.asn,
                local_asn: global.asn,
                rr_client: false,
                next_hop_self: false,
                next_hop_keep: false,
                allow_local_as: 0,
                max_prefixes: None,
            },
            session: None,
            router_id: global.router_id,
            group: None,
            rejected: 0,
            removed: false,
        };
        Rib {
            global,
            peers: vec![local],
            adj_in: vec![AdjIn::default()],
            groups: Vec::new(),
            group_index: HashMap::new(),
            attrs: AttrTable::default(),
            cache: ExportCache::default(),
            v4: Table::default(),
            v6: Table::default(),
            changed: None,
            policy: None,
        }
    }

    /// Starts (or stops) recording the prefixes whose best path changes, for
    /// [`Rib::take_best_changes`] (the kernel and the logs use it; off by default so that a
    /// table nobody reads costs nothing).
    pub fn track_best_changes(&mut self, on: bool) {
        self.changed = on.then(Vec::new);
    }

    /// The prefixes whose best path changed since the last call, in order (a prefix may repeat).
    pub fn take_best_changes(&mut self) -> Vec<IpNet> {
        self.changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether `peer` receives `output`: it is the target, or a member of the target group not
    /// excepted, and the message announces nothing whose AS_PATH holds the peer's AS
    /// ([`export::sent_to`]). The one rule the RIB task applies when it delivers.
    pub fn receives(&self, output: &Output, peer: PeerId) -> bool {
        let addressed = match output.target {
            Target::Peer(p) => p == peer,
            Target::Group { group, except } => {
                !except.contains(&Some(peer)) && self.group_members(group).contains(&peer)
            }
        };
        if !addressed {
            return false;
        }
        self.passes_as_rule(&output.update, peer)
    }

    /// The per-member part of [`Rib::receives`]: `update` announces nothing whose AS_PATH holds
    /// `peer`'s AS, when `peer` is external ([`export::sent_to`]).
    pub fn passes_as_rule(&self, update: &Update, peer: PeerId) -> bool {
        if update.nlri.is_empty() && update.mp_reach.is_none() {
            return true;
        }
        self.peers
            .get(peer as usize)
            .is_none_or(|s| export::sent_to(&update.attrs, s.config.is_ebgp(), s.config.remote_asn))
    }

    /// The RIB's settings.
    pub fn global(&self) -> &Global {
        &self.global
    }

    /// Registers a configured peer; its session starts down.
    pub fn add_peer(&mut self, config: PeerConfig) -> PeerId {
        let id = self.peers.len() as PeerId;
        self.peers.push(PeerSlot {
            config,
            session: None,
            router_id: Ipv4Addr::UNSPECIFIED,
            group: None,
            rejected: 0,
            removed: false,
        });
        self.adj_in.push(AdjIn::default());
        id
    }

    /// Removes a peer that left the configuration: its paths are withdrawn (no graceful
    /// restart), it leaves its group, and its id is never reused.
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<Output> {
        if peer == LOCAL {
            return Vec::new();
        }
        let (out, _) = self.peer_down(peer, false);
        if let Some(slot) = self.peers.get_mut(peer as usize) {
            slot.removed = true;
        }
        out
    }

    /// Whether the peer was removed ([`Rib::remove_peer`]).
    pub fn is_removed(&self, peer: PeerId) -> bool {
        self.peers.get(peer as usize).is_none_or(|s| s.removed)
    }

    /// The peer's configuration.
    pub fn peer_config(&self, peer: PeerId) -> Option<&PeerConfig> {
        self.peers.get(peer as usize).map(|s| &s.config)
    }

    /// The update group of an established peer.
    pub fn group_of(&self, peer: PeerId) -> Option<GroupId> {
        self.peers.get(peer as usize)?.group
    }

    /// The established members of a group.
    pub fn group_members(&self, group: GroupId) -> &[PeerId] {
        self.groups
            .get(group as usize)
            .map_or(&[], |g| g.members.as_slice())
    }

    /// The export key of a group (its families and AS-number width decide the encoding).
    pub fn group_key(&self, group: GroupId) -> Option<&GroupKey> {
        self.groups.get(group as usize).map(|g| &g.key)
    }

    /// The session of an established peer.
    pub fn session(&self, peer: PeerId) -> Option<&SessionInfo> {
        self.peers.get(peer as usize)?.session.as_ref()
    }

    /// Number of prefixes the peer has paths for (its Adj-RIB-In after import rules).
    pub fn prefix_count(&self, peer: PeerId) -> usize {
        self.adj_in.get(peer as usize).map_or(0, AdjIn::len)
    }

    /// Number of received paths the import rules rejected (loops), since the peer was added.
    pub fn rejected_count(&self, peer: PeerId) -> u64 {
        self.peers.get(peer as usize).map_or(0, |s| s.rejected)
    }

    /// The configured `max_prefixes` when the peer holds more prefixes than it allows (the
    /// session layer then closes the session with Cease subcode 1, RFC 4486).
    pub fn over_max_prefixes(&self, peer: PeerId) -> Option<u32> {
        let max = self.peers.get(peer as usize)?.config.max_prefixes?;
        (self.prefix_count(peer) > max as usize).then_some(max)
    }

    /// Table counts.
    pub fn stats(&self) -> Stats {
        Stats {
            prefixes: self.v4.len() + self.v6.len(),
            paths: self.v4.values().map(|d| d.len()).sum::<usize>()
                + self.v6.values().map(|d| d.len()).sum::<usize>(),
            attr_sets: self.attrs.len(),
            groups: self.groups.iter().filter(|g| !g.members.is_empty()).count(),
        }
    }

    /// Every candidate path for `prefix`, best first.
    pub fn paths(&self, prefix: IpNet) -> &[Path] {
        match prefix {
            IpNet::V4(p) => self.v4.get(&p).map_or(&[], |d| &**d),
            IpNet::V6(p) => self.v6.get(&p).map_or(&[], |d| &**d),
        }
    }

    /// The best path for `prefix`.
    pub fn best(&self, prefix: IpNet) -> Option<&Path> {
        self.paths(prefix).first()
    }

    /// Every prefix with its paths, best first (unordered).
    pub fn routes(&self) -> impl Iterator<Item = (IpNet, &[Path])> + '_ {
        self.v4
            .iter()
            .map(|(k, d)| (IpNet::V4(*k), &**d))
            .chain(self.v6.iter().map(|(k, d)| (IpNet::V6(*k), &**d)))
    }

    /// Why each path of `prefix` lost against the best, in the order of [`Rib::paths`]
    /// (`None` for the best); the reason shown by `show route`.
    pub fn reasons(&self, prefix: IpNet) -> Vec<Option<best::Reason>> {
        let paths = self.paths(prefix);
        let cx_source = |peer: PeerId| -> best::Source {
            match self.peers.get(peer as usize) {
                Some(slot) if peer != LOCAL => best::Source {
                    local: false,
                    ebgp: slot.config.is_ebgp(),
                    peer_address: slot.config.address,
                    router_id: slot.router_id,
                },
                _ => best::Source {
                    local: true,
                    ebgp: false,
                    peer_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    router_id: self.global.router_id,
                },
            }
        };
        let cands: Vec<best::Candidate> = paths
            .iter()
            .map(|p| best::Candidate {
                attrs: &p.attrs.attrs,
                source: cx_source(p.peer()),
                next_hop_reachable: true,
                igp_cost: None,
            })
            .collect();
        best::select(&cands, &self.global.best).map_or_else(Vec::new, |s| s.lost)
    }

    /// The paths of `prefix` the kernel should use: with `multipath` on, the best and every path
    /// equal to it up to the IGP-cost step (RFC 4271 §9.1.2.2 before the tie-breaks, as BIRD's
    /// `merge paths`), else the best alone. Best first.
    pub fn multipath(&self, prefix: IpNet) -> Vec<&Path> {
        let paths = self.paths(prefix);
        if !self.global.best.multipath || paths.len() < 2 {
            return paths.first().into_iter().collect();
        }
        let lost = self.reasons(prefix);
        let ecmp = |r: &Option<best::Reason>| {
            matches!(
                r,
                None | Some(best::Reason::RouterId)
                    | Some(best::Reason::ClusterListLength)
                    | Some(best::Reason::PeerAddress)
                    | Some(best::Reason::Equal)
            )
        };
        paths
            .iter()
            .zip(lost.iter())
            .filter(|(_, r)| ecmp(r))
            .map(|(p, _)| p)
            .collect()
    }

    /// The peer's Adj-RIB-In: every path it sent that the import rules accepted.
    /// Scans the table; meant for the control socket and tests, not the hot path.
    pub fn adj_rib_in(&self, peer: PeerId) -> Vec<(IpNet, &Path)> {
        self.routes()
            .flat_map(|(net, paths)| {
                paths
                    .iter()
                    .filter(move |p| p.peer() == peer)
                    .map(move |p| (net, p))
            })
            .collect()
    }

    /// Changes the CLUSTER_ID (RFC 4456 §7; Calico's `routeReflectorClusterID` set or changed
    /// on a live node) and sends every internal update group the routes it gets again, now
    /// reflected with the new id in CLUSTER_LIST. What is exported does not change, only how, so
    /// announcements suffice. Paths already received are kept (the loop check of §8 applies to
    /// what arrives from now on). No session is reset.
    pub fn set_cluster_id(&mut self, cluster_id: Ipv4Addr) -> Vec<Output> {
        if cluster_id == self.global.cluster_id {
            return Vec::new();
        }
        self.global.cluster_id = cluster_id;
        let groups: Vec<GroupId> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.key.ebgp && !g.members.is_empty())
            .map(|(i, _)| i as GroupId)
            .collect();
        with_cx!(self, |cx, v4, v6, _adj| {
            let dests = v4
                .iter()
                .map(|(k, d)| (IpNet::V4(*k), Family::IPV4_UNICAST, d))
                .chain(
                    v6.iter()
                        .map(|(k, d)| (IpNet::V6(*k), Family::IPV6_UNICAST, d)),
                );
            for (prefix, family, dest) in dests {
                for &gid in &groups {
                    let add_path = cx
                        .groups
                        .get(gid as usize)
                        .is_some_and(|g| g.key.add_path_tx.contains(&family));
                    let sent: &[Path] = if add_path {
                        dest
                    } else {
                        dest.get(..1).unwrap_or(&[])
                    };
                    // Only reflected paths (from internal peers) carry our cluster id.
                    for p in sent.iter().filter(|p| p.peer() != LOCAL) {
                        if !matches!(cx.source(p.peer()).1, Learned::Ibgp { .. }) {
                            continue;
                        }
                        let Some(a) = cx.export(prefix, p, family, gid) else {
                            continue;
                        };
                        let target = Target::Group {
                            group: gid,
                            except: [cx.member(Some(p.peer()), gid), None],
                        };
                        if add_path {
                            cx.out.announce_path(
                                target,
                                Nlri::with_path_id(prefix, path_ident(p)),
                                &a,
                            );
                        } else {
                            cx.out.announce(target, prefix, &a);
                        }
                    }
                }
            }
        })
    }

    /// Replaces the export policy (Calico's `calico_export_to_bgp_peers`, see
    /// [`crate::policy::ExportPolicy`]; `None`, the default, exports every best route) and sends
    /// every update group what that changes: withdrawals of routes the new policy rejects,
    /// announcements of routes it now accepts or whose added communities changed. No session is
    /// reset.
    pub fn set_export_policy(&mut self, policy: Option<ExportPolicy>) -> Vec<Output> {
        if policy == self.policy {
            return Vec::new();
        }
        let old = std::mem::replace(&mut self.policy, policy);
        let verdict = |p: Option<&ExportPolicy>, prefix: IpNet| p.map(|p| p.evaluate(prefix));
        let changed: Vec<IpNet> = self
            .routes()
            .map(|(p, _)| p)
            .filter(|p| verdict(old.as_ref(), *p) != verdict(self.policy.as_ref(), *p))
            .collect();
        with_cx!(self, |cx, v4, v6, _adj| {
            let new = cx.policy;
            for prefix in changed {
                let (family, paths): (Family, &[Path]) = match prefix {
                    IpNet::V4(k) => (Family::IPV4_UNICAST, v4.get(&k).map_or(&[], |d| d)),
                    IpNet::V6(k) => (Family::IPV6_UNICAST, v6.get(&k).map_or(&[], |d| d)),
                };
                for gid in 0..cx.groups.len() as GroupId {
                    let Some(g) = cx.groups.get(gid as usize) else {
                        continue;
                    };
                    if g.members.is_empty() || !g.key.families.contains(&family) {
                        continue;
                    }
                    let add_path = g.key.add_path_tx.contains(&family);
                    let sent: &[Path] = if add_path {
                        paths
                    } else {
                        paths.get(..1).unwrap_or(&[])
                    };
                    for p in sent {
                        let base = cx.export_rules(p, family, gid);
                        let old_out = base
                            .clone()
                            .and_then(|b| cx.with_policy(old.as_ref(), prefix, b));
                        let new_out = base.and_then(|b| cx.with_policy(new, prefix, b));
                        let same = same_export(&old_out, &new_out);
                        if same {
                            continue;
                        }
                        let target = Target::Group {
                            group: gid,
                            except: [cx.member(Some(p.peer()), gid), None],
                        };
                        match (add_path, &new_out) {
                            (true, Some(a)) => cx.out.announce_path(
                                target,
                                Nlri::with_path_id(prefix, path_ident(p)),
                                a,
                            ),
                            (true, None) => cx
                                .out
                                .withdraw_path(target, Nlri::with_path_id(prefix, path_ident(p))),
                            (false, Some(a)) => cx.out.announce(target, prefix, a),
                            (false, None) => cx.out.withdraw(target, prefix),
                        }
                    }
                }
            }
        })
    }

    /// The session to `peer` reached Established: the peer joins its update group and gets the
    /// group's view of the Loc-RIB, then End-of-RIB for each family (RFC 4724 §2).
    pub fn peer_up(&mut self, peer: PeerId, session: SessionInfo) -> Vec<Output> {
        if self.peers.get(peer as usize).is_none() {
            return Vec::new();
        }
        // RFC 4724 §4.2: stale paths of a family the returning peer does not list with the
        // Forwarding State bit set are withdrawn at once.
        let mut swept = Vec::new();
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let preserved =
                session.graceful_restart && session.restart_families.contains(&(family, true));
            if !preserved {
                swept.extend(self.apply_all(peer, Some(family), Op::RemoveStale));
            }
        }
        let mut out = swept;
        out.extend(self.join(peer, session));
        out
    }

    /// Adds the established `peer` to its update group and dumps the group's view to it.
    fn join(&mut self, peer: PeerId, session: SessionInfo) -> Vec<Output> {
        let Some(slot) = self.peers.get_mut(peer as usize) else {
            return Vec::new();
        };
        let c = &slot.config;
        let ebgp = c.is_ebgp();
        let mut families = session.families.clone();
        families.sort();
        let key = GroupKey {
            ebgp,
            local_asn: c.local_asn,
            rr_client: c.rr_client,
            next_hop_self: c.next_hop_self,
            next_hop_keep: c.next_hop_keep,
            self_v4: session.self_v4,
            self_v6: session.self_v6,
            four_octet_as: session.four_octet_as,
            families: families.clone(),
            add_path_tx: {
                let mut a = session.add_path_tx.clone();
                a.sort();
                a
            },
        };
        slot.router_id = session.router_id;
        slot.session = Some(session);
        let gid = match self.group_index.get(&key) {
            Some(&g) => g,
            None => {
                let g = self.groups.len() as GroupId;
                self.groups.push(Group {
                    key: key.clone(),
                    members: Vec::new(),
                    by_asn: HashMap::new(),
                });
                self.group_index.insert(key, g);
                g
            }
        };
        if let Some(slot) = self.peers.get_mut(peer as usize) {
            slot.group = Some(gid);
        }
        let asn = self
            .peers
            .get(peer as usize)
            .map_or(0, |s| s.config.remote_asn);
        if let Some(g) = self.groups.get_mut(gid as usize) {
            g.join(peer, asn);
        }
        self.dump(peer, gid, &families)
    }

    /// Sends `peer` its group's view of the Loc-RIB for `families`, each followed by End-of-RIB.
    fn dump(&mut self, peer: PeerId, gid: GroupId, families: &[Family]) -> Vec<Output> {
        let add_path: Vec<Family> = self
            .group_key(gid)
            .map(|k| k.add_path_tx.clone())
            .unwrap_or_default();
        with_cx!(self, |cx, v4, v6, _adj| {
            let target = Target::Peer(peer);
            for family in add_path.iter().filter(|f| families.contains(f)) {
                let dests: Vec<(IpNet, &Dest)> = if *family == Family::IPV4_UNICAST {
                    v4.iter().map(|(k, d)| (IpNet::V4(*k), d)).collect()
                } else {
                    v6.iter().map(|(k, d)| (IpNet::V6(*k), d)).collect()
                };
                for (prefix, dest) in dests {
                    for p in dest.iter().filter(|p| p.peer() != peer) {
                        if let Some(a) = cx.export(prefix, p, *family, gid) {
                            cx.out.announce_path(
                                target,
                                Nlri::with_path_id(prefix, path_ident(p)),
                                &a,
                            );
                        }
                    }
                }
            }
            if families.contains(&Family::IPV4_UNICAST) && !add_path.contains(&Family::IPV4_UNICAST)
            {
                for (k, dest) in v4.iter() {
                    if let Some(best) = dest.first().filter(|b| b.peer() != peer) {
                        if let Some(a) = cx.export(IpNet::V4(*k), best, Family::IPV4_UNICAST, gid) {
                            cx.out.announce(target, IpNet::V4(*k), &a);
                        }
                    }
                }
            }
            if families.contains(&Family::IPV6_UNICAST) && !add_path.contains(&Family::IPV6_UNICAST)
            {
                for (k, dest) in v6.iter() {
                    if let Some(best) = dest.first().filter(|b| b.peer() != peer) {
                        if let Some(a) = cx.export(IpNet::V6(*k), best, Family::IPV6_UNICAST, gid) {
                            cx.out.announce(target, IpNet::V6(*k), &a);
                        }
                    }
                }
            }
            for f in families {
                cx.out.end_of_rib(target, *f);
            }
        })
    }

    /// The peer sent a ROUTE-REFRESH for `family` (RFC 2918 §4): sends it that family again,
    /// then End-of-RIB.
    pub fn refresh(&mut self, peer: PeerId, family: Family) -> Vec<Output> {
        let Some(gid) = self.group_of(peer) else {
            return Vec::new();
        };
        let negotiated = self
            .session(peer)
            .is_some_and(|s| s.families.contains(&family));
        if !negotiated {
            return Vec::new();
        }
        self.dump(peer, gid, &[family])
    }

    /// How many prefixes each established peer is currently sent (its view of the Adj-RIB-Out):
    /// for every best path exportable to the peer's group and not learned from the peer itself
    /// (ADD-PATH groups count prefixes, not paths). Walks the table once per group; meant for
    /// the control socket and metrics, not the hot path.
    pub fn advertised_counts(&mut self) -> HashMap<PeerId, u32> {
        let groups: Vec<(GroupId, Vec<PeerId>)> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.members.is_empty())
            .map(|(i, g)| (i as GroupId, g.members.clone()))
            .collect();
        let mut counts: HashMap<PeerId, u32> = HashMap::new();
        let _ = with_cx!(self, |cx, v4, v6, _adj| {
            for (gid, members) in &groups {
                let mut total = 0u32;
                let mut own: HashMap<PeerId, u32> = HashMap::new();
                let bests = v4
                    .iter()
                    .filter_map(|(k, d)| {
                        d.first().map(|p| (IpNet::V4(*k), p, Family::IPV4_UNICAST))
                    })
                    .chain(v6.iter().filter_map(|(k, d)| {
                        d.first().map(|p| (IpNet::V6(*k), p, Family::IPV6_UNICAST))
                    }));
                for (prefix, best, family) in bests {
                    if let Some(a) = cx.export(prefix, best, family, *gid) {
                        total += 1;
                        *own.entry(best.peer()).or_insert(0) += 1;
                        // Members whose AS the path holds do not get it either.
                        let holding = cx
                            .groups
                            .get(*gid as usize)
                            .map(|g| g.holding(a.attrs.as_path.as_ref()))
                            .unwrap_or_default();
                        for m in holding.into_iter().filter(|m| *m != best.peer()) {
                            *own.entry(m).or_insert(0) += 1;
                        }
                    }
                }
                for m in members {
                    let mine = own.get(m).copied().unwrap_or(0);
                    counts.insert(*m, total.saturating_sub(mine));
                }
            }
        });
        counts
    }

    /// Number of the peer's paths still marked stale (RFC 4724 §4.2).
    pub fn stale_count(&self, peer: PeerId) -> usize {
        if self
            .adj_in
            .get(peer as usize)
            .is_none_or(|a| !a.stale.iter().any(|s| *s))
        {
            return 0;
        }
        self.adj_rib_in(peer)
            .iter()
            .filter(|(_, p)| p.is_stale())
            .count()
    }

    /// The session to `peer` went down. With `graceful` (it dropped without a NOTIFICATION and
    /// the peer had advertised Graceful Restart, RFC 4724 §4.2) its paths are kept and marked
    /// stale until [`Rib::end_of_rib`] or [`Rib::sweep_stale`]; otherwise they are withdrawn.
    /// Returns whether stale paths were kept.
    pub fn peer_down(&mut self, peer: PeerId, graceful: bool) -> (Vec<Output>, bool) {
        let Some(slot) = self.peers.get_mut(peer as usize) else {
            return (Vec::new(), false);
        };
        let kept: Vec<Family> = match slot.session.as_ref() {
            Some(s) if graceful && s.graceful_restart => {
                s.restart_families.iter().map(|(f, _)| *f).collect()
            }
            _ => Vec::new(),
        };
        slot.session = None;
        if let Some(gid) = slot.group.take() {
            if let Some(g) = self.groups.get_mut(gid as usize) {
                g.leave(peer);
            }
        }
        let mut out = Vec::new();
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let op = if kept.contains(&family) {
                Op::MarkStale
            } else {
                Op::RemoveAll
            };
            out.extend(self.apply_all(peer, Some(family), op));
        }
        // What is left of the peer's Adj-RIB-In now is its stale paths.
        let kept = !kept.is_empty() && self.prefix_count(peer) > 0;
        (out, kept)
    }

    /// End-of-RIB for `family` from `peer`: its paths still stale in that family are withdrawn
    /// (RFC 4724 §4.2).
    pub fn end_of_rib(&mut self, peer: PeerId, family: Family) -> Vec<Output> {
        self.apply_all(peer, Some(family), Op::RemoveStale)
    }

    /// The peer's restart time ran out, or its stale paths must go for another reason: withdraws
    /// every stale path of `peer`.
    pub fn sweep_stale(&mut self, peer: PeerId) -> Vec<Output> {
        self.apply_all(peer, None, Op::RemoveStale)
    }

    /// Applies `op` to every prefix in the peer's Adj-RIB-In (of `family`, or all), found by a
    /// scan of the table (skipped when the peer has nothing there, or, for
    /// [`Op::RemoveStale`], nothing stale).
    fn apply_all(&mut self, peer: PeerId, family: Option<Family>, op: Op) -> Vec<Output> {
        with_cx!(self, |cx, v4, v6, adj| {
            let Some(adj) = adj.get_mut(peer as usize) else {
                return Vec::new();
            };
            let mine = |d: &Dest| d.iter().any(|p| p.peer() == peer);
            for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
                if family.is_some_and(|want| want != f) {
                    continue;
                }
                let i = family_index(f);
                let stale = adj.stale.get(i).copied().unwrap_or(false);
                let count = if i == 0 { adj.v4 } else { adj.v6 };
                if count == 0 || (matches!(op, Op::RemoveStale) && !stale) {
                    if let Some(s) = adj.stale.get_mut(i) {
                        *s = matches!(op, Op::MarkStale) && count > 0;
                    }
                    continue;
                }
                if i == 0 {
                    let keys: Vec<Ipv4Net> = v4
                        .iter()
                        .filter(|(_, d)| mine(d))
                        .map(|(k, _)| *k)
                        .collect();
                    for k in keys {
                        let (had, has) = cx.change(v4, k, peer, op.clone());
                        adj.count(false, had, has);
                    }
                } else {
                    let keys: Vec<Ipv6Net> = v6
                        .iter()
                        .filter(|(_, d)| mine(d))
                        .map(|(k, _)| *k)
                        .collect();
                    for k in keys {
                        let (had, has) = cx.change(v6, k, peer, op.clone());
                        adj.count(true, had, has);
                    }
                }
                if let Some(s) = adj.stale.get_mut(i) {
                    *s = matches!(op, Op::MarkStale);
                }
            }
        })
    }

    /// Applies an UPDATE received from `peer`: withdrawals, then announcements through the import
    /// rules (a rejected path counts as a withdrawal, as RFC 4271 §9.1.2 treats a looped path).
    /// Afterwards the caller checks [`Rib::over_max_prefixes`].
    pub fn update(&mut self, peer: PeerId, update: &Update) -> Vec<Output> {
        let Some(slot) = self.peers.get(peer as usize) else {
            return Vec::new();
        };
        if peer == LOCAL {
            return Vec::new();
        }
        // Import every distinct next hop once (usually one per UPDATE).
        let mut imported: SmallVec<[Imported; 2]> = SmallVec::new();
        for (_, _, nh) in update.announcements() {
            if imported.iter().any(|(h, _)| *h == nh) {
                continue;
            }
            let mut attrs = update.attrs.clone();
            attrs.next_hop = None;
            let ra = RouteAttrs {
                attrs,
                next_hop: nh,
            };
            let res =
                export::import(&self.global, &slot.config, ra).map(|ra| self.attrs.intern(ra));
            imported.push((nh, res));
        }
        let mut rejected = 0u64;
        let out = with_cx!(self, |cx, v4, v6, adj| {
            let Some(adj) = adj.get_mut(peer as usize) else {
                return Vec::new();
            };
            // A prefix both withdrawn and announced in one UPDATE counts as announced (RFC 4271
            // §4.3), so that each prefix changes once per call (see `Outbox`).
            let announced: HashSet<(IpNet, Option<u32>), PrefixHash> =
                if update.withdrawals().next().is_some() && update.announcements().next().is_some()
                {
                    update
                        .announcements()
                        .map(|(_, n, _)| (n.prefix.trunc(), n.path_id))
                        .collect()
                } else {
                    HashSet::default()
                };
            for (_, nlri) in update.withdrawals() {
                if announced.contains(&(nlri.prefix.trunc(), nlri.path_id)) {
                    continue;
                }
                let op = Op::Remove(nlri.path_id.unwrap_or(0));
                apply(&mut cx, v4, v6, adj, peer, nlri.prefix, op);
            }
            // One list of NLRI per next hop, so that the imported attributes are looked up
            // once per list, not once per prefix.
            for (_, nlris, nh) in update.announced_lists() {
                let attrs = match imported.iter().find(|(h, _)| *h == nh) {
                    Some((_, Ok(a))) => Some(a),
                    _ => None,
                };
                for nlri in nlris {
                    let path_id = nlri.path_id.unwrap_or(0);
                    let op = match attrs {
                        Some(a) => Op::Set(path_id, a.clone()),
                        None => {
                            rejected += 1;
                            Op::Remove(path_id)
                        }
                    };
                    apply(&mut cx, v4, v6, adj, peer, nlri.prefix, op);
                }
            }
        });
        if let Some(slot) = self.peers.get_mut(peer as usize) {
            slot.rejected += rejected;
        }
        out
    }

    /// Originates `prefix` with `attrs` (`next_hop: None` means "ourselves"), replacing an
    /// earlier origination of it.
    pub fn originate(&mut self, prefix: IpNet, attrs: RouteAttrs) -> Vec<Output> {
        self.originate_path(prefix, ORIGINATED, attrs)
    }

    /// Stops originating `prefix`.
    pub fn withdraw_originated(&mut self, prefix: IpNet) -> Vec<Output> {
        self.withdraw_originated_path(prefix, ORIGINATED)
    }

    /// Originates `prefix` as the local path `path_id` ([`ORIGINATED`] for the configuration,
    /// [`LEARNED`] for routes learned from the kernel): both may exist for one prefix, and the
    /// decision process picks one.
    pub fn originate_path(
        &mut self,
        prefix: IpNet,
        path_id: u32,
        attrs: RouteAttrs,
    ) -> Vec<Output> {
        let a = self.attrs.intern(attrs);
        with_cx!(self, |cx, v4, v6, adj| {
            if let Some(adj) = adj.get_mut(LOCAL as usize) {
                apply(&mut cx, v4, v6, adj, LOCAL, prefix, Op::Set(path_id, a));
            }
        })
    }

    /// Withdraws the local path `path_id` of `prefix`.
    pub fn withdraw_originated_path(&mut self, prefix: IpNet, path_id: u32) -> Vec<Output> {
        with_cx!(self, |cx, v4, v6, adj| {
            if let Some(adj) = adj.get_mut(LOCAL as usize) {
                apply(&mut cx, v4, v6, adj, LOCAL, prefix, Op::Remove(path_id));
            }
        })
    }
}

/// `k` with its host bits clear, as [`Ipv4Net::trunc`], without calling it when they already are
/// (nearly every received prefix).
#[inline]
fn trunc4(k: Ipv4Net) -> Ipv4Net {
    let host = u32::MAX.checked_shr(u32::from(k.prefix_len())).unwrap_or(0);
    if u32::from(k.addr()) & host == 0 {
        k
    } else {
        k.trunc()
    }
}

/// Applies `op` at `prefix` and keeps the peer's prefix counts in step.
fn apply(
    cx: &mut Cx,
    v4: &mut Table<Ipv4Net>,
    v6: &mut Table<Ipv6Net>,
    adj: &mut AdjIn,
    peer: PeerId,
    prefix: IpNet,
    op: Op,
) {
    match prefix {
        IpNet::V4(k) => {
            let (had, has) = cx.change(v4, trunc4(k), peer, op);
            adj.count(false, had, has);
        }
        IpNet::V6(k) => {
            let (had, has) = cx.change(v6, k.trunc(), peer, op);
            adj.count(true, had, has);
        }
    }
}

#[cfg(test)]
mod quick_best_tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::best::{self, Candidate, Options, Source};
    use super::quick_best;
    use crate::wire::{AsPath, Origin, PathAttributes, Segment, SegmentType};

    /// (attributes, source, reachable, IGP cost).
    type P = (PathAttributes, Source, bool, Option<u32>);

    /// A path whose neighbour AS is `nas` (0: an empty AS_PATH, 1: one starting with an AS_SET),
    /// other fields from small sets so that most steps tie often.
    fn arb_path(nas: impl Strategy<Value = u32>) -> impl Strategy<Value = P> {
        let attrs = (
            nas,
            prop_oneof![8 => Just(0usize), 1 => Just(1), 1 => Just(2)],
            prop_oneof![8 => Just(None), 1 => Just(Some(100u32)), 1 => Just(Some(200))],
            prop_oneof![
                8 => Just(Some(Origin::Igp)),
                1 => Just(None),
                1 => Just(Some(Origin::Incomplete)),
            ],
            prop::sample::select(vec![None, Some(0u32), Some(10)]),
            prop_oneof![3 => Just(None), 1 => Just(Some(Ipv4Addr::new(10, 0, 0, 1)))],
            prop_oneof![3 => Just(0usize), 1 => Just(1)],
        )
            .prop_map(|(nas, extra, local_pref, origin, med, originator_id, cl)| {
                let mut asns = vec![nas];
                asns.extend(std::iter::repeat_n(65000, extra));
                let kind = if nas == 1 {
                    SegmentType::Set
                } else {
                    SegmentType::Sequence
                };
                PathAttributes {
                    as_path: Some(if nas == 0 {
                        AsPath::default()
                    } else {
                        AsPath {
                            segments: vec![Segment { kind, asns }],
                        }
                    }),
                    local_pref,
                    origin,
                    med,
                    originator_id,
                    cluster_list: thin_vec::thin_vec![Ipv4Addr::new(10, 255, 0, 1); cl],
                    ..PathAttributes::default()
                }
            });
        let addr = prop::sample::select(vec![
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
        let rid = prop::sample::select(vec![
            Ipv4Addr::new(1, 1, 1, 1),
            Ipv4Addr::new(2, 2, 2, 2),
            Ipv4Addr::new(3, 3, 3, 3),
        ]);
        (
            attrs,
            prop::bool::weighted(0.05),
            prop::bool::weighted(0.8),
            addr,
            rid,
            prop::bool::weighted(0.9),
            prop::sample::select(vec![None, None, None, Some(1u32), Some(5)]),
        )
            .prop_map(|(a, local, ebgp, peer_address, router_id, reach, igp)| {
                let source = Source {
                    local,
                    ebgp,
                    peer_address,
                    router_id,
                };
                (a, source, reach, igp)
            })
    }

    fn check(paths: &[P], always_compare_med: bool) -> Result<(), TestCaseError> {
        let cands: Vec<Candidate> = paths
            .iter()
            .map(|(attrs, source, reach, igp)| Candidate {
                attrs,
                source: *source,
                next_hop_reachable: *reach,
                igp_cost: *igp,
            })
            .collect();
        let opts = Options {
            always_compare_med,
            multipath: false,
        };
        if let Some(quick) = quick_best(&cands, &opts) {
            let sel = best::select(&cands, &opts).map(|s| s.best);
            prop_assert_eq!(Some(quick), sel, "{:?}", paths);
        }
        Ok(())
    }

    /// MED makes "better than" cyclic here: A beats B on MED (same neighbour AS), B beats C and C
    /// beats A on router id. `select` removes B at the MED step and picks C; a scan in the order
    /// B, C, A would end on A.
    #[test]
    fn med_across_neighbour_ases_is_left_to_select() {
        let path = |nas: u32, med: u32| PathAttributes {
            as_path: Some(AsPath::from_sequence([nas])),
            med: Some(med),
            ..PathAttributes::default()
        };
        let source = |rid: u8| Source {
            local: false,
            ebgp: true,
            peer_address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, rid)),
            router_id: Ipv4Addr::new(rid, rid, rid, rid),
        };
        let (a, b, c) = (path(7, 0), path(7, 10), path(8, 0));
        let cands: Vec<Candidate> = [(&b, 1), (&c, 2), (&a, 3)]
            .into_iter()
            .map(|(attrs, rid)| Candidate {
                attrs,
                source: source(rid),
                next_hop_reachable: true,
                igp_cost: None,
            })
            .collect();
        let opts = Options::default();
        assert_eq!(best::select(&cands, &opts).map(|s| s.best), Some(1));
        assert_eq!(quick_best(&cands, &opts), None);
        assert_eq!(quick_best(&cands[..2], &opts), Some(0));
    }

    proptest! {
        #[test]
        fn quick_best_agrees_with_select_for_two_neighbour_ases(
            paths in prop::collection::vec(arb_path(7u32..9), 1..6),
            always_compare_med in any::<bool>(),
        ) {
            check(&paths, always_compare_med)?;
        }

        #[test]
        fn quick_best_agrees_with_select(
            paths in prop::collection::vec(arb_path(0u32..5), 1..9),
            always_compare_med in any::<bool>(),
        ) {
            check(&paths, always_compare_med)?;
        }

        #[test]
        fn quick_best_agrees_with_select_for_one_neighbour_as(
            paths in prop::collection::vec(arb_path(Just(7u32)), 1..9),
        ) {
            check(&paths, false)?;
        }

        #[test]
        fn quick_best_agrees_with_select_for_distinct_neighbour_ases(
            paths in prop::collection::vec(arb_path(Just(7u32)), 1..9),
        ) {
            let paths: Vec<P> = paths
                .into_iter()
                .enumerate()
                .map(|(i, mut p)| {
                    if let Some(path) = p.0.as_path.as_mut() {
                        if let Some(seg) = path.segments.first_mut() {
                            seg.asns[0] = 100 + i as u32;
                        }
                    }
                    p
                })
                .collect();
            check(&paths, false)?;
        }
    }
}
