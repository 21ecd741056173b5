#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;

use super::super::{reconcile, Fib, MemoryFib};
use super::*;

const OURS: u8 = 12;
const MAIN: u32 = 254;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn settings(tunnels: Vec<Tunnel>) -> Settings {
    Settings {
        table: MAIN,
        protocol: OURS,
        metric: 0,
        tunnels,
        reject: Default::default(),
    }
}

fn via(prefix: &str, gw: &str, protocol: u8) -> KernelRoute {
    KernelRoute {
        prefix: net(prefix),
        table: MAIN,
        protocol,
        metric: 0,
        action: Action::Unicast(vec![Hop {
            gateway: Some(ip(gw)),
            device: Some("eth0".into()),
            onlink: false,
        }]),
    }
}

fn want(hops: &[&str]) -> Want {
    Want {
        next_hops: hops.iter().map(|h| ip(h)).collect(),
        blackhole: false,
    }
}

fn ipip(mode: TunnelMode) -> Tunnel {
    Tunnel {
        pool: net("203.0.113.0/24"),
        mode,
        device: "tunl0".into(),
    }
}

#[test]
fn an_adopted_route_equal_to_the_wanted_one_causes_no_operation() {
    let mut s = Sync::new(
        settings(vec![]),
        vec![via("203.0.113.0/26", "198.18.0.2", OURS)],
    );
    assert_eq!(s.adopted(), 1);
    assert!(s
        .set(net("203.0.113.0/26"), want(&["198.18.0.2"]))
        .is_empty());
    assert_eq!(s.adopted(), 0);
    assert!(s.settle().is_empty(), "a wanted route is never deleted");
}

#[test]
fn an_adopted_route_with_another_next_hop_is_replaced_in_place_not_deleted() {
    let mut s = Sync::new(
        settings(vec![]),
        vec![via("203.0.113.0/26", "198.18.0.2", OURS)],
    );
    let ops = s.set(net("203.0.113.0/26"), want(&["198.18.0.3"]));
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Replace(r) if r.prefix == net("203.0.113.0/26")));
}

#[test]
fn an_unwanted_adopted_route_stays_until_settle_and_is_deleted_then() {
    let mut s = Sync::new(
        settings(vec![]),
        vec![via("203.0.113.64/26", "198.18.0.2", OURS)],
    );
    assert!(s.set(net("203.0.113.64/26"), Want::none()).is_empty());
    assert_eq!(s.installed(), 1);
    let ops = s.settle();
    assert_eq!(
        ops,
        vec![Op::Delete(via("203.0.113.64/26", "198.18.0.2", OURS))]
    );
    assert!(s.is_settled());
}

#[test]
fn routes_of_other_protocols_are_never_adopted_nor_deleted() {
    let felix = via("203.0.113.5/32", "198.18.0.9", 80);
    let mut s = Sync::new(settings(vec![]), vec![felix]);
    assert_eq!((s.adopted(), s.installed()), (0, 0));
    assert!(s.settle().is_empty());
}

#[test]
fn a_route_installed_in_this_run_and_then_withdrawn_is_deleted_at_once() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.0.2"]));
    assert!(matches!(&ops[..], [Op::Add(_)]));
    let ops = s.set(net("198.51.100.0/24"), Want::none());
    assert!(matches!(&ops[..], [Op::Delete(r)] if r.prefix == net("198.51.100.0/24")));
}

#[test]
fn a_blackhole_want_is_a_blackhole_route_of_our_protocol() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    let ops = s.set(
        net("203.0.113.0/26"),
        Want {
            next_hops: vec![],
            blackhole: true,
        },
    );
    let [Op::Add(r) | Op::Replace(r)] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert_eq!((r.action.clone(), r.protocol), (Action::Blackhole, OURS));
}

#[test]
fn two_next_hops_make_one_ecmp_route() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.1.2", "198.18.0.2"]));
    let [Op::Add(r) | Op::Replace(r)] = &ops[..] else {
        panic!("{ops:?}")
    };
    let Action::Unicast(hops) = &r.action else {
        panic!()
    };
    assert_eq!(hops.len(), 2);
}

#[test]
fn an_always_ipip_pool_routes_via_the_tunnel_device_onlink() {
    let mut s = Sync::new(settings(vec![ipip(TunnelMode::Always)]), vec![]);
    let ops = s.set(net("203.0.113.64/26"), want(&["198.18.0.2"]));
    let [Op::Add(r) | Op::Replace(r)] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert_eq!(
        r.action,
        Action::Unicast(vec![Hop {
            gateway: Some(ip("198.18.0.2")),
            device: Some("tunl0".into()),
            onlink: true
        }])
    );
    // Outside the pool: a plain route.
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.0.2"]));
    let [Op::Add(r) | Op::Replace(r)] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert!(matches!(&r.action, Action::Unicast(h) if !h[0].onlink && h[0].device.is_none()));
}

#[test]
fn cross_subnet_tunnels_only_next_hops_outside_our_subnets_and_follows_address_changes() {
    let mut s = Sync::new(settings(vec![ipip(TunnelMode::CrossSubnet)]), vec![]);
    s.set_local_addresses(vec![net("198.18.0.1/24")]);
    let same = s.set(net("203.0.113.0/26"), want(&["198.18.0.2"]));
    assert!(
        matches!(&same[..], [Op::Add(r) | Op::Replace(r)] if matches!(&r.action, Action::Unicast(h) if !h[0].onlink))
    );
    let other = s.set(net("203.0.113.64/26"), want(&["198.18.9.2"]));
    assert!(
        matches!(&other[..], [Op::Add(r) | Op::Replace(r)] if matches!(&r.action, Action::Unicast(h) if h[0].onlink))
    );
    // The node moves to another subnet: the first route now needs the tunnel.
    let ops = s.set_local_addresses(vec![net("198.18.9.1/24")]);
    assert_eq!(ops.len(), 2, "{ops:?}");
}

#[test]
fn a_next_hop_that_is_our_own_address_is_not_installed() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    s.set_local_addresses(vec![net("198.18.0.1/24")]);
    assert!(s
        .set(net("198.51.100.0/24"), want(&["198.18.0.1"]))
        .is_empty());
}

#[test]
fn a_failed_replace_is_tried_again_on_the_next_change() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.0.2"]));
    s.applied(&Applied {
        done: 0,
        failed: vec![(ops[0].clone(), "ENETUNREACH".into())],
    });
    assert_eq!(s.installed(), 0);
    assert_eq!(
        s.set(net("198.51.100.0/24"), want(&["198.18.0.2"])).len(),
        1
    );
}

#[test]
fn learn_rules_match_cali_devices_protocols_and_never_our_own_routes() {
    let mut r = via("203.0.113.7/32", "198.18.0.2", 3);
    if let Action::Unicast(h) = &mut r.action {
        h[0].device = Some("cali12345".into());
        h[0].gateway = None;
    }
    let cali = LearnRule {
        interface: Some("cali*".into()),
        ..LearnRule::default()
    };
    assert!(learns(std::slice::from_ref(&cali), &r, OURS));
    let boot_only = LearnRule {
        protocol: Some(3),
        within: Some(net("198.51.100.0/24")),
        ..LearnRule::default()
    };
    assert!(!learns(std::slice::from_ref(&boot_only), &r, OURS));
    r.protocol = OURS;
    assert!(
        !learns(&[cali], &r, OURS),
        "our own routes are never learned"
    );
}

#[test]
fn reconcile_touches_only_our_protocol_and_only_what_differs() {
    let kernel = vec![
        via("198.51.100.0/24", "198.18.0.2", OURS),
        via("203.0.113.0/26", "198.18.0.2", OURS),
        via("203.0.113.128/25", "198.18.0.2", 4),
    ];
    let mut wanted = HashMap::new();
    wanted.insert(
        net("198.51.100.0/24"),
        via("198.51.100.0/24", "198.18.0.2", OURS),
    );
    wanted.insert(
        net("203.0.113.64/26"),
        via("203.0.113.64/26", "198.18.0.3", OURS),
    );
    let ops = reconcile(&wanted, &kernel, MAIN, OURS);
    assert_eq!(
        ops,
        vec![
            Op::Delete(via("203.0.113.0/26", "198.18.0.2", OURS)),
            Op::Add(via("203.0.113.64/26", "198.18.0.3", OURS)),
        ]
    );
}

#[tokio::test]
async fn the_memory_fib_applies_replace_and_delete() {
    let mut f = MemoryFib::default();
    let r = via("198.51.100.0/24", "198.18.0.2", OURS);
    let a = f.apply(vec![Op::Add(r.clone())]).await;
    assert_eq!(a.done, 1);
    assert_eq!(f.dump(MAIN).await.unwrap(), vec![r.clone()]);
    f.apply(vec![Op::Delete(r)]).await;
    assert!(f.dump(MAIN).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_add_never_overwrites_another_protocols_route() {
    let mut f = MemoryFib::default();
    let felix = via("203.0.113.128/26", "198.18.0.1", 4);
    f.routes.insert((MAIN, felix.prefix), felix.clone());
    let mut s = Sync::new(settings(vec![]), f.dump(MAIN).await.unwrap());
    let ops = s.set(net("203.0.113.128/26"), want(&["198.18.0.2"]));
    assert!(matches!(&ops[..], [Op::Add(_)]), "{ops:?}");
    let applied = f.apply(ops).await;
    assert_eq!(applied.failed.len(), 1);
    s.applied(&applied);
    assert_eq!(f.routes.get(&(MAIN, felix.prefix)), Some(&felix));
}

#[test]
fn an_adopted_route_with_another_metric_goes_at_settle_even_when_the_prefix_is_wanted() {
    let mut old = via("198.51.100.0/24", "198.18.0.2", OURS);
    old.metric = 32;
    let mut s = Sync::new(settings(vec![]), vec![old.clone()]);
    assert_eq!(s.adopted(), 1);
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.0.2"]));
    assert!(
        matches!(&ops[..], [Op::Add(_)]),
        "ours has metric 0: {ops:?}"
    );
    assert_eq!(s.settle(), vec![Op::Delete(old)]);
}

#[test]
fn a_failed_replace_is_replaced_again_even_when_nothing_changed() {
    let mut s = Sync::new(
        settings(vec![]),
        vec![via("198.51.100.0/24", "198.18.0.2", OURS)],
    );
    let ops = s.set(net("198.51.100.0/24"), want(&["198.18.0.3"]));
    s.applied(&Applied {
        done: 0,
        failed: vec![(ops[0].clone(), "ENOBUFS".into())],
    });
    let again = s.set(net("198.51.100.0/24"), want(&["198.18.0.3"]));
    assert!(matches!(&again[..], [Op::Replace(_)]), "{again:?}");
}

#[test]
fn a_route_inside_a_reject_prefix_is_never_programmed_and_an_installed_one_goes() {
    let mut s = Sync::new(
        Settings {
            reject: crate::policy::KernelPolicy {
                reject: vec![net("198.19.0.0/16")],
            },
            ..settings(vec![])
        },
        vec![via("198.19.4.0/26", "198.18.0.2", OURS)],
    );
    // Adopted from a previous run but now rejected: not wanted, so gone at settle.
    assert!(s
        .set(net("198.19.4.0/26"), want(&["198.18.0.2"]))
        .is_empty());
    assert!(s
        .set(
            net("198.19.5.0/26"),
            Want {
                next_hops: vec![],
                blackhole: true
            }
        )
        .is_empty());
    assert_eq!(s.settle().len(), 1);
    assert_eq!(
        s.set(net("198.18.4.0/26"), want(&["198.18.0.2"])).len(),
        1,
        "outside the reject prefix"
    );
}

#[test]
fn changing_the_rules_reprograms_exactly_the_routes_they_cover() {
    let mut s = Sync::new(settings(vec![]), vec![]);
    s.settle();
    assert_eq!(s.set(net("203.0.113.0/26"), want(&["198.18.0.2"])).len(), 1);
    assert_eq!(s.set(net("198.18.9.0/26"), want(&["198.18.0.3"])).len(), 1);

    // The pool becomes IP-in-IP Always: its route is replaced through tunl0, the other stays.
    let ops = s.set_rules(vec![ipip(TunnelMode::Always)], Default::default());
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Replace(r)
        if r.prefix == net("203.0.113.0/26")
        && matches!(&r.action, Action::Unicast(h) if h[0].device.as_deref() == Some("tunl0"))));

    // Then VXLAN (Felix's): its route is deleted.
    let reject = crate::policy::KernelPolicy {
        reject: vec![net("203.0.113.0/24")],
    };
    let ops = s.set_rules(vec![], reject);
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Delete(r) if r.prefix == net("203.0.113.0/26")));

    // Back to no encapsulation: the route (still wanted) comes back, direct.
    let ops = s.set_rules(vec![], Default::default());
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::Add(r)
        if r.prefix == net("203.0.113.0/26")
        && matches!(&r.action, Action::Unicast(h) if h[0].device.is_none())));
    assert!(s.set_rules(vec![], Default::default()).is_empty());
}
