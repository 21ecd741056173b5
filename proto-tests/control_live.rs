//! The control socket of a running `wren run`, read by the real `birdc` and by `wren show`.
//!
//! wren in one namespace peers with two GoBGP "ToRs" that announce the same prefix with AS paths
//! of different length, and with a third configured peer that never answers. Then:
//!
//! * `birdc -s SOCKET show protocols` lists the three peers in BIRD's layout: the two sessions
//!   `up … Established`, the silent one `start` and not Established (calico-node's readiness
//!   check counts only `Established` rows);
//! * `wren show route PREFIX --json` lists both paths, the best (shorter AS path) first, and
//!   gives the other one's losing reason, `longer as-path`;
//! * `wren status` exits 0;
//! * a Prometheus scrape of `[metrics] listen` (inside wren's namespace) shows the two sessions
//!   up and the silent one down, one accepted prefix from each ToR, one RIB prefix with two paths,
//!   and at least one kernel operation.
//!
//! Needs root, `gobgpd` and `birdc`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use lab::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use lab::wren::Wren;
use lab::{wait_until, Lab, LabError};

const WREN_AS: u32 = 64512;
const DEADLINE: Duration = Duration::from_secs(30);
const PREFIX: &str = "198.51.100.0/24";

fn run(cmd: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
#[ignore = "needs root, gobgpd and birdc: run via make test"]
fn birdc_and_wren_show_read_a_live_wren_with_sessions_routes_and_losing_reasons() {
    let lab = Lab::new("control_live").unwrap();
    lab::require_binaries(&["gobgpd", "gobgp", "ip", "birdc"]).unwrap();
    let w = lab.add_node("w").unwrap();
    let t1 = lab.add_node("tor1").unwrap();
    let t2 = lab.add_node("tor2").unwrap();
    let silent = lab.add_node("silent").unwrap();
    let l1 = lab.link(&t1, &w).unwrap();
    let l2 = lab.link(&t2, &w).unwrap();
    let l3 = lab.link(&silent, &w).unwrap();

    let g1 = Gobgp::start(
        &t1,
        &GobgpConfig::new(65001, l1.a_v4)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(l1.b_v4), WREN_AS)),
    )
    .unwrap();
    g1.announce(PREFIX).unwrap();
    let g2 = Gobgp::start(
        &t2,
        &GobgpConfig::new(65002, l2.a_v4)
            .neighbor(GobgpNeighbor::new(IpAddr::V4(l2.b_v4), WREN_AS)),
    )
    .unwrap();
    // A longer AS path: this one loses.
    g2.cli(&[
        "global",
        "rib",
        "add",
        PREFIX,
        "aspath",
        "65002,65020",
        "origin",
        "igp",
    ])
    .unwrap();

    let config = format!(
        "[global]\nasn = {WREN_AS}\nrouter_id = \"{}\"\n\n[control]\nsocket = \"{}\"\n\n\
         [metrics]\nlisten = \"127.0.0.1:9179\"\n\n\
         [[peer]]\nname = \"tor1\"\naddress = \"{}\"\nasn = 65001\nconnect_retry = 3\nhold_time = 9\n\n\
         [[peer]]\nname = \"tor2\"\naddress = \"{}\"\nasn = 65002\nconnect_retry = 3\nhold_time = 9\n\n\
         [[peer]]\nname = \"silent\"\naddress = \"{}\"\nasn = 65003\nconnect_retry = 3\nhold_time = 9\n",
        l1.b_v4,
        lab::wren::PLACEHOLDER_SOCKET,
        l1.a_v4,
        l2.a_v4,
        l3.a_v4
    );
    let wren = Wren::start(&lab, &w, "wren", &config).unwrap();
    wren.wait_for_log("peer tor1: session established", 1, DEADLINE)
        .unwrap();
    wren.wait_for_log("peer tor2: session established", 1, DEADLINE)
        .unwrap();
    wren.wait_for_log(
        &format!("best {PREFIX} via {} from tor1", l1.a_v4),
        1,
        DEADLINE,
    )
    .unwrap();
    let sock = wren.socket().to_string_lossy().into_owned();

    // birdc, as calico-node and operators run it.
    let mut table = String::new();
    wait_until(DEADLINE, "birdc to show both sessions Established", || {
        let (code, out) = run("birdc", &["-s", &sock, "show", "protocols"]);
        table = out.clone();
        Ok::<_, LabError>(code == 0 && out.matches("Established").count() == 2)
    })
    .unwrap_or_else(|e| panic!("{e}\n{table}"));
    let rows: Vec<&str> = table.lines().collect();
    for name in ["tor1", "tor2"] {
        let row = rows
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{table}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1], "BGP", "{table}");
        assert_eq!(cols[3], "up", "{table}");
        assert_eq!(cols.last(), Some(&"Established"), "{table}");
    }
    let silent_row = rows
        .iter()
        .find(|l| l.starts_with("silent"))
        .unwrap_or_else(|| panic!("no silent row:\n{table}"));
    assert!(silent_row.contains(" start "), "{table}");
    assert!(!silent_row.contains("Established"), "{table}");

    // wren show route, with the losing path's reason.
    let wren_bin = env!("CARGO_BIN_EXE_wren");
    let (code, out) = run(
        wren_bin,
        &["show", "route", PREFIX, "--json", "--socket", &sock],
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    let text = v.to_string();
    assert!(text.contains("longer as-path"), "{text}");
    assert!(text.contains("tor1") && text.contains("tor2"), "{text}");
    let (code, out) = run(wren_bin, &["show", "route", PREFIX, "--socket", &sock]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("longer as-path"), "{out}");
    let (code, out) = run(wren_bin, &["status", "--socket", &sock]);
    assert_eq!(code, 0, "{out}");

    // Prometheus, scraped from inside wren's namespace.
    let scrape = || -> String {
        let out = w
            .exec_output(&[
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/9179; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
            ])
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = scrape();
    let v = |series: &str| wren::metrics::sample_value(&text, series);
    assert_eq!(v("wren_peer_up{peer=\"tor1\"}"), Some(1.0), "{text}");
    assert_eq!(v("wren_peer_up{peer=\"tor2\"}"), Some(1.0), "{text}");
    assert_eq!(v("wren_peer_up{peer=\"silent\"}"), Some(0.0), "{text}");
    assert_eq!(
        v("wren_peer_prefixes_accepted{peer=\"tor1\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        v("wren_peer_prefixes_accepted{peer=\"tor2\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(v("wren_rib_prefixes"), Some(1.0), "{text}");
    // tor1's path is the best: it goes to tor2, not back to tor1.
    assert_eq!(
        v("wren_peer_prefixes_advertised{peer=\"tor2\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        v("wren_peer_prefixes_advertised{peer=\"tor1\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(v("wren_rib_paths"), Some(2.0), "{text}");
    assert!(
        v("wren_peer_updates_received_total{peer=\"tor1\"}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        v("wren_fib_operations_total{op=\"add\"}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(wren.proc().is_running(), "{}", wren.log());
}
