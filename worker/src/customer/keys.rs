//! The dedup keys of a customer's object, in tables by arrival time
//! (docs/worker.md "What the object keeps").
//!
//! A key (source, id) with its first receipt is one row, in the table of
//! the time slice its arrival falls in: `"seen_{start}_{end}"`, ms since
//! the epoch, [start, end). A look-up reads the tables whose slice can
//! hold keys of the window; keys leave when their whole table is older
//! than the window, by `DROP TABLE`. So a stored event costs one row
//! written, and its expiry none: one B-tree keyed by (source, id) per
//! slice serves the look-up, and no index by time is needed to expire.
//!
//! Slices are a fixed ladder of widths, the widest at most a quarter of
//! the window, so a look-up reads at most about five tables, and a book
//! whose window changes only adds tables of another width (each table
//! keeps its own bounds in its name).

use std::collections::BTreeSet;

/// Slice widths (ms), shortest first: 1 minute to 7 days.
const WIDTHS_MS: [i64; 6] = [60_000, 600_000, 3_600_000, 21_600_000, 86_400_000, 604_800_000];

/// Columns of a key table.
pub const COLUMNS: &str = "source TEXT NOT NULL, id TEXT NOT NULL, fingerprint TEXT NOT NULL, seq INTEGER NOT NULL, \
     at INTEGER NOT NULL, status TEXT NOT NULL, amount TEXT, currency TEXT, price_key TEXT, PRIMARY KEY (source, id)";

/// The slice width for a dedup window of `window_ms`.
pub fn width(window_ms: i64) -> i64 {
    WIDTHS_MS
        .iter()
        .rev()
        .find(|w| **w <= window_ms / 4)
        .copied()
        .unwrap_or(WIDTHS_MS[0])
}

/// One key table: its slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Table {
    /// Slice start (ms, inclusive).
    pub start: i64,
    /// Slice end (ms, exclusive).
    pub end: i64,
}

impl Table {
    /// The table of arrival time `at_ms` for slices of `width_ms`.
    pub fn of(at_ms: i64, width_ms: i64) -> Table {
        let start = at_ms.div_euclid(width_ms) * width_ms;
        Table {
            start,
            end: start.saturating_add(width_ms),
        }
    }

    /// Its SQL name, quoted.
    pub fn name(&self) -> String {
        format!("\"seen_{}_{}\"", self.start, self.end)
    }

    /// Reads a table name (unquoted, as `sqlite_master` has it).
    pub fn parse(name: &str) -> Option<Table> {
        let rest = name.strip_prefix("seen_")?;
        // A negative start has its own '-', so split at the last '_'.
        let (start, end) = rest.rsplit_once('_')?;
        let t = Table {
            start: start.parse().ok()?,
            end: end.parse().ok()?,
        };
        (t.start < t.end).then_some(t)
    }

    /// `CREATE TABLE` for it (idempotent).
    pub fn create(&self) -> String {
        format!("CREATE TABLE IF NOT EXISTS {} ({COLUMNS}) WITHOUT ROWID", self.name())
    }
}

/// The key tables an object has.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    tables: BTreeSet<Table>,
}

impl Tables {
    /// From `sqlite_master` names.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Tables {
        Tables {
            tables: names.into_iter().filter_map(Table::parse).collect(),
        }
    }

    /// Tables that can hold keys that arrived at or after `since_ms`.
    pub fn live(&self, since_ms: i64) -> impl Iterator<Item = &Table> {
        self.tables.iter().filter(move |t| t.end > since_ms)
    }

    /// Tables whose every key arrived before `since_ms`.
    pub fn expired(&self, since_ms: i64) -> Vec<Table> {
        self.tables.iter().filter(|t| t.end <= since_ms).copied().collect()
    }

    /// Whether the object has `t`.
    pub fn has(&self, t: &Table) -> bool {
        self.tables.contains(t)
    }

    /// Records tables created and dropped by a commit that succeeded.
    pub fn apply(&mut self, created: &[Table], dropped: &[Table]) {
        self.tables.extend(created.iter().copied());
        for t in dropped {
            self.tables.remove(t);
        }
    }

    /// All of them.
    pub fn all(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter()
    }

    /// The look-up of a batch's keys (`?1`: `[[source, id], ...]` as
    /// JSON, `?2`: the window start in ms) over the live tables; `None`
    /// when there is none. A key stored again after its first receipt left
    /// the window may be in two tables: the caller keeps the latest.
    pub fn lookup(&self, since_ms: i64) -> Option<String> {
        let parts: Vec<String> = self
            .live(since_ms)
            .map(|t| {
                format!(
                    "SELECT s.source AS source, s.id AS id, s.fingerprint AS fingerprint, s.status AS status, \
                     s.at AS at, s.amount AS amount, s.currency AS currency, s.price_key AS price_key \
                     FROM json_each(?1) AS j JOIN {} AS s ON s.source = j.value->>0 AND s.id = j.value->>1 \
                     WHERE s.at >= ?2",
                    t.name()
                )
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_window() {
        assert_eq!(width(35 * 86_400_000), 604_800_000);
        assert_eq!(width(3_600_000), 600_000);
        assert_eq!(width(1_000), 60_000);
    }

    #[test]
    fn names_round_trip_and_expire_by_slice() {
        let t = Table::of(1_795_000_123_456, 3_600_000);
        assert_eq!(t.start % 3_600_000, 0);
        assert!(t.start <= 1_795_000_123_456 && 1_795_000_123_456 < t.end);
        let n = t.name();
        assert_eq!(Table::parse(n.trim_matches('"')), Some(t));
        let neg = Table::of(-5, 60_000);
        assert_eq!(Table::parse(neg.name().trim_matches('"')), Some(neg));
        assert_eq!(Table::parse("seen"), None);
        assert_eq!(Table::parse("seen_5_1"), None);
        let tables = Tables::from_names(["seen_0_60000", "seen_60000_120000", "meta", "outbox"]);
        assert_eq!(tables.all().count(), 2);
        assert_eq!(tables.expired(60_000), vec![Table { start: 0, end: 60_000 }]);
        assert_eq!(tables.live(60_000).count(), 1);
        assert_eq!(tables.lookup(60_000).unwrap().matches("UNION ALL").count(), 0);
        assert_eq!(tables.lookup(0).unwrap().matches("UNION ALL").count(), 1);
        assert!(tables.lookup(120_000).is_none());
    }
}
