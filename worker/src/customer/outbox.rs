//! The outbox of a customer's object: accepted and dropped events that
//! are committed but not yet taken by the Queue.
//!
//! Durably, the outbox is every event after the `forwarded` mark in
//! `meta` (sequence numbers are consecutive), so committing an event puts
//! it in the outbox at no extra cost. In memory, the object keeps the rows
//! it has just committed, so that sending them needs no read; rows that
//! are only in SQLite (after a restart) are read back in order first.
//! Events always reach the Queue in sequence order, and `forwarded` only
//! moves past rows the Queue has accepted.
//!
//! After a send from an ingest request the new mark is not written at
//! once: it goes into the object's next commit (or the alarm's flush
//! writes it), saving a SQLite transaction per request. The stored mark
//! may therefore lag; after a restart the rows past it are sent again,
//! which the consumer writes once (rows are keyed by (tenant, customer,
//! seq) and inserted with `INSERT OR IGNORE`).

use super::store::{self, EventRow};
use crate::forward;
use crate::problem::ApiError;
use std::cell::RefCell;
use std::collections::VecDeque;
use worker::{Env, SqlStorage};

/// Retry delay after a failed Queue send.
pub const RETRY_MS: i64 = 5_000;
/// Rows read back from SQLite at a time.
const READ_BACK: i64 = 1000;

/// The outbox state.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Committed rows not yet sent, consecutive, oldest first.
    rows: VecDeque<EventRow>,
    /// Every event up to here was taken by the Queue.
    forwarded: i64,
    /// The last committed sequence number.
    committed: i64,
    /// The `forwarded` mark as stored in `meta` (at most `forwarded`).
    stored: i64,
    flushing: bool,
    tenant: String,
    customer: String,
}

impl Outbox {
    /// State after loading: `forwarded` and the last committed event.
    pub fn reset(&mut self, forwarded: i64, committed: i64) {
        self.rows.clear();
        self.forwarded = forwarded;
        self.stored = forwarded;
        self.committed = committed;
    }

    /// The names messages carry.
    pub fn names(&mut self, tenant: &str, customer: &str) {
        if self.tenant != tenant || self.customer != customer {
            self.tenant = tenant.to_string();
            self.customer = customer.to_string();
        }
    }

    /// Adds rows that were just committed.
    pub fn push(&mut self, tenant: &str, customer: &str, rows: Vec<EventRow>) {
        self.names(tenant, customer);
        if let Some(last) = rows.last() {
            self.committed = self.committed.max(last.seq);
        }
        self.rows.extend(rows);
    }

    /// The mark to write with the next commit, when it moved since it
    /// was last stored (counted as stored from now on: a failed commit
    /// reloads the object, which resets it).
    pub fn mark_to_store(&mut self) -> Option<i64> {
        (self.forwarded > self.stored).then(|| {
            self.stored = self.forwarded;
            self.forwarded
        })
    }

    /// Claims the flush; false when one is running.
    pub fn start_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.flushing, true)
    }

    /// Releases the flush.
    pub fn end_flush(&mut self) {
        self.flushing = false;
    }

    /// The next rows to send, in sequence order: from memory when they
    /// follow `forwarded`, else read back from SQLite up to the first row
    /// in memory.
    fn next(&mut self, sql: &SqlStorage) -> Result<Vec<EventRow>, ApiError> {
        let next = self.forwarded + 1;
        // Rows at or below `forwarded` were sent by an earlier flush.
        while self.rows.front().is_some_and(|r| r.seq < next) {
            self.rows.pop_front();
        }
        match self.rows.front() {
            Some(r) if r.seq == next => Ok(self.rows.drain(..).collect()),
            front => {
                let upto = front.map_or(self.committed, |r| r.seq - 1);
                if self.forwarded >= upto {
                    return Ok(Vec::new());
                }
                let mut rows = store::events_after(sql, self.forwarded, READ_BACK)?;
                rows.retain(|r| r.seq <= upto);
                Ok(rows)
            }
        }
    }
}

/// Sends the outbox to the `EVENTS` Queue until it is empty. On a failed
/// send the rows stay in the outbox (and in memory) for the next try.
/// `store_mark`: write the `forwarded` mark after each send (the alarm);
/// otherwise the next commit writes it.
pub async fn flush(env: &Env, sql: &SqlStorage, outbox: &RefCell<Outbox>, store_mark: bool) -> Result<(), ApiError> {
    let queue = env.queue("EVENTS")?;
    loop {
        let (rows, tenant, customer) = {
            let mut o = outbox.borrow_mut();
            (o.next(sql)?, o.tenant.clone(), o.customer.clone())
        };
        let Some(last) = rows.last().map(|r| r.seq) else {
            return Ok(());
        };
        for batch in forward::pack(&tenant, &customer, &rows) {
            if let Err(e) = forward::send(&queue, batch).await {
                // Keep them for the retry (a part may have been sent; the
                // consumer writes each row once).
                let mut o = outbox.borrow_mut();
                for r in rows.into_iter().rev() {
                    if r.seq > o.forwarded {
                        o.rows.push_front(r);
                    }
                }
                return Err(e);
            }
        }
        let mut o = outbox.borrow_mut();
        o.forwarded = o.forwarded.max(last);
        if store_mark {
            store::forwarded(sql, o.forwarded)?;
            o.stored = o.forwarded;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> EventRow {
        EventRow {
            seq,
            source: "s".into(),
            id: format!("e{seq}"),
            kind: "p".into(),
            time: String::new(),
            received_at: 0,
            status: "accepted".into(),
            amount: None,
            currency: None,
            price_key: None,
            price_book: String::new(),
            event: "{}".into(),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn memory_rows_go_in_order_after_forwarded() {
        let mut o = Outbox::default();
        o.reset(0, 0);
        o.push("t", "c", vec![row(1), row(2)]);
        o.push("t", "c", vec![row(3)]);
        // SQLite is not touched when memory follows `forwarded`.
        let rows = match o.rows.front() {
            Some(r) if r.seq == o.forwarded + 1 => o.rows.drain(..).map(|r| r.seq).collect::<Vec<_>>(),
            _ => vec![],
        };
        assert_eq!(rows, vec![1, 2, 3]);
        assert!(o.start_flush());
        assert!(!o.start_flush());
        o.end_flush();
        assert!(o.start_flush());
    }
}
