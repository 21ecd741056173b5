#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const MIN: &str = r#"
[global]
asn = 64512
router_id = "198.51.100.1"
"#;

/// The minimal file plus one peer (whose body is `peer`) and `rest`.
fn with_peer(peer: &str) -> String {
    format!("{MIN}\n[[peer]]\naddress = \"198.51.100.2\"\nasn = 64513\n{peer}\n")
}

fn parse(text: &str) -> Result<Config, Error> {
    Config::from_str(text, "test.toml")
}

/// Asserts that `text` is rejected naming `key`, with `words` in the message; returns it.
fn rejects(text: &str, key: &str, words: &str) -> String {
    let e = parse(text).expect_err("should be rejected");
    let msg = e.to_string();
    assert_eq!(e.key(), key, "wrong key in: {msg}");
    assert!(msg.starts_with("test.toml"), "file not named: {msg}");
    assert!(msg.contains(key), "key not named: {msg}");
    assert!(msg.contains(words), "expected {words:?} in: {msg}");
    msg
}

#[test]
fn the_embedded_default_parses_and_is_the_demo_speaker() {
    let c = Config::embedded_default().unwrap();
    assert_eq!(c.origin, EMBEDDED_ORIGIN);
    assert_eq!(c.global.asn, 64512);
    assert_eq!(c.global.router_id, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(c.peers.len(), 1);
    assert_eq!(c.peers[0].name, "Peer_198_51_100_2");
    assert_eq!(c.originate.len(), 1);
    assert_eq!(c.originate[0].prefix.to_string(), "198.51.100.0/24");
}

#[test]
fn the_embedded_default_sets_every_key_to_its_default() {
    // The annotated default shows defaults explicitly; stripping those keys changes nothing.
    let c = Config::embedded_default().unwrap();
    let bare = parse(&with_peer("")).unwrap();
    assert_eq!(c.global, bare.global);
    assert_eq!(c.control, bare.control);
    assert_eq!(c.peers, bare.peers);
}

#[test]
fn defaults_are_applied_when_keys_are_omitted() {
    let c = parse(&with_peer("")).unwrap();
    assert_eq!(c.global.listen_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(c.global.listen_port, 179);
    assert_eq!(
        c.control.socket,
        std::path::PathBuf::from("/run/wren/wren.ctl")
    );
    let p = &c.peers[0];
    assert_eq!(p.name, "Peer_198_51_100_2");
    assert_eq!(p.port, 179);
    assert!(!p.passive);
    assert_eq!(p.local_address, None);
    assert_eq!(p.hold_time, 90);
    assert_eq!(p.keepalive, None);
    assert_eq!(p.connect_retry, Duration::from_secs(120));
    assert_eq!(p.password, None);
    assert_eq!(p.ttl_security, None);
    assert_eq!(p.multihop, None);
    assert_eq!(p.families, vec![Family::IPV4_UNICAST]);
    assert!(c.originate.is_empty());
}

#[test]
fn an_ipv6_peer_defaults_to_the_ipv6_family_and_an_underscored_name() {
    let c = parse(&format!(
        "{MIN}\n[[peer]]\naddress = \"2001:db8::2\"\nasn = 1\n"
    ))
    .unwrap();
    assert_eq!(c.peers[0].families, vec![Family::IPV6_UNICAST]);
    assert_eq!(c.peers[0].name, "Peer_2001_db8__2");
}

#[test]
fn families_can_be_listed_explicitly() {
    let c = parse(&with_peer("families = [\"ipv6\", \"ipv4\"]")).unwrap();
    assert_eq!(
        c.peers[0].families,
        vec![Family::IPV6_UNICAST, Family::IPV4_UNICAST]
    );
}

#[test]
fn an_unknown_key_is_rejected_with_its_name() {
    let msg = rejects(&with_peer("holdtime = 30"), "peer[0].holdtime", "holdtime");
    assert!(msg.contains("unknown field"), "{msg}");
    rejects(
        &format!("{MIN}\nrouter-id = 1\n"),
        "global.router-id",
        "unknown field `router-id`",
    );
    rejects(
        &format!("{MIN}\n[extra]\nx = 1\n"),
        "extra",
        "unknown field `extra`",
    );
}

#[test]
fn a_wrong_type_is_rejected_with_the_key_line_and_column() {
    let msg = rejects(
        &with_peer("hold_time = \"ninety\""),
        "peer[0].hold_time",
        "u16",
    );
    assert!(msg.starts_with("test.toml:9:13: "), "{msg}");
    rejects(&with_peer("hold_time = 70000"), "peer[0].hold_time", "u16");
}

#[test]
fn a_toml_syntax_error_names_the_file_and_line() {
    let e = parse("[global\nasn = 1").unwrap_err();
    assert!(e.to_string().starts_with("test.toml:1:"), "{e}");
}

#[test]
fn a_missing_required_key_is_named() {
    rejects(
        "[global]\nasn = 64512\n",
        "global",
        "missing field `router_id`",
    );
    rejects(
        &format!("{MIN}\n[[peer]]\nasn = 1\n"),
        "peer[0]",
        "missing field `address`",
    );
    rejects("", "(document)", "missing field `global`");
}

#[test]
fn the_key_path_counts_array_tables() {
    let text = format!(
        "{MIN}\n[[peer]]\naddress = \"203.0.113.1\"\nasn = 1\n\n[[peer]]\naddress = \"203.0.113.2\"\nasn = 1\nport = -1\n"
    );
    rejects(&text, "peer[1].port", "u16");
}

#[test]
fn asn_zero_and_as_trans_are_rejected() {
    rejects(
        "[global]\nasn = 0\nrouter_id = \"203.0.113.1\"\n",
        "global.asn",
        "must not be 0",
    );
    rejects(
        "[global]\nasn = 23456\nrouter_id = \"203.0.113.1\"\n",
        "global.asn",
        "AS_TRANS",
    );
    rejects(
        &format!("{MIN}\n[[peer]]\naddress = \"203.0.113.1\"\nasn = 23456\n"),
        "peer[0].asn",
        "AS_TRANS",
    );
}

#[test]
fn a_four_octet_asn_is_accepted() {
    let c = parse("[global]\nasn = 4200000000\nrouter_id = \"203.0.113.1\"\n").unwrap();
    assert_eq!(c.global.asn, 4_200_000_000);
}

#[test]
fn router_id_zero_is_rejected() {
    rejects(
        "[global]\nasn = 1\nrouter_id = \"0.0.0.0\"\n",
        "global.router_id",
        "must not be 0.0.0.0",
    );
}

#[test]
fn router_id_must_be_ipv4() {
    rejects(
        "[global]\nasn = 1\nrouter_id = \"2001:db8::1\"\n",
        "global.router_id",
        "invalid",
    );
}

#[test]
fn hold_time_one_and_two_are_rejected_and_zero_and_three_accepted() {
    for h in [1, 2] {
        rejects(
            &with_peer(&format!("hold_time = {h}")),
            "peer[0].hold_time",
            "hold_time must be 0 or at least 3 seconds",
        );
    }
    for h in [0, 3, 65535] {
        assert_eq!(
            parse(&with_peer(&format!("hold_time = {h}")))
                .unwrap()
                .peers[0]
                .hold_time,
            h
        );
    }
}

#[test]
fn keepalive_must_be_below_the_hold_time() {
    rejects(
        &with_peer("hold_time = 9\nkeepalive = 9"),
        "peer[0].keepalive",
        "less than hold_time (9)",
    );
    rejects(
        &with_peer("hold_time = 9\nkeepalive = 0"),
        "peer[0].keepalive",
        "at least 1",
    );
    rejects(
        &with_peer("hold_time = 0\nkeepalive = 5"),
        "peer[0].keepalive",
        "hold_time 0",
    );
    let c = parse(&with_peer("hold_time = 9\nkeepalive = 3")).unwrap();
    assert_eq!(c.peers[0].keepalive, Some(3));
    let c = parse(&with_peer("hold_time = 0\nkeepalive = 0")).unwrap();
    assert_eq!(c.peers[0].keepalive, Some(0));
}

#[test]
fn peer_addresses_must_be_unique() {
    let text = format!(
        "{}\n[[peer]]\naddress = \"198.51.100.2\"\nasn = 7\nname = \"other\"\n",
        with_peer("")
    );
    rejects(&text, "peer[1].address", "already used");
}

#[test]
fn peer_names_must_be_unique() {
    let text = format!(
        "{}\n[[peer]]\naddress = \"198.51.100.3\"\nasn = 7\nname = \"Peer_198_51_100_2\"\n",
        with_peer("")
    );
    rejects(&text, "peer[1].name", "already used");
}

#[test]
fn a_peer_name_must_be_a_bird_symbol() {
    rejects(
        &with_peer("name = \"tor a\""),
        "peer[0].name",
        "letters, digits",
    );
    rejects(&with_peer("name = \"\""), "peer[0].name", "letters, digits");
    rejects(
        &with_peer("name = \"1abc\""),
        "peer[0].name",
        "letters, digits",
    );
    rejects(
        &with_peer(&format!("name = \"{}\"", "a".repeat(65))),
        "peer[0].name",
        "1..=64",
    );
    assert_eq!(
        parse(&with_peer("name = \"ToR_A\"")).unwrap().peers[0].name,
        "ToR_A"
    );
}

#[test]
fn a_peer_address_must_be_unicast() {
    rejects(
        &format!("{MIN}\n[[peer]]\naddress = \"0.0.0.0\"\nasn = 1\n"),
        "peer[0].address",
        "not a unicast",
    );
    rejects(
        &format!("{MIN}\n[[peer]]\naddress = \"ff02::1\"\nasn = 1\n"),
        "peer[0].address",
        "not a unicast",
    );
}

#[test]
fn a_peer_address_is_not_its_own_local_address() {
    rejects(
        &with_peer("local_address = \"198.51.100.2\""),
        "peer[0].local_address",
        "peer's own address",
    );
}

#[test]
fn local_address_must_match_the_peer_family() {
    rejects(
        &with_peer("local_address = \"2001:db8::1\""),
        "peer[0].local_address",
        "same address family",
    );
}

#[test]
fn port_zero_is_rejected() {
    rejects(&with_peer("port = 0"), "peer[0].port", "1..=65535");
    rejects(
        &format!("{MIN}listen_port = 0\n"),
        "global.listen_port",
        "1..=65535",
    );
}

#[test]
fn connect_retry_zero_is_rejected() {
    rejects(
        &with_peer("connect_retry = 0"),
        "peer[0].connect_retry",
        "at least 1",
    );
}

#[test]
fn a_password_longer_than_80_octets_is_rejected() {
    rejects(
        &with_peer(&format!("password = \"{}\"", "x".repeat(81))),
        "peer[0].password",
        "at most 80",
    );
    rejects(
        &with_peer("password = \"\""),
        "peer[0].password",
        "must not be empty",
    );
    let c = parse(&with_peer(&format!("password = \"{}\"", "x".repeat(80)))).unwrap();
    assert_eq!(c.peers[0].password.as_ref().unwrap().expose().len(), 80);
}

#[test]
fn a_password_is_not_shown_by_debug() {
    let c = parse(&with_peer("password = \"hunter2\"")).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn ttl_security_must_be_1_to_254_hops() {
    for h in [0, 255, 1000] {
        rejects(
            &with_peer(&format!("ttl_security = {h}")),
            "peer[0].ttl_security",
            "1..=254",
        );
    }
    assert_eq!(
        parse(&with_peer("ttl_security = 254")).unwrap().peers[0].ttl_security,
        Some(254)
    );
}

#[test]
fn multihop_must_be_a_ttl() {
    rejects(&with_peer("multihop = 0"), "peer[0].multihop", "1..=255");
    rejects(&with_peer("multihop = 256"), "peer[0].multihop", "1..=255");
    assert_eq!(
        parse(&with_peer("multihop = 255")).unwrap().peers[0].multihop,
        Some(255)
    );
}

#[test]
fn ttl_security_and_multihop_together_are_rejected() {
    rejects(
        &with_peer("ttl_security = 1\nmultihop = 2"),
        "peer[0].ttl_security",
        "cannot both be set",
    );
}

#[test]
fn families_other_than_ipv4_and_ipv6_are_rejected() {
    rejects(
        &with_peer("families = [\"ipv4\", \"l2vpn\"]"),
        "peer[0].families",
        "unknown variant `l2vpn`",
    );
    rejects(
        &with_peer("families = []"),
        "peer[0].families",
        "at least one",
    );
    rejects(
        &with_peer("families = [\"ipv4\", \"ipv4\"]"),
        "peer[0].families",
        "twice",
    );
}

#[test]
fn an_originated_prefix_with_host_bits_suggests_the_truncated_prefix() {
    rejects(
        &format!("{MIN}\n[[originate]]\nprefix = \"198.51.100.1/24\"\n"),
        "originate[0].prefix",
        "did you mean 198.51.100.0/24?",
    );
    rejects(
        &format!("{MIN}\n[[originate]]\nprefix = \"2001:db8::1/48\"\n"),
        "originate[0].prefix",
        "did you mean 2001:db8::/48?",
    );
}

#[test]
fn an_originated_prefix_that_is_not_a_prefix_is_rejected() {
    rejects(
        &format!("{MIN}\n[[originate]]\nprefix = \"198.51.100.0/33\"\n"),
        "originate[0].prefix",
        "198.51.100.0/33",
    );
}

#[test]
fn duplicate_originated_prefixes_are_rejected() {
    rejects(
        &format!("{MIN}\n[[originate]]\nprefix = \"203.0.113.0/24\"\n[[originate]]\nprefix = \"203.0.113.0/24\"\n"),
        "originate[1].prefix",
        "already originated",
    );
}

#[test]
fn communities_parse_as_asn_value_and_well_known_names() {
    let c = parse(&format!(
        "{MIN}\n[[originate]]\nprefix = \"203.0.113.0/24\"\ncommunities = [\"64512:100\", \"65535:65535\", \"no-export\", \"no-advertise\", \"no-export-subconfed\"]\n"
    ))
    .unwrap();
    assert_eq!(
        c.originate[0].communities,
        vec![
            Community::new(64512, 100),
            Community::new(65535, 65535),
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NO_EXPORT_SUBCONFED,
        ]
    );
}

#[test]
fn a_community_with_a_part_over_16_bits_is_rejected() {
    for bad in [
        "64512:65536",
        "4200000000:1",
        "64512",
        "a:b",
        "1:2:3",
        "",
        "no_export",
    ] {
        rejects(
            &format!("{MIN}\n[[originate]]\nprefix = \"203.0.113.0/24\"\ncommunities = [\"1:1\", \"{bad}\"]\n"),
            "originate[0].communities[1]",
            "asn:value",
        );
    }
}

#[test]
fn a_next_hop_must_match_the_prefix_family() {
    rejects(
        &format!("{MIN}\n[[originate]]\nprefix = \"203.0.113.0/24\"\nnext_hop = \"2001:db8::1\"\n"),
        "originate[0].next_hop",
        "same address family",
    );
    let c = parse(&format!(
        "{MIN}\n[[originate]]\nprefix = \"2001:db8::/32\"\nnext_hop = \"2001:db8::1\"\n"
    ))
    .unwrap();
    assert_eq!(
        c.originate[0].next_hop,
        Some("2001:db8::1".parse().unwrap())
    );
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let e = Config::load("/nonexistent/wren.toml").unwrap_err();
    assert!(matches!(e, Error::Read { .. }));
    assert!(e.to_string().starts_with("/nonexistent/wren.toml: "), "{e}");
}

#[test]
fn a_peer_converts_to_an_fsm_config() {
    let c = parse(&with_peer(
        "hold_time = 30\nconnect_retry = 7\npassive = true\nfamilies = [\"ipv4\", \"ipv6\"]",
    ))
    .unwrap();
    let f = c.fsm_config(&c.peers[0]);
    assert_eq!(f.local_asn, 64512);
    assert_eq!(f.router_id, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(f.remote_asn, 64513);
    assert!(!f.is_ibgp());
    assert_eq!(f.hold_time, 30);
    assert_eq!(f.connect_retry, Duration::from_secs(7));
    assert!(f.passive);
    assert_eq!(f.families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    let open = f.local_open();
    assert_eq!(open.asn(), 64512);
    assert_eq!(open.hold_time, 30);
    assert_eq!(
        open.families(),
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert!(open.supports_route_refresh());
    assert_eq!(open.four_octet_as(), Some(64512));
}

#[test]
fn the_peer_keepalive_reaches_the_fsm_config() {
    let c = parse(&with_peer("hold_time = 9\nkeepalive = 2")).unwrap();
    let f = c.fsm_config(&c.peers[0]);
    assert_eq!(f.keepalive_time, Some(2));
    assert_eq!(f.keepalive_interval(9), 2);
    let c = parse(&with_peer("hold_time = 9")).unwrap();
    let f = c.fsm_config(&c.peers[0]);
    assert_eq!(f.keepalive_time, None);
    assert_eq!(f.keepalive_interval(9), 3);
}

#[test]
fn an_ibgp_peer_converts_to_an_internal_fsm_config() {
    let c = parse(&format!(
        "{MIN}\n[[peer]]\naddress = \"2001:db8::2\"\nasn = 64512\n"
    ))
    .unwrap();
    let f = c.fsm_config(&c.peers[0]);
    assert!(f.is_ibgp());
    assert_eq!(f.families, vec![Family::IPV6_UNICAST]);
    assert_eq!(f.hold_time, 90);
    assert!(!f.passive);
}

#[test]
fn the_summary_lists_peers_and_prefixes() {
    let c = Config::embedded_default().unwrap();
    let s = c.summary();
    assert!(s.contains("local AS 64512, router id 198.51.100.1"), "{s}");
    assert!(s.contains("1 peer\n"), "{s}");
    assert!(
        s.contains("Peer_198_51_100_2  198.51.100.2  AS 64513  eBGP  ipv4-unicast"),
        "{s}"
    );
    assert!(s.contains("1 originated prefix\n  198.51.100.0/24"), "{s}");
}

#[test]
fn the_key_path_survives_multibyte_text_and_odd_offsets() {
    let text = "[[peer]]\nnamé = \"é\"\n";
    for o in 0..=text.len() + 3 {
        let _ = raw::key_path_at(text, o);
    }
    assert_eq!(raw::key_path_at(text, 12), "peer[0].namé");
}

proptest! {
    #[test]
    fn random_text_never_panics(s in "\\PC*") {
        let _ = Config::from_str(&s, "fuzz.toml");
    }

    #[test]
    fn random_peer_lines_never_panic(
        lines in proptest::collection::vec(
            (
                prop::sample::select(vec![
                    "address", "asn", "name", "port", "passive", "local_address", "hold_time",
                    "keepalive", "connect_retry", "password", "ttl_security", "multihop",
                    "families", "prefix", "next_hop", "communities", "bogus",
                ]),
                prop::sample::select(vec![
                    "0", "1", "3", "255", "65536", "-1", "true", "\"198.51.100.2\"",
                    "\"2001:db8::1\"", "\"x\"", "[\"ipv4\"]", "[]", "\"1.2.3.4/33\"",
                    "[\"1:2\", \"no-export\"]", "\"é\"", "{}",
                ]),
            ),
            0..8,
        ),
        table in prop::sample::select(vec!["[[peer]]", "[[originate]]", "[control]", "[[peer]"]),
    ) {
        let mut text = format!("{MIN}\n{table}\n");
        for (k, v) in lines {
            text.push_str(&format!("{k} = {v}\n"));
        }
        if let Err(e) = Config::from_str(&text, "fuzz.toml") {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("fuzz.toml"));
        }
    }
}

#[test]
fn routing_keys_default_to_a_plain_peer_and_the_router_id_as_cluster_id() {
    let c = parse(&with_peer("")).unwrap();
    let g = &c.global;
    assert_eq!(g.cluster_id, g.router_id);
    assert!(!g.always_compare_med && !g.multipath);
    assert!(g.graceful_restart);
    assert_eq!(g.restart_time, DEFAULT_RESTART_TIME);
    let p = &c.peers[0];
    assert_eq!(p.local_asn, 64512);
    assert!(!p.rr_client && !p.next_hop_self && !p.next_hop_keep);
    assert_eq!((p.allow_local_as, p.max_prefixes), (0, None));
    assert_eq!(p.add_paths, AddPaths::Off);
}

#[test]
fn routing_keys_are_read_into_the_rib_settings() {
    let text = String::from(
        "[global]\nasn = 64512\nrouter_id = \"198.51.100.1\"\ncluster_id = \"198.51.100.9\"\n\
         always_compare_med = true\nmultipath = true\n\
         [[peer]]\naddress = \"198.51.100.2\"\nasn = 64512\nrr_client = true\nnext_hop_self = true\n\
         allow_local_as = 2\nmax_prefixes = 500\nadd_paths = \"receive\"\n"
    );
    let c = parse(&text).unwrap();
    let g = c.rib_global();
    assert_eq!(g.cluster_id, Ipv4Addr::new(198, 51, 100, 9));
    assert!(g.best.always_compare_med && g.best.multipath);
    let p = c.rib_peer(&c.peers[0]);
    assert!(p.rr_client && p.next_hop_self && !p.next_hop_keep);
    assert_eq!((p.allow_local_as, p.max_prefixes), (2, Some(500)));
    let f = c.fsm_config(&c.peers[0]);
    assert!(f
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::AddPath(_))));
}

#[test]
fn a_local_asn_override_is_the_as_in_our_open_and_decides_ibgp() {
    let c = parse(&with_peer("local_asn = 64513")).unwrap();
    let p = &c.peers[0];
    assert!(p.is_ibgp(), "peer AS 64513 equals the overridden local AS");
    assert_eq!(c.fsm_config(p).local_asn, 64513);
    assert_eq!(c.rib_peer(p).local_asn, 64513);
}

#[test]
fn graceful_restart_is_advertised_with_the_restart_bit_only_when_restarting() {
    let mut c = parse(&with_peer("")).unwrap();
    let gr = |c: &Config| {
        c.fsm_config(&c.peers[0])
            .capabilities
            .into_iter()
            .find_map(|cap| match cap {
                Capability::GracefulRestart(g) => Some(g),
                _ => None,
            })
    };
    let g = gr(&c).expect("GR capability by default");
    assert!(!g.restart_state);
    assert_eq!(g.restart_time, 120);
    c.restarting = true;
    assert!(gr(&c).unwrap().restart_state);
    let off = parse(&format!(
        "{MIN}graceful_restart = false\n[[peer]]\naddress = \"198.51.100.2\"\nasn = 1\n"
    ))
    .unwrap();
    assert!(gr(&off).is_none());
}

#[test]
fn rr_client_on_an_external_peer_is_refused() {
    rejects(
        &with_peer("rr_client = true"),
        "peer[0].rr_client",
        "internal peer",
    );
}

#[test]
fn next_hop_self_and_next_hop_keep_together_are_refused() {
    rejects(
        &with_peer("next_hop_self = true\nnext_hop_keep = true"),
        "peer[0].next_hop_keep",
        "contradict",
    );
}

#[test]
fn add_paths_send_announces_the_send_mode_for_each_family() {
    let c = parse(&with_peer("add_paths = \"send\"")).unwrap();
    let f = c.fsm_config(&c.peers[0]);
    assert!(f.capabilities.iter().any(|cap| matches!(
        cap,
        Capability::AddPath(fams) if fams.iter().all(|a| a.mode == AddPathMode::Send)
    )));
}

#[test]
fn out_of_range_routing_values_are_refused_naming_the_key() {
    rejects(
        &with_peer("max_prefixes = 0"),
        "peer[0].max_prefixes",
        "at least 1",
    );
    rejects(
        &with_peer("allow_local_as = 11"),
        "peer[0].allow_local_as",
        "0..=10",
    );
    rejects(
        &format!("{MIN}restart_time = 4096\n"),
        "global.restart_time",
        "4095",
    );
    rejects(
        &with_peer("restart_time = 5000"),
        "peer[0].restart_time",
        "4095",
    );
    rejects(
        &format!("{MIN}cluster_id = \"0.0.0.0\"\n"),
        "global.cluster_id",
        "0.0.0.0",
    );
}

#[test]
fn the_kernel_section_defaults_to_bird_protocol_main_table_and_a_240_second_wait() {
    let k = parse(MIN).unwrap().kernel;
    assert!(k.enabled);
    assert_eq!((k.protocol, k.table, k.metric), (12, 254, 0));
    assert_eq!(k.restart_wait, Duration::from_secs(240));
    assert!(k.tunnels.is_empty() && k.learn.is_empty());
}

#[test]
fn kernel_tunnels_learn_rules_and_blackholes_are_read() {
    let c = parse(&format!(
        "{MIN}\n[kernel]\nprotocol = 200\ntable = 100\nrestart_wait = 30\n\
         [[kernel.tunnel]]\npool = \"203.0.113.0/24\"\nmode = \"cross-subnet\"\n\
         [[kernel.learn]]\ninterface = \"cali*\"\n\
         [[originate]]\nprefix = \"203.0.113.0/26\"\nblackhole = true\n"
    ))
    .unwrap();
    let k = &c.kernel;
    assert_eq!((k.protocol, k.table), (200, 100));
    assert_eq!(k.tunnels[0].device, "tunl0");
    assert_eq!(k.tunnels[0].mode, crate::fib::sync::TunnelMode::CrossSubnet);
    assert_eq!(k.learn[0].interface.as_deref(), Some("cali*"));
    assert!(c.originate[0].blackhole);
}

#[test]
fn bad_kernel_values_are_refused_naming_the_key() {
    rejects(
        &format!("{MIN}\n[kernel]\nprotocol = 3\n"),
        "kernel.protocol",
        "reserved",
    );
    rejects(
        &format!("{MIN}\n[kernel]\ntable = 255\n"),
        "kernel.table",
        "reserved",
    );
    rejects(
        &format!("{MIN}\n[[kernel.tunnel]]\npool = \"203.0.113.1/24\"\nmode = \"always\"\n"),
        "kernel.tunnel[0].pool",
        "host bits",
    );
    rejects(
        &format!("{MIN}\n[[kernel.learn]]\n"),
        "kernel.learn[0]",
        "at least one",
    );
    rejects(
        &format!("{MIN}\n[[kernel.learn]]\nprotocol = 12\n"),
        "kernel.learn[0].protocol",
        "wren's own",
    );
}

#[test]
fn next_hops_for_the_other_family_are_read_and_checked() {
    let c = parse(&with_peer(
        "families = [\"ipv4\", \"ipv6\"]\nnext_hop_v6 = \"2001:db8::1\"",
    ))
    .unwrap();
    assert_eq!(c.peers[0].next_hop_v6, Some("2001:db8::1".parse().unwrap()));
    rejects(
        &with_peer("next_hop_v6 = \"ff02::1\""),
        "peer[0].next_hop_v6",
        "unicast",
    );
}

#[test]
fn the_datastore_section_selects_calico_mode_and_refuses_unknown_types() {
    assert!(parse(MIN).unwrap().datastore.is_none(), "static by default");
    let c = parse(&format!(
        "{MIN}\n[datastore]\ntype = \"etcdv3\"\nendpoints = [\"http://198.18.0.1:2379\"]\nnode_name = \"node1\"\n"
    ))
    .unwrap();
    let d = c.datastore.unwrap();
    assert_eq!(d.endpoints, vec!["http://198.18.0.1:2379".to_string()]);
    assert_eq!(d.node_name.as_deref(), Some("node1"));
    rejects(
        &format!("{MIN}\n[datastore]\ntype = \"kubernetes\"\n"),
        "datastore.type",
        "not supported",
    );
}

#[test]
fn log_level_defaults_to_info_and_refuses_unknown_words() {
    assert_eq!(parse(MIN).unwrap().global.log_level, "info");
    assert_eq!(
        parse(&format!("{MIN}log_level = \"debug\"\n"))
            .unwrap()
            .global
            .log_level,
        "debug"
    );
    rejects(
        &format!("{MIN}log_level = \"loud\"\n"),
        "global.log_level",
        "not one of",
    );
}

#[test]
fn a_peers_restart_time_replaces_the_global_one_in_its_graceful_restart_capability() {
    let gr_time = |c: &Config| -> Vec<u16> {
        c.peers
            .iter()
            .map(|p| {
                c.fsm_config(p)
                    .capabilities
                    .iter()
                    .find_map(|cap| match cap {
                        crate::wire::Capability::GracefulRestart(g) => Some(g.restart_time),
                        _ => None,
                    })
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(gr_time(&parse(&with_peer("")).unwrap()), [120]);
    assert_eq!(
        gr_time(&parse(&with_peer("restart_time = 300")).unwrap()),
        [300]
    );
}
