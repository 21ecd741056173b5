//! TCP sessions: the tokio adapter that drives one [`fsm::Peer`](crate::fsm::Peer) per configured
//! peer over real sockets.
//!
//! **Owns:** the listening socket ([`listener`]), one task per configured peer ([`driver`]) that
//! owns that peer's state machine, its TCP connections (one per [`Direction`](crate::fsm::Direction)),
//! its timers, its codec context and, for this first slice, its Adj-RIB-In. It is the **only**
//! place in wren that touches peer sockets or tokio time on behalf of a peer: the FSM asks for
//! connections, messages and timers as plain actions, and this module performs them and feeds the
//! outcomes back as events.
//!
//! **Must not:** decide anything the FSM decides (states, collisions, back-off), nor block a peer
//! task on a socket. Writes go through a bounded queue to a per-connection writer task, so a slow
//! peer can never stall the task that also runs its KEEPALIVE and Hold timers. Reads are framed by
//! a per-connection reader task with a bounded buffer ([`wire::frame_len`](crate::wire::frame_len))
//! and decoded in the peer task with the session's negotiated [`Ctx`](crate::wire::Ctx).
//!
//! ```text
//!   listener ──accepted socket──► peer task (fsm::Peer, timers, Adj-RIB-In)
//!                                   │  ▲            │
//!                        encoded    │  │ frames,    │ connect attempts
//!                        messages   ▼  │ closes     ▼
//!                               writer  reader   connector
//! ```
//!
//! Timing: the work a peer task does per received message is small (decode, a map update per
//! prefix, no best-path run), so KEEPALIVEs and Hold expiries are never starved by route
//! processing. When a RIB task arrives, route processing moves there and the peer task only
//! forwards UPDATEs over a channel.
//!
//! Shutdown: on SIGINT/SIGTERM [`run`] returns and the runtime drops every task, which closes the
//! sockets without a NOTIFICATION. A graceful-restart-friendly shutdown (Cease, or keeping
//! forwarding state for RFC 4724) comes later.

pub mod driver;
pub mod listener;

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::mpsc;

use crate::config::Config;

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured feature that this version does not implement yet.
    #[error("{key}: {what} is not supported yet; remove it from the configuration")]
    Unsupported {
        /// The key path, such as `peer[0].password`.
        key: String,
        /// The feature.
        what: &'static str,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address and port.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
}

/// Refuses configurations that use features the session layer does not implement yet (TCP-MD5,
/// RFC 2385, and GTSM, RFC 5082), rather than silently running without them.
pub fn check_supported(config: &Config) -> Result<(), Error> {
    for (i, p) in config.peers.iter().enumerate() {
        if p.password.is_some() {
            return Err(Error::Unsupported {
                key: format!("peer[{i}].password"),
                what: "TCP-MD5 (RFC 2385)",
            });
        }
        if p.ttl_security.is_some() {
            return Err(Error::Unsupported {
                key: format!("peer[{i}].ttl_security"),
                what: "GTSM (RFC 5082)",
            });
        }
    }
    Ok(())
}

/// Runs the daemon until SIGINT or SIGTERM: binds the listener, starts one task per peer, and
/// returns when a signal arrives (the caller's runtime then drops every session).
pub async fn run(config: Config) -> Result<(), Error> {
    use tokio::signal::unix::{signal, SignalKind};

    check_supported(&config)?;
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;

    let listen = SocketAddr::new(config.global.listen_address, config.global.listen_port);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(
        "listening on {listen}; local AS {}, router id {}, {} peers",
        config.global.asn,
        config.global.router_id,
        config.peers.len()
    );

    let mut peers = HashMap::new();
    for peer in &config.peers {
        let (tx, rx) = mpsc::channel(driver::INPUT_QUEUE);
        peers.insert(peer.address.to_canonical(), tx.clone());
        let task = driver::PeerTask::new(&config, peer, tx, rx);
        tokio::spawn(task.run());
    }
    tokio::spawn(listener::accept_loop(listener, peers));

    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}
