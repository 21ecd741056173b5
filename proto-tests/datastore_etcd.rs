//! The etcd datastore source against a real etcd (Debian `etcd-server`) in a lab namespace.
//!
//! etcd runs inside its own namespace on that namespace's loopback, with its data directory in the
//! lab's log directory; the watcher is this test binary re-executed in the same namespace
//! ([`watcher_process`]), configured through calico-node's `ETCD_ENDPOINTS` and watching what
//! confd watches for node `node-1`. It prints every event as a JSON line; the test parses them and
//! applies them to a [`KvMap`]. `etcdctl` writes the keys.
//!
//! * The first `Synced` holds exactly the pre-written keys under the watched prefixes (Calico
//!   shaped keys and JSON values, 1,200 extra resources so the list takes three pages), and
//!   nothing of node-2's or node-10's affinities or the IPAM assignment blocks.
//! * A put, a malformed JSON value (passed through byte for byte) and a delete arrive as events,
//!   in order; a write outside the prefixes does not.
//! * etcd is stopped; while the watcher retries, etcd comes back on another port (same data
//!   directory) where keys are added, changed and deleted, unseen by the watcher; then etcd returns
//!   on its own port. The watcher reconnects by itself and sends a fresh `Synced` with those
//!   changes, after which the watch goes on.
//! * Over TLS (etcd with `--client-cert-auth`; a throw-away CA, server and client certificate
//!   made with `openssl`), a watcher given calico-node's `ETCD_CA_CERT_FILE`, `ETCD_CERT_FILE` and
//!   `ETCD_KEY_FILE` syncs and watches, and one trusting another CA never syncs.
//!
//! Needs root, `etcd`, `etcdctl` and (for TLS) `openssl`, so `#[ignore]`d and run by `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "lab/mod.rs"]
mod lab;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use lab::{wait_for, wait_until, Node, ProcHandle};
use serde_json::{json, Value};
use wren::datastore::{etcd, EtcdSettings, Event, KvMap};

/// Environment variable that turns [`watcher_process`] into the watcher: the Calico node name.
const WATCHER_ENV: &str = "WREN_DATASTORE_WATCHER";
/// Prefix of the watcher's event lines.
const EVENT_PREFIX: &str = "EVENT ";
/// etcd's usual client URL, on the namespace's loopback.
const CLIENT_URL: &str = "http://127.0.0.1:2379";
/// The client URL etcd uses while the watcher must not see it.
const HIDDEN_URL: &str = "http://127.0.0.1:12379";
const PEER_URL: &str = "http://127.0.0.1:2380";
const NODE_NAME: &str = "node-1";
const DEADLINE: Duration = Duration::from_secs(30);
/// etcd and the watcher are killed by `timeout` after this even if teardown never runs.
const LIFETIME: Duration = Duration::from_secs(120);
/// Extra resources written so that the list spans several pages of 500.
const BULK_KEYS: usize = 1200;

const RES: &str = "/calico/resources/v3/projectcalico.org";

fn node_json(asn: u32) -> String {
    json!({"kind":"Node","apiVersion":"projectcalico.org/v3",
        "metadata":{"name":NODE_NAME,"uid":"5b0c6a0e-0000-4000-8000-000000000001",
            "creationTimestamp":"2024-05-01T10:00:00Z",
            "labels":{"kubernetes.io/hostname":NODE_NAME}},
        "spec":{"bgp":{"asNumber":asn,"ipv4Address":"198.18.0.1/24",
            "ipv4IPIPTunnelAddr":"192.168.84.128"}},
        "status":{}})
    .to_string()
}

/// The keys written before the watcher starts: (key, value, watched?).
fn initial_keys() -> Vec<(String, String, bool)> {
    let affinity = r#"{"state":"confirmed","deleted":false}"#;
    let mut keys = vec![
        (format!("{RES}/nodes/{NODE_NAME}"), node_json(64512), true),
        (
            format!("{RES}/bgpconfigurations/default"),
            json!({"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3",
                "metadata":{"name":"default"},
                "spec":{"logSeverityScreen":"Info","nodeToNodeMeshEnabled":true,
                    "asNumber":64512,"listenPort":179}})
            .to_string(),
            true,
        ),
        (
            format!("{RES}/bgppeers/rack1-tor"),
            json!({"kind":"BGPPeer","apiVersion":"projectcalico.org/v3",
                "metadata":{"name":"rack1-tor"},
                "spec":{"nodeSelector":"rack == 'rack-1'","peerIP":"198.18.0.254",
                    "asNumber":64533}})
            .to_string(),
            true,
        ),
        (
            format!("{RES}/ippools/default-ipv4-ippool"),
            json!({"kind":"IPPool","apiVersion":"projectcalico.org/v3",
                "metadata":{"name":"default-ipv4-ippool"},
                "spec":{"cidr":"192.168.0.0/16","ipipMode":"Always","natOutgoing":true}})
            .to_string(),
            true,
        ),
        (
            format!("/calico/ipam/v2/host/{NODE_NAME}/ipv4/block/192.168.84.128-26"),
            affinity.to_owned(),
            true,
        ),
        // Another node's affinities, including one whose name extends ours.
        (
            "/calico/ipam/v2/host/node-2/ipv4/block/192.168.85.0-26".to_owned(),
            affinity.to_owned(),
            false,
        ),
        (
            "/calico/ipam/v2/host/node-10/ipv4/block/192.168.86.0-26".to_owned(),
            affinity.to_owned(),
            false,
        ),
        (
            "/calico/ipam/v2/assignment/ipv4/block/192.168.84.128-26".to_owned(),
            json!({"cidr":"192.168.84.128/26","affinity":"host:node-1"}).to_string(),
            false,
        ),
    ];
    for i in 0..BULK_KEYS {
        keys.push((
            format!("{RES}/hostendpoints/hep-{i:04}"),
            "{}".to_owned(),
            true,
        ));
    }
    keys
}

// ------------------------------------------------------------------------------------------------
// etcd in the namespace

/// How `etcdctl` reaches etcd: the URL and, with TLS, `--cacert`/`--cert`/`--key`.
#[derive(Clone, Debug)]
struct Endpoint {
    url: String,
    tls_args: Vec<String>,
}

impl Endpoint {
    fn plain(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            tls_args: Vec::new(),
        }
    }
}

/// Starts etcd serving `ep` (plus `server_args`, e.g. its TLS files) and waits until it is healthy.
fn start_etcd(
    node: &Node,
    data_dir: &Path,
    ep: &Endpoint,
    server_args: &[String],
    run: u32,
) -> ProcHandle {
    let data_dir = data_dir.to_string_lossy();
    let initial_cluster = format!("lab={PEER_URL}");
    let mut argv = vec![
        "etcd",
        "--name",
        "lab",
        "--data-dir",
        &data_dir,
        "--listen-client-urls",
        &ep.url,
        "--advertise-client-urls",
        &ep.url,
        "--listen-peer-urls",
        PEER_URL,
        "--initial-advertise-peer-urls",
        PEER_URL,
        "--initial-cluster",
        &initial_cluster,
        "--max-txn-ops",
        "2048",
        "--logger",
        "zap",
        "--log-outputs",
        "stderr",
    ];
    argv.extend(server_args.iter().map(String::as_str));
    let etcd = node
        .spawn_with_lifetime(&format!("etcd{run}"), &argv, LIFETIME)
        .unwrap();
    wait_until(DEADLINE, &format!("etcd to serve {}", ep.url), || {
        if !etcd.is_running() {
            return Err(format!("etcd exited:\n{}", etcd.log_tail(20)));
        }
        etcdctl(node, ep, &["endpoint", "health"])
            .map(|_| true)
            .map_err(|e| e.to_string())
    })
    .unwrap();
    etcd
}

fn etcdctl(node: &Node, ep: &Endpoint, args: &[&str]) -> lab::Result<String> {
    let mut argv = vec!["etcdctl", "--endpoints", &ep.url];
    argv.extend(ep.tls_args.iter().map(String::as_str));
    argv.extend_from_slice(args);
    node.exec(&argv)
}

fn put(node: &Node, ep: &Endpoint, key: &str, value: &str) {
    etcdctl(node, ep, &["put", key, value]).unwrap();
}

fn delete(node: &Node, ep: &Endpoint, key: &str) {
    let out = etcdctl(node, ep, &["del", key]).unwrap();
    assert_eq!(out.trim(), "1", "deleting {key}");
}

/// Writes the many simple keys in one transaction (one `etcdctl` instead of 1,200).
fn put_bulk(node: &Node, ep: &Endpoint) {
    let script = format!(
        "i=0; {{ echo; while [ $i -lt {BULK_KEYS} ]; do \
         printf 'put {RES}/hostendpoints/hep-%04d {{}}\\n' $i; i=$((i+1)); done; echo; echo; }} \
         | etcdctl --endpoints {} {} txn",
        ep.url,
        ep.tls_args.join(" ")
    );
    let out = node.exec(&["sh", "-c", &script]).unwrap();
    assert!(out.starts_with("SUCCESS"), "bulk txn: {out}");
}

// ------------------------------------------------------------------------------------------------
// The watcher's output

/// Every event the watcher printed so far, in order.
/// The data events the watcher printed (`Event::Lost` markers left out; see [`lost_count`]).
fn events(watcher: &ProcHandle) -> Vec<Event> {
    all_events(watcher)
        .into_iter()
        .filter(|e| !matches!(e, Event::Lost))
        .collect()
}

/// How many times the watcher reported the connection lost.
fn lost_count(watcher: &ProcHandle) -> usize {
    all_events(watcher)
        .iter()
        .filter(|e| matches!(e, Event::Lost))
        .count()
}

fn all_events(watcher: &ProcHandle) -> Vec<Event> {
    let log = std::fs::read_to_string(watcher.log_path()).unwrap_or_default();
    // Only complete lines: the last one may still be being written.
    let complete = log.rsplit_once('\n').map_or("", |(done, _)| done);
    complete
        .lines()
        .filter_map(|l| l.strip_prefix(EVENT_PREFIX))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            event_from_json(&v).unwrap_or_else(|| panic!("bad event line: {l}"))
        })
        .collect()
}

fn bytes_to_json(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
    }
}

fn bytes_from_json(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect(),
        _ => None,
    }
}

fn event_to_json(e: &Event) -> Value {
    match e {
        Event::Synced(map) => json!({"type":"synced","kvs":map
            .iter()
            .map(|(k, v)| (k.clone(), bytes_to_json(v)))
            .collect::<serde_json::Map<_, _>>()}),
        Event::Put { key, value } => json!({"type":"put","key":key,"value":bytes_to_json(value)}),
        Event::Delete { key } => json!({"type":"delete","key":key}),
        Event::Lost => json!({"type":"lost"}),
    }
}

fn event_from_json(v: &Value) -> Option<Event> {
    match v.get("type")?.as_str()? {
        "synced" => Some(Event::Synced(
            v.get("kvs")?
                .as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), bytes_from_json(v)?)))
                .collect::<Option<BTreeMap<_, _>>>()?,
        )),
        "lost" => Some(Event::Lost),
        "put" => Some(Event::Put {
            key: v.get("key")?.as_str()?.to_owned(),
            value: bytes_from_json(v.get("value")?)?,
        }),
        "delete" => Some(Event::Delete {
            key: v.get("key")?.as_str()?.to_owned(),
        }),
        _ => None,
    }
}

/// Waits until the watcher has printed more than `seen` events and returns the new ones.
fn wait_events(watcher: &ProcHandle, seen: usize, want: usize, what: &str) -> Vec<Event> {
    wait_for(DEADLINE, what, || {
        if !watcher.is_running() {
            return Err(format!("the watcher exited:\n{}", watcher.log_tail(30)));
        }
        let all = events(watcher);
        if all.len() >= seen + want {
            Ok(Some(all[seen..].to_vec()))
        } else {
            Err(format!(
                "{} new events so far; watcher log tail:\n{}",
                all.len().saturating_sub(seen),
                watcher.log_tail(5)
            ))
        }
    })
    .unwrap()
}

fn kvs(entries: &BTreeMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect()
}

/// Spawns the watcher ([`watcher_process`]) in `node` for node `node-1`, with `env` (`NAME=value`,
/// calico-node's `ETCD_*` variables) in its environment.
fn spawn_watcher(node: &Node, name: &str, env: &[String]) -> ProcHandle {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_string_lossy();
    let marker = format!("{WATCHER_ENV}={NODE_NAME}");
    let mut argv = vec!["env", marker.as_str()];
    argv.extend(env.iter().map(String::as_str));
    argv.extend([
        &*exe,
        "--exact",
        "watcher_process",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    node.spawn_with_lifetime(name, &argv, LIFETIME).unwrap()
}

// ------------------------------------------------------------------------------------------------
// TLS material

/// Runs `openssl` with the whitespace-separated `args` in `dir` (in the host namespace: it only
/// writes files; every name is relative to `dir`, so none has a space).
fn openssl(dir: &Path, args: &str) {
    let out = std::process::Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Key options: P-256, no passphrase.
const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A throw-away CA `<name>-ca.{crt,key}` in `dir`, valid one day.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &format!(
            "req -x509 {EC_KEY} -keyout {name}-ca.key -out {name}-ca.crt -days 1 \
             -subj /CN=wren-test-{name}-ca -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
}

/// A leaf `<name>.{crt,key}` in `dir` signed by CA `ca`, with `extensions` (an openssl
/// extension-file body: SANs, extended key usage).
fn make_leaf(dir: &Path, ca: &str, name: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &format!("req -new {EC_KEY} -keyout {name}.key -out {name}.csr -subj /CN={name}"),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA {ca}-ca.crt -CAkey {ca}-ca.key -CAcreateserial \
             -out {name}.crt -days 1 -extfile {name}.ext"
        ),
    );
}

// ------------------------------------------------------------------------------------------------
// The test

#[test]
#[ignore = "needs root, etcd and etcdctl: run via make test"]
fn etcd_watcher_lists_watches_and_resyncs_after_an_etcd_restart() {
    let lab = lab::Lab::new("datastore_etcd").unwrap();
    lab::require_binaries(&["etcd", "etcdctl", "ip", "sh"]).unwrap();
    let node = lab.add_node("etcd").unwrap();
    let data_dir = lab.log_dir().join("etcd-data");
    let (main, hidden) = (Endpoint::plain(CLIENT_URL), Endpoint::plain(HIDDEN_URL));
    let mut etcd_proc = start_etcd(&node, &data_dir, &main, &[], 1);

    // Pre-written state.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for (key, value, watched) in initial_keys() {
        if !key.contains("/hostendpoints/") {
            put(&node, &main, &key, &value);
        }
        if watched {
            expected.insert(key, value);
        }
    }
    put_bulk(&node, &main);
    put(&node, &main, "/unrelated/key", "x");

    // The watcher: this binary re-executed in etcd's namespace, configured from the environment.
    let watcher = spawn_watcher(&node, "watcher", &[format!("ETCD_ENDPOINTS={CLIENT_URL}")]);

    // 1. The initial list.
    let first = wait_events(&watcher, 0, 1, "the initial Synced");
    let mut map = KvMap::new();
    assert!(matches!(first[0], Event::Synced(_)), "{:?}", first[0]);
    assert!(map.apply(first[0].clone()));
    assert_eq!(map.len(), expected.len());
    assert_eq!(map.as_map(), &kvs(&expected), "initial list");
    let mut seen = 1;

    // 2. Changes while watching: a new peer, a malformed value, a write elsewhere, a delete.
    let new_peer = format!("{RES}/bgppeers/rack2-tor");
    let new_peer_json =
        json!({"kind":"BGPPeer","spec":{"peerIP":"198.18.1.254","asNumber":64534}}).to_string();
    let broken_key = format!("{RES}/bgppeers/broken");
    let broken = r#"{"kind":"BGPPeer","spec":{"peerIP":"#;
    let old_peer = format!("{RES}/bgppeers/rack1-tor");
    put(&node, &main, &new_peer, &new_peer_json);
    put(&node, &main, &broken_key, broken);
    put(
        &node,
        &main,
        "/calico/ipam/v2/host/node-2/ipv4/block/192.168.87.0-26",
        "{}",
    );
    delete(&node, &main, &old_peer);
    let changes = wait_events(&watcher, seen, 3, "the put, put and delete events");
    assert_eq!(
        changes,
        vec![
            Event::Put {
                key: new_peer.clone(),
                value: new_peer_json.as_bytes().to_vec()
            },
            Event::Put {
                key: broken_key.clone(),
                value: broken.as_bytes().to_vec()
            },
            Event::Delete {
                key: old_peer.clone()
            },
        ],
        "the node-2 write must not show"
    );
    for e in changes {
        assert!(map.apply(e));
    }
    seen += 3;
    expected.insert(new_peer.clone(), new_peer_json);
    expected.insert(broken_key.clone(), broken.to_owned());
    expected.remove(&old_peer);
    assert_eq!(map.as_map(), &kvs(&expected));

    // 3. etcd goes away; the watcher notices and keeps retrying.
    let retries = || {
        std::fs::read_to_string(watcher.log_path())
            .unwrap_or_default()
            .matches("reconnecting in")
            .count()
    };
    let retries_before = retries();
    etcd_proc.kill().unwrap();
    wait_until(DEADLINE, "the watcher to notice etcd is gone", || {
        if !watcher.is_running() {
            return Err(format!("the watcher exited:\n{}", watcher.log_tail(30)));
        }
        Ok::<_, String>(retries() > retries_before)
    })
    .unwrap();
    assert!(
        lost_count(&watcher) >= 1,
        "the watcher reports the lost connection (Event::Lost)"
    );

    // 4. Changes the watcher cannot see: etcd back on another port, same data.
    etcd_proc = start_etcd(&node, &data_dir, &hidden, &[], 2);
    let new_block = format!("/calico/ipam/v2/host/{NODE_NAME}/ipv4/block/192.168.84.192-26");
    let affinity = r#"{"state":"confirmed","deleted":false}"#;
    put(&node, &hidden, &new_block, affinity);
    let node_key = format!("{RES}/nodes/{NODE_NAME}");
    put(&node, &hidden, &node_key, &node_json(64513));
    let pool = format!("{RES}/ippools/default-ipv4-ippool");
    delete(&node, &hidden, &pool);
    expected.insert(new_block, affinity.to_owned());
    expected.insert(node_key, node_json(64513));
    expected.remove(&pool);
    etcd_proc.kill().unwrap();
    assert_eq!(
        events(&watcher).len(),
        seen,
        "no events while etcd was elsewhere"
    );
    assert!(watcher.is_running(), "{}", watcher.log_tail(30));

    // 5. etcd back where the watcher looks: a fresh Synced with everything written meanwhile.
    etcd_proc = start_etcd(&node, &data_dir, &main, &[], 3);
    let resync = wait_events(&watcher, seen, 1, "the Synced after etcd's return");
    assert!(matches!(resync[0], Event::Synced(_)), "{:?}", resync[0]);
    assert!(map.apply(resync[0].clone()), "the resync changed the map");
    assert_eq!(map.as_map(), &kvs(&expected), "state after the resync");
    seen += 1;

    // 6. The watch goes on after the resync.
    let after = format!("{RES}/bgpconfigurations/node.{NODE_NAME}");
    put(&node, &main, &after, r#"{"spec":{"listenPort":1179}}"#);
    let tail = wait_events(&watcher, seen, 1, "a put after the resync");
    assert_eq!(
        tail,
        vec![Event::Put {
            key: after,
            value: br#"{"spec":{"listenPort":1179}}"#.to_vec()
        }]
    );
    drop(etcd_proc);
}

#[test]
#[ignore = "needs root, etcd, etcdctl and openssl: run via make test"]
fn etcd_watcher_speaks_tls_with_a_client_certificate_and_checks_the_server() {
    let lab = lab::Lab::new("datastore_etcd_tls").unwrap();
    lab::require_binaries(&["etcd", "etcdctl", "openssl", "ip"]).unwrap();
    let node = lab.add_node("etcd").unwrap();
    let tls = lab.log_dir().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    make_ca(&tls, "good");
    make_ca(&tls, "other");
    make_leaf(
        &tls,
        "good",
        "server",
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    make_leaf(
        &tls,
        "good",
        "client",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    let file = |name: &str| tls.join(name).to_string_lossy().into_owned();
    let url = "https://127.0.0.1:2379";
    let ep = Endpoint {
        url: url.to_owned(),
        tls_args: vec![
            format!("--cacert={}", file("good-ca.crt")),
            format!("--cert={}", file("client.crt")),
            format!("--key={}", file("client.key")),
        ],
    };
    let server_args = [
        format!("--cert-file={}", file("server.crt")),
        format!("--key-file={}", file("server.key")),
        format!("--trusted-ca-file={}", file("good-ca.crt")),
        "--client-cert-auth".to_owned(),
    ];
    let _etcd = start_etcd(
        &node,
        &lab.log_dir().join("etcd-data"),
        &ep,
        &server_args,
        1,
    );
    let node_key = format!("{RES}/nodes/{NODE_NAME}");
    put(&node, &ep, &node_key, &node_json(64512));

    let env = |ca: &str| {
        vec![
            format!("ETCD_ENDPOINTS={url}"),
            format!("ETCD_CA_CERT_FILE={}", file(ca)),
            format!("ETCD_CERT_FILE={}", file("client.crt")),
            format!("ETCD_KEY_FILE={}", file("client.key")),
        ]
    };
    let good = spawn_watcher(&node, "watcher", &env("good-ca.crt"));
    // Trusting another CA, the watcher must refuse etcd's certificate.
    let distrustful = spawn_watcher(&node, "distrust", &env("other-ca.crt"));

    let first = wait_events(&good, 0, 1, "the Synced over TLS");
    assert_eq!(
        first,
        vec![Event::Synced(
            [(node_key.clone(), node_json(64512).into_bytes())].into()
        )]
    );
    put(&node, &ep, &node_key, &node_json(64513));
    let next = wait_events(&good, 1, 1, "a put over TLS");
    assert_eq!(
        next,
        vec![Event::Put {
            key: node_key,
            value: node_json(64513).into_bytes()
        }]
    );

    wait_until(
        DEADLINE,
        "the distrustful watcher to fail a handshake",
        || {
            let log = std::fs::read_to_string(distrustful.log_path()).unwrap_or_default();
            if !distrustful.is_running() {
                return Err(format!("it exited:\n{}", distrustful.log_tail(30)));
            }
            Ok::<_, String>(log.contains("reconnecting in"))
        },
    )
    .unwrap();
    assert!(
        events(&distrustful).is_empty(),
        "a watcher that does not trust etcd's CA must not sync:\n{}",
        distrustful.log_tail(20)
    );
}

// ------------------------------------------------------------------------------------------------
// The watcher

/// Not a test: the watcher process of `etcd_watcher_lists_watches_and_resyncs_after_an_etcd_restart`,
/// which runs this binary inside etcd's namespace with [`WATCHER_ENV`] set to the node name and
/// `ETCD_ENDPOINTS` to etcd's URL. Without it, it returns at once.
#[test]
#[ignore = "the etcd test's helper process; does nothing on its own"]
fn watcher_process() {
    let Ok(node) = std::env::var(WATCHER_ENV) else {
        return;
    };
    tracing_subscriber::fmt()
        .with_env_filter("wren=debug")
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let settings = EtcdSettings {
        prefixes: EtcdSettings::calico_prefixes(&node),
        ..EtcdSettings::default()
    }
    .overridden_by(EtcdSettings::from_env());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(etcd::watch(settings, tx));
        while let Some(event) = rx.recv().await {
            // One write per line, so the log lines tracing writes to stderr (the same file)
            // never land inside it.
            let line = format!("{EVENT_PREFIX}{}\n", event_to_json(&event));
            let mut out = std::io::stdout().lock();
            out.write_all(line.as_bytes()).unwrap();
            out.flush().unwrap();
        }
        panic!("the watcher ended: {:?}", task.await);
    });
}

#[test]
fn event_lines_round_trip() {
    let events = [
        Event::Synced([("/a".to_owned(), b"{\"x\":1}".to_vec())].into()),
        Event::Put {
            key: "/b".to_owned(),
            value: vec![0xff, b'{'],
        },
        Event::Delete {
            key: "/c".to_owned(),
        },
    ];
    for e in events {
        let line = event_to_json(&e).to_string();
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event_from_json(&back), Some(e));
    }
}
