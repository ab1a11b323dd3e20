//! Subscription requests: the one reader and the one set of rules for
//! `{plan, start, anchor, quantities, addons, transition, cancel,
//! purchase_credits, spend_alert_thresholds}`, whoever sends it: the Worker's `PUT
//! .../subscription` body, an entry of `rating replay`'s `changes`, and
//! `book.meter(...)` / `meter.apply(...)` in the npm package
//! (docs/subscriptions.md describes the request and its semantics).
//!
//! Reading is strict (an unknown field is `unknown_field` at its path;
//! every problem is listed). Applying works on a copy of the meter, so a
//! request that fails changes nothing.

use crate::error::{codes, Error, Problem};
use crate::json::{index, Obj, Reader};
use crate::meter::{self, Meter};
use crate::money::fmt_qty;
use crate::period::{fmt_timestamp, Timestamp};
use crate::PriceBook;
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

pub use crate::meter::Mode;

fn read_mode(r: &mut Reader, v: &Value, path: &str) -> Option<Mode> {
    r.choice(v, path, Mode::parse, Mode::ALLOWED)
}

/// A subscription request: what the customer's subscription should become.
/// Every field is optional when reading; [`subscribe`] needs `plan`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// Base plan: the plan to subscribe to, or to transition to when it is
    /// not the current one. Absent on a change: keep the plan.
    pub plan: Option<String>,
    /// When the subscription starts (subscribing; default: the request's
    /// time). On a change it must equal the subscription's start.
    pub start: Option<Timestamp>,
    /// Period anchor (subscribing). On a change it must equal the
    /// subscription's anchor.
    pub anchor: Option<Timestamp>,
    /// Seat and recurring quantities; on a change only those that differ
    /// from the quantity in force are changed (prorated).
    pub quantities: IndexMap<String, Decimal>,
    /// Add-on plans (subscribing). On a change they must equal the
    /// subscription's add-ons.
    pub addons: Option<Vec<String>>,
    /// When a plan change takes effect (default immediate).
    pub transition: Option<Mode>,
    /// Cancel, at once or at the end of the open period.
    pub cancel: Option<Mode>,
    /// Credit pack to buy.
    pub purchase_credits: Option<String>,
    /// The subscription's own spend alert thresholds (besides its plans'),
    /// in the book's currency; given, they replace the ones in force.
    pub spend_alert_thresholds: Option<Vec<Decimal>>,
    /// Keep the price book version in force when newer ones become active
    /// (grandfathered), or stop keeping it (`false`).
    pub pin_price_book: Option<bool>,
    /// Move to the latest active version of the price book: at the next
    /// period start, or at once with proration under `transition:
    /// "immediate"`. Unpins.
    pub price_book: Option<Follow>,
}

/// Which price book version a subscription moves to (`price_book`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The tenant's active version.
    Latest,
}

impl Follow {
    const ALLOWED: &'static str = "latest";

    fn parse(s: &str) -> Option<Follow> {
        (s == "latest").then_some(Follow::Latest)
    }
}

/// A subscription document: a request that names its customer and start,
/// as `book.meter(...)` and the entries of `rating replay --subscriptions`
/// take it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Customer id.
    pub customer: String,
    /// When the subscription starts (the request's time).
    pub start: Timestamp,
    /// The request (its `plan` is present).
    pub request: Request,
}

/// What a reader of a request needs beyond its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A request: every field optional.
    Request,
    /// A subscription document: `customer`, `plan` and `start` required.
    Document,
}

impl Request {
    /// Reads a request body strictly: the Worker's `PUT` body and
    /// `meter.apply(request)`.
    pub fn read(v: &Value) -> Result<Request, Error> {
        let mut r = Reader::default();
        let mut out = Request::default();
        if let Some(mut o) = r.object(v, "") {
            out = Request::read_fields(&mut r, &mut o, Need::Request);
            o.finish(&mut r);
        }
        if r.failed() {
            return Err(Error::many(
                codes::INVALID_REQUEST,
                "the subscription request",
                r.problems,
            ));
        }
        Ok(out)
    }

    /// Takes the request's fields from an object being read; the caller
    /// takes its own (`customer`, `at`, `changes`) and then finishes the
    /// object, so that what is left is reported as unknown. Under
    /// [`Need::Document`] a missing `plan` or `start` is recorded.
    pub fn read_fields(r: &mut Reader, o: &mut Obj<'_>, need: Need) -> Request {
        let required = need == Need::Document;
        let plan = if required {
            o.req_string(r, "plan")
        } else {
            o.opt_string(r, "plan")
        };
        let start = if required {
            o.req(r, "start").and_then(|v| r.timestamp(v, &o.path("start")))
        } else {
            o.opt_timestamp(r, "start")
        };
        let anchor = o.opt_timestamp(r, "anchor");
        let mut quantities = IndexMap::new();
        if let Some(q) = o.opt("quantities") {
            if let Some(qo) = r.object(q, &o.path("quantities")) {
                for (k, x) in qo.map() {
                    if let Some(d) = r.amount(x, &qo.path(k)) {
                        quantities.insert(k.clone(), d);
                    }
                }
            }
        }
        let addons = o.opt("addons").and_then(|a| {
            let path = o.path("addons");
            let list = r.array(a, &path)?;
            let ids: Vec<Option<String>> = list
                .iter()
                .enumerate()
                .map(|(i, x)| r.string(x, &index(&path, i)))
                .collect();
            ids.into_iter().collect()
        });
        let transition = o.opt("transition").and_then(|v| read_mode(r, v, &o.path("transition")));
        let cancel = o.opt("cancel").and_then(|v| read_mode(r, v, &o.path("cancel")));
        let purchase_credits = o.opt_string(r, "purchase_credits");
        let spend_alert_thresholds = o
            .opt("spend_alert_thresholds")
            .and_then(|v| crate::price_book::read_thresholds(r, v, &o.path("spend_alert_thresholds")));
        let pin_price_book = o.opt_bool(r, "pin_price_book");
        let price_book = o
            .opt("price_book")
            .and_then(|v| r.choice(v, &o.path("price_book"), Follow::parse, Follow::ALLOWED));
        if price_book.is_some() && pin_price_book == Some(true) {
            r.err(
                codes::INVALID_VALUE,
                &o.path("pin_price_book"),
                "pin_price_book: true keeps the version that price_book: \"latest\" leaves",
            );
        }
        Request {
            plan,
            start,
            anchor,
            quantities,
            addons,
            transition,
            cancel,
            purchase_credits,
            spend_alert_thresholds,
            pin_price_book,
            price_book,
        }
    }
}

impl Document {
    /// Reads `{customer, plan, start, anchor?, quantities?, addons?,
    /// transition?, cancel?, purchase_credits?, spend_alert_thresholds?}`
    /// strictly.
    pub fn read(v: &Value) -> Result<Document, Error> {
        let mut r = Reader::default();
        let doc = r.object(v, "").and_then(|mut o| {
            let doc = Document::read_fields(&mut r, &mut o);
            o.finish(&mut r);
            doc
        });
        match doc {
            Some(d) if !r.failed() => Ok(d),
            _ => Err(Error::many(codes::INVALID_REQUEST, "the subscription", r.problems)),
        }
    }

    /// Takes a document's fields from an object being read (the caller
    /// finishes it); `None` when a required one is missing or bad.
    pub fn read_fields(r: &mut Reader, o: &mut Obj<'_>) -> Option<Document> {
        let customer = o.req_string(r, "customer");
        let request = Request::read_fields(r, o, Need::Document);
        Some(Document {
            customer: customer?,
            start: request.start?,
            request: Request {
                plan: Some(request.plan.clone()?),
                ..request
            },
        })
    }

    /// Subscribes the customer at its start ([`subscribe`]).
    pub fn subscribe(&self, book: &PriceBook) -> Result<Meter, Error> {
        subscribe(book, &self.customer, &self.request, self.start)
    }
}

fn refuse(code: crate::error::Code, path: &str, message: String) -> Error {
    Error::one(Problem::at(code, path, message))
}

/// The first request: subscribes `customer` to `plan` from `start`
/// (default `at`), then buys `purchase_credits` and applies `cancel` at
/// the later of `start` and `at`. `transition` has nothing to act on and
/// is ignored.
pub fn subscribe(book: &PriceBook, customer: &str, req: &Request, at: Timestamp) -> Result<Meter, Error> {
    let Some(plan) = &req.plan else {
        return Err(refuse(
            codes::MISSING_FIELD,
            "plan",
            "plan is required to subscribe".into(),
        ));
    };
    let start = req.start.unwrap_or(at);
    let sub = meter::Subscription {
        customer: customer.to_string(),
        plan: plan.clone(),
        addons: req.addons.clone().unwrap_or_default(),
        start: Some(start),
        anchor: req.anchor,
        quantities: req.quantities.clone(),
        spend_alert_thresholds: req.spend_alert_thresholds.clone().unwrap_or_default(),
    };
    let mut m = meter::subscribe(book, &sub)?;
    m.pin_price_book = req.pin_price_book.unwrap_or(false);
    let at = start.max(at);
    if let Some(pack) = &req.purchase_credits {
        m.purchase_credits(book, pack, at)?;
    }
    if let Some(mode) = req.cancel {
        m.cancel(book, at, mode.is_immediate())?;
    }
    Ok(m)
}

/// A later request, at `at`: closes the periods that ended by then, then
/// transitions to `plan` when it is another plan, changes the quantities
/// that differ from those in force, buys `purchase_credits` and applies
/// `cancel`, in that order. `start`, `anchor` and `addons` cannot change
/// (`immutable_field`, `unsupported_change`); an ended subscription takes
/// no request (`subscription_ended`).
///
/// All or nothing: when any step fails, `meter` is left as it was.
pub fn change(book: &PriceBook, meter: &mut Meter, req: &Request, at: Timestamp) -> Result<(), Error> {
    if req.start.is_some_and(|s| s != meter.start) {
        let message = format!(
            "the subscription started at {}; start cannot change",
            fmt_timestamp(meter.start)
        );
        return Err(refuse(codes::IMMUTABLE_FIELD, "start", message));
    }
    if req.anchor.is_some_and(|a| a != meter.anchor) {
        let message = format!(
            "the subscription is anchored at {}; anchor cannot change",
            fmt_timestamp(meter.anchor)
        );
        return Err(refuse(codes::IMMUTABLE_FIELD, "anchor", message));
    }
    if req.addons.as_ref().is_some_and(|a| *a != meter.addons) {
        let message = "add-ons are chosen when subscribing and cannot change yet".to_string();
        return Err(refuse(codes::UNSUPPORTED_CHANGE, "addons", message));
    }
    // The steps run on a copy. The dedup keys (the bulk of a meter) are
    // not touched by any step, so they are set aside rather than copied.
    let dedup = std::mem::replace(&mut meter.dedup, meter::Dedup::new(0, 0));
    let mut copy = meter.clone();
    let done = change_steps(book, &mut copy, req, at);
    if done.is_ok() {
        *meter = copy;
    }
    meter.dedup = dedup;
    done
}

fn change_steps(book: &PriceBook, m: &mut Meter, req: &Request, at: Timestamp) -> Result<(), Error> {
    m.advance_to(book, at)?;
    if m.ended_at.is_some() {
        return Err(refuse(
            codes::SUBSCRIPTION_ENDED,
            "",
            "the subscription has ended".into(),
        ));
    }
    if let Some(plan) = req.plan.as_ref().filter(|p| **p != m.plan) {
        let mode = req.transition.unwrap_or(Mode::DEFAULT_TRANSITION);
        m.transition_plan(book, plan, at, mode.is_immediate())?;
    }
    for (product, q) in &req.quantities {
        // A quantity equal to the one in force is no change: no zero
        // proration line (docs/subscriptions.md).
        if m.quantities.get(product) != Some(q) {
            m.change_quantity(book, product, *q, at)?;
        }
    }
    if let Some(thresholds) = &req.spend_alert_thresholds {
        m.set_spend_alert_thresholds(book, thresholds.clone(), at);
    }
    if let Some(pack) = &req.purchase_credits {
        m.purchase_credits(book, pack, at)?;
    }
    if let Some(mode) = req.cancel {
        m.cancel(book, at, mode.is_immediate())?;
    }
    if let Some(pin) = req.pin_price_book {
        m.pin_price_book = pin;
    }
    if req.price_book == Some(Follow::Latest) {
        m.pin_price_book = false;
    }
    Ok(())
}

/// Applies a request at `at` to the customer's meter, if any: the first
/// request [subscribes](subscribe) (`*meter` becomes `Some`), a later one
/// [changes](change) it. Answers whether it subscribed. A failed request
/// changes nothing.
pub fn apply(
    book: &PriceBook,
    customer: &str,
    meter: &mut Option<Meter>,
    req: &Request,
    at: Timestamp,
) -> Result<bool, Error> {
    match meter {
        Some(m) => change(book, m, req, at).map(|()| false),
        None => {
            *meter = Some(subscribe(book, customer, req, at)?);
            Ok(true)
        }
    }
}

/// Applies a request where price book versions are kept (the Worker;
/// docs/subscriptions.md "Price book versions"). `current` is the version
/// the open period is priced with (for a new subscription, the active
/// one) and `latest` the active version. After [`apply`] with `current`, a
/// request with `price_book: "latest"` moves the subscription to `latest`:
/// at once with proration ([`Meter::migrate`]) under `transition:
/// "immediate"` (the default, as for a plan change), else at its next
/// period start (it is unpinned, so the period boundary moves it). All or
/// nothing. Answers whether it subscribed and whether it moved to `latest`
/// now.
pub fn apply_versioned(
    current: &PriceBook,
    latest: &PriceBook,
    customer: &str,
    meter: &mut Option<Meter>,
    req: &Request,
    at: Timestamp,
) -> Result<(bool, bool), Error> {
    let now = req.price_book == Some(Follow::Latest)
        && req.transition.unwrap_or(Mode::DEFAULT_TRANSITION).is_immediate()
        && current.hash() != latest.hash();
    if !now {
        return apply(current, customer, meter, req, at).map(|s| (s, false));
    }
    // The steps run on a copy, the dedup keys set aside (as in `change`).
    let dedup = meter
        .as_mut()
        .map(|m| std::mem::replace(&mut m.dedup, meter::Dedup::new(0, 0)));
    let mut copy = meter.clone();
    let done = apply(current, customer, &mut copy, req, at).and_then(|subscribed| match copy.as_mut() {
        Some(m) => m.migrate(current, latest, at).map(|moved| (subscribed, moved)),
        None => Ok((subscribed, false)),
    });
    if done.is_ok() {
        *meter = copy;
    }
    if let (Some(m), Some(d)) = (meter.as_mut(), dedup) {
        m.dedup = d;
    }
    done
}

/// Refuses a request whose `start` or `anchor` is more than `days` from
/// `now`: subscribing closes every period between `start` and now, so a
/// caller with a real clock (the Worker) bounds that work; a start in year
/// 9999 has periods that end after what RFC 3339 can write.
pub fn check_reach(req: &Request, now: Timestamp, days: i64) -> Result<(), Error> {
    let reach = chrono::Duration::days(days);
    for (t, path) in [(req.start, "start"), (req.anchor, "anchor")] {
        if let Some(t) = t {
            if t < now - reach || t > now + reach {
                let message = format!("{path} must be within {days} days of now");
                return Err(refuse(codes::INVALID_VALUE, path, message));
            }
        }
    }
    Ok(())
}

/// The open period, as the view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewPeriod {
    /// Start (inclusive).
    pub start: String,
    /// End (exclusive).
    pub end: String,
}

/// The subscription as the Worker's `GET`/`PUT .../subscription` and
/// `meter.apply(...)` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    /// Customer id.
    pub customer: String,
    /// Base plan.
    pub plan: String,
    /// Add-on plans.
    pub addons: Vec<String>,
    /// Start.
    pub start: String,
    /// Period anchor.
    pub anchor: String,
    /// The open period.
    pub period: ViewPeriod,
    /// Whether the open period is a free trial.
    pub trial: bool,
    /// Seat and recurring quantities in force.
    pub quantities: IndexMap<String, String>,
    /// Cancelled at the end of the open period.
    pub cancel_at_period_end: bool,
    /// Price book hash.
    pub price_book: String,
    /// Plan that takes over at the end of the open period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_at_period_end: Option<String>,
    /// When the subscription ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// End of the free trial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_end: Option<String>,
    /// The subscription's own spend alert thresholds (besides its plans').
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spend_alert_thresholds: Vec<Decimal>,
    /// Kept on its price book version when newer ones become active.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pin_price_book: bool,
}

impl View {
    /// The view of a meter priced by `book`.
    pub fn of(m: &Meter, book: &PriceBook) -> View {
        View {
            customer: m.customer.clone(),
            plan: m.plan.clone(),
            addons: m.addons.clone(),
            start: fmt_timestamp(m.start),
            anchor: fmt_timestamp(m.anchor),
            period: ViewPeriod {
                start: fmt_timestamp(m.period.start),
                end: fmt_timestamp(m.period.end),
            },
            trial: m.period.trial,
            quantities: m.quantities.iter().map(|(k, q)| (k.clone(), fmt_qty(*q))).collect(),
            cancel_at_period_end: m.cancel_at_period_end,
            price_book: book.hash().to_string(),
            transition_at_period_end: m.transition_at_period_end.clone(),
            ended_at: m.ended_at.map(fmt_timestamp),
            trial_end: m.trial_end.map(fmt_timestamp),
            spend_alert_thresholds: m.spend_alert_thresholds.clone(),
            pin_price_book: m.pin_price_book,
        }
    }
}
