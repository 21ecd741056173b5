#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use super::etcd::{normalize_endpoint, normalize_prefixes, prefix_end, Backoff};
use super::{Error, EtcdSettings, Event, KvMap};

const NODE: &str = "/calico/resources/v3/projectcalico.org/nodes/node-1";
const PEER: &str = "/calico/resources/v3/projectcalico.org/bgppeers/rack1-tor";

fn synced(entries: &[(&str, &str)]) -> Event {
    Event::Synced(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
    )
}

fn put(key: &str, value: &str) -> Event {
    Event::Put {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
    }
}

fn delete(key: &str) -> Event {
    Event::Delete {
        key: key.to_owned(),
    }
}

// ------------------------------------------------------------------------------------------------
// KvMap

#[test]
fn first_sync_counts_as_a_change_even_when_empty() {
    let mut m = KvMap::new();
    assert!(!m.is_synced());
    assert!(m.apply(synced(&[])));
    assert!(m.is_synced());
    assert!(m.is_empty());
    // The same empty list again changes nothing.
    assert!(!m.apply(synced(&[])));
}

#[test]
fn puts_and_deletes_report_only_real_changes() {
    let mut m = KvMap::new();
    assert!(m.apply(synced(&[(NODE, "{}")])));
    assert!(m.apply(put(PEER, r#"{"kind":"BGPPeer"}"#)));
    assert!(!m.apply(put(PEER, r#"{"kind":"BGPPeer"}"#)), "same value");
    assert!(m.apply(put(PEER, r#"{"kind":"BGPPeer","spec":{}}"#)));
    assert_eq!(m.get(PEER), Some(&br#"{"kind":"BGPPeer","spec":{}}"#[..]));
    assert!(m.apply(delete(NODE)));
    assert!(!m.apply(delete(NODE)), "already gone");
    assert_eq!(m.len(), 1);
    assert_eq!(m.get(NODE), None);
}

#[test]
fn a_resync_replaces_the_map() {
    let mut m = KvMap::new();
    m.apply(synced(&[(NODE, "a"), (PEER, "b")]));
    // Same content: no change.
    assert!(!m.apply(synced(&[(PEER, "b"), (NODE, "a")])));
    // A key vanished while the source was away, another appeared: replaced wholesale.
    let new_key = "/calico/ipam/v2/host/node-1/ipv4/block/192.168.84.128-26";
    assert!(m.apply(synced(&[(PEER, "b2"), (new_key, "{}")])));
    let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![new_key, PEER]);
    assert_eq!(m.get(PEER), Some(&b"b2"[..]));
}

#[test]
fn values_are_kept_as_bytes_whatever_they_hold() {
    let mut m = KvMap::new();
    m.apply(synced(&[]));
    let raw = vec![b'{', 0xff, 0x00, b'"'];
    assert!(m.apply(Event::Put {
        key: PEER.to_owned(),
        value: raw.clone(),
    }));
    assert_eq!(m.get(PEER), Some(raw.as_slice()));
}

#[test]
fn events_before_the_first_sync_are_applied_but_do_not_mark_it_synced() {
    let mut m = KvMap::new();
    assert!(m.apply(put(PEER, "x")));
    assert!(!m.is_synced());
    assert!(
        m.apply(synced(&[(PEER, "x")])),
        "the first sync is a change"
    );
    assert!(m.is_synced());
}

#[test]
fn with_prefix_selects_one_subtree() {
    let mut m = KvMap::new();
    m.apply(synced(&[
        ("/calico/resources/v3/projectcalico.org/bgppeers/a", "1"),
        ("/calico/resources/v3/projectcalico.org/bgppeers/b", "2"),
        ("/calico/resources/v3/projectcalico.org/bgppeersx", "3"),
        ("/calico/resources/v3/projectcalico.org/nodes/a", "4"),
        (
            "/calico/resources/v3/projectcalico.org/bgpconfigurations/default",
            "5",
        ),
    ]));
    let peers: Vec<(&str, &[u8])> = m
        .with_prefix("/calico/resources/v3/projectcalico.org/bgppeers/")
        .collect();
    assert_eq!(
        peers,
        vec![
            (
                "/calico/resources/v3/projectcalico.org/bgppeers/a",
                &b"1"[..]
            ),
            (
                "/calico/resources/v3/projectcalico.org/bgppeers/b",
                &b"2"[..]
            ),
        ]
    );
    assert_eq!(m.with_prefix("/nothing/").count(), 0);
    assert_eq!(m.with_prefix("").count(), 5);
    assert_eq!(m.as_map().len(), 5);
}

// ------------------------------------------------------------------------------------------------
// Settings

fn env(vars: &[(&str, &str)]) -> EtcdSettings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    EtcdSettings::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn env_endpoints_are_comma_separated_and_trimmed() {
    let s = env(&[(
        "ETCD_ENDPOINTS",
        " https://10.0.0.1:2379, https://10.0.0.2:2379 ,,https://[fd00::3]:2379",
    )]);
    assert_eq!(
        s.endpoints,
        vec![
            "https://10.0.0.1:2379",
            "https://10.0.0.2:2379",
            "https://[fd00::3]:2379"
        ]
    );
    assert_eq!(s.ca_cert_file, None);
    assert!(s.prefixes.is_empty());
}

#[test]
fn env_tls_files_are_read_and_empty_variables_are_unset() {
    let s = env(&[
        ("ETCD_ENDPOINTS", "https://etcd:2379"),
        ("ETCD_CA_CERT_FILE", "/calico-secrets/etcd-ca"),
        ("ETCD_CERT_FILE", "/calico-secrets/etcd-cert"),
        ("ETCD_KEY_FILE", "/calico-secrets/etcd-key"),
    ]);
    assert_eq!(
        s.ca_cert_file,
        Some(PathBuf::from("/calico-secrets/etcd-ca"))
    );
    assert_eq!(
        s.cert_file,
        Some(PathBuf::from("/calico-secrets/etcd-cert"))
    );
    assert_eq!(s.key_file, Some(PathBuf::from("/calico-secrets/etcd-key")));
    assert!(s.uses_tls());

    // calico-node manifests set the TLS variables to "" when TLS is off.
    let s = env(&[
        ("ETCD_ENDPOINTS", "  "),
        ("ETCD_CA_CERT_FILE", ""),
        ("ETCD_CERT_FILE", " "),
        ("ETCD_KEY_FILE", ""),
    ]);
    assert_eq!(s, EtcdSettings::default());
    assert!(!s.uses_tls());
}

#[test]
fn environment_wins_over_file_field_by_field() {
    let file = EtcdSettings {
        endpoints: vec!["http://file:2379".to_owned()],
        ca_cert_file: Some(PathBuf::from("/file/ca")),
        cert_file: Some(PathBuf::from("/file/cert")),
        key_file: Some(PathBuf::from("/file/key")),
        prefixes: EtcdSettings::calico_prefixes("node-1"),
    };
    let from_env = env(&[
        ("ETCD_ENDPOINTS", "https://env:2379"),
        ("ETCD_CA_CERT_FILE", "/env/ca"),
    ]);
    let merged = file.clone().overridden_by(from_env);
    assert_eq!(merged.endpoints, vec!["https://env:2379"]);
    assert_eq!(merged.ca_cert_file, Some(PathBuf::from("/env/ca")));
    assert_eq!(merged.cert_file, Some(PathBuf::from("/file/cert")));
    assert_eq!(merged.key_file, Some(PathBuf::from("/file/key")));
    assert_eq!(merged.prefixes, file.prefixes, "the env names no prefixes");

    // An empty environment changes nothing.
    assert_eq!(file.clone().overridden_by(env(&[])), file);
}

#[test]
fn calico_prefixes_are_what_confd_watches() {
    assert_eq!(
        EtcdSettings::calico_prefixes("node-1"),
        vec![
            "/calico/resources/v3/projectcalico.org/".to_owned(),
            "/calico/ipam/v2/host/node-1/".to_owned(),
        ]
    );
}

fn valid() -> EtcdSettings {
    EtcdSettings {
        endpoints: vec!["http://127.0.0.1:2379".to_owned()],
        prefixes: EtcdSettings::calico_prefixes("n"),
        ..EtcdSettings::default()
    }
}

fn settings_error(s: &EtcdSettings) -> String {
    match s.validate() {
        Err(Error::Settings(msg)) => msg,
        other => panic!("expected a settings error, got {other:?}"),
    }
}

#[test]
fn validation() {
    valid().validate().unwrap();

    let mut s = valid();
    s.endpoints.clear();
    assert!(settings_error(&s).contains("ETCD_ENDPOINTS"));

    let mut s = valid();
    s.prefixes.clear();
    assert!(settings_error(&s).contains("prefix"));
    let mut s = valid();
    s.prefixes.push(String::new());
    assert!(settings_error(&s).contains("prefix"));

    let mut s = valid();
    s.endpoints = vec!["https://etcd:2379".to_owned()];
    s.cert_file = Some(PathBuf::from("/c"));
    s.ca_cert_file = Some(PathBuf::from("/ca"));
    assert!(settings_error(&s).contains("ETCD_KEY_FILE"));
    s.key_file = Some(PathBuf::from("/k"));
    s.validate().unwrap();

    // TLS files with a plain-HTTP endpoint cannot work.
    s.endpoints.push("HTTP://other:2379".to_owned());
    assert!(settings_error(&s).contains("plain HTTP"));

    // HTTPS needs a CA file: the system trust store is not used.
    let mut s = valid();
    s.endpoints = vec!["https://etcd:2379".to_owned()];
    assert!(settings_error(&s).contains("ETCD_CA_CERT_FILE"));
    s.ca_cert_file = Some(PathBuf::from("/ca"));
    s.validate().unwrap();
    // Scheme-less endpoints with TLS files are fine (they use HTTPS).
    s.endpoints = vec!["etcd:2379".to_owned()];
    s.validate().unwrap();
}

// ------------------------------------------------------------------------------------------------
// etcd helpers

#[test]
fn prefix_end_is_the_first_key_after_the_prefix() {
    assert_eq!(prefix_end(b"/calico/"), b"/calico0".to_vec());
    assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
    assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
    assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    assert_eq!(prefix_end(b""), vec![0]);
}

#[test]
fn nested_and_duplicate_prefixes_are_dropped() {
    let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        normalize_prefixes(&p(&[
            "/calico/ipam/v2/host/n/",
            "/calico/resources/v3/projectcalico.org/nodes/",
            "/calico/resources/v3/projectcalico.org/",
            "/calico/ipam/v2/host/n/",
        ])),
        p(&[
            "/calico/ipam/v2/host/n/",
            "/calico/resources/v3/projectcalico.org/"
        ])
    );
    // "/a/b" is not inside "/a/bc/" and vice versa.
    assert_eq!(
        normalize_prefixes(&p(&["/a/bc/", "/a/b/"])),
        p(&["/a/b/", "/a/bc/"])
    );
}

#[test]
fn endpoint_schemes_are_lower_cased() {
    assert_eq!(normalize_endpoint("HTTPS://Etcd:2379"), "https://Etcd:2379");
    assert_eq!(normalize_endpoint("10.0.0.1:2379"), "10.0.0.1:2379");
}

#[test]
fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
    let min = Duration::from_millis(500);
    let max = Duration::from_secs(30);
    let mut b = Backoff::new(min, max, 42);
    let mut nominal = min;
    let mut seen = Vec::new();
    for _ in 0..12 {
        let d = b.next_delay();
        assert!(
            d >= nominal / 2 && d <= nominal,
            "{d:?} not in [{:?}, {nominal:?}]",
            nominal / 2
        );
        seen.push(d);
        nominal = (nominal * 2).min(max);
    }
    assert!(seen.iter().all(|d| *d <= max));
    // Capped: the last delays are drawn from [15 s, 30 s].
    assert!(seen[11] >= Duration::from_secs(15));
    b.reset();
    assert!(b.next_delay() <= min);

    // Different seeds give different jitter.
    let draws = |seed| {
        let mut b = Backoff::new(min, max, seed);
        (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
    };
    assert_ne!(draws(1), draws(2));
}

#[test]
fn synced_maps_compare_by_content() {
    let a: BTreeMap<String, Vec<u8>> = [(NODE.to_owned(), b"x".to_vec())].into();
    assert_eq!(Event::Synced(a.clone()), Event::Synced(a));
}

#[test]
fn a_lost_connection_keeps_the_map_but_it_is_no_longer_current_until_the_next_list() {
    let mut kv = KvMap::new();
    assert!(!kv.is_current());
    kv.apply(Event::Synced(BTreeMap::from([(
        "/a".to_string(),
        b"1".to_vec(),
    )])));
    assert!(kv.is_current());
    assert!(
        !kv.apply(Event::Lost),
        "losing the connection changes no key"
    );
    assert!(!kv.is_current());
    assert_eq!(kv.get("/a"), Some(&b"1"[..]));
    kv.apply(Event::Synced(BTreeMap::from([(
        "/a".to_string(),
        b"1".to_vec(),
    )])));
    assert!(kv.is_current());
}
