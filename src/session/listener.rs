//! The listening socket: accepts connections, hands those from configured peers to their peer
//! task, and rejects everything else with Cease/Connection Rejected (RFC 4486 subcode 5).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::wire::{self, cease_subcode, code, Ctx, Message, Notification};

use super::driver::Input;

/// The configured peers' task queues by address, shared with the code that adds and removes
/// peers at run time.
pub type PeerMap = Arc<RwLock<HashMap<IpAddr, mpsc::Sender<Input>>>>;

/// How long a rejected connection gets to take its NOTIFICATION.
const REJECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections forever. A connection from a configured peer's address goes to that peer's
/// task, which takes it or rejects it; any other is rejected here.
pub async fn accept_loop(listener: Arc<TcpListener>, peers: PeerMap) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = remote.ip().to_canonical();
        let tx = peers.read().ok().and_then(|m| m.get(&ip).cloned());
        match tx {
            Some(tx) => {
                if let Err(e) = tx.try_send(Input::Inbound(Box::new(stream))) {
                    tracing::warn!("connection from {remote} rejected: its peer task is busy");
                    if let mpsc::error::TrySendError::Full(Input::Inbound(s))
                    | mpsc::error::TrySendError::Closed(Input::Inbound(s)) = e
                    {
                        reject(*s);
                    }
                }
            }
            None => {
                tracing::info!("connection from {remote} rejected: not a configured peer");
                reject(stream);
            }
        }
    }
}

/// Sends Cease/Connection Rejected (6/5) on `stream` and closes it, in a task of its own.
pub fn reject(mut stream: TcpStream) {
    tokio::spawn(async move {
        let mut out = BytesMut::new();
        let n = Notification::new(code::CEASE, cease_subcode::CONNECTION_REJECTED);
        if wire::encode(&Message::Notification(n), &Ctx::default(), &mut out).is_ok() {
            let _ = tokio::time::timeout(REJECT_TIMEOUT, async {
                let _ = stream.write_all(&out).await;
                let _ = stream.shutdown().await;
            })
            .await;
        }
    });
}
