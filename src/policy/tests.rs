#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use thin_vec::thin_vec;

use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The policy of a node with block 198.18.4.0/26 in pool 198.18.0.0/16, a disabled pool
/// 198.19.0.0/16, a service range 203.0.113.0/24 and a community on the whole pool.
fn calico_node() -> ExportPolicy {
    ExportPolicy {
        aggregate: vec![net("198.18.4.0/26")],
        no_export: vec![net("198.19.0.0/16")],
        accept_within: vec![net("198.18.0.0/16"), net("203.0.113.0/24")],
        communities: vec![CommunityRule {
            prefix: net("198.18.0.0/16"),
            communities: vec![Community(65000 << 16 | 100)],
            large_communities: vec![],
        }],
    }
}

#[test]
fn a_local_block_is_exported_with_its_pool_communities() {
    let add = calico_node().evaluate(net("198.18.4.0/26")).unwrap();
    assert_eq!(add.communities, [Community(65000 << 16 | 100)]);
}

#[test]
fn a_workload_route_inside_a_local_block_is_not_exported() {
    assert_eq!(
        calico_node().evaluate(net("198.18.4.7/32")),
        Err(Error::InsideLocalBlock(net("198.18.4.0/26")))
    );
}

#[test]
fn another_nodes_block_and_a_borrowed_address_in_the_pool_are_exported() {
    let p = calico_node();
    assert!(p.evaluate(net("198.18.9.64/26")).is_ok());
    assert!(p.evaluate(net("198.18.9.70/32")).is_ok());
}

#[test]
fn routes_inside_a_pool_with_disable_bgp_export_are_never_exported() {
    let mut p = calico_node();
    // Even when a rule would accept it, and even the pool itself.
    p.accept_within.push(net("198.19.0.0/16"));
    assert_eq!(
        p.evaluate(net("198.19.1.0/26")),
        Err(Error::DisabledPool(net("198.19.0.0/16")))
    );
    assert!(p.evaluate(net("198.19.0.0/16")).is_err());
}

#[test]
fn routes_outside_every_pool_and_service_range_are_not_exported() {
    let p = calico_node();
    assert_eq!(p.evaluate(net("0.0.0.0/0")), Err(Error::NotCalico));
    assert_eq!(p.evaluate(net("198.51.100.0/24")), Err(Error::NotCalico));
    // A supernet of a pool is not inside it.
    assert_eq!(p.evaluate(net("198.18.0.0/15")), Err(Error::NotCalico));
}

#[test]
fn a_service_range_is_exported_without_the_pool_communities() {
    let add = calico_node().evaluate(net("203.0.113.0/24")).unwrap();
    assert!(add.is_empty());
}

#[test]
fn communities_of_every_matching_rule_are_added_once() {
    let mut p = calico_node();
    p.communities.push(CommunityRule {
        prefix: net("198.18.4.0/24"),
        communities: vec![Community(65000 << 16 | 100), Community(65000 << 16 | 200)],
        large_communities: vec![LargeCommunity {
            global: 65000,
            local1: 1,
            local2: 2,
        }],
    });
    let add = p.evaluate(net("198.18.4.0/26")).unwrap();
    assert_eq!(
        add.communities,
        [Community(65000 << 16 | 100), Community(65000 << 16 | 200)]
    );
    assert_eq!(add.large_communities.len(), 1);
    let mut attrs = crate::wire::PathAttributes {
        communities: thin_vec![Community(65000 << 16 | 200)],
        ..Default::default()
    };
    apply(&mut attrs, &add);
    assert_eq!(
        attrs.communities,
        [Community(65000 << 16 | 200), Community(65000 << 16 | 100)]
    );
    assert_eq!(attrs.large_communities.len(), 1);
}

#[test]
fn the_kernel_policy_rejects_routes_inside_its_prefixes_only() {
    let k = KernelPolicy {
        reject: vec![net("198.18.0.0/16"), net("2001:db8:1::/48")],
    };
    assert!(!k.allows(&net("198.18.4.0/26")));
    assert!(!k.allows(&net("198.18.0.0/16")));
    assert!(!k.allows(&net("2001:db8:1:2::/64")));
    assert!(k.allows(&net("198.19.0.0/26")));
    assert!(k.allows(&net("0.0.0.0/0")));
}
