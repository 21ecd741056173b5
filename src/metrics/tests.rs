#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;

fn tor1() -> PeerSample {
    PeerSample {
        name: "tor1".into(),
        state: SessionState::Established,
        uptime: Duration::from_millis(42_500),
        messages_received: 10,
        messages_sent: 12,
        updates_received: 4,
        updates_sent: 3,
        established_transitions: 2,
        prefixes_received: 7,
        prefixes_accepted: 6,
        prefixes_advertised: 5,
        last_error: Some("Received: Hold timer expired".into()),
    }
}

fn value(m: &Metrics, series: &str) -> Option<f64> {
    sample_value(&m.render().unwrap(), series)
}

#[test]
fn every_family_is_exposed_with_the_values_set() {
    let m = Metrics::new().unwrap();
    m.set_peer(&tor1());
    m.set_rib(120, 250);
    m.add_fib(FibOp::Add, 10, 1);
    m.add_fib(FibOp::Replace, 3, 0);
    m.add_fib(FibOp::Add, 5, 2);
    m.set_datastore(true, Duration::from_millis(1500));
    let text = m.render().unwrap();
    for family in [
        "wren_peer_state",
        "wren_peer_up",
        "wren_peer_uptime_seconds",
        "wren_peer_messages_received_total",
        "wren_peer_messages_sent_total",
        "wren_peer_updates_received_total",
        "wren_peer_updates_sent_total",
        "wren_peer_fsm_transitions_total",
        "wren_peer_prefixes_received",
        "wren_peer_prefixes_accepted",
        "wren_peer_prefixes_advertised",
        "wren_peer_last_error_info",
        "wren_rib_prefixes",
        "wren_rib_paths",
        "wren_fib_operations_total",
        "wren_fib_failures_total",
        "wren_datastore_synced",
        "wren_datastore_lag_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family}:\n{text}"
        );
    }
    let expect = [
        (r#"wren_peer_state{peer="tor1"}"#, 5.0),
        (r#"wren_peer_up{peer="tor1"}"#, 1.0),
        (r#"wren_peer_uptime_seconds{peer="tor1"}"#, 42.5),
        (r#"wren_peer_messages_received_total{peer="tor1"}"#, 10.0),
        (r#"wren_peer_messages_sent_total{peer="tor1"}"#, 12.0),
        (r#"wren_peer_updates_received_total{peer="tor1"}"#, 4.0),
        (r#"wren_peer_updates_sent_total{peer="tor1"}"#, 3.0),
        (r#"wren_peer_fsm_transitions_total{peer="tor1"}"#, 2.0),
        (r#"wren_peer_prefixes_received{peer="tor1"}"#, 7.0),
        (r#"wren_peer_prefixes_accepted{peer="tor1"}"#, 6.0),
        (r#"wren_peer_prefixes_advertised{peer="tor1"}"#, 5.0),
        (
            r#"wren_peer_last_error_info{peer="tor1",error="Received: Hold timer expired"}"#,
            1.0,
        ),
        ("wren_rib_prefixes", 120.0),
        ("wren_rib_paths", 250.0),
        (r#"wren_fib_operations_total{op="add"}"#, 15.0),
        (r#"wren_fib_operations_total{op="replace"}"#, 3.0),
        (r#"wren_fib_operations_total{op="delete"}"#, 0.0),
        (r#"wren_fib_failures_total{op="add"}"#, 3.0),
        (r#"wren_fib_failures_total{op="replace"}"#, 0.0),
        ("wren_datastore_synced", 1.0),
        ("wren_datastore_lag_seconds", 1.5),
    ];
    for (series, want) in expect {
        assert_eq!(sample_value(&text, series), Some(want), "{series}:\n{text}");
    }
    assert!(text.contains("# TYPE wren_peer_messages_received_total counter"));
    assert!(text.contains("# TYPE wren_peer_state gauge"));
}

#[test]
fn a_fresh_registry_has_no_peers_and_zeroes() {
    let m = Metrics::new().unwrap();
    let text = m.render().unwrap();
    assert!(!text.contains("peer=\""), "{text}");
    assert_eq!(sample_value(&text, "wren_datastore_synced"), Some(0.0));
    assert_eq!(sample_value(&text, "wren_rib_prefixes"), Some(0.0));
    assert_eq!(
        sample_value(&text, r#"wren_fib_operations_total{op="delete"}"#),
        Some(0.0)
    );
}

#[test]
fn counters_follow_the_daemons_totals() {
    let m = Metrics::new().unwrap();
    let mut s = tor1();
    m.set_peer(&s);
    m.set_peer(&s); // the same totals again add nothing
    assert_eq!(
        value(&m, r#"wren_peer_messages_received_total{peer="tor1"}"#),
        Some(10.0)
    );
    s.messages_received = 25;
    m.set_peer(&s);
    assert_eq!(
        value(&m, r#"wren_peer_messages_received_total{peer="tor1"}"#),
        Some(25.0)
    );
    // The daemon's counter started again (peer re-created): the metric starts again too.
    s.messages_received = 3;
    m.set_peer(&s);
    assert_eq!(
        value(&m, r#"wren_peer_messages_received_total{peer="tor1"}"#),
        Some(3.0)
    );
}

#[test]
fn a_session_that_is_down_shows_zero_uptime_and_its_new_error_only() {
    let m = Metrics::new().unwrap();
    m.set_peer(&tor1());
    let down = PeerSample {
        state: SessionState::Active,
        uptime: Duration::from_secs(99),
        last_error: Some("Socket: Connection refused".into()),
        ..tor1()
    };
    m.set_peer(&down);
    let text = m.render().unwrap();
    assert_eq!(
        sample_value(&text, r#"wren_peer_state{peer="tor1"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample_value(&text, r#"wren_peer_up{peer="tor1"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&text, r#"wren_peer_uptime_seconds{peer="tor1"}"#),
        Some(0.0)
    );
    assert!(!text.contains("Hold timer expired"), "{text}");
    assert_eq!(
        sample_value(
            &text,
            r#"wren_peer_last_error_info{peer="tor1",error="Socket: Connection refused"}"#
        ),
        Some(1.0)
    );
    m.set_peer(&PeerSample {
        last_error: None,
        ..down
    });
    assert!(!m.render().unwrap().contains("wren_peer_last_error_info{"));
}

#[test]
fn states_are_numbered_idle_to_established() {
    let all = [
        SessionState::Idle,
        SessionState::Connect,
        SessionState::Active,
        SessionState::OpenSent,
        SessionState::OpenConfirm,
        SessionState::Established,
    ];
    let values: Vec<i64> = all.iter().map(|s| s.value()).collect();
    assert_eq!(values, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn removing_a_peer_removes_every_series_of_it_only() {
    let m = Metrics::new().unwrap();
    m.set_peer(&tor1());
    m.set_peer(&PeerSample {
        name: "tor2".into(),
        ..tor1()
    });
    m.remove_peer("tor1");
    m.remove_peer("nobody");
    let text = m.render().unwrap();
    assert!(!text.contains(r#"peer="tor1""#), "{text}");
    assert_eq!(
        sample_value(&text, r#"wren_peer_up{peer="tor2"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample_value(
            &text,
            r#"wren_peer_last_error_info{peer="tor2",error="Received: Hold timer expired"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn label_values_are_escaped() {
    let m = Metrics::new().unwrap();
    m.set_peer(&PeerSample {
        last_error: Some("say \"no\"\\".into()),
        ..tor1()
    });
    let text = m.render().unwrap();
    assert!(
        text.contains(r#"error="say \"no\"\\""#),
        "exposition escapes quotes and backslashes:\n{text}"
    );
    assert_eq!(
        sample_value(
            &text,
            r#"wren_peer_last_error_info{peer="tor1",error="say \"no\"\\"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn sample_value_matches_whole_series_with_labels_in_any_order() {
    let text = concat!(
        "# HELP a x\n# TYPE a gauge\na 1\nab 2\na{x=\"1\"} 3\n",
        "b{x=\"1\",y=\"q\\\"u,o}te\"} 4\n",
    );
    assert_eq!(sample_value(text, "a"), Some(1.0));
    assert_eq!(sample_value(text, "ab"), Some(2.0));
    assert_eq!(sample_value(text, "a{x=\"1\"}"), Some(3.0));
    assert_eq!(sample_value(text, "a{x=\"2\"}"), None);
    assert_eq!(sample_value(text, "b{x=\"1\"}"), None);
    assert_eq!(sample_value(text, r#"b{y="q\"u,o}te",x="1"}"#), Some(4.0));
    assert_eq!(sample_value(text, "a{x="), None);
}

async fn start(refresh: Option<Refresh>) -> (SocketAddr, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, metrics.clone(), refresh));
    (addr, metrics)
}

/// Sends `request` as is and returns everything the server wrote before closing.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the server closes after its reply")
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn get_metrics_answers_the_exposition() {
    let (addr, metrics) = start(None).await;
    metrics.set_rib(3, 4);
    let r = get(addr, "/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(sample_value(&r.body, "wren_rib_prefixes"), Some(3.0));
    assert_eq!(sample_value(&r.body, "wren_rib_paths"), Some(4.0));
    // A query string is ignored.
    let r = get(addr, "/metrics?x=1").await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn other_paths_methods_and_garbage_are_refused() {
    let (addr, _) = start(None).await;
    for path in ["/", "/metricsx", "/favicon.ico", "/metrics/"] {
        let r = get(addr, path).await.unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("wren_"), "{path}");
    }
    let r = raw(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
    assert!(r.contains("Allow: GET, HEAD\r\n"), "{r}");
    let r = raw(addr, b"hello\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let r = raw(addr, b"GET /metrics SPDY/3\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    // A lax client ending its head with bare newlines still gets an answer.
    let r = raw(addr, b"GET /metrics HTTP/1.0\n\n").await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
}

#[tokio::test]
async fn head_gets_the_headers_without_the_body() {
    let (addr, _) = start(None).await;
    let r = raw(addr, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-Length: "), "{head}");
    assert_eq!(body, "");
}

#[tokio::test]
async fn an_oversized_request_is_refused_and_the_server_keeps_serving() {
    let (addr, _) = start(None).await;
    let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while big.len() <= 3 * MAX_REQUEST {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big.extend_from_slice(b"\r\n");
    let r = raw(addr, &big).await;
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    // Just over the limit, complete in the last read, is refused too.
    let mut just_over = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    just_over.resize(MAX_REQUEST - 1, b'a');
    just_over.extend_from_slice(b"\r\n\r\n");
    let r = raw(addr, &just_over).await;
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    // Exactly at the limit is served.
    let mut at_limit = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    at_limit.resize(MAX_REQUEST - 4, b'a');
    at_limit.extend_from_slice(b"\r\n\r\n");
    assert_eq!(at_limit.len(), MAX_REQUEST);
    let r = raw(addr, &at_limit).await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{}", &r[..40]);
    // A client that connects and leaves without a request does not disturb the server.
    drop(TcpStream::connect(addr).await.unwrap());
    assert_eq!(get(addr, "/metrics").await.unwrap().status, 200);
}

#[tokio::test]
async fn the_daemon_refreshes_the_gauges_before_each_scrape() {
    let (tx, mut rx) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4);
    let (addr, metrics) = start(Some(tx)).await;
    let m = metrics.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Some(done) = rx.recv().await {
            n += 1;
            m.set_rib(n, 2 * n);
            let _ = done.send(());
        }
    });
    let first = get(addr, "/metrics").await.unwrap();
    assert_eq!(sample_value(&first.body, "wren_rib_prefixes"), Some(1.0));
    let second = get(addr, "/metrics").await.unwrap();
    assert_eq!(sample_value(&second.body, "wren_rib_prefixes"), Some(2.0));
    assert_eq!(sample_value(&second.body, "wren_rib_paths"), Some(4.0));
}

#[tokio::test]
async fn a_refresh_that_is_dropped_still_gets_an_answer() {
    let (tx, mut rx) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4);
    let (addr, _) = start(Some(tx)).await;
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let r = get(addr, "/metrics").await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn serve_reports_a_bind_error() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let metrics = Arc::new(Metrics::new().unwrap());
    let r = tokio::time::timeout(Duration::from_secs(5), serve(addr, metrics, None))
        .await
        .expect("a bind error returns at once");
    assert!(r.is_err());
}
