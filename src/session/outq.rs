//! A connection's outgoing queue: what the peer task and the RIB task hand to the connection's
//! writer.
//!
//! Two lanes in one shared structure: the session's own messages (OPEN, KEEPALIVE, NOTIFICATION,
//! ROUTE-REFRESH, from the peer task) always go out before routes (UPDATEs from the RIB task), so
//! a long table transfer never delays a KEEPALIVE by more than one write. One mutex, one
//! [`Notify`] and two `VecDeque`s that allocate only while messages wait: a few hundred octets
//! per connection, where two tokio channels took about three kilobytes each (a Calico route
//! reflector has hundreds of connections).
//!
//! Owns no socket; [`super::driver`] writes what [`Receiver::next_batch`] returns.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// The queue was closed: the connection is gone, or its writer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing will write this message any more.
    #[error("connection closed")]
    Closed,
    /// The session lane holds its maximum: the peer is not reading.
    #[error("session queue full")]
    Full,
}

#[derive(Default)]
struct Lanes {
    session: VecDeque<Bytes>,
    routes: VecDeque<Bytes>,
    closed: bool,
}

struct Shared {
    lanes: Mutex<Lanes>,
    notify: Notify,
    session_limit: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Lanes> {
        // A panic while holding the lock leaves the lanes consistent (plain pushes and pops).
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

/// A new queue: the peer task's sender (which closes the queue when dropped), the RIB task's
/// sender (cloneable) and the writer's receiver. At most `session_limit` session messages wait.
pub fn queue(session_limit: usize) -> (SessionSender, RouteSender, Receiver) {
    let shared = Arc::new(Shared {
        lanes: Mutex::new(Lanes::default()),
        notify: Notify::new(),
        session_limit,
    });
    (
        SessionSender(shared.clone()),
        RouteSender(shared.clone()),
        Receiver(shared),
    )
}

/// The peer task's end: session messages. Dropping it closes the queue; the writer then writes
/// the session messages still waiting (a NOTIFICATION, say) and stops; waiting routes are dropped.
pub struct SessionSender(Arc<Shared>);

impl SessionSender {
    /// Queues a session message ahead of every waiting route.
    pub fn try_send(&self, message: Bytes) -> Result<(), SendError> {
        let mut lanes = self.0.lock();
        if lanes.closed {
            return Err(SendError::Closed);
        }
        if lanes.session.len() >= self.0.session_limit {
            return Err(SendError::Full);
        }
        lanes.session.push_back(message);
        drop(lanes);
        self.0.notify.notify_one();
        Ok(())
    }
}

impl Drop for SessionSender {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The RIB task's end: UPDATEs, unbounded (the RIB task never waits on a peer; a peer that stops
/// reading is caught by its hold timer and by the session lane's limit).
#[derive(Clone)]
pub struct RouteSender(Arc<Shared>);

impl std::fmt::Debug for RouteSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteSender")
    }
}

impl RouteSender {
    /// Queues `messages`, in order, behind the waiting ones, and wakes the writer once.
    pub fn send_all(&self, messages: impl IntoIterator<Item = Bytes>) -> Result<(), SendError> {
        let mut lanes = self.0.lock();
        if lanes.closed {
            return Err(SendError::Closed);
        }
        lanes.routes.extend(messages);
        drop(lanes);
        self.0.notify.notify_one();
        Ok(())
    }
}

/// The writer's end. Dropping it (the writer stopped on a socket error) closes the queue.
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// Waits for messages and moves them into `batch`, session messages first, until `batch`
    /// holds at least `max_octets` (or nothing waits). Returns `false`, with `batch` empty, once
    /// the queue is closed and no session message waits.
    pub async fn next_batch(&mut self, batch: &mut Vec<Bytes>, max_octets: usize) -> bool {
        loop {
            {
                let mut lanes = self.0.lock();
                let mut size = 0;
                while size < max_octets {
                    let next = match lanes.session.pop_front() {
                        Some(m) => m,
                        None if lanes.closed => break,
                        None => match lanes.routes.pop_front() {
                            Some(m) => m,
                            None => break,
                        },
                    };
                    size += next.len();
                    batch.push(next);
                }
                if !batch.is_empty() {
                    return true;
                }
                if lanes.closed {
                    return false;
                }
            }
            // A notification sent since the check above is kept as a permit (one waiter).
            self.0.notify.notified().await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[tokio::test]
    async fn session_messages_go_out_before_waiting_routes() {
        let (session, routes, mut rx) = queue(8);
        routes.send_all([b("u1"), b("u2")]).unwrap();
        session.try_send(b("keepalive")).unwrap();
        let mut batch = Vec::new();
        assert!(rx.next_batch(&mut batch, 1024).await);
        assert_eq!(batch, [b("keepalive"), b("u1"), b("u2")]);
    }

    #[tokio::test]
    async fn a_batch_stops_once_it_reaches_the_octet_limit() {
        let (_session, routes, mut rx) = queue(8);
        routes.send_all([b("aaaa"), b("bbbb"), b("cccc")]).unwrap();
        let mut batch = Vec::new();
        assert!(rx.next_batch(&mut batch, 5).await);
        assert_eq!(batch, [b("aaaa"), b("bbbb")]);
        batch.clear();
        assert!(rx.next_batch(&mut batch, 5).await);
        assert_eq!(batch, [b("cccc")]);
    }

    #[tokio::test]
    async fn closing_flushes_session_messages_and_drops_routes() {
        let (session, routes, mut rx) = queue(8);
        routes.send_all([b("update")]).unwrap();
        session.try_send(b("notification")).unwrap();
        drop(session);
        assert_eq!(routes.send_all([b("late")]), Err(SendError::Closed));
        let mut batch = Vec::new();
        assert!(rx.next_batch(&mut batch, 1024).await);
        assert_eq!(batch, [b("notification")]);
        batch.clear();
        assert!(!rx.next_batch(&mut batch, 1024).await);
        assert!(batch.is_empty());
    }

    #[tokio::test]
    async fn a_full_session_lane_is_reported() {
        let (session, _routes, _rx) = queue(1);
        session.try_send(b("one")).unwrap();
        assert_eq!(session.try_send(b("two")), Err(SendError::Full));
    }

    #[tokio::test]
    async fn a_gone_writer_closes_the_queue() {
        let (session, routes, rx) = queue(8);
        drop(rx);
        assert_eq!(session.try_send(b("x")), Err(SendError::Closed));
        assert_eq!(routes.send_all([b("y")]), Err(SendError::Closed));
    }

    #[tokio::test]
    async fn the_writer_wakes_for_a_message_sent_while_it_waits() {
        let (session, _routes, mut rx) = queue(8);
        let waiter = tokio::spawn(async move {
            let mut batch = Vec::new();
            rx.next_batch(&mut batch, 1024).await;
            batch
        });
        tokio::task::yield_now().await;
        session.try_send(b("open")).unwrap();
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch, [b("open")]);
    }
}
