//! The etcd v3 source: list every prefix at one revision, then watch them all from the next.
//!
//! [`watch`] runs until the consumer drops its receiver. One *session* is: connect, list each
//! prefix in pages at a single revision (the first page fixes it, the others read at it), send
//! [`Event::Synced`] with everything, then open one watch stream with a watcher per prefix starting
//! at that revision + 1 and forward every put and delete in order. Any failure ends the session:
//! etcd unreachable, a request over its deadline, the stream closed, the watch cancelled (lost
//! leader, compacted revision). [`watch`] logs it, waits with exponential backoff (0.5 s doubling
//! to 30 s, with jitter; back to 0.5 s after a session that synced) and starts a new session, whose
//! `Synced` replaces the consumer's map. Nothing is sent in between, so the consumer keeps its last
//! state through an outage.
//!
//! HTTP/2 keepalives (every 10 s, 5 s to answer, also while idle) notice an etcd that vanished
//! without closing the connection. TLS uses the CA, certificate and key files of
//! [`EtcdSettings`], read again at every connection attempt (so rotated or late-mounted files are
//! picked up).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, KeyValue, KvClient,
    TlsOptions, WatchOptions,
};
use tokio::sync::mpsc;

use super::{Error, EtcdSettings, Event};

/// First retry delay after a failed session.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Deadline of one unary request (a page of a list) and of opening the watch stream.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of establishing a connection to an endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 keepalive interval on the connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a keepalive may go unanswered before the connection counts as dead.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys per page when listing.
pub const PAGE_SIZE: i64 = 500;
/// Largest gRPC message accepted from etcd (a page of large values, a busy watch response).
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Lists and watches `settings.prefixes` on etcd and sends the [`Event`]s to `tx`, reconnecting
/// and re-listing after every failure (see the module docs), until `tx`'s receiver is dropped.
///
/// Returns `Ok(())` once the receiver is gone, and an error only when the settings cannot work
/// ([`EtcdSettings::validate`]); etcd being down is never an error here, only a retry.
pub async fn watch(settings: EtcdSettings, tx: mpsc::Sender<Event>) -> Result<(), Error> {
    settings.validate()?;
    let prefixes = normalize_prefixes(&settings.prefixes);
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX, seed());
    loop {
        let mut synced = false;
        let error = match session(&settings, &prefixes, &tx, &mut synced).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if synced {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::warn!(
            "datastore: {error}; keeping the last state, reconnecting in {:.1} s",
            delay.as_secs_f64()
        );
        if tx.send(Event::Lost).await.is_err() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = tx.closed() => return Ok(()),
        }
    }
}

/// One connect → list → watch cycle. `Ok(())` means the consumer is gone; every `Err` is retried.
/// Sets `synced` once the `Synced` event has been delivered.
async fn session(
    settings: &EtcdSettings,
    prefixes: &[String],
    tx: &mpsc::Sender<Event>,
    synced: &mut bool,
) -> Result<(), Error> {
    let client = connect(settings).await?;
    let mut kv = client
        .kv_client()
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let (map, revision) = list(&mut kv, prefixes).await?;
    tracing::info!(
        "etcd: listed {} keys under {} at revision {revision}",
        map.len(),
        prefixes.join(" ")
    );
    if tx.send(Event::Synced(map)).await.is_err() {
        return Ok(());
    }
    *synced = true;

    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision.saturating_add(1));
    let (first, rest) = prefixes
        .split_first()
        .ok_or_else(|| Error::Settings("no key prefixes".to_owned()))?;
    let mut watch_client = client
        .watch_client()
        .max_decoding_message_size(MAX_MESSAGE_SIZE);
    let mut stream = deadline(
        "opening the watch",
        watch_client.watch(first.as_str(), Some(options.clone())),
    )
    .await?;
    for prefix in rest {
        stream.watch(prefix.as_str(), Some(options.clone())).await?;
    }
    tracing::debug!(
        "etcd: watching from revision {}",
        revision.saturating_add(1)
    );

    loop {
        let message = tokio::select! {
            m = stream.message() => m?,
            () = tx.closed() => return Ok(()),
        };
        let Some(response) = message else {
            return Err(Error::WatchClosed);
        };
        if response.canceled() || response.compact_revision() != 0 {
            return Err(Error::WatchCancelled {
                reason: response.cancel_reason().to_owned(),
                compact_revision: response.compact_revision(),
            });
        }
        for event in response.events() {
            let Some(kv) = event.kv() else {
                continue;
            };
            let Some(key) = utf8_key(kv) else {
                continue;
            };
            let event = match event.event_type() {
                EventType::Put => Event::Put {
                    key,
                    value: kv.value().to_vec(),
                },
                EventType::Delete => Event::Delete { key },
            };
            if tx.send(event).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// A client for `settings.endpoints` (HTTP/2 keepalives on, leader required, TLS when files are
/// given). The connection itself is made lazily by the first request.
async fn connect(settings: &EtcdSettings) -> Result<Client, Error> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_keep_alive(KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT)
        .with_keep_alive_while_idle(true)
        .with_require_leader(true);
    if settings.uses_tls() {
        options = options.with_tls(tls_options(settings)?);
    }
    let endpoints: Vec<String> = settings
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    Ok(Client::connect(endpoints, Some(options)).await?)
}

/// The TLS configuration from the CA, certificate and key files.
fn tls_options(settings: &EtcdSettings) -> Result<TlsOptions, Error> {
    let read = |path: &std::path::PathBuf| {
        std::fs::read(path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })
    };
    let mut tls = TlsOptions::new();
    if let Some(ca) = &settings.ca_cert_file {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&settings.cert_file, &settings.key_file) {
        tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(tls)
}

/// Reads every key under `prefixes` at one revision, in pages of [`PAGE_SIZE`]; returns the map
/// and that revision.
async fn list(
    kv: &mut KvClient,
    prefixes: &[String],
) -> Result<(BTreeMap<String, Vec<u8>>, i64), Error> {
    let mut map = BTreeMap::new();
    // 0 asks for the newest revision; the first answer fixes the one every later page reads at.
    let mut revision = 0;
    for prefix in prefixes {
        let end = prefix_end(prefix.as_bytes());
        let mut start = prefix.as_bytes().to_vec();
        loop {
            let mut options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(PAGE_SIZE);
            if revision != 0 {
                options = options.with_revision(revision);
            }
            let response = deadline("listing", kv.get(start.clone(), Some(options))).await?;
            if revision == 0 {
                revision = response
                    .header()
                    .map(|h| h.revision())
                    .filter(|&r| r > 0)
                    .ok_or_else(|| Error::Protocol("range response without a revision".into()))?;
            }
            for kv in response.kvs() {
                if let Some(key) = utf8_key(kv) {
                    map.insert(key, kv.value().to_vec());
                }
            }
            if !response.more() {
                break;
            }
            let Some(last) = response.kvs().last() else {
                return Err(Error::Protocol(
                    "range response says `more` but has no keys".into(),
                ));
            };
            start = last.key().to_vec();
            start.push(0);
        }
    }
    Ok((map, revision))
}

/// Awaits an etcd request for at most [`REQUEST_TIMEOUT`].
async fn deadline<T>(
    what: &'static str,
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| Error::Timeout(what))?
        .map_err(Error::from)
}

/// The key as a string, or `None` (with a warning) if it is not UTF-8: Calico never writes such
/// keys.
fn utf8_key(kv: &KeyValue) -> Option<String> {
    match std::str::from_utf8(kv.key()) {
        Ok(k) => Some(k.to_owned()),
        Err(_) => {
            tracing::warn!(
                "etcd: skipping a key that is not UTF-8: {:?}",
                String::from_utf8_lossy(kv.key())
            );
            None
        }
    }
}

/// The first key after every key starting with `prefix` (etcd's range end for a prefix): the
/// prefix with its last byte below 0xff incremented and what follows dropped; `"\0"` (to the end
/// of the key space) if there is none.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last.saturating_add(1));
            return end;
        }
    }
    vec![0]
}

/// The prefixes sorted, without duplicates and without any prefix inside another one (its keys
/// would be listed and watched twice).
pub(crate) fn normalize_prefixes(prefixes: &[String]) -> Vec<String> {
    let mut sorted: Vec<&String> = prefixes.iter().collect();
    sorted.sort();
    let mut out: Vec<String> = Vec::new();
    for p in sorted {
        // Sorted order puts a covering prefix right before everything it covers.
        if out.last().is_some_and(|kept| p.starts_with(kept.as_str())) {
            continue;
        }
        out.push(p.clone());
    }
    out
}

/// `endpoint` with its URL scheme lower-cased (the client only recognises `http://`/`https://`).
pub(crate) fn normalize_endpoint(endpoint: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => endpoint.to_owned(),
    }
}

/// Exponential backoff with "equal jitter": each delay is uniformly drawn from [d/2, d], where d
/// starts at `min` and doubles up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff starting at `min`; `seed` drives the jitter.
    pub(crate) fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Self {
            min,
            max: max.max(min),
            current: min,
            rng: seed | 1,
        }
    }

    /// The next delay; the one after will be twice as long (up to `max`).
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = d.saturating_mul(2).min(self.max);
        // xorshift64: plenty for spreading reconnects of many nodes.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        let half = d / 2;
        half + half.mul_f64(fraction)
    }

    /// Back to the shortest delay (after a session that worked).
    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }
}

/// A jitter seed that differs between processes and runs.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}
