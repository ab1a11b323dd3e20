//! The time of a request: the runtime's clock, or, where the deployment
//! allows it for development, a time the request names
//! (docs/worker.md, "Setting the clock in development").
//!
//! The dev clock lets tests of time-dependent rules (the dedup window,
//! period closes) run in seconds: a request carrying [`H_NOW`] is handled
//! as if received at that time. It is honoured only when the variable
//! [`DEV_CLOCK_VAR`] is `allow`, which only `worker/dev.vars` (read by
//! `make dev` and the test harness) sets; `wrangler.toml` never does, so
//! a deployed Worker ignores the header.

use crate::http::now;
use crate::problem::ApiError;
use rating::period::{fmt_timestamp, parse_timestamp, Timestamp};
use worker::{Env, Request};

/// The variable that allows [`H_NOW`]: `allow`, in development only.
pub const DEV_CLOCK_VAR: &str = "RATING_DEV_CLOCK";
/// The request header naming the receipt time (RFC 3339).
pub const H_NOW: &str = "x-rating-now";

/// Whether this deployment honours [`H_NOW`].
pub fn allowed(env: &Env) -> bool {
    env.var(DEV_CLOCK_VAR).is_ok_and(|v| v.to_string() == "allow")
}

/// The receipt time [`H_NOW`] names, when allowed and present; a 400
/// `invalid_timestamp` when it is not RFC 3339.
pub fn dev_time(env: &Env, req: &Request) -> Result<Option<Timestamp>, ApiError> {
    if !allowed(env) {
        return Ok(None);
    }
    match req.headers().get(H_NOW).ok().flatten() {
        None => Ok(None),
        Some(s) => parse_timestamp(&s).map(Some).ok_or_else(|| {
            let mut e = ApiError::new(
                400,
                "invalid_timestamp",
                format!("{H_NOW} is not an RFC 3339 timestamp"),
            );
            e.path = Some(H_NOW.to_string());
            e
        }),
    }
}

/// The [`H_NOW`] value to pass on to a Durable Object (checked here, so
/// a bad one is the request's 400).
pub fn forwarded(env: &Env, req: &Request) -> Result<Option<String>, ApiError> {
    Ok(dev_time(env, req)?.map(fmt_timestamp))
}

/// The request's time: [`H_NOW`] when allowed and present, else the
/// runtime's clock.
pub fn request_time(env: &Env, req: &Request) -> Result<Timestamp, ApiError> {
    Ok(dev_time(env, req)?.unwrap_or_else(now))
}
