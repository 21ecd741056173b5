//! Calico mode end to end: `wren run` with `[datastore] type = "etcdv3"` learns its peers, AS
//! number and blocks from a real etcd written the way calico-node and calicoctl write it, and
//! follows changes without restarting.
//!
//! Namespaces: `etcd` (a real etcd on its link address), `node1` (wren), `tor` (GoBGP, a global
//! BGPPeer). The datastore holds the default BGPConfiguration (AS 64512, mesh off), the Node,
//! an IPPool, one confirmed block affinity and a global BGPPeer for the ToR.
//!
//! * The BGPPeer's password comes from a Kubernetes-style secret (`secretKeyRef`, read from
//!   `[datastore] secrets_dir`), so the session is TCP-MD5 signed; the ToR's session comes up and
//!   the ToR learns the block with AS path [64512].
//! * A second confirmed block affinity written later reaches the ToR; the session is not reset.
//! * Deleting the BGPPeer takes the session down (Cease/Peer De-configured).
//!
//! Needs root, `etcd`, `etcdctl` and `gobgpd`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Family, Lab, LabError, Node};

const DEADLINE: Duration = Duration::from_secs(40);
const RES: &str = "/calico/resources/v3/projectcalico.org";
const BLOCK1: &str = "203.0.113.0/26";
const BLOCK2: &str = "203.0.113.64/26";
const PASSWORD: &str = "calico-md5-secret";

use lab::etcd::etcdctl;

fn put(node: &Node, url: &str, key: &str, value: &str) {
    etcdctl(node, url, &["put", key, value]).unwrap();
}

#[test]
#[ignore = "needs root, etcd and gobgpd: run via make test"]
fn a_calico_node_learns_its_peers_and_blocks_from_etcd_and_follows_changes_live() {
    let lab = Lab::new("calico_etcd").unwrap();
    lab::require_binaries(&["etcd", "etcdctl", "gobgpd", "gobgp", "ip"]).unwrap();
    let e = lab.add_node("etcd").unwrap();
    let n1 = lab.add_node("node1").unwrap();
    let t = lab.add_node("tor").unwrap();
    let le = lab.link(&e, &n1).unwrap();
    let lt = lab.link(&t, &n1).unwrap();
    let url = format!("http://{}:2379", le.a_v4);

    let etcd = lab::etcd::start(&lab, &e, &url).unwrap();

    let wren_addr = lt.b_v4;
    let tor_addr = lt.a_v4;
    put(
        &e,
        &url,
        &format!("{RES}/bgpconfigurations/default"),
        r#"{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"asNumber":64512,"nodeToNodeMeshEnabled":false}}"#,
    );
    put(
        &e,
        &url,
        &format!("{RES}/nodes/node1"),
        &format!(
            r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"node1"}},"spec":{{"bgp":{{"ipv4Address":"{wren_addr}/24"}}}}}}"#
        ),
    );
    put(
        &e,
        &url,
        &format!("{RES}/ippools/pool1"),
        r#"{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"pool1"},"spec":{"cidr":"203.0.113.0/24","ipipMode":"Never","vxlanMode":"Never","blockSize":26,"nodeSelector":"all()"}}"#,
    );
    put(
        &e,
        &url,
        "/calico/ipam/v2/host/node1/ipv4/block/203.0.113.0-26",
        r#"{"state":"confirmed","deleted":false}"#,
    );
    put(
        &e,
        &url,
        &format!("{RES}/bgppeers/tor"),
        &format!(
            r#"{{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{{"name":"tor"}},"spec":{{"peerIP":"{tor_addr}","asNumber":65001,"password":{{"secretKeyRef":{{"name":"bgp-tor","key":"password"}}}}}}}}"#
        ),
    );

    let gobgp = Gobgp::start(
        &t,
        &GobgpConfig::new(65001, tor_addr)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(wren_addr), 64512).password(PASSWORD)),
    )
    .unwrap();

    // The secret as Kubernetes mounts it.
    let secret = lab
        .write_file("secrets/bgp-tor/password", &format!("{PASSWORD}\n"))
        .unwrap();
    let secrets_dir = secret
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // The file only says where the datastore is; everything else comes from etcd.
    let config = format!(
        "[global]\nasn = 1\nrouter_id = \"198.18.255.1\"\n\n[control]\nsocket = \"{}\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:9179\"\n\n\
         [datastore]\ntype = \"etcdv3\"\nendpoints = [\"{url}\"]\nnode_name = \"node1\"\n\
         secrets_dir = \"{secrets_dir}\"\n",
        lab::wren::PLACEHOLDER_SOCKET
    );
    let wren = Wren::start(&lab, &n1, "wren", &config).unwrap();
    gobgp
        .wait_established(IpAddr::V4(wren_addr), DEADLINE)
        .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));
    let has = |prefix: &str| -> Result<bool, LabError> {
        Ok(gobgp
            .rib(Family::Ipv4)?
            .iter()
            .any(|r| r.prefix == prefix && r.as_path == vec![64512]))
    };
    wait_until(DEADLINE, "the ToR to learn node1's block", || has(BLOCK1))
        .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));

    // A new block affinity: announced without resetting the session. The time from the etcd
    // write to the block's blackhole in node1's kernel and to the ToR's table is measured and
    // printed (a report, not an assertion; the issue aims at under a second).
    let written = Instant::now();
    put(
        &e,
        &url,
        "/calico/ipam/v2/host/node1/ipv4/block/203.0.113.64-26",
        r#"{"state":"confirmed","deleted":false}"#,
    );
    let mut in_kernel = None;
    while written.elapsed() < DEADLINE {
        let routes = n1
            .exec(&["ip", "route", "show", "proto", "bird"])
            .unwrap_or_default();
        if routes
            .lines()
            .any(|l| l.starts_with(&format!("blackhole {BLOCK2}")))
        {
            in_kernel = Some(written.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let in_kernel =
        in_kernel.unwrap_or_else(|| panic!("no blackhole for {BLOCK2}\n{}", wren.log()));
    wait_until(DEADLINE, "the ToR to learn the new block", || has(BLOCK2))
        .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));
    let at_tor = written.elapsed();
    println!(
        "etcd write -> blackhole in the kernel: {} ms; -> in the ToR's table: {} ms (polled)",
        in_kernel.as_millis(),
        at_tor.as_millis()
    );
    assert_eq!(
        wren.log().matches("session established").count(),
        1,
        "a new block must not reset the session:\n{}",
        wren.log()
    );

    // The BGPPeer goes: so does the session.
    etcdctl(&e, &url, &["del", &format!("{RES}/bgppeers/tor")]).unwrap();
    wait_until(DEADLINE, "the ToR's session to go down", || {
        Ok::<_, LabError>(gobgp.neighbor_state(IpAddr::V4(wren_addr))? != "established")
    })
    .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));

    // etcd goes away: wren keeps running and its metrics say the view is no longer current.
    let synced = || -> Option<f64> {
        let out = n1
            .exec_output(&[
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/9179; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
            ])
            .ok()?;
        wren::metrics::sample_value(
            &String::from_utf8_lossy(&out.stdout),
            "wren_datastore_synced",
        )
    };
    assert_eq!(synced(), Some(1.0));
    etcd.kill().unwrap();
    wait_until(DEADLINE, "wren_datastore_synced to drop to 0", || {
        Ok::<_, LabError>(synced() == Some(0.0))
    })
    .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));
    assert!(wren.proc().is_running(), "{}", wren.log());
}

#[test]
#[ignore = "needs root and etcd: run via make test"]
fn calicos_log_severity_screen_sets_wrens_log_level_when_rust_log_is_unset() {
    let lab = Lab::new("calico_loglevel").unwrap();
    lab::require_binaries(&["etcd", "etcdctl", "ip"]).unwrap();
    let e = lab.add_node("etcd").unwrap();
    let n1 = lab.add_node("node1").unwrap();
    let le = lab.link(&e, &n1).unwrap();
    let url = format!("http://{}:2379", le.a_v4);
    let _etcd = lab::etcd::start(&lab, &e, &url).unwrap();
    put(
        &e,
        &url,
        &format!("{RES}/bgpconfigurations/default"),
        r#"{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default"},"spec":{"asNumber":64512,"nodeToNodeMeshEnabled":false,"logSeverityScreen":"Debug"}}"#,
    );
    put(
        &e,
        &url,
        &format!("{RES}/nodes/node1"),
        &format!(
            r#"{{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{{"name":"node1"}},"spec":{{"bgp":{{"ipv4Address":"{}/24"}}}}}}"#,
            le.b_v4
        ),
    );
    put(
        &e,
        &url,
        &format!("{RES}/ippools/pool1"),
        r#"{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"pool1"},"spec":{"cidr":"203.0.113.0/24","ipipMode":"Never","vxlanMode":"Never","blockSize":26,"nodeSelector":"all()"}}"#,
    );
    put(
        &e,
        &url,
        "/calico/ipam/v2/host/node1/ipv4/block/203.0.113.0-26",
        r#"{"state":"confirmed","deleted":false}"#,
    );
    // The file says `warn`; Calico says `Debug`; RUST_LOG is unset.
    let socket = lab.write_file("node1.ctl.dir/.keep", "").unwrap();
    let socket = socket.parent().unwrap().join("wren.ctl");
    let path = lab
        .write_file(
            "node1-wren.toml",
            &format!(
                "[global]\nasn = 1\nrouter_id = \"198.18.255.1\"\nlog_level = \"warn\"\n\n\
                 [control]\nsocket = \"{}\"\n\n[datastore]\ntype = \"etcdv3\"\n\
                 endpoints = [\"{url}\"]\nnode_name = \"node1\"\n",
                socket.display()
            ),
        )
        .unwrap();
    let path = path.to_string_lossy().into_owned();
    let wren = n1
        .spawn(
            "wren",
            &[
                "env",
                "-u",
                "RUST_LOG",
                env!("CARGO_BIN_EXE_wren"),
                "run",
                "--config",
                &path,
            ],
        )
        .unwrap();
    let log = || std::fs::read_to_string(wren.log_path()).unwrap_or_default();
    // A debug line that `warn` would hide: the block's blackhole going into the kernel.
    wait_until(DEADLINE, "a debug line in wren's log", || {
        Ok::<_, LabError>(log().contains(&format!("kernel: add {BLOCK1}")))
    })
    .unwrap_or_else(|err| panic!("{err}\n{}", log()));
    assert!(wren.is_running(), "{}", log());
}
