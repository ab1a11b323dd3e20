//! Deduplication of events by (`source`, `id`) within a window.
//!
//! Entries are kept in arrival order; an entry is evicted when it is older
//! than the window (measured from the latest arrival time seen) or when the
//! number of entries exceeds `max_entries` (oldest first). Memory is
//! therefore bounded by `max_entries` whatever the event rate.

use crate::period::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// What is remembered of a first event, to answer its duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Fingerprint of the first event's payload.
    pub fingerprint: u64,
    /// The first receipt's status (`accepted` or `dropped`).
    pub status: String,
    /// The first receipt's amount, as printed.
    pub amount: Option<String>,
    /// The first receipt's price key.
    pub price_key: Option<String>,
    /// When it arrived.
    pub at: Timestamp,
}

/// The dedup window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dedup {
    window_seconds: i64,
    max_entries: usize,
    order: VecDeque<(String, String)>,
    seen: HashMap<String, Seen>,
}

/// Default bound on remembered keys per meter.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

fn key(source: &str, id: &str) -> String {
    let mut k = String::with_capacity(source.len() + id.len() + 1);
    k.push_str(source);
    k.push('\u{1f}');
    k.push_str(id);
    k
}

impl Dedup {
    /// A window of `window_seconds`, remembering at most `max_entries` keys.
    pub fn new(window_seconds: i64, max_entries: usize) -> Dedup {
        Dedup {
            window_seconds,
            max_entries,
            order: VecDeque::new(),
            seen: HashMap::new(),
        }
    }

    /// The first receipt for (`source`, `id`), if still remembered.
    pub fn get(&self, source: &str, id: &str) -> Option<&Seen> {
        self.seen.get(&key(source, id))
    }

    /// Remembers a first event and evicts what fell out of the window.
    pub fn insert(&mut self, source: &str, id: &str, seen: Seen) {
        let at = seen.at;
        self.seen.insert(key(source, id), seen);
        self.order.push_back((source.to_string(), id.to_string()));
        while let Some((s, i)) = self.order.front() {
            let k = key(s, i);
            let expired = self
                .seen
                .get(&k)
                .is_none_or(|e| (at - e.at).num_seconds() > self.window_seconds);
            if expired || self.order.len() > self.max_entries {
                self.seen.remove(&k);
                self.order.pop_front();
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
