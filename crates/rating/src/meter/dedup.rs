//! Deduplication of events by (`source`, `id`) within a window.
//!
//! Keys are 128-bit FNV-1a hashes of `source` and `id` (stable across
//! builds, so persisted state stays valid). Entries are kept in arrival
//! order; an entry is evicted when it is older than the window (measured
//! from the latest arrival time seen) or when the number of entries
//! exceeds `max_entries` (oldest first). Memory is therefore bounded by
//! `max_entries` whatever the event rate: about 100 bytes an entry.

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What is remembered of a first event, to answer its duplicates: 48
/// bytes, as a meter may remember hundreds of thousands of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Fingerprint of the first event's payload.
    pub fingerprint: u64,
    /// When it arrived (Unix seconds).
    pub at: i64,
    /// The first receipt's exact amount.
    pub amount: Decimal,
    /// Scale the amount was printed with; `NO_AMOUNT` when it had none.
    pub scale: u8,
    /// The first receipt was `dropped` (else `accepted`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// Unit (when not the book's currency) and price key of the first receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<SeenExtra>>,
}

/// The rarely present parts of [`Seen`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenExtra {
    /// Unit, when not the book's currency.
    pub unit: Option<String>,
    /// Price key.
    pub price_key: Option<String>,
}

/// `Seen::scale` of a receipt without an amount.
pub const NO_AMOUNT: u8 = u8::MAX;

/// The dedup window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "DedupRepr", into = "DedupRepr")]
pub struct Dedup {
    window_seconds: i64,
    max_entries: usize,
    order: VecDeque<u128>,
    seen: FxHashMap<u128, Seen>,
    /// Arrival time of the oldest entry, once looked up (a cache: an
    /// insert then needs no look-up unless something expires).
    front_at: Option<i64>,
}

impl PartialEq for Dedup {
    fn eq(&self, other: &Dedup) -> bool {
        self.window_seconds == other.window_seconds
            && self.max_entries == other.max_entries
            && self.order == other.order
            && self.seen == other.seen
    }
}

#[derive(Serialize, Deserialize)]
struct DedupRepr {
    window_seconds: i64,
    max_entries: usize,
    /// `[key as 32 hex digits, first receipt]`, oldest first.
    entries: Vec<(String, Seen)>,
}

impl From<Dedup> for DedupRepr {
    fn from(d: Dedup) -> DedupRepr {
        let entries = d
            .order
            .iter()
            .filter_map(|k| d.seen.get(k).map(|s| (format!("{k:032x}"), s.clone())))
            .collect();
        DedupRepr {
            window_seconds: d.window_seconds,
            max_entries: d.max_entries,
            entries,
        }
    }
}

impl From<DedupRepr> for Dedup {
    fn from(r: DedupRepr) -> Dedup {
        let mut d = Dedup::new(r.window_seconds, r.max_entries);
        for (k, s) in r.entries {
            if let Ok(k) = u128::from_str_radix(&k, 16) {
                d.order.push_back(k);
                d.seen.insert(k, s);
            }
        }
        d
    }
}

/// Default bound on remembered keys per meter.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// The dedup key of (`source`, `id`): FNV-1a, 128 bits.
pub fn key(source: &str, id: &str) -> u128 {
    // Two plain loops: a chained iterator cost twice the hashing itself.
    let mut h = KEY_OFFSET;
    for &b in source.as_bytes() {
        h = key_step(h, b);
    }
    h = key_step(h, 0x1f);
    for &b in id.as_bytes() {
        h = key_step(h, b);
    }
    h
}

const KEY_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;

/// One byte of FNV-1a (128 bits).
#[inline(always)]
fn key_step(h: u128, b: u8) -> u128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    (h ^ u128::from(b)).wrapping_mul(PRIME)
}

impl Dedup {
    /// A window of `window_seconds`, remembering at most `max_entries` keys.
    pub fn new(window_seconds: i64, max_entries: usize) -> Dedup {
        Dedup {
            window_seconds,
            max_entries,
            order: VecDeque::new(),
            seen: FxHashMap::default(),
            front_at: None,
        }
    }

    /// The first receipt for (`source`, `id`), if still remembered.
    pub fn get(&self, source: &str, id: &str) -> Option<&Seen> {
        self.get_key(key(source, id))
    }

    /// The first receipt for a key made by [`key`].
    pub fn get_key(&self, k: u128) -> Option<&Seen> {
        if self.seen.is_empty() {
            return None;
        }
        self.seen.get(&k)
    }

    /// Remembers a first event and evicts what fell out of the window.
    pub fn insert(&mut self, source: &str, id: &str, seen: Seen) {
        self.insert_key(key(source, id), seen)
    }

    /// Like [`Dedup::insert`], with a key made by [`key`].
    pub fn insert_key(&mut self, k: u128, seen: Seen) {
        let at = seen.at;
        if self.seen.insert(k, seen).is_none() {
            self.order.push_back(k);
        } else if self.order.front() == Some(&k) {
            self.front_at = None;
        }
        while let Some(&front) = self.order.front() {
            let front_at = match self.front_at {
                Some(t) => t,
                None => {
                    let t = self.seen.get(&front).map_or(i64::MIN, |e| e.at);
                    self.front_at = Some(t);
                    t
                }
            };
            if at.saturating_sub(front_at) > self.window_seconds || self.order.len() > self.max_entries {
                self.seen.remove(&front);
                self.order.pop_front();
                self.front_at = None;
            } else {
                break;
            }
        }
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod key_tests {
    use super::key;

    /// The key as first defined (persisted meters hold such keys): FNV-1a
    /// over `source`, a 0x1f separator and `id`.
    fn reference(source: &str, id: &str) -> u128 {
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
        let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        for b in source.bytes().chain(std::iter::once(0x1f)).chain(id.bytes()) {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
        h
    }

    #[test]
    fn keys_are_unchanged() {
        for (s, i) in [
            ("", ""),
            ("app-1", "evt_00000001"),
            ("bench", "e1234"),
            ("é", "😀 x"),
            ("a\u{1f}b", ""),
        ] {
            assert_eq!(key(s, i), reference(s, i), "{s:?} {i:?}");
        }
        // A value fixed when the key was introduced: persisted state relies on it.
        assert_eq!(
            format!("{:032x}", key("app-1", "evt_00000001")),
            "f436122317fcc985827a552e90503032"
        );
    }
}
