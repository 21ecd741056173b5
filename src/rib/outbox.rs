//! The outbox: what a RIB operation wants sent, collected per target and packed into UPDATEs
//! (many prefixes with the same attributes in one message) when the operation ends.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use super::attrs::Attrs;
use super::{GroupId, IdHash, PeerId};
use crate::wire::{Family, MpReach, MpUnreach, NextHop, Nlri, Update};

/// Most IPv4 prefixes put in one UPDATE (at most 5 octets each, so about 3000 octets).
pub const IPV4_PER_UPDATE: usize = 600;
/// Most IPv6 prefixes put in one UPDATE (at most 17 octets each, so about 2500 octets).
pub const IPV6_PER_UPDATE: usize = 150;

/// Who receives a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Every member of the update group except the listed peers (the peers the path came from:
    /// split horizon per member, so that one encoding serves the rest of the group).
    Group {
        /// The group.
        group: GroupId,
        /// Members that must not receive it.
        except: [Option<PeerId>; 2],
    },
    /// One peer (its initial table, or a correction for a member excluded from a group message).
    Peer(PeerId),
}

/// An UPDATE to send, or an End-of-RIB marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Who gets it.
    pub target: Target,
    /// The message.
    pub update: Update,
}

#[derive(Debug, Default)]
struct Ops {
    withdraw: Vec<Nlri>,
    announce: Vec<(Attrs, Vec<Nlri>)>,
    by_attrs: HashMap<usize, usize, IdHash>,
    /// The entry of `announce` used last, by attributes address: most announcements in a row
    /// share attributes (the prefixes of one UPDATE), and this saves the hash lookup for them.
    last_attrs: Option<(usize, usize)>,
    end_of_rib: Vec<Family>,
}

impl Ops {
    fn announce(&mut self, prefix: Nlri, attrs: &Attrs) {
        // `announce` holds a clone of every `Attrs` keyed here, so no address is reused while
        // the outbox lives.
        let key = Arc::as_ptr(attrs) as usize;
        let found = match self.last_attrs {
            Some((k, i)) if k == key => Some(i),
            _ => self.by_attrs.get(&key).copied(),
        };
        let i = found.unwrap_or_else(|| {
            let i = self.announce.len();
            self.by_attrs.insert(key, i);
            self.announce.push((attrs.clone(), Vec::new()));
            i
        });
        self.last_attrs = Some((key, i));
        if let Some((_, list)) = self.announce.get_mut(i) {
            list.push(prefix);
        }
    }
}

/// Collects announcements and withdrawals per target during one RIB operation.
///
/// Invariant kept by the [`Rib`](super::Rib): one operation changes each prefix's best path
/// at most once, so a target never gets two conflicting entries for one prefix and the order
/// in which [`Outbox::finish`] emits withdrawals and announcements does not matter.
#[derive(Debug, Default)]
pub struct Outbox {
    /// The work per target, in the order targets were first used.
    ops: Vec<(Target, Ops)>,
    /// Index of each target's entry in `ops`.
    index: HashMap<Target, usize, IdHash>,
    /// The target used last and its index: calls in a row mostly go to one target.
    last: Option<(Target, usize)>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Runs `f` on the work queued for `target`, creating it when new.
    fn with_ops(&mut self, target: Target, f: impl FnOnce(&mut Ops)) {
        let i = match self.last {
            Some((t, i)) if t == target => i,
            _ => {
                let i = match self.index.get(&target) {
                    Some(&i) => i,
                    None => {
                        let i = self.ops.len();
                        self.index.insert(target, i);
                        self.ops.push((target, Ops::default()));
                        i
                    }
                };
                self.last = Some((target, i));
                i
            }
        };
        if let Some((_, ops)) = self.ops.get_mut(i) {
            f(ops);
        }
    }

    /// Announces `prefix` with `attrs` to `target`.
    pub fn announce(&mut self, target: Target, prefix: IpNet, attrs: &Attrs) {
        self.with_ops(target, |ops| ops.announce(Nlri::new(prefix), attrs));
    }

    /// Withdraws `prefix` from `target`.
    pub fn withdraw(&mut self, target: Target, prefix: IpNet) {
        self.with_ops(target, |ops| ops.withdraw.push(Nlri::new(prefix)));
    }

    /// Announces one path of `nlri.prefix`, identified by `nlri.path_id`, to an ADD-PATH
    /// target (RFC 7911).
    pub fn announce_path(&mut self, target: Target, nlri: Nlri, attrs: &Attrs) {
        self.with_ops(target, |ops| ops.announce(nlri, attrs));
    }

    /// Withdraws one path of `nlri.prefix` from an ADD-PATH target (RFC 7911).
    pub fn withdraw_path(&mut self, target: Target, nlri: Nlri) {
        self.with_ops(target, |ops| ops.withdraw.push(nlri));
    }

    /// Sends End-of-RIB for `family` to `target` after everything else queued for it (RFC 4724 §2).
    pub fn end_of_rib(&mut self, target: Target, family: Family) {
        self.with_ops(target, |ops| ops.end_of_rib.push(family));
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The queued work as UPDATE messages, per target in the order targets were first used:
    /// withdrawals first, then announcements grouped by attributes, then End-of-RIB markers.
    pub fn finish(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        self.index.clear();
        self.last = None;
        for (target, ops) in std::mem::take(&mut self.ops) {
            push_withdrawals(&mut out, target, ops.withdraw);
            for (attrs, prefixes) in ops.announce {
                push_announcements(&mut out, target, &attrs, prefixes);
            }
            for family in ops.end_of_rib {
                out.push(Output {
                    target,
                    update: Update::end_of_rib(family),
                });
            }
        }
        out
    }
}

/// NLRI lists of at most `max` prefixes, filled in order, each allocated at its final size.
struct Lists {
    lists: Vec<Vec<Nlri>>,
    /// Prefixes still to come.
    left: usize,
    max: usize,
}

impl Lists {
    fn new(total: usize, max: usize) -> Lists {
        Lists {
            lists: Vec::with_capacity(total.div_ceil(max)),
            left: total,
            max,
        }
    }

    fn push(&mut self, nlri: Nlri) {
        match self.lists.last_mut() {
            Some(list) if list.len() < self.max => list.push(nlri),
            _ => {
                let mut list = Vec::with_capacity(self.left.clamp(1, self.max));
                list.push(nlri);
                self.lists.push(list);
            }
        }
        self.left = self.left.saturating_sub(1);
    }
}

/// The IPv4 and the IPv6 prefixes, each in lists of at most [`IPV4_PER_UPDATE`] and
/// [`IPV6_PER_UPDATE`] prefixes, in the order given.
fn split(prefixes: Vec<Nlri>) -> (Vec<Vec<Nlri>>, Vec<Vec<Nlri>>) {
    let n4 = prefixes
        .iter()
        .filter(|p| matches!(p.prefix, IpNet::V4(_)))
        .count();
    let mut v4 = Lists::new(n4, IPV4_PER_UPDATE);
    let mut v6 = Lists::new(prefixes.len() - n4, IPV6_PER_UPDATE);
    for p in prefixes {
        match p.prefix {
            IpNet::V4(_) => v4.push(p),
            IpNet::V6(_) => v6.push(p),
        }
    }
    (v4.lists, v6.lists)
}

fn push_withdrawals(out: &mut Vec<Output>, target: Target, prefixes: Vec<Nlri>) {
    let (v4, v6) = split(prefixes);
    for nlri in v4 {
        out.push(Output {
            target,
            update: Update {
                withdrawn: nlri,
                ..Update::default()
            },
        });
    }
    for nlri in v6 {
        out.push(Output {
            target,
            update: Update {
                mp_unreach: Some(MpUnreach {
                    family: Family::IPV6_UNICAST,
                    nlri,
                }),
                ..Update::default()
            },
        });
    }
}

fn push_announcements(out: &mut Vec<Output>, target: Target, attrs: &Attrs, prefixes: Vec<Nlri>) {
    let Some(next_hop) = attrs.next_hop else {
        return;
    };
    let (v4, v6) = split(prefixes);
    if !v4.is_empty() {
        let mut pa = attrs.attrs.clone();
        match next_hop {
            NextHop::V4(a) => {
                pa.next_hop = Some(a);
                for nlri in v4 {
                    out.push(Output {
                        target,
                        update: Update {
                            attrs: pa.clone(),
                            nlri,
                            ..Update::default()
                        },
                    });
                }
            }
            NextHop::V6 { .. } => {
                // IPv4 prefixes over an IPv6 next hop need RFC 8950; not supported.
            }
        }
    }
    for nlri in v6 {
        out.push(Output {
            target,
            update: Update {
                attrs: attrs.attrs.clone(),
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop,
                    nlri,
                }),
                ..Update::default()
            },
        });
    }
}
