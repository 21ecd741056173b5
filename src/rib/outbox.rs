//! The outbox: what a RIB operation wants sent, collected per target and packed into UPDATEs
//! (many prefixes with the same attributes in one message) when the operation ends.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use super::attrs::Attrs;
use super::{GroupId, PeerId};
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
    withdraw: Vec<IpNet>,
    announce: Vec<(Attrs, Vec<IpNet>)>,
    by_attrs: HashMap<usize, usize>,
    end_of_rib: Vec<Family>,
}

/// Collects announcements and withdrawals per target during one RIB operation.
///
/// Invariant kept by the [`Rib`](super::Rib): one operation changes each prefix's best path
/// at most once, so a target never gets two conflicting entries for one prefix and the order
/// in which [`Outbox::finish`] emits withdrawals and announcements does not matter.
#[derive(Debug, Default)]
pub struct Outbox {
    ops: HashMap<Target, Ops>,
    order: Vec<Target>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    fn ops(&mut self, target: Target) -> &mut Ops {
        let order = &mut self.order;
        self.ops.entry(target).or_insert_with(|| {
            order.push(target);
            Ops::default()
        })
    }

    /// Announces `prefix` with `attrs` to `target`.
    pub fn announce(&mut self, target: Target, prefix: IpNet, attrs: &Attrs) {
        let ops = self.ops(target);
        let key = Arc::as_ptr(attrs) as usize;
        match ops.by_attrs.get(&key) {
            Some(&i) => {
                if let Some((_, list)) = ops.announce.get_mut(i) {
                    list.push(prefix);
                }
            }
            None => {
                ops.by_attrs.insert(key, ops.announce.len());
                ops.announce.push((attrs.clone(), vec![prefix]));
            }
        }
    }

    /// Withdraws `prefix` from `target`.
    pub fn withdraw(&mut self, target: Target, prefix: IpNet) {
        self.ops(target).withdraw.push(prefix);
    }

    /// Sends End-of-RIB for `family` to `target` after everything else queued for it (RFC 4724 §2).
    pub fn end_of_rib(&mut self, target: Target, family: Family) {
        self.ops(target).end_of_rib.push(family);
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The queued work as UPDATE messages, per target in the order targets were first used:
    /// withdrawals first, then announcements grouped by attributes, then End-of-RIB markers.
    pub fn finish(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        for target in std::mem::take(&mut self.order) {
            let Some(ops) = self.ops.remove(&target) else {
                continue;
            };
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
        self.ops.clear();
        out
    }
}

fn split(prefixes: Vec<IpNet>) -> (Vec<Nlri>, Vec<Nlri>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in prefixes {
        match p {
            IpNet::V4(_) => v4.push(Nlri::new(p)),
            IpNet::V6(_) => v6.push(Nlri::new(p)),
        }
    }
    (v4, v6)
}

fn push_withdrawals(out: &mut Vec<Output>, target: Target, prefixes: Vec<IpNet>) {
    let (v4, v6) = split(prefixes);
    for chunk in v4.chunks(IPV4_PER_UPDATE) {
        out.push(Output {
            target,
            update: Update {
                withdrawn: chunk.to_vec(),
                ..Update::default()
            },
        });
    }
    for chunk in v6.chunks(IPV6_PER_UPDATE) {
        out.push(Output {
            target,
            update: Update {
                mp_unreach: Some(MpUnreach {
                    family: Family::IPV6_UNICAST,
                    nlri: chunk.to_vec(),
                }),
                ..Update::default()
            },
        });
    }
}

fn push_announcements(out: &mut Vec<Output>, target: Target, attrs: &Attrs, prefixes: Vec<IpNet>) {
    let (v4, v6) = split(prefixes);
    let Some(next_hop) = attrs.next_hop else {
        return;
    };
    if !v4.is_empty() {
        let mut pa = attrs.attrs.clone();
        match next_hop {
            NextHop::V4(a) => {
                pa.next_hop = Some(a);
                for chunk in v4.chunks(IPV4_PER_UPDATE) {
                    out.push(Output {
                        target,
                        update: Update {
                            attrs: pa.clone(),
                            nlri: chunk.to_vec(),
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
    for chunk in v6.chunks(IPV6_PER_UPDATE) {
        out.push(Output {
            target,
            update: Update {
                attrs: attrs.attrs.clone(),
                mp_reach: Some(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop,
                    nlri: chunk.to_vec(),
                }),
                ..Update::default()
            },
        });
    }
}
