//! The outbox of a customer's object: Queue messages of accepted and
//! dropped events that the event log does not have yet
//! (docs/worker.md "What the object keeps").
//!
//! A request's commit writes its events' messages to the `outbox` table
//! (one row per message, about 100 KB of events; a message number is
//! never reused). The object sends them to the `EVENTS` Queue after the
//! answer; the Queue consumer writes them to the log and the rollups and
//! then reports their numbers back (`POST /logged`), and only then do they
//! leave the object. A message not reported within the resend delay is
//! sent again, whatever happened to it on the way (a Queue may lose a
//! message it had taken when its host dies): the consumer writes each
//! message idempotently, so a second copy changes nothing. After a restart
//! every message still in the table is sent again.

use super::store::{self, EventRow, OutboxRow};
use crate::forward;
use crate::problem::ApiError;
use std::cell::RefCell;
use std::collections::VecDeque;
use worker::{Env, SqlStorage};

/// Retry delay after a failed Queue send.
pub const RETRY_MS: i64 = 5_000;
/// Default delay before a message the log has not confirmed is sent again
/// (the variable `OUTBOX_RESEND_SECONDS` sets another).
pub const RESEND_MS: i64 = 60_000;

/// The resend delay of this deployment.
pub fn resend_ms(env: &Env) -> i64 {
    env.var("OUTBOX_RESEND_SECONDS")
        .ok()
        .and_then(|v| v.to_string().trim().parse::<i64>().ok())
        .filter(|s| *s > 0)
        .map_or(RESEND_MS, |s| s.saturating_mul(1000))
}

/// One message not yet confirmed.
#[derive(Debug)]
struct Entry {
    n: i64,
    /// The body while it has not been sent (afterwards it is read back
    /// from SQLite when it must go again).
    body: Option<String>,
    /// When it is due to go again (ms), once sent.
    due_at: Option<i64>,
    /// Sends so far (by this instance).
    sends: u32,
}

/// The wait after a message's `sends`-th send: the resend delay, doubled
/// for each send after the first up to 64 times it, so that a long
/// outage downstream does not multiply the Queue's traffic.
fn backoff(resend_ms: i64, sends: u32) -> i64 {
    resend_ms.saturating_mul(1 << sends.saturating_sub(1).min(6))
}

/// The outbox state.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Unconfirmed messages, by number.
    entries: VecDeque<Entry>,
    /// The last message number used.
    last_n: i64,
    flushing: bool,
}

impl Outbox {
    /// State after loading: the stored messages (none sent yet, as far
    /// as this instance knows) and the last number used.
    pub fn reset(&mut self, index: Vec<(i64, i64, i64)>, last_n: i64) {
        self.entries = index
            .into_iter()
            .map(|(n, _, _)| Entry {
                n,
                body: None,
                due_at: None,
                sends: 0,
            })
            .collect();
        self.last_n = last_n.max(self.entries.back().map_or(0, |e| e.n));
    }

    /// The last message number used (stored with each commit).
    pub fn last_n(&self) -> i64 {
        self.last_n
    }

    /// The messages that carry `rows` (consecutive, just rated), numbered
    /// after the last one; [`Outbox::push`] them once committed.
    pub fn messages(&mut self, tenant: &str, customer: &str, rows: &[EventRow]) -> Vec<OutboxRow> {
        forward::pack_messages(tenant, customer, rows)
            .into_iter()
            .map(|(first, last, body)| {
                self.last_n += 1;
                OutboxRow {
                    n: self.last_n,
                    first,
                    last,
                    body,
                }
            })
            .collect()
    }

    /// The message that carries invoices the meter just issued and the
    /// records it made (JSON text each), numbered after the last. It
    /// holds no event: its range is empty, just before `next_seq`.
    pub fn documents_message(
        &mut self,
        tenant: &str,
        customer: &str,
        invoices: &[&str],
        records: &[&str],
        next_seq: i64,
    ) -> OutboxRow {
        self.last_n += 1;
        OutboxRow {
            n: self.last_n,
            first: next_seq,
            last: next_seq - 1,
            body: forward::documents_body(tenant, customer, invoices, records),
        }
    }

    /// Adds messages that were just committed.
    pub fn push(&mut self, rows: Vec<OutboxRow>) {
        self.entries.extend(rows.into_iter().map(|m| Entry {
            n: m.n,
            body: Some(m.body),
            due_at: None,
            sends: 0,
        }));
    }

    /// Forgets confirmed messages.
    pub fn confirmed(&mut self, ns: &[i64]) {
        self.entries.retain(|e| !ns.contains(&e.n));
    }

    /// Messages waiting for the log.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message waits for the log.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// When the next message is due to be sent again, if one was sent.
    pub fn next_due(&self) -> Option<i64> {
        self.entries.iter().filter_map(|e| e.due_at).min()
    }

    /// Claims the flush; false when one is running.
    pub fn start_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.flushing, true)
    }

    /// Releases the flush.
    pub fn end_flush(&mut self) {
        self.flushing = false;
    }

    /// Up to a Queue batch of what is due at `now`: Queue messages of
    /// `{"parts": [{"n": N, ...body}, ...]}`, each holding as many outbox
    /// messages as fit in 100 KB, with their numbers. Bodies no longer in
    /// memory are read back from SQLite (a message gone from the table was
    /// confirmed meanwhile). Each part is written on its own by the
    /// consumer, so how parts are grouped never changes what is written.
    fn due(&mut self, sql: &SqlStorage, now: i64) -> Result<Vec<(Vec<i64>, String)>, ApiError> {
        let mut out: Vec<(Vec<i64>, String)> = Vec::new();
        let mut bytes = 0;
        let mut gone = Vec::new();
        for e in self.entries.iter_mut() {
            if e.due_at.is_some_and(|t| t > now) {
                continue;
            }
            let body = match e.body.take() {
                Some(b) => b,
                None => match store::outbox_body(sql, e.n)? {
                    Some(b) => b,
                    None => {
                        gone.push(e.n);
                        continue;
                    }
                },
            };
            let part = forward::numbered(e.n, &body);
            let fits = out
                .last()
                .is_some_and(|(_, m)| m.len() + part.len() < forward::MAX_MESSAGE_BYTES);
            if fits {
                if let Some((ns, m)) = out.last_mut() {
                    bytes += part.len() + 1;
                    ns.push(e.n);
                    // Drop the closing "]}", add the part, close again.
                    m.truncate(m.len() - 2);
                    m.push(',');
                    m.push_str(&part);
                    m.push_str("]}");
                }
                continue;
            }
            let text = format!("{{\"parts\":[{part}]}}");
            if !out.is_empty()
                && (out.len() >= forward::MAX_BATCH_MESSAGES || bytes + text.len() > forward::MAX_BATCH_BYTES)
            {
                e.body = Some(body);
                break;
            }
            bytes += text.len();
            out.push((vec![e.n], text));
        }
        self.confirmed(&gone);
        Ok(out)
    }

    fn sent(&mut self, ns: &[i64], at: i64, resend_ms: i64) {
        for e in self.entries.iter_mut().filter(|e| ns.contains(&e.n)) {
            e.sends = e.sends.saturating_add(1);
            e.due_at = Some(at.saturating_add(backoff(resend_ms, e.sends)));
        }
    }
}

/// Sends every message due at `now` to the `EVENTS` Queue. On a failed
/// send the messages stay due, for the next try.
pub async fn flush(env: &Env, sql: &SqlStorage, outbox: &RefCell<Outbox>, now: i64) -> Result<(), ApiError> {
    let queue = env.queue("EVENTS")?;
    let resend = resend_ms(env);
    loop {
        let due = outbox.borrow_mut().due(sql, now)?;
        if due.is_empty() {
            return Ok(());
        }
        let ns: Vec<i64> = due.iter().flat_map(|(n, _)| n.iter().copied()).collect();
        forward::send(&queue, due.into_iter().map(|(_, m)| m).collect()).await?;
        outbox.borrow_mut().sent(&ns, now, resend);
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
    fn numbers_are_never_reused_and_resends_wait() {
        let mut o = Outbox::default();
        o.reset(vec![(4, 10, 12)], 7);
        let m = o.messages("t", "c", &[row(13), row(14)]);
        assert_eq!(
            m.iter().map(|m| (m.n, m.first, m.last)).collect::<Vec<_>>(),
            [(8, 13, 14)]
        );
        o.push(m);
        assert_eq!(o.len(), 2);
        assert_eq!(o.next_due(), None);
        o.sent(&[4, 8], 5_000, 1000);
        assert_eq!(o.next_due(), Some(6_000));
        // Each send after the first waits twice as long, up to 64 times.
        o.sent(&[4], 6_000, 1000);
        o.sent(&[8], 6_000, 1000);
        o.sent(&[8], 8_000, 1000);
        assert_eq!(o.next_due(), Some(8_000));
        assert_eq!(backoff(1000, 9), 64_000);
        o.confirmed(&[4]);
        assert_eq!(o.len(), 1);
        o.confirmed(&[8]);
        assert!(o.is_empty());
        assert_eq!(o.last_n(), 8);
        assert!(o.start_flush());
        assert!(!o.start_flush());
        o.end_flush();
        assert!(o.start_flush());
    }
}
