//! Socket options for BGP session security that no crate wraps: TCP-MD5 signatures (RFC 2385,
//! Linux `TCP_MD5SIG`) and the minimum TTL of the Generalized TTL Security Mechanism (RFC 5082,
//! Linux `IP_MINTTL` / `IPV6_MINHOPCOUNT`).
//!
//! **This is the only module allowed to use `unsafe`**, and it holds exactly one `unsafe` block: the
//! `setsockopt(2)` call in `setsockopt`. Everything passed to it is a plain `#[repr(C)]` value built
//! with safe code. socket2, nix and rustix offer neither option (`reliability-anchors.md` §3.4);
//! the outgoing TTL of GTSM is set through socket2, which does wrap it.
//!
//! **Must not depend on** any other wren module or on tokio: it works on any file descriptor, so the
//! session layer can apply it to a listener before `listen(2)` and to an outbound socket before
//! `connect(2)` — the kernel checks the MD5 option during the handshake, so a key installed after
//! `accept(2)` is too late.
//!
//! Every failure is returned, naming the option and the peer; nothing is ignored.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use socket2::SockRef;

/// Longest TCP-MD5 key the kernel accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_MD5_KEY_LEN: usize = 80;

/// The outgoing TTL (IPv4) or hop limit (IPv6) GTSM requires (RFC 5082 §3).
pub const GTSM_TTL: u32 = 255;

/// `IPV6_MINHOPCOUNT` from `linux/in6.h` (not in every libc release).
const IPV6_MINHOPCOUNT: libc::c_int = 73;

/// A socket option that could not be set.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key is longer than the kernel allows.
    #[error("TCP-MD5 key for {peer} is {len} octets; the kernel allows at most {MAX_MD5_KEY_LEN}")]
    KeyTooLong {
        /// Peer the key is for.
        peer: IpAddr,
        /// Its length.
        len: usize,
    },
    /// GTSM hop count outside 1..=255.
    #[error("GTSM hop count {0} is outside 1..=255")]
    BadHops(u8),
    /// `setsockopt` failed.
    #[error("setting {option} for peer {peer}: {source}")]
    Setsockopt {
        /// Option name, as in the kernel headers.
        option: &'static str,
        /// Peer the option was for.
        peer: IpAddr,
        /// The OS error (e.g. ENOPROTOOPT when the kernel lacks `CONFIG_TCP_MD5SIG`).
        source: io::Error,
    },
}

/// `struct tcp_md5sig` from `linux/tcp.h`.
#[repr(C, align(8))]
struct TcpMd5Sig {
    /// `struct __kernel_sockaddr_storage`: family, port, address, laid out as `sockaddr_in(6)`.
    addr: [u8; 128],
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; MAX_MD5_KEY_LEN],
}

impl TcpMd5Sig {
    fn new(peer: IpAddr, key: &[u8]) -> Result<TcpMd5Sig, Error> {
        if key.len() > MAX_MD5_KEY_LEN {
            return Err(Error::KeyTooLong {
                peer,
                len: key.len(),
            });
        }
        let mut addr = [0u8; 128];
        // sockaddr_in: family (host order), port (0), address at 4.
        // sockaddr_in6: family, port, flowinfo (0), address at 8, scope id (0).
        let (family, at, octets): (u16, usize, &[u8]) = match peer {
            IpAddr::V4(a) => (libc::AF_INET as u16, 4, &a.octets()[..]),
            IpAddr::V6(a) => (libc::AF_INET6 as u16, 8, &a.octets()[..]),
        };
        addr.iter_mut()
            .zip(family.to_ne_bytes())
            .for_each(|(d, s)| *d = s);
        addr.iter_mut()
            .skip(at)
            .zip(octets)
            .for_each(|(d, s)| *d = *s);
        let mut k = [0u8; MAX_MD5_KEY_LEN];
        k.iter_mut().zip(key).for_each(|(d, s)| *d = *s);
        Ok(TcpMd5Sig {
            addr,
            flags: 0,
            prefixlen: 0,
            keylen: key.len() as u16,
            ifindex: 0,
            key: k,
        })
    }
}

/// The single `unsafe` call: `setsockopt(fd, level, name, &value, sizeof value)`.
fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a live, initialised `#[repr(C)]` value (or a C integer) for the whole
    // call, and the length passed is exactly its size, so the kernel reads only memory we own.
    // `fd` is borrowed, hence open, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs (or, with an empty `key`, removes) the TCP-MD5 key for `peer` on `socket`
/// (RFC 2385 §4). On a listening socket this must happen before the peer's SYN arrives; on an
/// outbound socket, before `connect`.
pub fn set_md5_key(socket: &impl AsFd, peer: IpAddr, key: &[u8]) -> Result<(), Error> {
    let sig = TcpMd5Sig::new(peer, key)?;
    setsockopt(socket.as_fd(), libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig).map_err(|source| {
        Error::Setsockopt {
            option: "TCP_MD5SIG",
            peer,
            source,
        }
    })
}

/// Applies GTSM for a peer `hops` hops away (RFC 5082 §3): packets are sent with TTL 255, and
/// packets arriving with a TTL below `256 - hops` are dropped by the kernel (255 for a directly
/// connected peer). `peer` picks IPv4 or IPv6 options and names the peer in errors.
pub fn set_gtsm(socket: &impl AsFd, peer: IpAddr, hops: u8) -> Result<(), Error> {
    if hops == 0 {
        return Err(Error::BadHops(hops));
    }
    let min: libc::c_int = 256 - libc::c_int::from(hops);
    let sock = SockRef::from(socket);
    let (option, res) = match peer {
        IpAddr::V4(_) => (
            "IP_MINTTL",
            sock.set_ttl_v4(GTSM_TTL)
                .and_then(|()| setsockopt(socket.as_fd(), libc::IPPROTO_IP, libc::IP_MINTTL, &min)),
        ),
        IpAddr::V6(_) => (
            "IPV6_MINHOPCOUNT",
            sock.set_unicast_hops_v6(GTSM_TTL).and_then(|()| {
                setsockopt(socket.as_fd(), libc::IPPROTO_IPV6, IPV6_MINHOPCOUNT, &min)
            }),
        ),
    };
    res.map_err(|source| Error::Setsockopt {
        option,
        peer,
        source,
    })
}

#[cfg(test)]
mod tests {
    //! Real sockets on loopback, no privileges needed: the kernel either completes the handshake
    //! or silently drops the SYN, which `connect_timeout` turns into `TimedOut`.

    use std::net::{Ipv4Addr, SocketAddr, TcpListener};
    use std::time::Duration;

    use socket2::{Domain, Socket, Type};

    use super::*;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const WAIT: Duration = Duration::from_millis(700);

    fn listener() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind((LO, 0)).unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    }

    fn connect(to: SocketAddr, key: Option<&[u8]>, ttl: Option<u32>) -> io::Result<Socket> {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        if let Some(k) = key {
            set_md5_key(&s, to.ip(), k).unwrap();
        }
        if let Some(t) = ttl {
            s.set_ttl_v4(t)?;
        }
        s.connect_timeout(&to.into(), WAIT)?;
        Ok(s)
    }

    #[test]
    fn matching_md5_keys_on_both_ends_let_the_connection_through_rfc2385() {
        let (l, addr) = listener();
        set_md5_key(&l, LO, b"calico-secret").unwrap();
        assert!(connect(addr, Some(b"calico-secret"), None).is_ok());
    }

    #[test]
    fn a_client_without_the_key_cannot_connect_to_a_listener_that_requires_one_rfc2385() {
        let (l, addr) = listener();
        set_md5_key(&l, LO, b"calico-secret").unwrap();
        let e = connect(addr, None, None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    }

    #[test]
    fn a_wrong_md5_key_cannot_connect_rfc2385() {
        let (l, addr) = listener();
        set_md5_key(&l, LO, b"calico-secret").unwrap();
        let e = connect(addr, Some(b"not-the-secret"), None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    }

    #[test]
    fn removing_the_key_with_an_empty_one_opens_the_listener_again() {
        let (l, addr) = listener();
        set_md5_key(&l, LO, b"calico-secret").unwrap();
        set_md5_key(&l, LO, b"").unwrap();
        assert!(connect(addr, None, None).is_ok());
    }

    #[test]
    fn a_key_over_80_octets_is_refused_before_the_kernel_sees_it() {
        let (l, _) = listener();
        let e = set_md5_key(&l, LO, &[b'k'; 81]).unwrap_err();
        assert!(matches!(e, Error::KeyTooLong { len: 81, .. }), "{e}");
    }

    #[test]
    fn gtsm_drops_a_ttl_64_client_and_accepts_a_ttl_255_one_rfc5082() {
        let (l, addr) = listener();
        set_gtsm(&l, LO, 1).unwrap();
        let e = connect(addr, None, Some(64)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(connect(addr, None, Some(255)).is_ok());
    }

    #[test]
    fn a_setsockopt_failure_is_reported_with_the_option_and_peer() {
        // TCP_MD5SIG on a UDP socket is refused by the kernel; the error must surface.
        let udp = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        let e = set_md5_key(&udp, LO, b"x").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("TCP_MD5SIG") && text.contains("127.0.0.1"),
            "{text}"
        );
        assert!(matches!(set_gtsm(&udp, LO, 0), Err(Error::BadHops(0))));
    }

    #[test]
    fn the_md5_struct_has_the_kernel_layout() {
        assert_eq!(size_of::<TcpMd5Sig>(), 216);
        let s = TcpMd5Sig::new("2001:db8::1".parse().unwrap(), b"abc").unwrap();
        assert_eq!(
            u16::from_ne_bytes([s.addr[0], s.addr[1]]),
            libc::AF_INET6 as u16
        );
        assert_eq!(&s.addr[8..12], &[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!((s.keylen, &s.key[..4]), (3, &b"abc\0"[..]));
    }
}
