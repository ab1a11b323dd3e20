//! Billing periods and timestamps (docs/contract.md §2).
//!
//! Periods are half-open `[start, end)` and anchored: boundary `k` is
//! computed from the anchor directly (never by stepping from the previous
//! boundary), so months clamp to the month's end and then return to the
//! anchor day (anchor Jan 31 → Feb 28/29 → Mar 31).

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A UTC instant.
pub type Timestamp = DateTime<Utc>;

/// The unit a period is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds (UTC has no DST).
    Day,
    /// 7 days.
    Week,
    /// A calendar month, clamped to the month's end.
    Month,
    /// 12 calendar months.
    Year,
}

impl PeriodUnit {
    /// Parses the price-book spelling.
    pub fn parse(s: &str) -> Option<PeriodUnit> {
        Some(match s {
            "hour" => PeriodUnit::Hour,
            "day" => PeriodUnit::Day,
            "week" => PeriodUnit::Week,
            "month" => PeriodUnit::Month,
            "year" => PeriodUnit::Year,
            _ => return None,
        })
    }
}

/// A period length: `{"unit": "month", "length": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// The unit.
    pub unit: PeriodUnit,
    /// How many units (1 or more).
    pub length: u32,
}

/// The longest period length accepted, in units (keeps date arithmetic in range).
pub const MAX_PERIOD_LENGTH: u32 = 1200;

impl Period {
    /// A period of `length` units.
    pub const fn new(unit: PeriodUnit, length: u32) -> Period {
        Period { unit, length }
    }

    fn fixed_seconds(&self) -> Option<i64> {
        let unit = match self.unit {
            PeriodUnit::Hour => 3_600,
            PeriodUnit::Day => 86_400,
            PeriodUnit::Week => 7 * 86_400,
            PeriodUnit::Month | PeriodUnit::Year => return None,
        };
        Some(unit * i64::from(self.length))
    }

    fn months(&self) -> i64 {
        match self.unit {
            PeriodUnit::Month => i64::from(self.length),
            PeriodUnit::Year => 12 * i64::from(self.length),
            _ => 0,
        }
    }

    /// The `k`-th boundary after `anchor` (`k` may be negative); `None`
    /// when it falls outside the representable calendar.
    pub fn boundary(&self, anchor: Timestamp, k: i64) -> Option<Timestamp> {
        if let Some(secs) = self.fixed_seconds() {
            return anchor.checked_add_signed(Duration::try_seconds(secs.checked_mul(k)?)?);
        }
        add_months_clamped(anchor, self.months().checked_mul(k)?)
    }

    /// The period `[start, end)` that contains `t`, with its index `k`
    /// relative to the anchor (the period starting at the anchor is 0).
    pub fn containing(&self, anchor: Timestamp, t: Timestamp) -> Option<(i64, Timestamp, Timestamp)> {
        let mut k = if let Some(secs) = self.fixed_seconds() {
            (t - anchor).num_seconds().div_euclid(secs)
        } else {
            let months = (i64::from(t.year()) - i64::from(anchor.year())) * 12 + i64::from(t.month())
                - i64::from(anchor.month());
            months.div_euclid(self.months())
        };
        // Adjust for clamping and time-of-day: at most a step or two.
        for _ in 0..4 {
            let start = self.boundary(anchor, k)?;
            let end = self.boundary(anchor, k + 1)?;
            if t < start {
                k -= 1;
            } else if t >= end {
                k += 1;
            } else {
                return Some((k, start, end));
            }
        }
        None
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    match (
        NaiveDate::from_ymd_opt(ny, nm, 1),
        NaiveDate::from_ymd_opt(year, month, 1),
    ) {
        (Some(a), Some(b)) => (a - b).num_days() as u32,
        _ => 28,
    }
}

/// `t` plus `months` calendar months, the day clamped to the target
/// month's last day; the time of day is kept.
pub fn add_months_clamped(t: Timestamp, months: i64) -> Option<Timestamp> {
    let total = i64::from(t.year()) * 12 + i64::from(t.month0()) + months;
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = (total.rem_euclid(12) + 1) as u32;
    let day = t.day().min(days_in_month(year, month));
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let naive = date.and_hms_nano_opt(t.hour(), t.minute(), t.second(), t.nanosecond())?;
    Some(Utc.from_utc_datetime(&naive))
}

/// Parses an RFC 3339 timestamp (any offset) into UTC.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    plain_utc(s).or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form nearly every event uses, read without
/// the general RFC 3339 parser (anything else, leap seconds included, is
/// left to it).
fn plain_utc(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let (second, minute, hour) = (num(17..19)?, num(14..16)?, num(11..13)?);
    if second > 59 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    Some(date.and_hms_opt(hour, minute, second)?.and_utc())
}

/// Prints a timestamp as RFC 3339 UTC with a `Z` (fractions only when present).
pub fn fmt_timestamp(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn plain_utc_reads_like_rfc3339() {
        for s in [
            "2026-01-31T23:59:59Z",
            "2028-02-29T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-01-01t00:00:00z",
            "2026-01-01T00:00:00+00:00",
            "2026-0a-01T00:00:00Z",
            "+026-01-01T00:00:00Z",
        ] {
            let general = DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc));
            assert_eq!(parse_timestamp(s), general, "{s}");
        }
    }

    #[test]
    fn month_end_anchor_clamps_and_returns() {
        let p = Period::new(PeriodUnit::Month, 1);
        let a = ts("2026-01-31T00:00:00Z");
        assert_eq!(fmt_timestamp(p.boundary(a, 1).unwrap()), "2026-02-28T00:00:00Z");
        assert_eq!(fmt_timestamp(p.boundary(a, 2).unwrap()), "2026-03-31T00:00:00Z");
        let leap = ts("2028-01-31T00:00:00Z");
        assert_eq!(fmt_timestamp(p.boundary(leap, 1).unwrap()), "2028-02-29T00:00:00Z");
        let (k, s, e) = p.containing(a, ts("2026-03-01T00:00:00Z")).unwrap();
        assert_eq!(
            (k, fmt_timestamp(s), fmt_timestamp(e)),
            (1, "2026-02-28T00:00:00Z".into(), "2026-03-31T00:00:00Z".into())
        );
    }

    #[test]
    fn containing_is_half_open() {
        let p = Period::new(PeriodUnit::Day, 3);
        let a = ts("2026-01-01T00:00:00Z");
        let (k, s, _) = p.containing(a, ts("2026-01-04T00:00:00Z")).unwrap();
        assert_eq!((k, fmt_timestamp(s)), (1, "2026-01-04T00:00:00Z".to_string()));
        let (k, _, e) = p.containing(a, ts("2025-12-31T23:59:59Z")).unwrap();
        assert_eq!((k, fmt_timestamp(e)), (-1, "2026-01-01T00:00:00Z".to_string()));
    }
}
