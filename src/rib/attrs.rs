//! Interned route attributes: every distinct set of path attributes and next hop is stored once
//! and shared by reference count, so a million paths with a few thousand attribute sets cost a
//! pointer each (BIRD's `rta` cache and holo's attribute sets do the same).

use std::collections::HashSet;
use std::sync::Arc;

use crate::wire::{NextHop, PathAttributes};

/// A path's attributes as the RIB stores them: the path attributes (with the IPv4 NEXT_HOP
/// attribute moved into `next_hop`) and the next hop from NEXT_HOP or MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RouteAttrs {
    /// Path attributes; `attrs.next_hop` is always `None` here.
    pub attrs: PathAttributes,
    /// The next hop; `None` for a route this speaker originates without one ("self").
    pub next_hop: Option<NextHop>,
}

/// A shared, interned [`RouteAttrs`].
pub type Attrs = Arc<RouteAttrs>;

/// The interning table. Entries no path refers to any more are dropped by [`AttrTable::collect`],
/// which [`AttrTable::intern`] runs whenever the table has doubled since the last collection.
///
/// Hashed with foldhash (seeded, see [`super::table::PrefixHash`]): the attributes come from
/// peers too, and with SipHash interning cost three times as much.
#[derive(Debug, Default)]
pub struct AttrTable {
    set: HashSet<Attrs, foldhash::fast::RandomState>,
    collect_at: usize,
}

/// Smallest table size at which collection starts.
const COLLECT_MIN: usize = 1024;

impl AttrTable {
    /// The shared copy of `attrs`, inserting it when new.
    pub fn intern(&mut self, attrs: RouteAttrs) -> Attrs {
        if let Some(a) = self.set.get(&attrs) {
            return a.clone();
        }
        if self.set.len() >= self.collect_at.max(COLLECT_MIN) {
            self.collect();
            self.collect_at = self.set.len() * 2;
        }
        let a = Arc::new(attrs);
        self.set.insert(a.clone());
        a
    }

    /// Drops the entries that only the table still holds.
    pub fn collect(&mut self) {
        self.set.retain(|a| Arc::strong_count(a) > 1);
    }

    /// Number of distinct attribute sets held (including unreferenced ones not yet collected).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// True when no attribute set is held.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}
