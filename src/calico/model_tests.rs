use std::time::Duration;

use ipnet::IpNet;

use super::model::{AsNumber, EncapMode, GoDuration, NodeAddress};
use super::*;

const NODES: &str = "/calico/resources/v3/projectcalico.org/nodes/";
const PEERS: &str = "/calico/resources/v3/projectcalico.org/bgppeers/";
const POOLS: &str = "/calico/resources/v3/projectcalico.org/ippools/";
const CONFIGS: &str = "/calico/resources/v3/projectcalico.org/bgpconfigurations/";
const HOST: &str = "/calico/ipam/v2/host/";

fn pair(key: &str, value: &str) -> (String, Vec<u8>) {
    (key.to_string(), value.as_bytes().to_vec())
}

fn net(s: &str) -> IpNet {
    s.parse().expect("net")
}

#[test]
fn one_malformed_value_is_reported_with_its_key_and_the_others_still_load() {
    let (ds, errors) = from_kv(vec![
        pair(
            &format!("{NODES}node-1"),
            r#"{"spec":{"bgp":{"ipv4Address":"10.0.0.1/24"}}}"#,
        ),
        pair(&format!("{PEERS}bad"), r#"{"spec":{"peerIP":"#),
        pair(
            &format!("{POOLS}p"),
            r#"{"spec":{"cidr":"192.168.0.0/16"}}"#,
        ),
    ]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, format!("{PEERS}bad"));
    assert!(matches!(errors[0].error, Error::Json(_)));
    assert!(errors[0]
        .to_string()
        .starts_with(&format!("{PEERS}bad: invalid JSON: ")));
    assert!(ds.nodes.contains_key("node-1"));
    assert!(ds.ip_pools.contains_key("p"));
    assert!(ds.bgp_peers.is_empty());
}

#[test]
fn unknown_fields_are_ignored_so_newer_calico_values_load() {
    let (ds, errors) = from_kv(vec![pair(
        &format!("{NODES}n"),
        r#"{"kind":"Node","apiVersion":"projectcalico.org/v3","futureField":{"x":1},
            "metadata":{"name":"n","uid":"u","resourceVersion":"7","labels":{"a":"b"}},
            "spec":{"bgp":{"ipv4Address":"10.0.0.1/24","someNewKnob":true},"wireguard":{}},
            "status":{"wireguardPublicKey":"k"}}"#,
    )]);
    assert!(errors.is_empty(), "{errors:?}");
    let n = &ds.nodes["n"];
    assert_eq!(n.metadata.labels["a"], "b");
    let bgp = n.spec.bgp.as_ref().expect("bgp");
    assert_eq!(
        bgp.ipv4_address,
        Some(NodeAddress {
            address: "10.0.0.1".parse().expect("ip"),
            network: net("10.0.0.0/24"),
        })
    );
}

#[test]
fn keys_wren_does_not_read_are_ignored_without_error() {
    let (ds, errors) = from_kv(vec![
        pair("/calico/ipam/v2/handle/k8s-pod-network.1", "{not json"),
        pair(
            "/calico/resources/v3/projectcalico.org/profiles/kns.default",
            "{",
        ),
        pair("/calico/felix/v1/whatever", "x"),
        pair("/somewhere/else", "y"),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ds, Datastore::new());
}

#[test]
fn as_numbers_load_from_numbers_strings_and_asdot() {
    for (json, want) in [("64512", 64512), ("\"64513\"", 64513), ("\"1.10\"", 65546)] {
        let (ds, errors) = from_kv(vec![pair(
            &format!("{CONFIGS}default"),
            &format!(r#"{{"spec":{{"asNumber":{json}}}}}"#),
        )]);
        assert!(errors.is_empty(), "{json}: {errors:?}");
        assert_eq!(
            ds.bgp_configurations["default"].spec.as_number,
            Some(AsNumber(want))
        );
    }
    let (_, errors) = from_kv(vec![pair(
        &format!("{CONFIGS}default"),
        r#"{"spec":{"asNumber":"sixty"}}"#,
    )]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("is not an AS number"),
        "{}",
        errors[0]
    );
    let (_, errors) = from_kv(vec![pair(
        &format!("{CONFIGS}default"),
        r#"{"spec":{"asNumber":4294967296}}"#,
    )]);
    assert_eq!(errors.len(), 1);
}

#[test]
fn go_durations_parse_and_round_to_seconds_like_confd() {
    let d = |s: &str| s.parse::<GoDuration>().expect(s);
    assert_eq!(d("2m0s").0, Duration::from_secs(120));
    assert_eq!(d("1h30m").0, Duration::from_secs(5400));
    assert_eq!(d("90s").rounded_secs(), 90);
    assert_eq!(d("1.5s").rounded_secs(), 2);
    assert_eq!(d("2.5s").rounded_secs(), 3);
    assert_eq!(d("300ms").rounded_secs(), 0);
    assert_eq!(d("1m0.4s").rounded_secs(), 60);
    assert_eq!(d("0").0, Duration::ZERO);
    assert_eq!(d("1500us").0, Duration::from_micros(1500));
    for bad in ["", "5", "5 minutes", "-1s", "1d", "s"] {
        assert!(bad.parse::<GoDuration>().is_err(), "{bad:?}");
    }
}

#[test]
fn only_confirmed_block_affinities_count_and_pending_ones_are_absent() {
    let key = |node: &str, cidr: &str| format!("{HOST}{node}/ipv4/block/{cidr}");
    let (ds, errors) = from_kv(vec![
        pair(
            &key("n", "10.0.0.0-26"),
            r#"{"state":"confirmed","deleted":false}"#,
        ),
        pair(
            &key("n", "10.0.0.64-26"),
            r#"{"state":"pending","deleted":false}"#,
        ),
        pair(&key("n", "10.0.0.128-26"), r#"{"state":"pendingDeletion"}"#),
        pair(
            &key("n", "10.0.0.192-26"),
            r#"{"state":"confirmed","deleted":true}"#,
        ),
        pair(&key("n", "10.0.1.0-26"), ""),
        pair(&key("n", "10.0.1.64-26"), "{}"),
        pair(
            &format!("{HOST}n/ipv6/block/fd00:1::-122"),
            r#"{"state":"confirmed"}"#,
        ),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    let got: Vec<String> = ds.affinities["n"].iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        ["10.0.0.0/26", "10.0.1.0/26", "10.0.1.64/26", "fd00:1::/122"]
    );
}

#[test]
fn an_affinity_going_back_to_pending_removes_the_block() {
    let key = format!("{HOST}n/ipv4/block/10.0.0.0-26");
    let mut ds = Datastore::new();
    ds.insert(&key, br#"{"state":"confirmed"}"#).expect("ok");
    assert!(ds.affinities["n"].contains(&net("10.0.0.0/26")));
    ds.insert(&key, br#"{"state":"pending"}"#).expect("ok");
    assert!(!ds.affinities.contains_key("n"));
    ds.insert(&key, b"").expect("ok");
    assert!(ds.remove(&key));
    assert!(!ds.remove(&key));
    assert!(ds.affinities.is_empty());
}

#[test]
fn remove_deletes_each_kind_of_resource() {
    let mut ds = Datastore::new();
    let keys = [
        format!("{NODES}n"),
        format!("{PEERS}p"),
        format!("{POOLS}pool"),
        format!("{CONFIGS}default"),
        "/calico/resources/v3/projectcalico.org/bgpfilters/f".to_string(),
        "/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26".to_string(),
    ];
    let values = [
        "{}",
        "{}",
        r#"{"spec":{"cidr":"10.0.0.0/16"}}"#,
        "{}",
        "{}",
        r#"{"cidr":"10.0.0.0/26","affinity":"host:n"}"#,
    ];
    for (k, v) in keys.iter().zip(values) {
        ds.insert(k, v.as_bytes()).expect("inserts");
    }
    assert_eq!(
        ds.blocks[&net("10.0.0.0/26")].affinity.as_deref(),
        Some("host:n")
    );
    for k in &keys {
        assert!(ds.remove(k), "{k}");
    }
    assert_eq!(ds, Datastore::new());
}

#[test]
fn a_failed_update_drops_the_previous_value_of_the_key() {
    let key = format!("{PEERS}p");
    let mut ds = Datastore::new();
    ds.insert(&key, br#"{"spec":{"peerIP":"10.0.0.1"}}"#)
        .expect("ok");
    let err = ds.insert(&key, b"{oops").expect_err("bad json");
    assert_eq!(err.key, key);
    assert!(ds.bgp_peers.is_empty());
}

#[test]
fn a_bgp_peer_with_an_unparsable_selector_is_refused_naming_the_field_and_column() {
    let (ds, errors) = from_kv(vec![pair(
        &format!("{PEERS}p"),
        r#"{"spec":{"nodeSelector":"all()","peerSelector":"rack = 'a'"}}"#,
    )]);
    assert!(ds.bgp_peers.is_empty());
    let text = errors[0].to_string();
    assert!(
        text.contains("spec.peerSelector: selector \"rack = 'a'\": column 6"),
        "{text}"
    );
}

#[test]
fn an_ip_pool_needs_a_cidr_and_encapsulation_modes_are_checked() {
    let (_, errors) = from_kv(vec![pair(&format!("{POOLS}p"), r#"{"spec":{}}"#)]);
    assert!(errors[0]
        .to_string()
        .contains("spec.cidr: an IPPool needs a cidr"));
    let (_, errors) = from_kv(vec![pair(
        &format!("{POOLS}p"),
        r#"{"spec":{"cidr":"10.0.0.0/8","ipipMode":"Sometimes"}}"#,
    )]);
    assert!(errors[0].to_string().contains("not an encapsulation mode"));
    let (ds, errors) = from_kv(vec![pair(
        &format!("{POOLS}p"),
        r#"{"spec":{"cidr":"10.0.0.0/8","ipipMode":"CrossSubnet","vxlanMode":null}}"#,
    )]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ds.ip_pools["p"].spec.ipip_mode, EncapMode::CrossSubnet);
    assert_eq!(ds.ip_pools["p"].spec.vxlan_mode, EncapMode::Never);
}

#[test]
fn node_addresses_keep_the_subnet_and_an_empty_one_is_absent() {
    let a: NodeAddress = "10.192.0.2/16".parse().expect("cidr");
    assert_eq!(a.address.to_string(), "10.192.0.2");
    assert_eq!(a.network, net("10.192.0.0/16"));
    let b: NodeAddress = "fd00::2".parse().expect("bare");
    assert_eq!(b.network, net("fd00::2/128"));
    let (ds, errors) = from_kv(vec![pair(
        &format!("{NODES}n"),
        r#"{"spec":{"bgp":{"ipv4Address":"","ipv6Address":null}}}"#,
    )]);
    assert!(errors.is_empty(), "{errors:?}");
    let bgp = ds.nodes["n"].spec.bgp.clone().expect("bgp");
    assert_eq!((bgp.ipv4_address, bgp.ipv6_address), (None, None));
    let (_, errors) = from_kv(vec![pair(
        &format!("{NODES}n"),
        r#"{"spec":{"bgp":{"ipv4Address":"10.0.0.300/24"}}}"#,
    )]);
    assert_eq!(errors.len(), 1);
}

#[test]
fn keys_of_the_wrong_shape_are_reported() {
    let (_, errors) = from_kv(vec![
        pair(&format!("{PEERS}ns/name"), "{}"),
        pair(&format!("{HOST}n/ipv4/block/not-a-cidr"), "{}"),
        pair(&format!("{HOST}n/ipv4/oops"), "{}"),
    ]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(matches!(errors[0].error, Error::Key(_)));
}

#[test]
fn the_watch_prefixes_are_the_resources_and_this_nodes_affinities() {
    let p = watch_prefixes("node-1");
    assert!(p.contains(&"/calico/resources/v3/projectcalico.org/bgppeers/".to_string()));
    assert!(p.contains(&"/calico/resources/v3/projectcalico.org/nodes/".to_string()));
    assert!(p.contains(&"/calico/ipam/v2/host/node-1/".to_string()));
    assert_eq!(p.len(), 6);
}

#[test]
fn env_picks_calicos_variables_and_ignores_the_rest() {
    let env = Env::from_vars([
        ("CALICO_ROUTER_ID", "hash"),
        ("CALICO_ADVERTISE_CLUSTER_IPS", "10.96.0.0/12"),
        ("USE_POD_CIDR", "TRUE"),
        ("PATH", "/bin"),
    ]);
    assert_eq!(env.router_id.as_deref(), Some("hash"));
    assert_eq!(env.advertise_cluster_ips.as_deref(), Some("10.96.0.0/12"));
    assert!(env.use_pod_cidr);
    assert_eq!(Env::from_vars([("CALICO_ROUTER_ID", "")]).router_id, None);
}

#[test]
fn secrets_never_show_their_contents_in_debug_output() {
    let mut s = Secrets::new();
    s.insert("bgp-secrets", "mesh-password", "hunter2");
    assert_eq!(s.get("bgp-secrets", "mesh-password"), Some("hunter2"));
    assert_eq!(s.get("bgp-secrets", "other"), None);
    let shown = format!("{s:?}");
    assert!(shown.contains("bgp-secrets/mesh-password"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
