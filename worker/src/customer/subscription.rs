//! `PUT /v1/customers/{customer}/subscription` (docs/subscriptions.md):
//! the body is read and applied by the engine (`rating::subscription`);
//! the Worker only bounds `start` and `anchor` by its clock.

use rating::meter::Meter;
use rating::period::Timestamp;
use rating::subscription::{self, Request, View};
use rating::{Error, PriceBook};
use serde_json::Value;

/// How far from now `start` and `anchor` may be: subscribing closes every
/// period between `start` and now (an hourly plan started in year 1 would
/// be millions of invoices).
pub const MAX_START_DISTANCE_DAYS: i64 = 366;

/// Reads the body strictly (an unknown field is an error).
pub fn read(v: &Value) -> Result<Request, Error> {
    Request::read(v)
}

/// Applies a request at `now` to the customer's meter, if any (the first
/// request subscribes), with `book` the version its open period is priced
/// with and `active` the tenant's active version (`price_book: "latest"`
/// moves to it). A failed request changes nothing. Answers whether it
/// subscribed and whether it moved to `active` now.
pub fn apply(
    book: &PriceBook,
    active: &PriceBook,
    customer: &str,
    meter: &mut Option<Meter>,
    req: &Request,
    now: Timestamp,
) -> Result<(bool, bool), Error> {
    subscription::check_reach(req, now, MAX_START_DISTANCE_DAYS)?;
    subscription::apply_versioned(book, active, customer, meter, req, now)
}

/// The subscription as `GET`/`PUT .../subscription` show it.
pub fn view(m: &Meter, book: &PriceBook) -> Value {
    serde_json::to_value(View::of(m, book)).unwrap_or(Value::Null)
}
