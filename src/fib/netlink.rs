//! Netlink implementation of [`super::Fib`] (in progress).
