//! The metrics endpoint: a minimal HTTP/1.1 server for one request per connection.
//!
//! `GET /metrics` (or `HEAD`) answers `200` with the text exposition; any other path `404`, any
//! other method on `/metrics` `405`, an unparsable request `400`, a request head over
//! [`MAX_REQUEST`] bytes `431`. Every response closes the connection. A client gets
//! [`REQUEST_TIMEOUT`] to send its request and again to take the reply; at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed unanswered), so a slow or hostile
//! client cannot hold the daemon's memory or tasks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::timeout;

use super::{Metrics, CONTENT_TYPE};

/// Largest request head (request line and headers) read, in bytes.
pub const MAX_REQUEST: usize = 8192;
/// Time a client has to send its request, and again to take the reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a scrape waits for the daemon to refresh the gauges before answering with what is
/// there.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the daemon to refresh the gauges before a scrape: the server sends a `oneshot::Sender`,
/// the daemon calls the setters and then sends `()` back (or drops it).
pub type Refresh = mpsc::Sender<oneshot::Sender<()>>;

/// Binds `listen` and serves `GET /metrics` from `metrics` forever; with `refresh`, asks the
/// daemon to refresh the gauges before each scrape. Returns only if the address cannot be bound.
pub async fn serve(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    refresh: Option<Refresh>,
) -> io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    serve_on(listener, metrics, refresh).await;
    Ok(())
}

/// [`serve`] on a listener bound by the caller (to learn a bind error, or the port of
/// `127.0.0.1:0`, before spawning). Never returns.
pub async fn serve_on(listener: TcpListener, metrics: Arc<Metrics>, refresh: Option<Refresh>) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("metrics: serving http://{addr}/metrics");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics: {from}: too many connections, closed");
            continue;
        };
        let metrics = metrics.clone();
        let refresh = refresh.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = handle(stream, &metrics, refresh.as_ref()).await {
                tracing::debug!("metrics: {from}: {e}");
            }
        });
    }
}

/// What was read of a request.
enum Head {
    /// A complete head (up to and including the empty line).
    Complete(Vec<u8>),
    /// More than [`MAX_REQUEST`] bytes without the empty line.
    TooLarge,
    /// The client closed the connection first.
    Closed,
}

async fn read_head(stream: &mut TcpStream) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        let searched_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = head_end(&buf, searched_from) {
            if end > MAX_REQUEST {
                return Ok(Head::TooLarge);
            }
            buf.truncate(end);
            return Ok(Head::Complete(buf));
        }
        if buf.len() > MAX_REQUEST {
            return Ok(Head::TooLarge);
        }
    }
}

/// Where the head ends (after `\r\n\r\n`, or `\n\n` from a lax client), searching from `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    (0..tail.len()).find_map(|i| {
        let rest = tail.get(i..)?;
        if rest.starts_with(b"\r\n\r\n") {
            Some(from + i + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(from + i + 2)
        } else {
            None
        }
    })
}

/// A response before it is written.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: String,
    extra: &'static str,
}

impl Reply {
    fn text(status: &'static str, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            extra: "",
        }
    }

    fn bytes(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            self.extra
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// The request line's parts that matter.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
}

fn parse_request(head: &[u8]) -> Option<Request<'_>> {
    let text = std::str::from_utf8(head).ok()?;
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some(Request { method, path })
}

async fn handle(
    mut stream: TcpStream,
    metrics: &Metrics,
    refresh: Option<&Refresh>,
) -> io::Result<()> {
    let head = match timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => return Ok(()),
        Ok(head) => head?,
    };
    let (reply, head_only) = match head {
        Head::Closed => return Ok(()),
        Head::TooLarge => (
            Reply::text("431 Request Header Fields Too Large", "request too large"),
            false,
        ),
        Head::Complete(head) => match parse_request(&head) {
            None => (Reply::text("400 Bad Request", "bad request"), false),
            Some(r) if r.path != "/metrics" => (
                Reply::text("404 Not Found", "not found; metrics are at /metrics"),
                r.method == "HEAD",
            ),
            Some(r) if r.method != "GET" && r.method != "HEAD" => (
                Reply {
                    extra: "Allow: GET, HEAD\r\n",
                    ..Reply::text("405 Method Not Allowed", "only GET and HEAD")
                },
                false,
            ),
            Some(r) => (scrape(metrics, refresh).await, r.method == "HEAD"),
        },
    };
    let bytes = reply.bytes(head_only);
    match timeout(REQUEST_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await
    {
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "reply not taken")),
        Ok(r) => r?,
    }
    // Lingering close: closing with unread request bytes would reset the connection and could
    // destroy the reply before the client reads it (a refused request is not read to its end).
    let _ = timeout(LINGER, async {
        let mut sink = [0u8; 1024];
        let mut left = MAX_REQUEST * 8;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
    Ok(())
}

/// How long a closed connection's late request bytes are read and dropped.
const LINGER: Duration = Duration::from_secs(1);

/// Refreshes (if the daemon asked for it) and renders.
async fn scrape(metrics: &Metrics, refresh: Option<&Refresh>) -> Reply {
    if let Some(refresh) = refresh {
        let (done, wait) = oneshot::channel();
        let asked = timeout(REFRESH_TIMEOUT, async {
            if refresh.send(done).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
        if asked.is_err() {
            tracing::warn!("metrics: refresh took over {REFRESH_TIMEOUT:?}; serving older values");
        }
    }
    match metrics.render() {
        Ok(body) => Reply {
            status: "200 OK",
            content_type: CONTENT_TYPE,
            body,
            extra: "",
        },
        Err(e) => {
            tracing::error!("metrics: cannot render: {e}");
            Reply::text("500 Internal Server Error", "cannot render metrics")
        }
    }
}

/// A response as [`get`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code (`200`).
    pub status: u16,
    /// Header lines as (name in lower case, value).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal client: `GET path` on `addr`, reading the reply until the server closes (as the
/// metrics server does). For tests and scripts that scrape a running wren; bounded by
/// [`REQUEST_TIMEOUT`].
pub async fn get(addr: SocketAddr, path: &str) -> io::Result<HttpResponse> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<_, io::Error>(raw)
    };
    let raw = timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply"))??;
    let text = String::from_utf8(raw).map_err(|_| bad("reply is not UTF-8"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("empty reply"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_string(),
    })
}
