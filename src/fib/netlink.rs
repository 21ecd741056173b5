//! The netlink implementation of [`Fib`]: wren's kernel routes through `NETLINK_ROUTE`.
//!
//! **Owns:** the translation between [`KernelRoute`] and rtnetlink route messages (table, with
//! `RTA_TABLE` above 255; protocol; metric as `RTA_PRIORITY`; unicast via a gateway with an
//! optional device and `onlink`; ECMP as `RTA_MULTIPATH`; blackhole; IPv4 and IPv6, and IPv4
//! routes via an IPv6 gateway as `RTA_VIA`), the device name ↔ ifindex cache, the batched
//! writer behind [`NetlinkFib::apply`], the table dump behind [`NetlinkFib::dump`], the
//! interface address list ([`NetlinkFib::addresses`]) and the kernel event stream
//! ([`monitor`]).
//!
//! **How routes go in.** [`NetlinkFib::apply`] does not wait for one acknowledgement per route.
//! It writes up to [`CHUNK_MESSAGES`] requests in one `send(2)` on a plain netlink socket (the
//! kernel processes them one after the other, in order, inside that call); only the last
//! request of a chunk asks for an ACK (`NLM_F_ACK`). The kernel answers every *failed* request
//! with an error whatever its flags, and answers in order, so once the last request's reply has
//! arrived, every request without an error reply succeeded. A chunk's error replies fit in the
//! socket's receive buffer; if the kernel reports an overrun anyway (`ENOBUFS`), the requests
//! whose outcome is unknown are reported as failed, so the caller retries them. Replaces are
//! `NLM_F_CREATE | NLM_F_REPLACE`; a delete of a route already gone (`ESRCH`) and a replace that
//! raced with an equal route (`EEXIST`) count as done. Deletes name the destination, table,
//! protocol and metric but no next hop, so they remove the route of wren's protocol whatever its
//! next hops became, and never a route of another protocol.
//!
//! **How routes come out.** [`NetlinkFib::dump`] reads the IPv4 and IPv6 tables through the
//! `rtnetlink` crate and keeps unicast and blackhole routes of the table asked for; local,
//! broadcast, multicast, anycast and cloned (cache) routes are skipped silently, and routes
//! [`KernelRoute`] cannot express (unreachable, prohibit, throw, nexthop objects, MPLS
//! encapsulation …) are skipped with a debug log. Devices come back as names. The kernel stores
//! an IPv6 route installed with metric 0 under metric 1024 (`IP6_RT_PRIO_USER`); such routes read
//! back with metric 0, the value that installs them, so [`super::reconcile`] does not replace
//! them again and again.
//!
//! **Device cache.** Names are resolved to ifindexes once and cached. A request the kernel
//! rejects with `ENODEV` evicts the names it used, [`NetlinkFib::dump`] and
//! [`NetlinkFib::addresses`] refresh the whole cache, and a name the kernel does not know fails
//! that one operation with [`Error::NoDevice`].
//!
//! **Must not depend on:** the RIB, sessions or configuration; it sees only [`KernelRoute`]s and
//! [`Op`]s. It needs a tokio runtime (the rtnetlink connection and the event monitor are tasks
//! spawned on the current one) and acts on the network namespace of the calling thread.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE,
    NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop,
    RouteNextHopFlags, RouteProtocol, RouteScope, RouteType, RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use rtnetlink::MulticastGroup;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Action, Applied, Error, Fib, Hop, KernelRoute, Op};

/// Most requests written in one `send(2)`.
pub const CHUNK_MESSAGES: usize = 256;
/// Most octets written in one `send(2)` (well under the default socket send buffer).
const CHUNK_BYTES: usize = 64 * 1024;
/// How long a chunk may wait for the kernel's reply to its last request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Receive buffer asked for (the kernel caps it at `net.core.rmem_max`).
const RCVBUF: i32 = 4 << 20;
/// Room for one received datagram.
const RX_DATAGRAM: usize = 64 * 1024;
/// The metric the kernel gives an IPv6 route installed without one (`IP6_RT_PRIO_USER`).
pub const IPV6_DEFAULT_METRIC: u32 = 1024;
/// Capacity of the [`monitor`] channel.
const MONITOR_QUEUE: usize = 4096;

/// `NLMSG_ERROR`: the kernel's reply carrying an errno (0 for an ACK).
const NLMSG_ERROR: u16 = 2;
/// `NLMSGERR_ATTR_MSG`: the extended-ACK attribute with a human-readable message.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Length of a netlink message header.
const NLMSG_HDRLEN: usize = 16;

// ------------------------------------------------------------------------------------------------
// The adapter

/// A [`Fib`] over the kernel's routing tables in the current network namespace.
///
/// Holds an rtnetlink connection (dumps, device lookups) and a second, plain netlink socket
/// for batched writes. Dropping it stops the connection task.
pub struct NetlinkFib {
    /// Requests through the rtnetlink connection task.
    handle: rtnetlink::Handle,
    /// The connection task, aborted on drop.
    conn_task: JoinHandle<()>,
    /// The batch socket: requests out, error replies and ACKs in.
    batch: TokioSocket,
    /// Sequence number of the next batched request.
    seq: u32,
    /// Device name → ifindex.
    index_of: HashMap<String, u32>,
    /// Ifindex → device name.
    name_of: HashMap<u32, String>,
}

impl std::fmt::Debug for NetlinkFib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkFib")
            .field("seq", &self.seq)
            .field("devices", &self.index_of)
            .finish_non_exhaustive()
    }
}

impl Drop for NetlinkFib {
    fn drop(&mut self) {
        self.conn_task.abort();
    }
}

/// One request of the chunk being built.
struct Pending {
    op: Op,
    seq: u32,
}

impl NetlinkFib {
    /// Opens the netlink sockets and spawns the rtnetlink connection task on the current tokio
    /// runtime. Fails with [`Error::Socket`] when a socket cannot be opened (no `NETLINK_ROUTE`,
    /// or called outside a runtime's context).
    pub async fn new() -> Result<NetlinkFib, Error> {
        let (conn, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(|e| Error::Socket(e.to_string()))?;
        let conn_task = tokio::spawn(conn);
        let batch = match batch_socket() {
            Ok(s) => s,
            Err(e) => {
                conn_task.abort();
                return Err(Error::Socket(e.to_string()));
            }
        };
        Ok(NetlinkFib {
            handle,
            conn_task,
            batch,
            seq: 1,
            index_of: HashMap::new(),
            name_of: HashMap::new(),
        })
    }

    /// Every interface address: `(interface name, address with its prefix length)`, e.g.
    /// `("eth0", 10.192.0.2/16)`, IPv4 and IPv6, for deciding whether a next hop is on a
    /// directly connected subnet (Calico's CrossSubnet). The address keeps its host bits.
    pub async fn addresses(&mut self) -> Result<Vec<(String, IpNet)>, Error> {
        self.refresh_links().await?;
        let mut stream = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| netlink_error("dump addresses", "-", &e))?
        {
            if let Some(pair) = address_of(&msg, |i| self.name_of.get(&i).cloned()) {
                out.push(pair);
            }
        }
        Ok(out)
    }

    /// Re-reads every link into the name ↔ index cache.
    async fn refresh_links(&mut self) -> Result<(), Error> {
        let mut stream = self.handle.link().get().execute();
        let mut index_of = HashMap::new();
        let mut name_of = HashMap::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| netlink_error("dump links", "-", &e))?
        {
            if let Some(name) = link_name(&msg) {
                index_of.insert(name.clone(), msg.header.index);
                name_of.insert(msg.header.index, name);
            }
        }
        self.index_of = index_of;
        self.name_of = name_of;
        Ok(())
    }

    /// The ifindex of `name`, from the cache or else from the kernel.
    async fn ifindex(&mut self, name: &str) -> Result<u32, Error> {
        if let Some(&index) = self.index_of.get(name) {
            return Ok(index);
        }
        let mut stream = self.handle.link().get().match_name(name).execute();
        match stream.try_next().await {
            Ok(Some(msg)) => {
                let index = msg.header.index;
                self.index_of.insert(name.to_owned(), index);
                self.name_of.insert(index, name.to_owned());
                Ok(index)
            }
            Ok(None) => Err(Error::NoDevice(name.to_owned())),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == libc::ENODEV => {
                Err(Error::NoDevice(name.to_owned()))
            }
            Err(e) => Err(netlink_error("link", name, &e)),
        }
    }

    /// Resolves every device `route` names into the cache.
    async fn resolve_devices(&mut self, route: &KernelRoute) -> Result<(), Error> {
        if let Action::Unicast(hops) = &route.action {
            for hop in hops {
                if let Some(dev) = &hop.device {
                    self.ifindex(dev).await?;
                }
            }
        }
        Ok(())
    }

    /// Drops the cached indexes of the devices `route` names.
    fn evict_devices(&mut self, route: &KernelRoute) {
        if let Action::Unicast(hops) = &route.action {
            for dev in hops.iter().filter_map(|h| h.device.as_ref()) {
                if let Some(index) = self.index_of.remove(dev) {
                    self.name_of.remove(&index);
                }
            }
        }
    }

    /// Sends the chunk in `tx` (the requests of `chunk`), waits for the reply to its last
    /// request, and records each request's outcome in `applied`.
    async fn flush(
        &mut self,
        tx: &mut Vec<u8>,
        last_offset: usize,
        chunk: &mut Vec<Pending>,
        applied: &mut Applied,
    ) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return;
        };
        let (base, last_seq) = (first.seq, last.seq);
        set_flag(tx, last_offset, NLM_F_ACK);

        let mut replies: Vec<Option<Reply>> = vec![None; chunk.len()];
        let mut got_last = false;
        let mut trouble: Option<String> = None;
        match self.batch.send(tx).await {
            Ok(n) if n == tx.len() => {}
            Ok(n) => trouble = Some(format!("short netlink write: {n} of {} octets", tx.len())),
            Err(e) => trouble = Some(format!("netlink send: {e}")),
        }
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        let mut rx: Vec<u8> = Vec::with_capacity(RX_DATAGRAM);
        while trouble.is_none() && !got_last {
            rx.clear();
            rx.reserve(RX_DATAGRAM);
            match tokio::time::timeout_at(deadline, self.batch.recv(&mut rx)).await {
                Err(_) => {
                    trouble = Some(format!(
                        "no reply from the kernel within {} s",
                        REPLY_TIMEOUT.as_secs()
                    ));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Replies were dropped: read what is left, then report the requests
                    // without a reply as unknown.
                    trouble.get_or_insert_with(|| {
                        "outcome unknown: netlink receive buffer overrun".to_owned()
                    });
                    if drain_until(&self.batch, &mut rx, base, last_seq, &mut replies).await {
                        got_last = true;
                    }
                }
                Ok(Err(e)) => trouble = Some(format!("netlink receive: {e}")),
                Ok(Ok(())) => {
                    for reply in parse_replies(&rx) {
                        got_last |= reply.seq == last_seq;
                        record(&mut replies, base, reply);
                    }
                }
            }
        }

        for (pending, reply) in chunk.drain(..).zip(replies) {
            let result = match (&reply, &trouble) {
                (Some(reply), _) => outcome(&pending.op, reply),
                (None, None) => Ok(()),
                (None, Some(why)) => Err(why.clone()),
            };
            match result {
                Ok(()) => applied.done += 1,
                Err(message) => {
                    if reply.as_ref().is_some_and(|r| -r.code == libc::ENODEV) {
                        if let Op::Replace(route) | Op::Add(route) = &pending.op {
                            self.evict_devices(route);
                        }
                    }
                    let (verb, route) = op_parts(&pending.op);
                    let error = Error::Netlink {
                        op: verb,
                        prefix: route.prefix.to_string(),
                        message,
                    };
                    applied.failed.push((pending.op, error.to_string()));
                }
            }
        }
        tx.clear();
    }
}

impl Fib for NetlinkFib {
    async fn addresses(&mut self) -> Result<Vec<(String, IpNet)>, Error> {
        NetlinkFib::addresses(self).await
    }

    async fn dump(&mut self, table: u32) -> Result<Vec<KernelRoute>, Error> {
        self.refresh_links().await?;
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut request = RouteMessage::default();
            request.header.address_family = family;
            let mut stream = self.handle.route().get(request).execute();
            while let Some(msg) = stream
                .try_next()
                .await
                .map_err(|e| netlink_error("dump", "-", &e))?
            {
                if table_of(&msg) != table {
                    continue;
                }
                match route_from_message(&msg, |i| self.name_of.get(&i).cloned()) {
                    Ok(route) => out.push(route),
                    Err(Skip::Quiet) => {}
                    Err(Skip::Unsupported(why)) => {
                        tracing::debug!(%why, ?msg, "fib: skipping a kernel route wren cannot represent");
                    }
                }
            }
        }
        Ok(out)
    }

    async fn apply(&mut self, ops: Vec<Op>) -> Applied {
        let mut applied = Applied::default();
        let mut tx: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
        let mut chunk: Vec<Pending> = Vec::with_capacity(CHUNK_MESSAGES);
        let mut last_offset = 0;
        for op in ops {
            let built = match &op {
                Op::Replace(route) | Op::Add(route) => match self.resolve_devices(route).await {
                    Ok(()) => route_message(route, &self.index_of)
                        .map(RouteNetlinkMessage::NewRoute)
                        .map_err(|message| Error::Netlink {
                            op: op_parts(&op).0,
                            prefix: route.prefix.to_string(),
                            message,
                        }),
                    Err(e) => Err(e),
                },
                Op::Delete(route) => Ok(RouteNetlinkMessage::DelRoute(delete_message(route))),
            };
            let msg = match built {
                Ok(msg) => msg,
                Err(e) => {
                    applied.failed.push((op, e.to_string()));
                    continue;
                }
            };
            let flags = match &op {
                Op::Replace(_) => NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
                // Never overwrite a route wren does not own: the kernel matches a replace on
                // destination, table and metric only, not on protocol (as BIRD 2's netlink.c).
                Op::Add(_) => NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
                Op::Delete(_) => NLM_F_REQUEST,
            };
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            last_offset = tx.len();
            encode(msg, flags, seq, &mut tx);
            chunk.push(Pending { op, seq });
            if chunk.len() >= CHUNK_MESSAGES || tx.len() >= CHUNK_BYTES {
                self.flush(&mut tx, last_offset, &mut chunk, &mut applied)
                    .await;
            }
        }
        self.flush(&mut tx, last_offset, &mut chunk, &mut applied)
            .await;
        applied
    }
}

/// The non-blocking socket for batched writes: bound to a kernel-chosen port, connected to the
/// kernel, replies capped to the request header and carrying extended-ACK messages.
fn batch_socket() -> std::io::Result<TokioSocket> {
    let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
    let s = socket.socket_mut();
    s.bind_auto()?;
    s.connect(&SocketAddr::new(0, 0))?;
    if let Err(e) = s.set_cap_ack(true) {
        tracing::debug!(error = %e, "fib: NETLINK_CAP_ACK not supported");
    }
    if let Err(e) = s.set_ext_ack(true) {
        tracing::debug!(error = %e, "fib: NETLINK_EXT_ACK not supported");
    }
    if let Err(e) = s.set_rx_buf_sz(RCVBUF) {
        tracing::debug!(error = %e, "fib: cannot enlarge the netlink receive buffer");
    }
    Ok(socket)
}

/// After an overrun: reads what is still queued (without waiting long) and records it; true when
/// the reply to `last_seq` was among it.
async fn drain_until(
    socket: &TokioSocket,
    rx: &mut Vec<u8>,
    base: u32,
    last_seq: u32,
    replies: &mut [Option<Reply>],
) -> bool {
    loop {
        rx.clear();
        rx.reserve(RX_DATAGRAM);
        match tokio::time::timeout(Duration::from_millis(200), socket.recv(rx)).await {
            Ok(Ok(())) => {
                let mut got_last = false;
                for reply in parse_replies(rx) {
                    got_last |= reply.seq == last_seq;
                    record(replies, base, reply);
                }
                if got_last {
                    return true;
                }
            }
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
            Ok(Err(_)) | Err(_) => return false,
        }
    }
}

/// Stores `reply` in the slot of its request, if it is one of this chunk's.
fn record(replies: &mut [Option<Reply>], base: u32, reply: Reply) {
    let index = reply.seq.wrapping_sub(base) as usize;
    if let Some(slot) = replies.get_mut(index) {
        *slot = Some(reply);
    }
}

/// `replace` or `delete`, and the route.
fn op_parts(op: &Op) -> (&'static str, &KernelRoute) {
    match op {
        Op::Replace(r) => ("replace", r),
        Op::Add(r) => ("add", r),
        Op::Delete(r) => ("delete", r),
    }
}

/// An [`Error::Netlink`] from an rtnetlink error.
fn netlink_error(op: &'static str, prefix: &str, e: &rtnetlink::Error) -> Error {
    let message = match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().to_string(),
        other => other.to_string(),
    };
    Error::Netlink {
        op,
        prefix: prefix.to_owned(),
        message,
    }
}

// ------------------------------------------------------------------------------------------------
// Pure helpers: messages out

/// The address family of a prefix.
fn family_of(prefix: &IpNet) -> AddressFamily {
    match prefix {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    }
}

/// The header every route message of `route` starts with: family, destination length, table
/// (`RT_TABLE_UNSPEC` in the header and the id in `RTA_TABLE` above 255, as iproute2 does),
/// protocol.
fn base_message(route: &KernelRoute) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family_of(&route.prefix);
    msg.header.destination_prefix_length = route.prefix.prefix_len();
    msg.header.protocol = RouteProtocol::from(route.protocol);
    match u8::try_from(route.table) {
        Ok(t) => msg.header.table = t,
        Err(_) => {
            msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
            msg.attributes.push(RouteAttribute::Table(route.table));
        }
    }
    if route.prefix.prefix_len() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                route.prefix.network(),
            )));
    }
    if route.metric != 0 {
        msg.attributes.push(RouteAttribute::Priority(route.metric));
    }
    msg
}

/// The gateway attribute of a hop: `RTA_GATEWAY` in the route's own family, `RTA_VIA` for an
/// IPv4 route via an IPv6 gateway (RFC 5549); an IPv6 route cannot go via an IPv4 gateway.
fn gateway_attribute(prefix: &IpNet, gateway: IpAddr) -> Result<RouteAttribute, String> {
    match (prefix, gateway) {
        (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_)) => {
            Ok(RouteAttribute::Gateway(RouteAddress::from(gateway)))
        }
        (IpNet::V4(_), IpAddr::V6(v6)) => Ok(RouteAttribute::Via(RouteVia::Inet6(v6))),
        (IpNet::V6(_), IpAddr::V4(v4)) => {
            Err(format!("an IPv6 route cannot go via the IPv4 gateway {v4}"))
        }
    }
}

/// The ifindex of a hop's device, from `index_of`.
fn hop_index(hop: &Hop, index_of: &HashMap<String, u32>) -> Result<Option<u32>, String> {
    match &hop.device {
        None => Ok(None),
        Some(dev) => index_of
            .get(dev)
            .copied()
            .map(Some)
            .ok_or_else(|| Error::NoDevice(dev.clone()).to_string()),
    }
}

/// The `RTM_NEWROUTE` body installing `route`; device names are looked up in `index_of`.
fn route_message(
    route: &KernelRoute,
    index_of: &HashMap<String, u32>,
) -> Result<RouteMessage, String> {
    let mut msg = base_message(route);
    match &route.action {
        Action::Blackhole => {
            msg.header.kind = RouteType::BlackHole;
            msg.header.scope = RouteScope::Universe;
        }
        Action::Unicast(hops) => {
            msg.header.kind = RouteType::Unicast;
            msg.header.scope = if hops.iter().any(|h| h.gateway.is_some()) {
                RouteScope::Universe
            } else {
                RouteScope::Link
            };
            match hops.as_slice() {
                [] => return Err("a unicast route needs at least one next hop".to_owned()),
                [hop] => {
                    if hop.gateway.is_none() && hop.device.is_none() {
                        return Err("a next hop needs a gateway or a device".to_owned());
                    }
                    if let Some(gw) = hop.gateway {
                        msg.attributes.push(gateway_attribute(&route.prefix, gw)?);
                    }
                    if let Some(index) = hop_index(hop, index_of)? {
                        msg.attributes.push(RouteAttribute::Oif(index));
                    }
                    if hop.onlink {
                        msg.header.flags |= RouteFlags::Onlink;
                    }
                }
                many => {
                    let mut next_hops = Vec::with_capacity(many.len());
                    for hop in many {
                        if hop.gateway.is_none() && hop.device.is_none() {
                            return Err("a next hop needs a gateway or a device".to_owned());
                        }
                        let mut nh = RouteNextHop::default();
                        if let Some(gw) = hop.gateway {
                            nh.attributes.push(gateway_attribute(&route.prefix, gw)?);
                        }
                        nh.interface_index = hop_index(hop, index_of)?.unwrap_or(0);
                        if hop.onlink {
                            nh.flags |= RouteNextHopFlags::Onlink;
                        }
                        next_hops.push(nh);
                    }
                    msg.attributes.push(RouteAttribute::MultiPath(next_hops));
                }
            }
        }
    }
    Ok(msg)
}

/// The `RTM_DELROUTE` body removing `route`: destination, table, protocol and metric, any type,
/// any scope, any next hop.
fn delete_message(route: &KernelRoute) -> RouteMessage {
    let mut msg = base_message(route);
    msg.header.kind = RouteType::Unspec;
    msg.header.scope = RouteScope::NoWhere;
    msg
}

/// Appends `payload` as one netlink message with `flags` and `seq` to `out`.
fn encode(payload: RouteNetlinkMessage, flags: u16, seq: u32, out: &mut Vec<u8>) {
    let mut msg = NetlinkMessage::from(payload);
    msg.header.flags = flags;
    msg.header.sequence_number = seq;
    msg.finalize();
    let start = out.len();
    out.resize(start + msg.buffer_len(), 0);
    if let Some(slot) = out.get_mut(start..) {
        msg.serialize(slot);
    }
}

/// Sets `flag` in the header of the message that starts at `offset` in `buf`.
fn set_flag(buf: &mut [u8], offset: usize, flag: u16) {
    if let Some(field) = buf.get_mut(offset + 6..offset + 8) {
        let old = u16::from_ne_bytes([
            field.first().copied().unwrap_or(0),
            field.get(1).copied().unwrap_or(0),
        ]);
        field.copy_from_slice(&(old | flag).to_ne_bytes());
    }
}

// ------------------------------------------------------------------------------------------------
// Pure helpers: replies

/// The kernel's answer to one request: its errno (negative) or 0 for an ACK, and the
/// extended-ACK message if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    seq: u32,
    code: i32,
    message: Option<String>,
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at + 2)?;
    Some(u16::from_ne_bytes([*b.first()?, *b.get(1)?]))
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at + 4)?;
    Some(u32::from_ne_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// Every `NLMSG_ERROR` in a datagram; anything malformed ends the walk.
fn parse_replies(buf: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind), Some(flags), Some(seq)) = (
        read_u32(buf, at),
        read_u16(buf, at + 4),
        read_u16(buf, at + 6),
        read_u32(buf, at + 8),
    ) {
        let len = len as usize;
        let Some(msg) = buf.get(at..at + len) else {
            break;
        };
        if len < NLMSG_HDRLEN {
            break;
        }
        if kind == NLMSG_ERROR {
            if let Some(code) = read_u32(msg, NLMSG_HDRLEN) {
                let code = code as i32;
                out.push(Reply {
                    seq,
                    code,
                    message: ext_ack_message(msg, flags),
                });
            }
        }
        at += (len + 3) & !3;
    }
    out
}

/// The `NLMSGERR_ATTR_MSG` string of an error reply, when the kernel attached one.
fn ext_ack_message(msg: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    // nlmsgerr: errno, then the request's header (capped) or the whole request.
    let request_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        read_u32(msg, NLMSG_HDRLEN + 4)? as usize
    };
    let mut at = NLMSG_HDRLEN + 4 + ((request_len + 3) & !3);
    while let (Some(len), Some(kind)) = (read_u16(msg, at), read_u16(msg, at + 2)) {
        let len = len as usize;
        if len < 4 {
            return None;
        }
        if kind & 0x3fff == NLMSGERR_ATTR_MSG {
            let raw = msg.get(at + 4..at + len)?;
            let text = raw.split(|&b| b == 0).next().unwrap_or(raw);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        at += (len + 3) & !3;
    }
    None
}

/// What a reply means for its operation: done, or failed with a message. A delete of a route
/// already gone (`ESRCH`) and a replace racing with an equal route (`EEXIST`) are done; an add
/// that finds a route there (`EEXIST`: another protocol's, which wren must not touch) fails.
fn outcome(op: &Op, reply: &Reply) -> Result<(), String> {
    let errno = -reply.code;
    match (op, errno) {
        (_, 0) | (Op::Delete(_), libc::ESRCH) | (Op::Replace(_), libc::EEXIST) => Ok(()),
        _ => {
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            Err(match &reply.message {
                Some(m) => format!("{text}: {m}"),
                None => text,
            })
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Pure helpers: messages in

/// Why a kernel route was not converted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Skip {
    /// Not a forwarding route (local, broadcast, multicast, anycast, cache): never wren's.
    Quiet,
    /// A route [`KernelRoute`] cannot express; logged at debug level.
    Unsupported(String),
}

/// The table of a route message: `RTA_TABLE` when present, else the header's.
fn table_of(msg: &RouteMessage) -> u32 {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table))
}

fn route_address(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The gateway among a route's or next hop's attributes (`RTA_GATEWAY` or `RTA_VIA`).
fn gateway_in(attributes: &[RouteAttribute]) -> Result<Option<IpAddr>, Skip> {
    for a in attributes {
        match a {
            RouteAttribute::Gateway(addr) => {
                return route_address(addr)
                    .map(Some)
                    .ok_or_else(|| Skip::Unsupported(format!("gateway {addr:?}")));
            }
            RouteAttribute::Via(RouteVia::Inet(v4)) => return Ok(Some(IpAddr::V4(*v4))),
            RouteAttribute::Via(RouteVia::Inet6(v6)) => return Ok(Some(IpAddr::V6(*v6))),
            RouteAttribute::Via(other) => {
                return Err(Skip::Unsupported(format!("via {other:?}")));
            }
            RouteAttribute::EncapType(_) | RouteAttribute::Encap(_) => {
                return Err(Skip::Unsupported("encapsulation".to_owned()));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A device name for `index`, or a skip when it is unknown.
fn device_name(index: u32, name_of: &impl Fn(u32) -> Option<String>) -> Result<String, Skip> {
    name_of(index).ok_or_else(|| Skip::Unsupported(format!("unknown ifindex {index}")))
}

/// Converts a kernel route message into a [`KernelRoute`]; `name_of` names ifindexes.
fn route_from_message(
    msg: &RouteMessage,
    name_of: impl Fn(u32) -> Option<String>,
) -> Result<KernelRoute, Skip> {
    let h = &msg.header;
    if h.flags.contains(RouteFlags::Cloned) {
        return Err(Skip::Quiet);
    }
    let action_kind = match h.kind {
        RouteType::Unicast => RouteType::Unicast,
        RouteType::BlackHole => RouteType::BlackHole,
        RouteType::Local | RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast => {
            return Err(Skip::Quiet)
        }
        other => return Err(Skip::Unsupported(format!("route type {other:?}"))),
    };
    let mut dst: Option<IpAddr> = None;
    let mut oif: Option<u32> = None;
    let mut metric = 0;
    let mut multipath: Option<&Vec<RouteNextHop>> = None;
    for a in &msg.attributes {
        match a {
            RouteAttribute::Destination(addr) => dst = route_address(addr),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(m) => metric = *m,
            RouteAttribute::MultiPath(hops) => multipath = Some(hops),
            RouteAttribute::NhId(id) => {
                return Err(Skip::Unsupported(format!("nexthop object {id}")));
            }
            RouteAttribute::Source(_) if h.source_prefix_length > 0 => {
                return Err(Skip::Unsupported("source-specific route".to_owned()));
            }
            _ => {}
        }
    }
    let len = h.destination_prefix_length;
    let prefix = match (h.address_family, dst) {
        (AddressFamily::Inet, None) => IpNet::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), len),
        (AddressFamily::Inet6, None) => IpNet::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), len),
        (AddressFamily::Inet, Some(a @ IpAddr::V4(_)))
        | (AddressFamily::Inet6, Some(a @ IpAddr::V6(_))) => IpNet::new(a, len),
        (family, _) => return Err(Skip::Unsupported(format!("family {family:?}"))),
    }
    .map_err(|_| Skip::Unsupported(format!("prefix length {len}")))?
    .trunc();
    if matches!(prefix, IpNet::V6(_)) && metric == IPV6_DEFAULT_METRIC {
        metric = 0;
    }
    let action = if action_kind == RouteType::BlackHole {
        Action::Blackhole
    } else if let Some(next_hops) = multipath {
        let mut hops = Vec::with_capacity(next_hops.len());
        for nh in next_hops {
            let gateway = gateway_in(&nh.attributes)?;
            let device = match nh.interface_index {
                0 => None,
                i => Some(device_name(i, &name_of)?),
            };
            if gateway.is_none() && device.is_none() {
                return Err(Skip::Unsupported(
                    "next hop without gateway or device".to_owned(),
                ));
            }
            hops.push(Hop {
                gateway,
                device,
                onlink: nh.flags.contains(RouteNextHopFlags::Onlink),
            });
        }
        if hops.is_empty() {
            return Err(Skip::Unsupported("empty multipath".to_owned()));
        }
        Action::Unicast(hops)
    } else {
        let gateway = gateway_in(&msg.attributes)?;
        let device = oif.map(|i| device_name(i, &name_of)).transpose()?;
        if gateway.is_none() && device.is_none() {
            return Err(Skip::Unsupported(
                "unicast route without gateway or device".to_owned(),
            ));
        }
        Action::Unicast(vec![Hop {
            gateway,
            device,
            onlink: h.flags.contains(RouteFlags::Onlink),
        }])
    };
    Ok(KernelRoute {
        prefix,
        table: table_of(msg),
        protocol: u8::from(h.protocol),
        metric,
        action,
    })
}

/// The `IFLA_IFNAME` of a link message.
fn link_name(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// Whether a link is up: administratively up and running (carrier, operational).
fn link_is_up(msg: &LinkMessage) -> bool {
    msg.header.flags.contains(LinkFlags::Up) && msg.header.flags.contains(LinkFlags::Running)
}

/// `(interface name, address/prefix length)` of an address message. The name comes from
/// `name_of`, else from `IFA_LABEL`; the address is `IFA_LOCAL` (this end of a point-to-point
/// link) when present, else `IFA_ADDRESS`.
fn address_of(
    msg: &AddressMessage,
    name_of: impl Fn(u32) -> Option<String>,
) -> Option<(String, IpNet)> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    let prefix = IpNet::new(ip, msg.header.prefix_len).ok()?;
    let name = name_of(msg.header.index).or(label)?;
    Some((name, prefix))
}

// ------------------------------------------------------------------------------------------------
// Kernel events

/// A change in the kernel, as [`monitor`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// A route was added or replaced (any table, any protocol, wren's own included).
    RouteAdded(KernelRoute),
    /// A route was deleted. Linux removes IPv4 routes through a device that goes down without
    /// telling anyone, so a [`KernelEvent::LinkDown`] may stand for removals never reported.
    RouteRemoved(KernelRoute),
    /// A link became up and running.
    LinkUp {
        /// Device name.
        name: String,
        /// Its ifindex.
        index: u32,
    },
    /// A link went down (administratively, lost its carrier, or was deleted).
    LinkDown {
        /// Device name.
        name: String,
        /// Its ifindex.
        index: u32,
    },
    /// An address was added to an interface.
    AddressAdded {
        /// Interface name.
        name: String,
        /// The address with its prefix length.
        prefix: IpNet,
    },
    /// An address was removed from an interface.
    AddressRemoved {
        /// Interface name.
        name: String,
        /// The address with its prefix length.
        prefix: IpNet,
    },
    /// The kernel dropped events because they came faster than they were read: what the
    /// receiver knows may be stale, so it should read the state again ([`NetlinkFib::dump`],
    /// [`NetlinkFib::addresses`]).
    Overrun,
}

/// What the monitor remembers between events: names of every link seen (kept after a link is
/// deleted, so late route removals still name it) and which links are up.
#[derive(Debug, Default)]
struct MonitorState {
    names: HashMap<u32, String>,
    up: HashMap<u32, bool>,
}

impl MonitorState {
    /// Learns a link without reporting it (the initial dump).
    fn learn_link(&mut self, msg: &LinkMessage) {
        if let Some(name) = link_name(msg) {
            self.names.insert(msg.header.index, name);
        }
        self.up.insert(msg.header.index, link_is_up(msg));
    }

    /// The events one kernel message stands for.
    fn events(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) -> Vec<KernelEvent> {
        let inner = match msg.payload {
            NetlinkPayload::Overrun(_) => return vec![KernelEvent::Overrun],
            NetlinkPayload::InnerMessage(inner) => inner,
            _ => return Vec::new(),
        };
        let route =
            |m: &RouteMessage, names: &HashMap<u32, String>| match route_from_message(m, |i| {
                names.get(&i).cloned()
            }) {
                Ok(r) => Some(r),
                Err(Skip::Quiet) => None,
                Err(Skip::Unsupported(why)) => {
                    tracing::debug!(%why, "fib monitor: skipping a route event");
                    None
                }
            };
        match inner {
            RouteNetlinkMessage::NewRoute(m) => route(&m, &self.names)
                .map(KernelEvent::RouteAdded)
                .into_iter()
                .collect(),
            RouteNetlinkMessage::DelRoute(m) => route(&m, &self.names)
                .map(KernelEvent::RouteRemoved)
                .into_iter()
                .collect(),
            RouteNetlinkMessage::NewLink(m) => {
                let index = m.header.index;
                if let Some(name) = link_name(&m) {
                    self.names.insert(index, name);
                }
                let Some(name) = self.names.get(&index).cloned() else {
                    return Vec::new();
                };
                let now = link_is_up(&m);
                let before = self.up.insert(index, now);
                match (before, now) {
                    (Some(b), n) if b == n => Vec::new(),
                    (None, false) => Vec::new(),
                    (_, true) => vec![KernelEvent::LinkUp { name, index }],
                    (_, false) => vec![KernelEvent::LinkDown { name, index }],
                }
            }
            RouteNetlinkMessage::DelLink(m) => {
                let index = m.header.index;
                if let Some(name) = link_name(&m) {
                    self.names.insert(index, name);
                }
                self.up.remove(&index);
                match self.names.get(&index) {
                    Some(name) => vec![KernelEvent::LinkDown {
                        name: name.clone(),
                        index,
                    }],
                    None => Vec::new(),
                }
            }
            RouteNetlinkMessage::NewAddress(m) => address_of(&m, |i| self.names.get(&i).cloned())
                .map(|(name, prefix)| KernelEvent::AddressAdded { name, prefix })
                .into_iter()
                .collect(),
            RouteNetlinkMessage::DelAddress(m) => address_of(&m, |i| self.names.get(&i).cloned())
                .map(|(name, prefix)| KernelEvent::AddressRemoved { name, prefix })
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Subscribes to the kernel's route (IPv4, IPv6), link and address (IPv4, IPv6) notifications
/// and returns them as [`KernelEvent`]s, as they happen (no periodic scan). The events describe
/// changes after the call; read the starting state with [`NetlinkFib::dump`] and
/// [`NetlinkFib::addresses`] after subscribing. The task behind the channel (spawned on the
/// current tokio runtime) ends when the receiver is dropped; the channel closes if the netlink
/// socket fails.
pub async fn monitor() -> Result<mpsc::Receiver<KernelEvent>, Error> {
    let groups = [
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    let (mut conn, handle, mut messages) =
        rtnetlink::new_multicast_connection(&groups).map_err(|e| Error::Socket(e.to_string()))?;
    if let Err(e) = conn.socket_mut().socket_mut().set_rx_buf_sz(RCVBUF) {
        tracing::debug!(error = %e, "fib monitor: cannot enlarge the netlink receive buffer");
    }
    let conn_task = tokio::spawn(conn);

    // Subscribed first, then the link dump: no change can fall between the two.
    let mut state = MonitorState::default();
    let mut links = handle.link().get().execute();
    loop {
        match links.try_next().await {
            Ok(Some(msg)) => state.learn_link(&msg),
            Ok(None) => break,
            Err(e) => {
                conn_task.abort();
                return Err(netlink_error("dump links", "-", &e));
            }
        }
    }
    drop(links);

    let (tx, rx) = mpsc::channel(MONITOR_QUEUE);
    tokio::spawn(async move {
        // The handle stays alive with the task, so the connection keeps running.
        let _handle = handle;
        'read: while let Some((msg, _)) = messages.next().await {
            for event in state.events(msg) {
                if tx.send(event).await.is_err() {
                    break 'read;
                }
            }
        }
        conn_task.abort();
    });
    Ok(rx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::fib::{PROTO_BIRD, TABLE_MAIN};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn hop(gw: &str, dev: Option<&str>, onlink: bool) -> Hop {
        Hop {
            gateway: Some(ip(gw)),
            device: dev.map(str::to_owned),
            onlink,
        }
    }

    fn route(prefix: &str, action: Action) -> KernelRoute {
        KernelRoute {
            prefix: net(prefix),
            table: TABLE_MAIN,
            protocol: PROTO_BIRD,
            metric: 0,
            action,
        }
    }

    fn devices() -> HashMap<String, u32> {
        [("tunl0".to_owned(), 7), ("eth0".to_owned(), 2)]
            .into_iter()
            .collect()
    }

    fn names(i: u32) -> Option<String> {
        devices()
            .into_iter()
            .find(|(_, idx)| *idx == i)
            .map(|(n, _)| n)
    }

    /// Builds the message, serializes it, parses it back as the kernel would see it, and
    /// converts it into a route again.
    fn round_trip(r: &KernelRoute) -> KernelRoute {
        let msg = route_message(r, &devices()).unwrap();
        let mut buf = Vec::new();
        encode(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_REQUEST,
            1,
            &mut buf,
        );
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(back)) = parsed.payload
        else {
            panic!("not a route message: {parsed:?}");
        };
        route_from_message(&back, names).unwrap()
    }

    #[test]
    fn netlink_fib_can_move_into_a_spawned_task() {
        fn task_safe<T: Send + 'static>() {}
        task_safe::<NetlinkFib>();
        task_safe::<KernelEvent>();
    }

    #[test]
    fn calico_ipip_route_is_via_peer_dev_tunl0_onlink() {
        let r = route(
            "198.18.84.128/26",
            Action::Unicast(vec![hop("198.18.0.3", Some("tunl0"), true)]),
        );
        let msg = route_message(&r, &devices()).unwrap();
        assert_eq!(msg.header.protocol, RouteProtocol::Bird);
        assert_eq!(msg.header.table, 254);
        assert_eq!(msg.header.kind, RouteType::Unicast);
        assert_eq!(msg.header.scope, RouteScope::Universe);
        assert!(msg.header.flags.contains(RouteFlags::Onlink));
        assert!(msg.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(msg
            .attributes
            .contains(&RouteAttribute::Gateway(RouteAddress::Inet(
                "198.18.0.3".parse().unwrap()
            ))));
        assert!(!msg
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Priority(_) | RouteAttribute::Table(_))));
        assert_eq!(round_trip(&r), r);
    }

    #[test]
    fn blackhole_ecmp_ipv6_metric_and_big_table_round_trip() {
        let mut ecmp = route(
            "198.51.100.0/24",
            Action::Unicast(vec![
                hop("198.18.1.2", Some("eth0"), false),
                hop("198.18.1.3", Some("tunl0"), true),
            ]),
        );
        ecmp.metric = 1024;
        ecmp.table = 1000;
        let msg = route_message(&ecmp, &devices()).unwrap();
        assert_eq!(msg.header.table, 0);
        assert!(msg.attributes.contains(&RouteAttribute::Table(1000)));
        assert!(msg.attributes.contains(&RouteAttribute::Priority(1024)));
        assert_eq!(round_trip(&ecmp), ecmp);

        let black = route("203.0.113.64/26", Action::Blackhole);
        assert_eq!(
            route_message(&black, &devices()).unwrap().header.kind,
            RouteType::BlackHole
        );
        assert_eq!(round_trip(&black), black);

        let v6 = route(
            "2001:db8:1::/64",
            Action::Unicast(vec![hop("2001:db8::1", Some("eth0"), false)]),
        );
        assert_eq!(round_trip(&v6), v6);

        let default = route(
            "0.0.0.0/0",
            Action::Unicast(vec![hop("198.18.1.1", None, false)]),
        );
        let msg = route_message(&default, &devices()).unwrap();
        assert!(!msg
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        let device_route = route(
            "198.18.2.0/24",
            Action::Unicast(vec![Hop {
                gateway: None,
                device: Some("eth0".to_owned()),
                onlink: false,
            }]),
        );
        assert_eq!(
            route_message(&device_route, &devices())
                .unwrap()
                .header
                .scope,
            RouteScope::Link
        );
        assert_eq!(round_trip(&device_route), device_route);
    }

    #[test]
    fn ipv4_via_ipv6_gateway_uses_rta_via() {
        let r = route(
            "198.18.3.0/24",
            Action::Unicast(vec![hop("2001:db8::1", Some("eth0"), false)]),
        );
        let msg = route_message(&r, &devices()).unwrap();
        assert!(msg
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Via(_))));
        assert_eq!(round_trip(&r), r);
        let bad = route(
            "2001:db8:2::/64",
            Action::Unicast(vec![hop("198.18.1.1", None, false)]),
        );
        assert!(route_message(&bad, &devices()).is_err());
    }

    #[test]
    fn unknown_device_and_empty_unicast_are_errors() {
        let r = route(
            "198.18.4.0/24",
            Action::Unicast(vec![hop("198.18.1.1", Some("nosuch0"), false)]),
        );
        let err = route_message(&r, &devices()).unwrap_err();
        assert_eq!(err, Error::NoDevice("nosuch0".to_owned()).to_string());
        assert!(
            route_message(&route("198.18.4.0/24", Action::Unicast(vec![])), &devices()).is_err()
        );
    }

    #[test]
    fn delete_names_destination_table_protocol_but_no_next_hop() {
        let mut r = route(
            "198.18.5.0/24",
            Action::Unicast(vec![hop("198.18.1.1", Some("eth0"), true)]),
        );
        r.metric = 5;
        let msg = delete_message(&r);
        assert_eq!(msg.header.protocol, RouteProtocol::Bird);
        assert_eq!(msg.header.scope, RouteScope::NoWhere);
        assert_eq!(msg.header.kind, RouteType::Unspec);
        assert!(msg.attributes.contains(&RouteAttribute::Priority(5)));
        assert!(!msg.attributes.iter().any(|a| matches!(
            a,
            RouteAttribute::Gateway(_) | RouteAttribute::Oif(_) | RouteAttribute::MultiPath(_)
        )));
    }

    #[test]
    fn kernel_only_route_types_are_skipped() {
        let mut msg =
            route_message(&route("198.18.6.1/32", Action::Blackhole), &devices()).unwrap();
        msg.header.kind = RouteType::Local;
        assert_eq!(route_from_message(&msg, names), Err(Skip::Quiet));
        msg.header.kind = RouteType::Broadcast;
        assert_eq!(route_from_message(&msg, names), Err(Skip::Quiet));
        msg.header.kind = RouteType::Unreachable;
        assert!(matches!(
            route_from_message(&msg, names),
            Err(Skip::Unsupported(_))
        ));
        msg.header.kind = RouteType::Unicast;
        msg.attributes.push(RouteAttribute::Oif(99));
        assert!(matches!(
            route_from_message(&msg, names),
            Err(Skip::Unsupported(_))
        ));
    }

    #[test]
    fn ipv6_default_metric_reads_back_as_zero() {
        let mut r = route(
            "2001:db8:7::/64",
            Action::Unicast(vec![hop("2001:db8::1", Some("eth0"), false)]),
        );
        r.metric = IPV6_DEFAULT_METRIC;
        let back = round_trip(&r);
        assert_eq!(back.metric, 0);
        let mut v4 = route("198.18.7.0/24", Action::Blackhole);
        v4.metric = IPV6_DEFAULT_METRIC;
        assert_eq!(round_trip(&v4).metric, IPV6_DEFAULT_METRIC);
    }

    fn error_reply(seq: u32, errno: i32, capped: bool, ext: Option<&str>) -> Vec<u8> {
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-errno).to_ne_bytes());
        // The request's header (capped); uncapped adds the request body.
        let request_len: u32 = if capped { 16 } else { 24 };
        payload.extend_from_slice(&request_len.to_ne_bytes());
        payload.extend_from_slice(&24u16.to_ne_bytes());
        payload.extend_from_slice(&0u16.to_ne_bytes());
        payload.extend_from_slice(&seq.to_ne_bytes());
        payload.extend_from_slice(&0u32.to_ne_bytes());
        if !capped {
            payload.extend_from_slice(&[0u8; 8]);
        }
        let mut flags = if capped { NLM_F_CAPPED } else { 0 };
        if let Some(text) = ext {
            flags |= NLM_F_ACK_TLVS;
            let mut value = text.as_bytes().to_vec();
            value.push(0);
            let len = 4 + value.len();
            payload.extend_from_slice(&(len as u16).to_ne_bytes());
            payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
            payload.extend_from_slice(&value);
            while payload.len() % 4 != 0 {
                payload.push(0);
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn replies_are_parsed_with_their_extended_ack_message() {
        let mut buf = error_reply(7, libc::ENODEV, true, Some("Nexthop device is not up"));
        buf.extend(error_reply(8, 0, true, None));
        buf.extend(error_reply(9, libc::ENETUNREACH, false, Some("x")));
        let replies = parse_replies(&buf);
        assert_eq!(
            replies,
            vec![
                Reply {
                    seq: 7,
                    code: -libc::ENODEV,
                    message: Some("Nexthop device is not up".to_owned())
                },
                Reply {
                    seq: 8,
                    code: 0,
                    message: None
                },
                Reply {
                    seq: 9,
                    code: -libc::ENETUNREACH,
                    message: Some("x".to_owned())
                },
            ]
        );
        // Truncated or garbage input never panics.
        for cut in 0..buf.len() {
            let _ = parse_replies(&buf[..cut]);
        }
        assert!(parse_replies(&[0xff; 40]).is_empty());
    }

    #[test]
    fn esrch_on_delete_and_eexist_on_replace_count_as_done() {
        let r = route("198.18.8.0/24", Action::Blackhole);
        let reply = |errno: i32| Reply {
            seq: 1,
            code: -errno,
            message: None,
        };
        assert_eq!(outcome(&Op::Delete(r.clone()), &reply(libc::ESRCH)), Ok(()));
        assert_eq!(
            outcome(&Op::Replace(r.clone()), &reply(libc::EEXIST)),
            Ok(())
        );
        assert_eq!(outcome(&Op::Replace(r.clone()), &reply(0)), Ok(()));
        assert!(outcome(&Op::Replace(r.clone()), &reply(libc::ESRCH)).is_err());
        let err = outcome(&Op::Delete(r), &reply(libc::EPERM)).unwrap_err();
        assert!(err.contains("not permitted"), "{err}");
    }

    #[test]
    fn set_flag_marks_the_last_message_for_an_ack() {
        let mut buf = Vec::new();
        let r = route("198.18.9.0/24", Action::Blackhole);
        encode(
            RouteNetlinkMessage::DelRoute(delete_message(&r)),
            NLM_F_REQUEST,
            1,
            &mut buf,
        );
        let second = buf.len();
        encode(
            RouteNetlinkMessage::DelRoute(delete_message(&r)),
            NLM_F_REQUEST,
            2,
            &mut buf,
        );
        set_flag(&mut buf, second, NLM_F_ACK);
        let first = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        let last = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[second..]).unwrap();
        assert_eq!(first.header.flags, NLM_F_REQUEST);
        assert_eq!(last.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(last.header.sequence_number, 2);
    }

    #[test]
    fn monitor_reports_link_transitions_only() {
        let mut state = MonitorState::default();
        let link = |index: u32, up: bool| {
            let mut m = LinkMessage::default();
            m.header.index = index;
            if up {
                m.header.flags = LinkFlags::Up | LinkFlags::Running;
            }
            m.attributes.push(LinkAttribute::IfName("d0".to_owned()));
            m
        };
        state.learn_link(&link(3, false));
        let new = |m: LinkMessage| NetlinkMessage::from(RouteNetlinkMessage::NewLink(m));
        assert_eq!(
            state.events(new(link(3, true))),
            vec![KernelEvent::LinkUp {
                name: "d0".to_owned(),
                index: 3
            }]
        );
        assert!(state.events(new(link(3, true))).is_empty());
        assert_eq!(
            state.events(new(link(3, false))),
            vec![KernelEvent::LinkDown {
                name: "d0".to_owned(),
                index: 3
            }]
        );
        let mut addr = AddressMessage::default();
        addr.header.index = 3;
        addr.header.prefix_len = 24;
        addr.attributes
            .push(AddressAttribute::Address(ip("198.18.5.1")));
        assert_eq!(
            state.events(NetlinkMessage::from(RouteNetlinkMessage::NewAddress(addr))),
            vec![KernelEvent::AddressAdded {
                name: "d0".to_owned(),
                prefix: net("198.18.5.1/24")
            }]
        );
        let overrun = NetlinkMessage::<RouteNetlinkMessage>::new(
            Default::default(),
            NetlinkPayload::Overrun(Vec::new()),
        );
        assert_eq!(state.events(overrun), vec![KernelEvent::Overrun]);
    }
}
