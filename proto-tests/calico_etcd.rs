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

/// The lab both ToR tests use: `etcd` (a running etcd at `url`), `node1` (for wren) and `tor`,
/// each linked to node1.
struct TorLab {
    lab: Lab,
    e: Node,
    n1: Node,
    t: Node,
    url: String,
    etcd: lab::ProcHandle,
    wren_addr: std::net::Ipv4Addr,
    tor_addr: std::net::Ipv4Addr,
}

fn tor_lab(name: &str) -> TorLab {
    let lab = Lab::new(name).unwrap();
    lab::require_binaries(&["etcd", "etcdctl", "gobgpd", "gobgp", "ip"]).unwrap();
    let e = lab.add_node("etcd").unwrap();
    let n1 = lab.add_node("node1").unwrap();
    let t = lab.add_node("tor").unwrap();
    let le = lab.link(&e, &n1).unwrap();
    let lt = lab.link(&t, &n1).unwrap();
    let url = format!("http://{}:2379", le.a_v4);
    let etcd = lab::etcd::start(&lab, &e, &url).unwrap();
    TorLab {
        lab,
        e,
        n1,
        t,
        url,
        etcd,
        wren_addr: lt.b_v4,
        tor_addr: lt.a_v4,
    }
}

#[test]
#[ignore = "needs root, etcd and gobgpd: run via make test"]
fn a_calico_node_learns_its_peers_and_blocks_from_etcd_and_follows_changes_live() {
    let TorLab {
        lab,
        e,
        n1,
        t,
        url,
        etcd,
        wren_addr,
        tor_addr,
    } = tor_lab("calico_etcd");
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

/// `gobgp global rib` lines of the ToR, for checks on communities.
fn tor_rib_line(gobgp: &Gobgp, prefix: &str) -> Option<String> {
    let out = gobgp.cli(&["global", "rib", "-a", "ipv4"]).ok()?;
    out.lines()
        .find(|l| l.split_whitespace().any(|w| w == prefix))
        .map(str::to_string)
}

/// confd's `calico_export_to_bgp_peers` and `calico_kernel_programming`, from etcd, live:
///
/// * pool `pool1` (203.0.113.0/25) with a `prefixAdvertisements` community, pool `private`
///   (203.0.113.128/25) with `disableBGPExport`, a service cluster range 198.51.100.0/26;
///   one confirmed block in each pool. The ToR (GoBGP, global BGPPeer) announces 198.19.8.0/24.
/// * The ToR learns the `pool1` block with the community and the service range, not the
///   `private` block; node1's kernel has both blocks as blackholes, the ToR's route via the ToR,
///   and nothing for the service range.
/// * Then, without any session reset: `private` is exported again (the ToR learns its block),
///   the community changes (the ToR sees the new one), and a VXLAN pool created over the ToR's
///   route takes that route out of node1's kernel (Felix's job); deleting the pool brings it back.
#[test]
#[ignore = "needs root, etcd and gobgpd: run via make test"]
fn calicos_export_and_kernel_rules_apply_and_follow_pool_and_community_changes_live() {
    let TorLab {
        lab,
        e,
        n1,
        t,
        url,
        etcd: _etcd,
        wren_addr,
        tor_addr,
    } = tor_lab("calico_export");

    let bgp_config = |community: &str| {
        format!(
            r#"{{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{{"name":"default"}},"spec":{{"asNumber":64512,"nodeToNodeMeshEnabled":false,"serviceClusterIPs":[{{"cidr":"198.51.100.0/26"}}],"prefixAdvertisements":[{{"cidr":"203.0.113.0/25","communities":["{community}"]}}]}}}}"#
        )
    };
    let pool = |name: &str, cidr: &str, extra: &str| {
        format!(
            r#"{{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{{"name":"{name}"}},"spec":{{"cidr":"{cidr}","ipipMode":"Never","blockSize":26,"nodeSelector":"all()"{extra}}}}}"#
        )
    };
    put(
        &e,
        &url,
        &format!("{RES}/bgpconfigurations/default"),
        &bgp_config("65000:100"),
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
        &pool("pool1", "203.0.113.0/25", r#","vxlanMode":"Never""#),
    );
    let private = |disabled: bool| {
        pool(
            "private",
            "203.0.113.128/25",
            &format!(r#","vxlanMode":"Never","disableBGPExport":{disabled}"#),
        )
    };
    put(&e, &url, &format!("{RES}/ippools/private"), &private(true));
    for block in ["203.0.113.0-26", "203.0.113.128-26"] {
        put(
            &e,
            &url,
            &format!("/calico/ipam/v2/host/node1/ipv4/block/{block}"),
            r#"{"state":"confirmed","deleted":false}"#,
        );
    }
    put(
        &e,
        &url,
        &format!("{RES}/bgppeers/tor"),
        &format!(
            r#"{{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{{"name":"tor"}},"spec":{{"peerIP":"{tor_addr}","asNumber":65001}}}}"#
        ),
    );
    let gobgp = Gobgp::start(
        &t,
        &GobgpConfig::new(65001, tor_addr)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(wren_addr), 64512)),
    )
    .unwrap();
    gobgp.announce("198.19.8.0/24").unwrap();

    let config = format!(
        "[global]\nasn = 1\nrouter_id = \"198.18.255.1\"\n\n[control]\nsocket = \"{}\"\n\n\
         [datastore]\ntype = \"etcdv3\"\nendpoints = [\"{url}\"]\nnode_name = \"node1\"\n",
        lab::wren::PLACEHOLDER_SOCKET
    );
    let wren = Wren::start(&lab, &n1, "wren", &config).unwrap();
    gobgp
        .wait_established(IpAddr::V4(wren_addr), DEADLINE)
        .unwrap_or_else(|err| panic!("{err}\n{}", wren.log()));
    let fail = |err: LabError| -> ! { panic!("{err}\n{}", wren.log()) };
    let tor_has = |prefix: &str| -> Result<bool, LabError> {
        Ok(gobgp
            .rib(Family::Ipv4)?
            .iter()
            .any(|r| r.prefix == prefix && r.as_path == vec![64512]))
    };
    let kernel = || {
        n1.exec(&["ip", "route", "show", "proto", "bird"])
            .unwrap_or_default()
    };

    wait_until(DEADLINE, "the ToR to learn the pool1 block", || {
        Ok::<_, LabError>(
            tor_rib_line(&gobgp, "203.0.113.0/26").is_some_and(|l| l.contains("65000:100")),
        )
    })
    .unwrap_or_else(|e| fail(e));
    wait_until(DEADLINE, "the ToR to learn the service range", || {
        tor_has("198.51.100.0/26")
    })
    .unwrap_or_else(|e| fail(e));
    wait_until(
        DEADLINE,
        "the ToR's route and both blackholes in node1's kernel",
        || {
            let k = kernel();
            Ok::<_, LabError>(
                k.contains(&format!("198.19.8.0/24 via {tor_addr}"))
                    && k.contains("blackhole 203.0.113.0/26")
                    && k.contains("blackhole 203.0.113.128/26"),
            )
        },
    )
    .unwrap_or_else(|e| fail(e));
    assert!(
        !tor_has("203.0.113.128/26").unwrap(),
        "a disableBGPExport block must not be exported"
    );
    assert!(
        !kernel().contains("198.51.100.0/26"),
        "a service range is never programmed:\n{}",
        kernel()
    );

    // disableBGPExport off: the block goes out.
    put(&e, &url, &format!("{RES}/ippools/private"), &private(false));
    wait_until(DEADLINE, "the ToR to learn the private block", || {
        tor_has("203.0.113.128/26")
    })
    .unwrap_or_else(|e| fail(e));

    // A new community for the pool.
    put(
        &e,
        &url,
        &format!("{RES}/bgpconfigurations/default"),
        &bgp_config("65000:200"),
    );
    wait_until(DEADLINE, "the ToR to see the new community", || {
        Ok::<_, LabError>(
            tor_rib_line(&gobgp, "203.0.113.0/26")
                .is_some_and(|l| l.contains("65000:200") && !l.contains("65000:100")),
        )
    })
    .unwrap_or_else(|e| fail(e));

    // A VXLAN pool over the ToR's route: Felix's, so out of the kernel; and back.
    put(
        &e,
        &url,
        &format!("{RES}/ippools/vx"),
        &pool("vx", "198.19.8.0/22", r#","vxlanMode":"Always""#),
    );
    wait_until(DEADLINE, "the ToR's route to leave node1's kernel", || {
        Ok::<_, LabError>(!kernel().contains("198.19.8.0/24"))
    })
    .unwrap_or_else(|e| fail(e));
    etcdctl(&e, &url, &["del", &format!("{RES}/ippools/vx")]).unwrap();
    wait_until(DEADLINE, "the ToR's route to come back", || {
        Ok::<_, LabError>(kernel().contains(&format!("198.19.8.0/24 via {tor_addr}")))
    })
    .unwrap_or_else(|e| fail(e));

    assert_eq!(
        wren.log().matches("session established").count(),
        1,
        "pool and community changes must not reset the session:\n{}",
        wren.log()
    );
}
