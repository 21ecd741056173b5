//! The control socket: a tokio unix-socket server speaking [`protocol`].
//!
//! [`bind`] prepares the socket file (parent directory, stale socket, mode 0660);
//! [`serve`] binds and answers until the task is dropped; [`serve_listener`] answers on a
//! listener the caller bound. Each connection gets the greeting, then any number of commands,
//! one per line; every command is answered from the snapshot current at that moment, with
//! [`DaemonStatus::server_time`](super::DaemonStatus::server_time) set to the time of the reply.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections at once (more are closed at once), command
//! lines of at most [`protocol::MAX_LINE`] bytes (`9000 Command too long`), a reply must be
//! taken by the client within [`WRITE_TIMEOUT`], and an idle connection is closed after
//! [`IDLE_TIMEOUT`].

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};

use super::protocol::{self, Cli, Line, Outcome};
use super::{Family, Snapshot};

/// Connections served at once; further ones are closed without a greeting.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to read one reply.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// The socket file's mode: owner and group may connect (as BIRD's `-s` socket with a group).
pub const SOCKET_MODE: u32 = 0o660;

/// Which part of the snapshot a socket shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `Some(Ipv4)` for Calico's `bird.ctl`, `Some(Ipv6)` for `bird6.ctl`, `None` for wren's
    /// own dual-stack socket.
    pub family: Option<Family>,
}

/// Create the socket at `path`: make the parent directory, remove a stale socket file left by
/// a dead daemon, bind, and set mode 0660. Fails if another process still answers on `path`,
/// or if `path` exists and is not a socket (it is never deleted then).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another daemon is answering on it", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok(listener)
}

/// Bind `path` (see [`bind`]) and answer commands from `snapshots` until the future is
/// dropped. Returns only on a bind or accept error.
pub async fn serve(
    path: &Path,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
) -> io::Result<()> {
    let listener = bind(path)?;
    serve_listener(listener, snapshots, options).await
}

/// Answer commands on an already bound listener until the future is dropped.
pub async fn serve_listener(
    listener: UnixListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
) -> io::Result<()> {
    serve_listener_fresh(listener, snapshots, options, None).await
}

/// Before each command, asks for a fresh snapshot (sends a `oneshot` and waits for it, at most
/// [`REFRESH_WAIT`]), so the daemon builds snapshots only when someone looks.
pub type Refresh = tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>;

/// Longest wait for a fresh snapshot before answering from the last one.
pub const REFRESH_WAIT: Duration = Duration::from_secs(5);

/// [`serve`], refreshing the snapshot through `refresh` before every command.
pub async fn serve_fresh(
    path: &Path,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
    refresh: Refresh,
) -> io::Result<()> {
    let listener = bind(path)?;
    serve_listener_fresh(listener, snapshots, options, Some(refresh)).await
}

/// Answers commands on an already bound listener, refreshing through `refresh` when given.
pub async fn serve_bound(
    listener: UnixListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
    refresh: Option<Refresh>,
) -> io::Result<()> {
    serve_listener_fresh(listener, snapshots, options, refresh).await
}

async fn serve_listener_fresh(
    listener: UnixListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
    refresh: Option<Refresh>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // A client that vanished between connect and accept is not our failure.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e),
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!("control socket: too many connections, closing a new one");
            drop(stream);
            continue;
        };
        let rx = snapshots.clone();
        let refresh = refresh.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, rx, options, refresh).await {
                tracing::debug!("control connection ended: {e}");
            }
            drop(permit);
        });
    }
}

/// The snapshot to answer one command from: the latest, for the socket's family, at `now`.
fn current(snapshots: &watch::Receiver<Arc<Snapshot>>, options: Options) -> Snapshot {
    let latest = Arc::clone(&snapshots.borrow());
    let mut snap = match options.family {
        Some(f) => latest.for_family(f),
        None => (*latest).clone(),
    };
    snap.status.server_time = SystemTime::now();
    snap
}

async fn send(stream: &mut UnixStream, text: &str) -> io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(text.as_bytes())).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client not reading",
        )),
    }
}

/// Serve one connection: greeting, then commands until EOF, `quit` or a timeout.
async fn connection(
    mut stream: UnixStream,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: Options,
    refresh: Option<Refresh>,
) -> io::Result<()> {
    let mut cli = Cli::new();
    let version = snapshots.borrow().status.version.clone();
    send(&mut stream, &cli.greeting(&version)).await?;
    let mut pending: Vec<u8> = Vec::new();
    let mut discarding = false;
    let mut chunk = [0u8; 1024];
    loop {
        // Answer every complete line already received.
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if discarding {
                discarding = false;
                continue;
            }
            let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
            if let Some(r) = &refresh {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if r.send(tx).await.is_ok() {
                    let _ = tokio::time::timeout(REFRESH_WAIT, rx).await;
                }
            }
            let snap = current(&snapshots, options);
            match protocol::handle(&text, &snap, options.family) {
                Outcome::Close => return Ok(()),
                Outcome::Reply(lines) => send(&mut stream, &cli.encode(&lines)).await?,
            }
        }
        if pending.len() > protocol::MAX_LINE {
            pending.clear();
            if !discarding {
                discarding = true;
                let lines = [Line::last(9000, "Command too long")];
                send(&mut stream, &cli.encode(&lines)).await?;
            }
        }
        let n = match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::control::example::example_snapshot;
    use tokio::io::{AsyncBufReadExt, BufReader};

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("wren-ctl-{}-{tag}", std::process::id()))
    }

    async fn read_reply(r: &mut BufReader<UnixStream>) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            assert!(r.read_line(&mut line).await.unwrap() > 0, "EOF in a reply");
            let line = line.trim_end_matches('\n').to_owned();
            let done = line.len() >= 5 && line.as_bytes()[4] == b' ' && line.as_bytes()[0] != b' ';
            out.push(line);
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn the_socket_greets_answers_several_commands_and_closes_on_quit() {
        let dir = temp_path("a");
        let path = dir.join("sub").join("wren.ctl");
        let (_tx, rx) = watch::channel(Arc::new(example_snapshot()));
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let server = tokio::spawn(serve_listener(listener, rx, Options::default()));
        let mut r = BufReader::new(UnixStream::connect(&path).await.unwrap());
        assert_eq!(
            read_reply(&mut r).await,
            ["0001 BIRD v0.3.3+birdv1.6.8 ready."]
        );
        r.get_mut()
            .write_all(b"show status\nshow protocols\n")
            .await
            .unwrap();
        let status = read_reply(&mut r).await;
        assert_eq!(status[0], "1000-BIRD v0.3.3+birdv1.6.8");
        assert_eq!(status.last().unwrap(), "0013 Daemon is up and running");
        let protocols = read_reply(&mut r).await;
        assert_eq!(protocols.len(), 8);
        r.get_mut().write_all(b"quit\n").await.unwrap();
        let mut rest = String::new();
        assert_eq!(r.read_line(&mut rest).await.unwrap(), 0);
        server.abort();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_too_long_line_gets_9000_and_the_connection_goes_on() {
        let path = temp_path("b");
        let (_tx, rx) = watch::channel(Arc::new(example_snapshot()));
        let p = path.clone();
        let server = tokio::spawn(async move { serve(&p, rx, Options::default()).await });
        let mut stream = loop {
            if let Ok(s) = UnixStream::connect(&path).await {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let long = vec![b'x'; 3 * protocol::MAX_LINE];
        stream.write_all(&long).await.unwrap();
        stream.write_all(b"\nshow status\n").await.unwrap();
        let mut r = BufReader::new(stream);
        let _greeting = read_reply(&mut r).await;
        assert_eq!(read_reply(&mut r).await, ["9000 Command too long"]);
        assert_eq!(read_reply(&mut r).await[0], "1000-BIRD v0.3.3+birdv1.6.8");
        server.abort();
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn a_new_snapshot_is_seen_by_the_next_command_and_the_ipv6_socket_hides_ipv4() {
        let path = temp_path("c");
        let (tx, rx) = watch::channel(Arc::new(example_snapshot()));
        let listener = bind(&path).unwrap();
        let options = Options {
            family: Some(Family::Ipv6),
        };
        let server = tokio::spawn(serve_listener(listener, rx, options));
        let mut r = BufReader::new(UnixStream::connect(&path).await.unwrap());
        let _greeting = read_reply(&mut r).await;
        r.get_mut().write_all(b"show protocols\n").await.unwrap();
        // Only static1, kernel1, device1, direct1: both mesh peers are IPv4.
        assert_eq!(read_reply(&mut r).await.len(), 6);
        let mut next = example_snapshot();
        next.protocols.truncate(1);
        tx.send(Arc::new(next)).unwrap();
        r.get_mut().write_all(b"show protocols\n").await.unwrap();
        assert_eq!(read_reply(&mut r).await.len(), 3);
        r.get_mut()
            .write_all(b"show route for 10.0.0.1\n")
            .await
            .unwrap();
        assert_eq!(
            read_reply(&mut r).await,
            ["9001 This is an IPv6 router, therefore IPv4 addresses are not supported"]
        );
        server.abort();
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn a_live_socket_is_not_stolen_and_a_regular_file_is_not_deleted() {
        let path = temp_path("d");
        let (_tx, rx) = watch::channel(Arc::new(example_snapshot()));
        let listener = bind(&path).unwrap();
        let server = tokio::spawn(serve_listener(listener, rx, Options::default()));
        let err = bind(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        server.abort();
        let _ = server.await;
        // The old server is gone: its socket file is stale and may be replaced.
        drop(bind(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        assert_eq!(
            bind(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        std::fs::remove_file(&path).unwrap();
    }
}
