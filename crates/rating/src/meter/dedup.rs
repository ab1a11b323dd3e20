//! Deduplication of events by (`source`, `id`) within a window
//! (docs/metering.md, "Deduplication").
//!
//! Keys are 128-bit FNV-1a hashes of `source` and `id` (stable across
//! builds, so persisted state stays valid). Where the keys are kept is the
//! caller's choice, behind [`DedupStore`]: a meter held in memory keeps
//! them in its own [`Dedup`]; the Worker's Durable Object keeps them in
//! SQLite and lends the engine the batch's keys. Either way the engine
//! decides: whether a remembered key is still inside the window
//! ([`window_start`], from the price book's `dedup_window`), and what the
//! receipt says.
//!
//! [`Dedup`] keeps entries in arrival order; an entry is evicted when it
//! is older than the window (measured from the latest arrival time seen)
//! or when the number of entries exceeds `max_entries` (oldest first).
//! Memory is therefore bounded by `max_entries` whatever the event rate:
//! about 100 bytes an entry. Eviction only bounds memory: a key that is
//! still remembered but outside the window is not a duplicate.

use crate::period::{Period, PeriodUnit, Timestamp};
use crate::price_book::PriceBook;
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

impl Seen {
    /// What a first receipt kept by the caller says, read back for its
    /// duplicates: the payload `fingerprint`, the arrival time `at` (Unix
    /// seconds), whether it was `dropped`, and its `amount`, `currency`
    /// and `price_key` as printed. An amount that does not read as a
    /// decimal is left out (the duplicate then carries none).
    pub fn from_receipt_fields(
        fingerprint: u64,
        at: i64,
        dropped: bool,
        amount: Option<&str>,
        currency: Option<&str>,
        price_key: Option<&str>,
    ) -> Seen {
        let amount = amount.and_then(|a| a.parse::<Decimal>().ok());
        let (amount, scale) = match amount {
            Some(a) => (a, a.scale().min(254) as u8),
            None => (Decimal::ZERO, NO_AMOUNT),
        };
        let extra = (currency.is_some() || price_key.is_some()).then(|| {
            Box::new(SeenExtra {
                unit: currency.map(str::to_string),
                price_key: price_key.map(str::to_string),
            })
        });
        Seen {
            fingerprint,
            at,
            amount,
            scale,
            dropped,
            extra,
        }
    }
}

/// A dedup key: [`key`] of (`source`, `id`).
pub type DedupKey = u128;

/// Where dedup keys are kept: the seam between the engine, which decides
/// what a key means, and a caller that stores keys itself.
///
/// [`Meter::record_with`](super::Meter::record_with) asks `get` for the
/// event's key and, when the event is new and rated `accepted` or
/// `dropped`, hands its first receipt to `put`. A store need not check
/// the window: the engine ignores a key older than [`window_start`]. A
/// store that loads only some keys (the ones of the batch at hand) must
/// load every key of the events it passes, at least back to
/// [`window_start`].
pub trait DedupStore {
    /// The first receipt remembered for `key`, if any.
    fn get(&self, key: DedupKey) -> Option<&Seen>;
    /// Remembers the first receipt of a new key (it replaces a key the
    /// engine found outside the window).
    fn put(&mut self, key: DedupKey, seen: Seen);
}

impl DedupStore for Dedup {
    #[inline]
    fn get(&self, key: DedupKey) -> Option<&Seen> {
        self.get_key(key)
    }

    #[inline]
    fn put(&mut self, key: DedupKey, seen: Seen) {
        self.insert_key(key, seen)
    }
}

/// The price book's dedup window, default 35 days.
pub fn window(book: &PriceBook) -> Period {
    book.doc().dedup_window.unwrap_or(DEFAULT_WINDOW)
}

/// The default window: 35 days.
pub const DEFAULT_WINDOW: Period = Period::new(PeriodUnit::Day, 35);

/// The start of the dedup window for an event received at `at`, in Unix
/// seconds: a key first seen at or after it makes the event a duplicate,
/// an older one does not. `at` minus the book's `dedup_window` (calendar
/// months and years as the calendar has them).
pub fn window_start(book: &PriceBook, at: Timestamp) -> i64 {
    window(book).boundary(at, -1).map_or(i64::MIN, |t| t.timestamp())
}

/// A bound on the window's length in seconds, for evicting from
/// [`Dedup`]: never shorter than the window at any time (a month counts
/// 31 days, a year 366), so eviction never forgets a key still inside it.
pub(crate) fn longest_seconds(w: Period) -> i64 {
    let unit: i64 = match w.unit {
        PeriodUnit::Hour => 3_600,
        PeriodUnit::Day => 86_400,
        PeriodUnit::Week => 7 * 86_400,
        PeriodUnit::Month => 31 * 86_400,
        PeriodUnit::Year => 366 * 86_400,
    };
    unit.saturating_mul(i64::from(w.length))
}

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
pub fn key(source: &str, id: &str) -> DedupKey {
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
        if self.seen.insert(k, seen).is_some() {
            // A key rated again once outside the window (rare): it moves
            // to the back, to be evicted by its new arrival time.
            if let Some(pos) = self.order.iter().position(|x| *x == k) {
                self.order.remove(pos);
            }
            self.front_at = None;
        }
        self.order.push_back(k);
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
