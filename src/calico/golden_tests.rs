//! Golden tests, like confd's `compiled_templates`: each fixture under `src/calico/testdata/<name>/`
//! is an `input.kv` (etcd keys and their JSON values, the node names to derive for, the
//! environment and the secrets) and one `<node>.expected` per node with the key errors and
//! [`Derived::render`]. `WREN_UPDATE_GOLDEN=1 cargo test --lib calico` rewrites the expected
//! files; review the diff before committing them.
//!
//! `input.kv` format, line by line:
//!
//! ```text
//! # a comment
//! @node <name>                 derive for this node (repeatable)
//! @env NAME=value              CALICO_ROUTER_ID, CALICO_ADVERTISE_CLUSTER_IPS, USE_POD_CIDR
//! @secret <name>/<key> <value> a Kubernetes secret key (a BGP password)
//! /calico/...                  an etcd key; the lines up to the next key are its value
//! ```

use std::path::{Path, PathBuf};

use super::*;

pub(super) fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/calico/testdata")
}

pub(super) struct Fixture {
    pub(super) nodes: Vec<String>,
    pub(super) env: Env,
    pub(super) pairs: Vec<(String, Vec<u8>)>,
}

pub(super) fn load(dir: &Path) -> Fixture {
    let path = dir.join("input.kv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut nodes = Vec::new();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut secrets = Secrets::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('@') {
            let (directive, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            match directive {
                "node" => nodes.push(arg.trim().to_string()),
                "env" => {
                    let (k, v) = arg.split_once('=').expect("@env NAME=value");
                    vars.push((k.trim().to_string(), v.trim().to_string()));
                }
                "secret" => {
                    let (path, value) = arg.split_once(' ').expect("@secret name/key value");
                    let (name, key) = path.split_once('/').expect("@secret name/key value");
                    secrets.insert(name, key, value);
                }
                other => panic!("{}: unknown directive @{other}", path.display()),
            }
            continue;
        }
        if line.starts_with('/') {
            pairs.push((line.trim().to_string(), String::new()));
            continue;
        }
        match pairs.last_mut() {
            Some((_, value)) => {
                value.push_str(line);
                value.push('\n');
            }
            None if line.trim().is_empty() => {}
            None => panic!("{}: value line before any key: {line}", path.display()),
        }
    }
    assert!(!nodes.is_empty(), "{}: no @node line", path.display());
    let mut env = Env::from_vars(vars);
    env.secrets = secrets;
    Fixture {
        nodes,
        env,
        pairs: pairs
            .into_iter()
            .map(|(k, v)| (k, v.trim().as_bytes().to_vec()))
            .collect(),
    }
}

/// What a fixture produces for one node: the key errors, then the derived configuration.
fn produce(f: &Fixture, node: &str) -> String {
    let (ds, errors) = Datastore::from_kv(f.pairs.clone());
    let mut out = format!("key errors {}\n", errors.len());
    for e in &errors {
        out.push_str(&format!("  {e}\n"));
    }
    match derive(&ds, node, &f.env) {
        Ok(d) => out.push_str(&d.render()),
        Err(e) => out.push_str(&format!("error: {e}\n")),
    }
    out
}

fn check(name: &str) {
    let dir = testdata().join(name);
    let f = load(&dir);
    let update = std::env::var("WREN_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for node in &f.nodes {
        let got = produce(&f, node);
        let path = dir.join(format!("{node}.expected"));
        if update {
            std::fs::write(&path, &got)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{} differs (WREN_UPDATE_GOLDEN=1 cargo test --lib calico rewrites it):\n\
                 --- expected\n{want}\n--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every fixture directory, so none is left without a test.
pub(super) const FIXTURES: &[&str] = &[
    "mesh",
    "mesh-ipip",
    "route-reflector",
    "selectors",
    "explicit-peers",
    "service-advertisement",
    "mesh-disabled",
];

#[test]
fn every_fixture_directory_has_a_golden_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(testdata())
        .expect("testdata")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(dirs, listed);
}

#[test]
fn a_three_node_mesh_peers_with_every_other_node_and_only_the_higher_address_connects() {
    check("mesh");
}

#[test]
fn a_mesh_with_ip_in_ip_always_and_cross_subnet_pools_tunnels_them_and_leaves_vxlan_to_felix() {
    check("mesh-ipip");
}

#[test]
fn a_route_reflector_makes_its_ibgp_peers_clients_and_the_clients_peer_back_by_reverse_peering() {
    check("route-reflector");
}

#[test]
fn node_and_peer_selectors_pick_the_peerings_like_confds_selectors_fixture() {
    check("selectors");
}

#[test]
fn explicit_global_and_node_specific_peers_carry_every_per_peer_option() {
    check("explicit-peers");
}

#[test]
fn service_ranges_are_announced_with_their_communities_and_never_programmed() {
    check("service-advertisement");
}

#[test]
fn with_the_mesh_disabled_and_no_bgp_peers_a_node_only_announces_its_blocks() {
    check("mesh-disabled");
}
