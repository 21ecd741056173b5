use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde_json::{json, Value};

use super::golden_tests::{load, testdata, FIXTURES};
use super::model::{IPAM_HOST_PREFIX, RESOURCE_PREFIX};
use super::*;
use crate::config::{self, AddPaths};
use crate::fib::sync::TunnelMode;
use crate::wire::Family;

/// A datastore from `(short key, JSON)`: `nodes/x`, `bgppeers/x`, … are resources, `host/…` are
/// block affinities. Every value must load.
fn datastore(items: &[(&str, Value)]) -> Datastore {
    let pairs = items.iter().map(|(k, v)| {
        let key = match k.strip_prefix("host/") {
            Some(rest) => format!("{IPAM_HOST_PREFIX}{rest}"),
            None => format!("{RESOURCE_PREFIX}{k}"),
        };
        (key, v.to_string().into_bytes())
    });
    let (ds, errors) = from_kv(pairs);
    assert!(errors.is_empty(), "{errors:?}");
    ds
}

fn node(v4: &str) -> Value {
    json!({"spec": {"bgp": {"ipv4Address": v4}}})
}

fn derive_ok(ds: &Datastore, node: &str) -> Derived {
    derive(ds, node, &Env::default()).unwrap_or_else(|e| panic!("derive {node}: {e}"))
}

fn names(d: &Derived) -> Vec<&str> {
    d.peers.iter().map(|p| p.name.as_str()).collect()
}

fn net(s: &str) -> IpNet {
    s.parse().expect("net")
}

#[test]
fn derive_fails_for_a_node_that_is_not_in_the_datastore() {
    let ds = datastore(&[("nodes/a", node("10.0.0.1/24"))]);
    let e = derive(&ds, "b", &Env::default()).expect_err("unknown");
    assert_eq!(e, Error::UnknownNode("b".into()));
    assert!(e.to_string().contains("nodes/b"));
}

#[test]
fn a_node_without_ipv4_needs_calico_router_id_and_then_peers_over_ipv6_only() {
    let ds = datastore(&[
        (
            "nodes/a",
            json!({"spec": {"bgp": {"ipv6Address": "fd00::1/64"}}}),
        ),
        (
            "nodes/b",
            json!({"spec": {"bgp": {"ipv4Address": "10.0.0.2/24", "ipv6Address": "fd00::2/64"}}}),
        ),
    ]);
    let e = derive(&ds, "a", &Env::default()).expect_err("no router id");
    assert_eq!(e, Error::NoRouterId("a".into()));
    let env = Env {
        router_id: Some("192.0.2.7".into()),
        ..Env::default()
    };
    let d = derive(&ds, "a", &env).expect("derives");
    assert_eq!(d.global.router_id, Ipv4Addr::new(192, 0, 2, 7));
    assert_eq!(names(&d), ["Mesh_fd00__2"]);
    assert_eq!(d.peers[0].families, [Family::IPV6_UNICAST]);
    // b sees a over IPv6 only; its IPv4 mesh has nobody.
    assert_eq!(names(&derive_ok(&ds, "b")), ["Mesh_fd00__1"]);
}

#[test]
fn calico_router_id_sets_the_router_id_and_a_bad_one_is_an_error() {
    let ds = datastore(&[("nodes/kube-master", node("10.0.0.1/24"))]);
    let with = |r: &str| {
        derive(
            &ds,
            "kube-master",
            &Env {
                router_id: Some(r.into()),
                ..Env::default()
            },
        )
    };
    // SHA-256("kube-master") starts 25 79 212 8.
    assert_eq!(
        with("hash").expect("hash").global.router_id,
        Ipv4Addr::new(25, 79, 212, 8)
    );
    assert_eq!(
        with("1.2.3.4").expect("address").global.router_id,
        Ipv4Addr::new(1, 2, 3, 4)
    );
    assert_eq!(
        with("fd00::1").expect_err("v6"),
        Error::BadRouterId("fd00::1".into())
    );
}

#[test]
fn the_as_number_comes_from_the_node_then_the_global_configuration_then_64512() {
    let mut items = vec![
        ("nodes/a", node("10.0.0.1/24")),
        (
            "nodes/b",
            json!({"spec": {"bgp": {"ipv4Address": "10.0.0.2/24", "asNumber": 65002}}}),
        ),
    ];
    let d = derive_ok(&datastore(&items), "a");
    assert_eq!(d.global.asn, DEFAULT_AS);
    assert_eq!(d.peers[0].asn, 65002);
    assert!(!d.peers[0].is_ibgp());
    items.push((
        "bgpconfigurations/default",
        json!({"spec": {"asNumber": 65000}}),
    ));
    let ds = datastore(&items);
    assert_eq!(derive_ok(&ds, "a").global.asn, 65000);
    assert_eq!(derive_ok(&ds, "b").global.asn, 65002);
    let reserved = datastore(&[(
        "nodes/a",
        json!({"spec": {"bgp": {"ipv4Address": "10.0.0.1/24", "asNumber": 23456}}}),
    )]);
    assert!(matches!(
        derive(&reserved, "a", &Env::default()),
        Err(Error::BadAs { asn: 23456, .. })
    ));
}

#[test]
fn a_route_reflector_cluster_id_that_is_not_ipv4_is_an_error() {
    let ds = datastore(&[(
        "nodes/a",
        json!({"spec": {"bgp": {"ipv4Address": "10.0.0.1/24", "routeReflectorClusterID": "rr-1"}}}),
    )]);
    assert_eq!(
        derive(&ds, "a", &Env::default()).expect_err("bad id"),
        Error::BadClusterId {
            node: "a".into(),
            value: "rr-1".into()
        }
    );
}

#[test]
fn route_reflectors_are_left_out_of_the_mesh_and_leave_it_themselves() {
    let ds = datastore(&[
        ("nodes/a", node("10.0.0.1/24")),
        ("nodes/b", node("10.0.0.2/24")),
        (
            "nodes/rr",
            json!({"spec": {"bgp": {"ipv4Address": "10.0.0.9/24", "routeReflectorClusterID": "1.1.1.1"}}}),
        ),
    ]);
    let a = derive_ok(&ds, "a");
    assert_eq!(names(&a), ["Mesh_10_0_0_2"]);
    assert!(a.global.node_to_node_mesh);
    let rr = derive_ok(&ds, "rr");
    assert!(rr.peers.is_empty());
    assert!(!rr.global.node_to_node_mesh);
    assert_eq!(rr.global.cluster_id, Some(Ipv4Addr::new(1, 1, 1, 1)));
}

#[test]
fn reverse_peering_manual_stops_the_automatic_reverse_peering() {
    let mut items = vec![
        (
            "bgpconfigurations/default",
            json!({"spec": {"nodeToNodeMeshEnabled": false}}),
        ),
        ("nodes/a", node("10.0.0.1/24")),
        ("nodes/b", node("10.0.0.2/24")),
        (
            "bgppeers/a-to-b",
            json!({"spec": {"node": "a", "peerIP": "10.0.0.2", "asNumber": 64512}}),
        ),
    ];
    assert_eq!(
        names(&derive_ok(&datastore(&items), "a")),
        ["Node_10_0_0_2"]
    );
    assert_eq!(
        names(&derive_ok(&datastore(&items), "b")),
        ["Node_10_0_0_1"]
    );
    items[3].1["spec"]["reversePeering"] = json!("Manual");
    assert!(derive_ok(&datastore(&items), "b").peers.is_empty());
}

#[test]
fn a_node_specific_peering_defers_to_a_global_one_on_the_same_address_and_port() {
    let ds = datastore(&[
        (
            "bgpconfigurations/default",
            json!({"spec": {"nodeToNodeMeshEnabled": false}}),
        ),
        ("nodes/a", node("10.0.0.1/24")),
        (
            "bgppeers/global",
            json!({"spec": {"peerIP": "192.0.2.1", "asNumber": 65001}}),
        ),
        // Port 179 spelled out is the same key as no port.
        (
            "bgppeers/specific",
            json!({"spec": {"node": "a", "peerIP": "192.0.2.1:179", "asNumber": 65009}}),
        ),
        (
            "bgppeers/other-port",
            json!({"spec": {"node": "a", "peerIP": "192.0.2.2:1179", "asNumber": 65002}}),
        ),
    ]);
    let d = derive_ok(&ds, "a");
    assert_eq!(names(&d), ["Global_192_0_2_1", "Node_192_0_2_2_port_1179"]);
    assert_eq!(d.peers[0].asn, 65001);
    assert_eq!(d.peers[1].port, 1179);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn passwords_come_from_the_secrets_and_unusable_ones_are_warnings() {
    let ds = datastore(&[
        (
            "bgpconfigurations/default",
            json!({"spec": {"nodeToNodeMeshEnabled": false}}),
        ),
        ("nodes/a", node("10.0.0.1/24")),
        (
            "bgppeers/good",
            json!({"spec": {"peerIP": "192.0.2.1", "asNumber": 65001,
                   "password": {"secretKeyRef": {"name": "s", "key": "good"}}}}),
        ),
        (
            "bgppeers/long",
            json!({"spec": {"peerIP": "192.0.2.2", "asNumber": 65001,
                   "password": {"secretKeyRef": {"name": "s", "key": "long"}}}}),
        ),
    ]);
    let mut env = Env::default();
    env.secrets.insert("s", "good", "a \"quoted\" key\\");
    env.secrets.insert("s", "long", &"x".repeat(81));
    let d = derive(&ds, "a", &env).expect("derives");
    assert_eq!(
        d.peers[0].password.as_ref().map(|p| p.expose()),
        Some("a \"quoted\" key\\")
    );
    assert_eq!(d.peers[1].password, None);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("81 octets"), "{}", d.warnings[0]);
    assert!(
        !d.render().contains("quoted"),
        "render must not show secrets"
    );
}

#[test]
fn out_of_range_per_peer_options_become_warnings_and_the_peering_stays() {
    let ds = datastore(&[
        (
            "bgpconfigurations/default",
            json!({"spec": {"nodeToNodeMeshEnabled": false}}),
        ),
        ("nodes/a", node("10.0.0.1/24")),
        (
            "bgppeers/odd",
            json!({"spec": {"peerIP": "192.0.2.1", "asNumber": 65001,
                   "keepaliveTime": "5m", "numAllowedLocalASNumbers": 11,
                   "ttlSecurity": 255, "maxRestartTime": "2h",
                   "reachableBy": "fd00::1"}}),
        ),
        ("bgppeers/no-as", json!({"spec": {"peerIP": "192.0.2.2"}})),
    ]);
    let d = derive_ok(&ds, "a");
    assert_eq!(names(&d), ["Global_192_0_2_1"]);
    let p = &d.peers[0];
    assert_eq!(
        (p.keepalive, p.allow_local_as, p.ttl_security),
        (None, 0, None)
    );
    assert_eq!(p.multihop, Some(64));
    assert_eq!(
        d.peer_details["Global_192_0_2_1"].restart_time,
        Some(config::MAX_RESTART_TIME)
    );
    assert!(d.static_routes.is_empty());
    assert_eq!(d.warnings.len(), 6, "{:#?}", d.warnings);
    assert!(d.warnings.iter().any(|w| w.contains("BGPPeer no-as")));
}

#[test]
fn use_pod_cidr_takes_the_blocks_from_the_node_status() {
    let ds = datastore(&[
        (
            "nodes/a",
            json!({"spec": {"bgp": {"ipv4Address": "10.0.0.1/24"}},
                   "status": {"podCIDRs": ["10.244.1.0/24", "fd00:244:1::/64"]}}),
        ),
        (
            "host/a/ipv4/block/192.168.0.0-26",
            json!({"state": "confirmed"}),
        ),
    ]);
    let d = derive_ok(&ds, "a");
    assert_eq!(d.export.aggregate, [net("192.168.0.0/26")]);
    let env = Env {
        use_pod_cidr: true,
        ..Env::default()
    };
    let d = derive(&ds, "a", &env).expect("derives");
    assert_eq!(
        d.export.aggregate,
        [net("10.244.1.0/24"), net("fd00:244:1::/64")]
    );
    assert!(d.originate.iter().all(|o| o.blackhole));
}

#[test]
fn program_cluster_routes_decides_which_pools_wren_programs() {
    let with = |pcr: Option<&str>| {
        let mut cfg = json!({"spec": {}});
        if let Some(p) = pcr {
            cfg["spec"]["programClusterRoutes"] = json!(p);
        }
        let ds = datastore(&[
            ("bgpconfigurations/default", cfg),
            ("nodes/a", node("10.0.0.1/24")),
            (
                "ippools/ipip",
                json!({"spec": {"cidr": "192.168.0.0/16", "ipipMode": "Always"}}),
            ),
            ("ippools/plain", json!({"spec": {"cidr": "172.16.0.0/16"}})),
        ]);
        let d = derive_ok(&ds, "a");
        let tunnels: Vec<IpNet> = d.tunnels.iter().map(|t| t.pool).collect();
        (tunnels, d.kernel_reject, d.warnings)
    };
    let ipip = net("192.168.0.0/16");
    let plain = net("172.16.0.0/16");
    assert_eq!(with(None), (vec![ipip], vec![], vec![]));
    assert_eq!(with(Some("Enabled")), (vec![ipip], vec![], vec![]));
    assert_eq!(with(Some("Disabled")), (vec![], vec![plain, ipip], vec![]));
    assert_eq!(
        with(Some("EnabledIPIPOnly")),
        (vec![ipip], vec![plain], vec![])
    );
    assert_eq!(
        with(Some("EnabledNoEncapOnly")),
        (vec![], vec![ipip], vec![])
    );
    let (tunnels, _, warnings) = with(Some("Sometimes"));
    assert_eq!(tunnels, [ipip]);
    assert_eq!(warnings.len(), 1);
}

#[test]
fn cluster_ips_come_from_the_environment_when_the_configuration_has_none() {
    let ds = datastore(&[("nodes/a", node("10.0.0.1/24"))]);
    let env = Env {
        advertise_cluster_ips: Some("10.96.0.0/12, 10.100.0.0/16".into()),
        ..Env::default()
    };
    let d = derive(&ds, "a", &env).expect("derives");
    let prefixes: Vec<IpNet> = d.originate.iter().map(|o| o.prefix).collect();
    assert_eq!(prefixes, [net("10.96.0.0/12"), net("10.100.0.0/16")]);
    assert!(d.originate.iter().all(|o| !o.blackhole));
    assert_eq!(d.kernel_reject, [net("10.96.0.0/12"), net("10.100.0.0/16")]);
    // An explicit (even empty) list in the configuration wins over the environment.
    let ds = datastore(&[
        ("nodes/a", node("10.0.0.1/24")),
        (
            "bgpconfigurations/default",
            json!({"spec": {"serviceClusterIPs": []}}),
        ),
    ]);
    assert!(derive(&ds, "a", &env)
        .expect("derives")
        .originate
        .is_empty());
}

#[test]
fn disabling_load_balancer_aggregation_stops_announcing_the_range_but_keeps_it_out_of_the_kernel() {
    let ds = datastore(&[
        ("nodes/a", node("10.0.0.1/24")),
        (
            "bgpconfigurations/default",
            json!({"spec": {"serviceLoadBalancerIPs": [{"cidr": "198.51.100.0/24"}],
                            "serviceLoadBalancerAggregation": "Disabled"}}),
        ),
    ]);
    let d = derive_ok(&ds, "a");
    assert!(d.originate.is_empty());
    assert_eq!(d.kernel_reject, [net("198.51.100.0/24")]);
    assert_eq!(d.warnings.len(), 1);
}

#[test]
fn a_mesh_peer_and_a_global_peer_to_the_same_address_keep_one_session() {
    let ds = datastore(&[
        ("nodes/a", node("10.0.0.1/24")),
        ("nodes/b", node("10.0.0.2/24")),
        (
            "bgppeers/to-b",
            json!({"spec": {"peerIP": "10.0.0.2", "asNumber": 64512}}),
        ),
    ]);
    let d = derive_ok(&ds, "a");
    assert_eq!(names(&d), ["Global_10_0_0_2"]);
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0].starts_with("Mesh_10_0_0_2: 10.0.0.2 already has a session"));
}

#[test]
fn bind_mode_node_ip_binds_the_listener_unless_both_families_have_sessions() {
    let items = |b_v6: bool| {
        let mut b = json!({"spec": {"bgp": {"ipv4Address": "10.0.0.2/24"}}});
        if b_v6 {
            b["spec"]["bgp"]["ipv6Address"] = json!("fd00::2/64");
        }
        datastore(&[
            (
                "bgpconfigurations/default",
                json!({"spec": {"bindMode": "NodeIP"}}),
            ),
            (
                "nodes/a",
                json!({"spec": {"bgp": {"ipv4Address": "10.0.0.1/24", "ipv6Address": "fd00::1/64"}}}),
            ),
            ("nodes/b", b),
        ])
    };
    let d = derive_ok(&items(false), "a");
    assert_eq!(
        d.global.listen_address,
        Some("10.0.0.1".parse().expect("ip"))
    );
    let d = derive_ok(&items(true), "a");
    assert_eq!(d.global.listen_address, None);
    assert_eq!(d.warnings.len(), 1);
}

#[test]
fn derivation_is_deterministic() {
    for name in FIXTURES {
        let f = load(&testdata().join(name));
        let (ds, _) = from_kv(f.pairs.clone());
        let (ds2, _) = from_kv(f.pairs.iter().rev().cloned());
        for node in &f.nodes {
            let a = derive(&ds, node, &f.env);
            let b = derive(&ds, node, &f.env);
            let c = derive(&ds2, node, &f.env);
            assert_eq!(a, b, "{name}/{node}");
            assert_eq!(a, c, "{name}/{node}: key order must not matter");
        }
    }
}

/// The derived configuration as a wren TOML file.
fn to_toml(d: &Derived) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut t = format!(
        "[global]\nasn = {}\nrouter_id = \"{}\"\nlisten_port = {}\n",
        d.global.asn, d.global.router_id, d.global.listen_port
    );
    if let Some(c) = d.global.cluster_id {
        t.push_str(&format!("cluster_id = \"{c}\"\n"));
    }
    for p in &d.peers {
        t.push_str(&format!(
            "[[peer]]\nname = {}\naddress = \"{}\"\nasn = {}\nport = {}\npassive = {}\n\
             hold_time = {}\nconnect_retry = {}\nlocal_asn = {}\nrr_client = {}\n\
             next_hop_self = {}\nnext_hop_keep = {}\nallow_local_as = {}\nadd_paths = \"{}\"\n",
            q(&p.name),
            p.address,
            p.asn,
            p.port,
            p.passive,
            p.hold_time,
            p.connect_retry.as_secs(),
            p.local_asn,
            p.rr_client,
            p.next_hop_self,
            p.next_hop_keep,
            p.allow_local_as,
            match p.add_paths {
                AddPaths::Off => "off",
                AddPaths::Receive => "receive",
                AddPaths::Send => "send",
                AddPaths::Both => "both",
            }
        ));
        if let Some(r) = p.restart_time {
            t.push_str(&format!("restart_time = {r}\n"));
        }
        let fams: Vec<&str> = p
            .families
            .iter()
            .map(|f| {
                if *f == Family::IPV6_UNICAST {
                    "\"ipv6\""
                } else {
                    "\"ipv4\""
                }
            })
            .collect();
        t.push_str(&format!("families = [{}]\n", fams.join(", ")));
        if let Some(a) = p.local_address {
            t.push_str(&format!("local_address = \"{a}\"\n"));
        }
        if let Some(k) = p.keepalive {
            t.push_str(&format!("keepalive = {k}\n"));
        }
        if let Some(pw) = &p.password {
            t.push_str(&format!("password = {}\n", q(pw.expose())));
        }
        if let Some(h) = p.ttl_security {
            t.push_str(&format!("ttl_security = {h}\n"));
        }
        if let Some(m) = p.multihop {
            t.push_str(&format!("multihop = {m}\n"));
        }
    }
    for o in &d.originate {
        let comms: Vec<String> = o.communities.iter().map(|c| format!("\"{c}\"")).collect();
        t.push_str(&format!(
            "[[originate]]\nprefix = \"{}\"\nblackhole = {}\ncommunities = [{}]\n",
            o.prefix,
            o.blackhole,
            comms.join(", ")
        ));
        if let Some(nh) = o.next_hop {
            t.push_str(&format!("next_hop = \"{nh}\"\n"));
        }
    }
    for tu in &d.tunnels {
        let mode = match tu.mode {
            TunnelMode::Always => "always",
            TunnelMode::CrossSubnet => "cross-subnet",
        };
        t.push_str(&format!(
            "[[kernel.tunnel]]\npool = \"{}\"\nmode = \"{mode}\"\ndevice = \"{}\"\n",
            tu.pool, tu.device
        ));
    }
    for l in &d.learn {
        t.push_str("[[kernel.learn]]\n");
        if let Some(i) = &l.interface {
            t.push_str(&format!("interface = {}\n", q(i)));
        }
        if let Some(w) = l.within {
            t.push_str(&format!("within = \"{w}\"\n"));
        }
    }
    t
}

#[test]
fn every_fixture_derives_a_configuration_that_wrens_own_validation_accepts_unchanged() {
    for name in FIXTURES {
        let f = load(&testdata().join(name));
        let (ds, _) = from_kv(f.pairs.clone());
        for node in &f.nodes {
            let Ok(d) = derive(&ds, node, &f.env) else {
                continue;
            };
            let text = to_toml(&d);
            let cfg = config::Config::from_str(&text, "derived")
                .unwrap_or_else(|e| panic!("{name}/{node}: {e}\n{text}"));
            assert_eq!(cfg.peers, d.peers, "{name}/{node}");
            assert_eq!(cfg.originate, d.originate, "{name}/{node}");
            assert_eq!(cfg.kernel.tunnels, d.tunnels, "{name}/{node}");
            assert_eq!(cfg.kernel.learn, d.learn, "{name}/{node}");
            assert_eq!(
                cfg.global.cluster_id,
                d.global.cluster_id.unwrap_or(d.global.router_id)
            );
        }
    }
}

#[test]
fn apply_replaces_what_calico_decides_and_keeps_the_rest() {
    let base = config::Config::embedded_default().expect("embedded default");
    let f = load(&testdata().join("mesh-ipip"));
    let (ds, _) = from_kv(f.pairs.clone());
    let d = derive(&ds, "node-a", &f.env).expect("derives");
    let c = d.apply(&base);
    assert_eq!(c.global.asn, 64512);
    assert_eq!(c.global.router_id, d.global.router_id);
    assert_eq!(c.global.cluster_id, d.global.router_id);
    assert_eq!(c.global.listen_port, 1790);
    // There are IPv6 sessions and no bind address: listen on every address of both families.
    assert_eq!(c.global.listen_address, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert_eq!(c.peers, d.peers);
    // The announced blocks first, then the blackholed blocks of disableBGPExport pools.
    assert_eq!(c.originate[..d.originate.len()], d.originate[..]);
    let hidden: Vec<IpNet> = c.originate[d.originate.len()..]
        .iter()
        .map(|o| o.prefix)
        .collect();
    assert_eq!(hidden, d.blackholes);
    assert_eq!(c.export.as_ref(), Some(&d.export));
    assert_eq!(c.kernel.tunnels, d.tunnels);
    assert_eq!(c.kernel.learn, d.learn);
    assert_eq!(c.control, base.control);
    assert_eq!(c.kernel.protocol, base.kernel.protocol);
    assert_eq!(c.global.restart_time, base.global.restart_time);
}

#[test]
fn peer_kinds_print_as_calicoctl_node_status_names_them() {
    assert_eq!(PeerKind::Mesh.to_string(), "node-to-node mesh");
    assert_eq!(PeerKind::Global.to_string(), "global");
    assert_eq!(PeerKind::Node.to_string(), "node specific");
    assert_eq!(PeerKind::Node.prefix(), "Node");
}

#[test]
fn apply_carries_the_export_policy_kernel_rejects_hidden_blocks_and_routes_to_peers() {
    let ds = datastore(&[
        ("nodes/a", node("10.0.0.1/24")),
        ("ippools/main", json!({"spec": {"cidr": "192.168.0.0/16"}})),
        (
            "ippools/private",
            json!({"spec": {"cidr": "172.16.0.0/16", "disableBGPExport": true}}),
        ),
        (
            "ippools/vxlan",
            json!({"spec": {"cidr": "172.17.0.0/16", "vxlanMode": "Always"}}),
        ),
        (
            "host/a/ipv4/block/192.168.0.0-26",
            json!({"state": "confirmed"}),
        ),
        (
            "host/a/ipv4/block/172.16.0.0-26",
            json!({"state": "confirmed"}),
        ),
        (
            "bgppeers/tor",
            json!({"spec": {"peerIP": "10.9.0.1", "asNumber": 65001, "reachableBy": "10.0.0.254"}}),
        ),
    ]);
    let d = derive_ok(&ds, "a");
    let mut base = config::Config::embedded_default().expect("embedded default");
    base.kernel.reject.reject = vec![net("10.96.0.0/12")];
    let c = d.apply(&base);

    let policy = c.export.as_ref().expect("an export policy in Calico mode");
    assert!(policy.evaluate(net("192.168.0.0/26")).is_ok());
    assert!(policy.evaluate(net("192.168.0.5/32")).is_err());
    assert!(policy.evaluate(net("192.168.7.0/26")).is_ok());
    assert!(policy.evaluate(net("172.16.0.0/26")).is_err());
    assert!(policy.evaluate(net("10.9.0.1/32")).is_err());

    assert_eq!(
        c.kernel.reject.reject,
        [net("10.96.0.0/12"), net("172.17.0.0/16")],
        "the file's rejects and the VXLAN pool"
    );
    let find = |p: &str| c.originate.iter().find(|o| o.prefix == net(p));
    let hidden = find("172.16.0.0/26").expect("the disabled pool's block");
    assert!(hidden.blackhole, "blackholed like any local block");
    let to_peer = find("10.9.0.1/32").expect("the route to the peer");
    assert!(to_peer.install && !to_peer.blackhole);
    assert_eq!(to_peer.next_hop, Some("10.0.0.254".parse().unwrap()));
}
