//! The Loc-RIB's storage: per family, prefix → every candidate path, best first.
//!
//! Two choices keep memory low on large tables (measured by `cargo bench --bench bgperf`, where
//! a full table is 1M prefixes):
//!
//! * [`Dest`] is 16 bytes: one path inline (the common case: one peer announces the prefix), or a
//!   boxed vector for several. A table entry with an IPv4 key is 24 bytes (a `SmallVec` made it
//!   32).
//! * [`Table`] splits each family into [`SHARDS`] hash maps by a hash of the prefix. A hash map
//!   doubles when it grows, and while it moves its entries the old and new arrays both exist: one
//!   map of 1M entries peaks at 1.5× its final size; with shards only one shard's old array
//!   exists at a time.
//!
//! Inside a shard the prefix is hashed with foldhash ([`PrefixHash`]): a few multiplies instead
//! of SipHash's rounds, which were the largest single cost of a full-table ingest.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};

use ipnet::{Ipv4Net, Ipv6Net};

use super::Path;

/// Every path for one prefix, best first. Never empty while in a [`Table`].
#[derive(Debug, Clone)]
pub enum Dest {
    /// One path, inline.
    One(Path),
    /// Several paths (or, for a moment inside [`Dest::retain`], none).
    Many(Box<Vec<Path>>),
}

impl Dest {
    /// Adds `path` at the end.
    pub fn push(&mut self, path: Path) {
        match self {
            Dest::One(first) => {
                let first = first.clone();
                *self = Dest::Many(Box::new(vec![first, path]));
            }
            Dest::Many(v) => v.push(path),
        }
    }

    /// Keeps the paths for which `keep` is true, in order; goes back inline when one is left.
    pub fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        match self {
            Dest::One(p) => {
                if !keep(p) {
                    *self = Dest::Many(Box::default());
                }
            }
            Dest::Many(v) => {
                v.retain(|p| keep(p));
                if v.len() == 1 {
                    if let Some(p) = v.pop() {
                        *self = Dest::One(p);
                    }
                }
            }
        }
    }
}

impl Deref for Dest {
    type Target = [Path];

    fn deref(&self) -> &[Path] {
        match self {
            Dest::One(p) => std::slice::from_ref(p),
            Dest::Many(v) => v,
        }
    }
}

impl DerefMut for Dest {
    fn deref_mut(&mut self) -> &mut [Path] {
        match self {
            Dest::One(p) => std::slice::from_mut(p),
            Dest::Many(v) => v,
        }
    }
}

/// Number of hash maps per family in a [`Table`] (a power of two).
pub const SHARDS: usize = 64;

/// The hasher of the prefix → [`Dest`] maps inside a shard: foldhash's fast variant, randomly
/// seeded per process and per map.
///
/// Prefixes are chosen by peers, so an unseeded hash (FxHash, or a plain multiply-shift like the
/// shard index) would let a peer pick prefixes that all collide in one shard's map and turn each
/// insert into a long probe (HashDoS). foldhash keeps a random seed an attacker does not know
/// and still costs only one or two folded multiplies for these 5- and 17-byte keys, where
/// SipHash-1-3 spent over a hundred instructions per hash. The shard index itself may
/// stay unseeded: it only spreads prefixes over [`SHARDS`] maps, so the worst a peer can do
/// there is fill one shard, which is still a seeded map.
pub type PrefixHash = foldhash::fast::RandomState;

/// A prefix type a [`Table`] can shard.
pub trait ShardKey: Copy + Eq + Hash {
    /// The shard of this prefix, `0..SHARDS`.
    fn shard(&self) -> usize;
}

/// Fibonacci hashing of 64 bits of the prefix to [`SHARDS`] (the top bits of the product).
fn fib_shard(bits: u64) -> usize {
    (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SHARDS.trailing_zeros())) as usize
}

impl ShardKey for Ipv4Net {
    fn shard(&self) -> usize {
        fib_shard((u64::from(u32::from(self.addr())) << 8) | u64::from(self.prefix_len()))
    }
}

impl ShardKey for Ipv6Net {
    fn shard(&self) -> usize {
        let a = u128::from(self.addr());
        fib_shard(((a >> 64) as u64) ^ (a as u64) ^ u64::from(self.prefix_len()))
    }
}

/// One family's Loc-RIB: prefix → [`Dest`], in [`SHARDS`] hash maps.
#[derive(Debug)]
pub struct Table<K> {
    shards: Vec<HashMap<K, Dest, PrefixHash>>,
}

impl<K: ShardKey> Default for Table<K> {
    fn default() -> Self {
        Table {
            shards: (0..SHARDS)
                .map(|_| HashMap::with_hasher(PrefixHash::default()))
                .collect(),
        }
    }
}

impl<K: ShardKey> Table<K> {
    fn shard(&self, key: &K) -> Option<&HashMap<K, Dest, PrefixHash>> {
        self.shards.get(key.shard())
    }

    /// Number of prefixes (a sum over the shards).
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// True when the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    /// The entry of `key`, to look it up and change it with one hash: a vacant entry gets a
    /// [`Dest`] (never empty), an occupied one whose `Dest` becomes empty must be removed.
    pub fn entry(&mut self, key: K) -> Option<Entry<'_, K, Dest>> {
        Some(self.shards.get_mut(key.shard())?.entry(key))
    }

    /// The paths of `key`.
    pub fn get(&self, key: &K) -> Option<&Dest> {
        self.shard(key)?.get(key)
    }

    /// The paths of `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut Dest> {
        self.shards.get_mut(key.shard())?.get_mut(key)
    }

    /// Sets the paths of `key`; returns the entry.
    pub fn insert(&mut self, key: K, dest: Dest) -> Option<&mut Dest> {
        match self.entry(key)? {
            Entry::Occupied(mut o) => {
                o.insert(dest);
                Some(o.into_mut())
            }
            Entry::Vacant(v) => Some(v.insert(dest)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<Dest> {
        self.shards.get_mut(key.shard())?.remove(key)
    }

    /// Every prefix with its paths, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Dest)> + '_ {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// Every prefix's paths.
    pub fn values(&self) -> impl Iterator<Item = &Dest> + '_ {
        self.shards.iter().flat_map(|s| s.values())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn a_dest_is_16_bytes_and_an_ipv4_entry_24() {
        assert_eq!(std::mem::size_of::<Dest>(), 16);
        assert_eq!(std::mem::size_of::<(Ipv4Net, Dest)>(), 24);
    }

    #[test]
    fn prefixes_spread_over_every_shard() {
        let mut counts = [0usize; SHARDS];
        for i in 0..(SHARDS as u32 * 1000) {
            let net = Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap();
            counts[net.shard()] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 800 && *max < 1200, "{min}..{max}");
    }
}
