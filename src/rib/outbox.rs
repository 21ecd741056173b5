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

/// Prefixes of one family each: they go out in different messages (IPv6 in MP_REACH_NLRI and
/// MP_UNREACH_NLRI), so they are kept apart from the start.
#[derive(Debug, Default)]
struct ByFamily {
    v4: Vec<Nlri>,
    v6: Vec<Nlri>,
}

impl ByFamily {
    fn push(&mut self, nlri: Nlri) {
        match nlri.prefix {
            IpNet::V4(_) => self.v4.push(nlri),
            IpNet::V6(_) => self.v6.push(nlri),
        }
    }
}

#[derive(Debug, Default)]
struct Ops {
    withdraw: ByFamily,
    announce: Vec<(Attrs, ByFamily)>,
    by_attrs: HashMap<usize, usize, IdHash>,
    /// The entry of `announce` used last, by attributes address: most announcements in a row
    /// share attributes (the prefixes of one UPDATE), and this saves the hash lookup for them.
    last_attrs: Option<(usize, usize)>,
    end_of_rib: Vec<Family>,
}

impl Ops {
    #[inline]
    fn announce(&mut self, prefix: Nlri, attrs: &Attrs) {
        // `announce` holds a clone of every `Attrs` keyed here, so no address is reused while
        // the outbox lives.
        let key = Arc::as_ptr(attrs) as usize;
        let i = match self.last_attrs {
            Some((k, i)) if k == key => i,
            _ => self.attrs_index(key, attrs),
        };
        if let Some((_, lists)) = self.announce.get_mut(i) {
            lists.push(prefix);
        }
    }

    /// The index in `announce` of the entry for `attrs` (at address `key`), created when new;
    /// remembered as the last one used.
    fn attrs_index(&mut self, key: usize, attrs: &Attrs) -> usize {
        let i = match self.by_attrs.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.announce.len();
                self.by_attrs.insert(key, i);
                self.announce.push((attrs.clone(), ByFamily::default()));
                i
            }
        };
        self.last_attrs = Some((key, i));
        i
    }
}

/// One list of an [`Outbox`], from [`Outbox::slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Index of the target's work in `Outbox::ops`.
    ops: usize,
    /// Index of the attributes' entry in `Ops::announce`; `None` for withdrawals.
    announce: Option<usize>,
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
    #[inline]
    fn with_ops(&mut self, target: Target, f: impl FnOnce(&mut Ops)) {
        let i = match self.last {
            Some((t, i)) if t == target => i,
            _ => self.target_index(target),
        };
        if let Some((_, ops)) = self.ops.get_mut(i) {
            f(ops);
        }
    }

    /// The index in `ops` of `target`'s work, created when new; remembered as the last one used.
    fn target_index(&mut self, target: Target) -> usize {
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

    /// The list that [`Outbox::push`] adds prefixes to: announcements to `target` with `attrs`,
    /// or withdrawals from `target` when `attrs` is `None`. Valid until [`Outbox::finish`].
    pub fn slot(&mut self, target: Target, attrs: Option<&Attrs>) -> Slot {
        let ops = match self.last {
            Some((t, i)) if t == target => i,
            _ => self.target_index(target),
        };
        let announce = match (attrs, self.ops.get_mut(ops)) {
            (Some(a), Some((_, o))) => {
                let key = Arc::as_ptr(a) as usize;
                Some(match o.last_attrs {
                    Some((k, i)) if k == key => i,
                    _ => o.attrs_index(key, a),
                })
            }
            _ => None,
        };
        Slot { ops, announce }
    }

    /// Queues `prefix` (host bits clear, a Loc-RIB key) in `slot`: what
    /// [`Outbox::announce`] or [`Outbox::withdraw`] does for the slot's target and attributes,
    /// without finding their list again.
    pub fn push(&mut self, slot: Slot, prefix: IpNet) {
        debug_assert_eq!(prefix, prefix.trunc());
        let nlri = Nlri {
            path_id: None,
            prefix,
        };
        let Some((_, ops)) = self.ops.get_mut(slot.ops) else {
            return;
        };
        match slot.announce {
            Some(i) => {
                if let Some((_, lists)) = ops.announce.get_mut(i) {
                    lists.push(nlri);
                }
            }
            None => ops.withdraw.push(nlri),
        }
    }

    /// Announces `prefix` with `attrs` to `target`. `prefix` has its host bits clear (a
    /// Loc-RIB key), so it goes out as it is.
    pub fn announce(&mut self, target: Target, prefix: IpNet, attrs: &Attrs) {
        let slot = self.slot(target, Some(attrs));
        self.push(slot, prefix);
    }

    /// Withdraws `prefix` (host bits clear, a Loc-RIB key) from `target`.
    pub fn withdraw(&mut self, target: Target, prefix: IpNet) {
        let slot = self.slot(target, None);
        self.push(slot, prefix);
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

/// `list` cut into lists of at most `max` prefixes, in order. Only the prefixes after the first
/// `max` are copied: the first list keeps `list`'s allocation (shrunk when much larger).
fn chunks(mut list: Vec<Nlri>, max: usize) -> Vec<Vec<Nlri>> {
    let max = max.max(1);
    let mut out = Vec::with_capacity(list.len().div_ceil(max));
    while list.len() > max {
        let at = (list.len() - 1) / max * max;
        out.push(list.split_off(at));
    }
    if !list.is_empty() {
        if list.capacity() > 2 * max {
            list.shrink_to_fit();
        }
        out.push(list);
    }
    out.reverse();
    out
}

/// The IPv4 and the IPv6 prefixes, each in lists of at most [`IPV4_PER_UPDATE`] and
/// [`IPV6_PER_UPDATE`] prefixes, in the order given.
fn split(prefixes: ByFamily) -> (Vec<Vec<Nlri>>, Vec<Vec<Nlri>>) {
    (
        chunks(prefixes.v4, IPV4_PER_UPDATE),
        chunks(prefixes.v6, IPV6_PER_UPDATE),
    )
}

fn push_withdrawals(out: &mut Vec<Output>, target: Target, prefixes: ByFamily) {
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

fn push_announcements(out: &mut Vec<Output>, target: Target, attrs: &Attrs, prefixes: ByFamily) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn nlris(n: u32) -> Vec<Nlri> {
        (0..n)
            .map(|i| {
                let a = std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8));
                Nlri::new(IpNet::V4(ipnet::Ipv4Net::new(a, 24).unwrap()))
            })
            .collect()
    }

    #[test]
    fn chunks_keep_the_order_and_hold_at_most_max_each() {
        for n in [0, 1, 5, 6, 7, 12, 13, 100] {
            let list = nlris(n);
            let got = chunks(list.clone(), 6);
            assert_eq!(got.len(), (n as usize).div_ceil(6), "{n}");
            assert!(got.iter().all(|c| !c.is_empty() && c.len() <= 6), "{n}");
            assert!(got.iter().rev().skip(1).all(|c| c.len() == 6), "{n}");
            assert_eq!(got.concat(), list, "{n}");
        }
    }

    #[test]
    fn a_slot_queues_what_announce_and_withdraw_queue() {
        let attrs: Attrs = Arc::new(super::super::RouteAttrs {
            next_hop: Some(NextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, 1))),
            ..Default::default()
        });
        let target = Target::Peer(3);
        let prefixes: Vec<IpNet> = nlris(4).into_iter().map(|n| n.prefix).collect();
        let mut by_call = Outbox::new();
        by_call.announce(target, prefixes[0], &attrs);
        by_call.withdraw(target, prefixes[1]);
        by_call.announce(target, prefixes[2], &attrs);
        by_call.withdraw(target, prefixes[3]);
        let mut by_slot = Outbox::new();
        let (a, w) = (
            by_slot.slot(target, Some(&attrs)),
            by_slot.slot(target, None),
        );
        by_slot.push(a, prefixes[0]);
        by_slot.push(w, prefixes[1]);
        by_slot.push(a, prefixes[2]);
        by_slot.push(w, prefixes[3]);
        assert_eq!(by_call.finish(), by_slot.finish());
    }
}
