//! `PUT /v1/customers/{customer}/subscription` (SPEC §7): the first call
//! subscribes; a later one transitions to another plan, changes
//! quantities (prorated), buys credits or cancels.

use rating::error::codes;
use rating::json::{index, Reader};
use rating::meter::{subscribe, Meter, Subscription};
use rating::period::{fmt_timestamp, Timestamp};
use rating::{Error, PriceBook, Problem};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The request body, read strictly (an unknown field is an error).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// Base plan.
    pub plan: String,
    /// Subscription start (default: now).
    pub start: Option<Timestamp>,
    /// Period anchor.
    pub anchor: Option<Timestamp>,
    /// Seat and recurring quantities.
    pub quantities: Vec<(String, Decimal)>,
    /// Add-on plans.
    pub addons: Option<Vec<String>>,
    /// A plan change takes effect now (default) or at the period's end.
    pub transition_immediate: bool,
    /// Cancel: `Some(true)` now, `Some(false)` at the period's end.
    pub cancel: Option<bool>,
    /// Credit pack to buy.
    pub purchase_credits: Option<String>,
}

fn mode(r: &mut Reader, v: &Value, path: &str) -> Option<bool> {
    r.choice(
        v,
        path,
        |s| match s {
            "immediate" => Some(true),
            "period_end" => Some(false),
            _ => None,
        },
        "immediate, period_end",
    )
}

/// Reads the body.
pub fn read(v: &Value) -> Result<Request, Error> {
    let mut r = Reader::default();
    let mut out = Request {
        transition_immediate: true,
        ..Request::default()
    };
    if let Some(mut o) = r.object(v, "") {
        out.plan = o.req_string(&mut r, "plan").unwrap_or_default();
        out.start = o.opt_timestamp(&mut r, "start");
        out.anchor = o.opt_timestamp(&mut r, "anchor");
        if let Some(q) = o.opt("quantities") {
            if let Some(qo) = r.object(q, "quantities") {
                for (k, x) in qo.map() {
                    if let Some(d) = r.amount(x, &qo.path(k)) {
                        out.quantities.push((k.clone(), d));
                    }
                }
            }
        }
        if let Some(a) = o.opt("addons") {
            if let Some(arr) = r.array(a, "addons") {
                let ids: Vec<Option<String>> = arr
                    .iter()
                    .enumerate()
                    .map(|(i, x)| r.string(x, &index("addons", i)))
                    .collect();
                out.addons = ids.into_iter().collect();
            }
        }
        if let Some(t) = o.opt("transition") {
            out.transition_immediate = mode(&mut r, t, "transition").unwrap_or(true);
        }
        if let Some(c) = o.opt("cancel") {
            out.cancel = mode(&mut r, c, "cancel");
        }
        out.purchase_credits = o.opt_string(&mut r, "purchase_credits");
        o.finish(&mut r);
    }
    if r.failed() {
        return Err(Error::many(codes::INVALID_REQUEST, "the subscription", r.problems));
    }
    Ok(out)
}

fn refuse(code: &'static str, path: &str, message: String) -> Error {
    Error::one(Problem::at(code, path, message))
}

/// How far from now `start` and `anchor` may be: subscribing closes every
/// period between `start` and now (an hourly plan started in year 1 would
/// be millions of invoices), and a start in year 9999 has periods that end
/// after what RFC 3339 can write.
pub const MAX_START_DISTANCE_DAYS: i64 = 366;

fn within_reach(t: Option<Timestamp>, now: Timestamp, path: &str) -> Result<(), Error> {
    let reach = chrono::Duration::days(MAX_START_DISTANCE_DAYS);
    match t {
        Some(t) if t < now - reach || t > now + reach => Err(refuse(
            codes::INVALID_VALUE,
            path,
            format!("{path} must be within {MAX_START_DISTANCE_DAYS} days of now"),
        )),
        _ => Ok(()),
    }
}

/// Applies a request: subscribes when there is no meter yet, otherwise
/// changes the existing one. Works on a copy, so a failed request changes
/// nothing. Answers the new meter and whether it was created.
pub fn apply(
    book: &PriceBook,
    customer: &str,
    meter: Option<&Meter>,
    req: &Request,
    now: Timestamp,
) -> Result<(Meter, bool), Error> {
    within_reach(req.start, now, "start")?;
    within_reach(req.anchor, now, "anchor")?;
    match meter {
        None => {
            let sub = Subscription {
                customer: customer.to_string(),
                plan: req.plan.clone(),
                addons: req.addons.clone().unwrap_or_default(),
                start: Some(req.start.unwrap_or(now)),
                anchor: req.anchor,
                quantities: req.quantities.iter().cloned().collect(),
            };
            let mut m = subscribe(book, &sub)?;
            let at = sub.start.unwrap_or(now).max(now);
            if let Some(pack) = &req.purchase_credits {
                m.purchase_credits(book, pack, at)?;
            }
            if let Some(immediate) = req.cancel {
                m.cancel(book, at, immediate)?;
            }
            Ok((m, true))
        }
        Some(old) => {
            let mut m = old.clone();
            if req.start.is_some_and(|s| s != m.start) {
                return Err(refuse(
                    "immutable_field",
                    "start",
                    format!(
                        "the subscription started at {}; start cannot change",
                        fmt_timestamp(m.start)
                    ),
                ));
            }
            if req.anchor.is_some_and(|a| a != m.anchor) {
                return Err(refuse(
                    "immutable_field",
                    "anchor",
                    format!(
                        "the subscription is anchored at {}; anchor cannot change",
                        fmt_timestamp(m.anchor)
                    ),
                ));
            }
            if req.addons.as_ref().is_some_and(|a| *a != m.addons) {
                return Err(refuse(
                    "unsupported_change",
                    "addons",
                    "add-ons are chosen when subscribing and cannot change yet".to_string(),
                ));
            }
            if m.ended_at.is_some() {
                return Err(refuse(
                    "subscription_ended",
                    "",
                    "the subscription has ended".to_string(),
                ));
            }
            if req.plan != m.plan {
                m.transition_plan(book, &req.plan, now, req.transition_immediate)?;
            }
            for (product, q) in &req.quantities {
                if m.quantities.get(product) != Some(q) {
                    m.change_quantity(book, product, *q, now)?;
                }
            }
            if let Some(pack) = &req.purchase_credits {
                m.purchase_credits(book, pack, now)?;
            }
            if let Some(immediate) = req.cancel {
                m.cancel(book, now, immediate)?;
            }
            Ok((m, false))
        }
    }
}

/// The subscription as `GET`/`PUT .../subscription` show it.
pub fn view(m: &Meter, book: &PriceBook) -> Value {
    let quantities: serde_json::Map<String, Value> = m
        .quantities
        .iter()
        .map(|(k, q)| (k.clone(), Value::String(rating::money::fmt_qty(*q))))
        .collect();
    let mut v = json!({
        "customer": m.customer,
        "plan": m.plan,
        "addons": m.addons,
        "start": fmt_timestamp(m.start),
        "anchor": fmt_timestamp(m.anchor),
        "period": {"start": fmt_timestamp(m.period.start), "end": fmt_timestamp(m.period.end)},
        "trial": m.period.trial,
        "quantities": quantities,
        "cancel_at_period_end": m.cancel_at_period_end,
        "price_book": book.hash(),
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(t) = &m.transition_at_period_end {
            o.insert("transition_at_period_end".into(), json!(t));
        }
        if let Some(e) = m.ended_at {
            o.insert("ended_at".into(), json!(fmt_timestamp(e)));
        }
        if let Some(t) = m.trial_end {
            o.insert("trial_end".into(), json!(fmt_timestamp(t)));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_field_strictly() {
        let r = read(
            &json!({"plan": "pro", "start": "2026-01-01T00:00:00Z", "quantities": {"seats": "3"},
            "addons": ["x"], "transition": "period_end", "cancel": "immediate", "purchase_credits": "p"}),
        )
        .unwrap();
        assert_eq!(r.plan, "pro");
        assert!(!r.transition_immediate);
        assert_eq!(r.cancel, Some(true));
        assert_eq!(r.quantities, vec![("seats".to_string(), Decimal::from(3))]);
        let e = read(&json!({"plan": "pro", "quantites": {}})).unwrap_err();
        assert_eq!(e.code, "unknown_field");
        assert_eq!(read(&json!({"quantities": {}})).unwrap_err().code, "missing_field");
        assert_eq!(
            read(&json!({"plan": "pro", "cancel": "now"}))
                .unwrap_err()
                .path
                .as_deref(),
            Some("cancel")
        );
    }
}
