//! When deliveries are attempted, and one attempt (docs/webhooks.md
//! "Retries").

use worker::*;

/// Seconds before each attempt: the first at once, then 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the one before.
pub const DEFAULT_SECONDS: &[i64] = &[0, 5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];
/// An attempt that has no answer after this long has failed.
pub const DEFAULT_TIMEOUT_MS: i64 = 15_000;
/// The longest wait a `Retry-After` may ask for (a day).
pub const MAX_RETRY_AFTER_MS: i64 = 86_400_000;

/// The retry schedule of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Milliseconds before each attempt (the first is the wait before the
    /// first attempt).
    pub delays_ms: Vec<i64>,
    /// Attempt timeout.
    pub timeout_ms: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            delays_ms: DEFAULT_SECONDS.iter().map(|s| s * 1000).collect(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

impl Schedule {
    /// Reads `WEBHOOK_RETRY_SCHEDULE` (comma-separated seconds, e.g.
    /// `0,1,2`) and `WEBHOOK_TIMEOUT_SECONDS`, the dev variables; the
    /// defaults otherwise (or when they do not read).
    pub fn parse(schedule: Option<&str>, timeout: Option<&str>) -> Schedule {
        let mut s = Schedule::default();
        if let Some(list) = schedule {
            let delays: Option<Vec<i64>> = list
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|n| (0..=86_400).contains(n))
                        .map(|n| n * 1000)
                })
                .collect();
            if let Some(d) = delays.filter(|d| !d.is_empty() && d.len() <= 20) {
                s.delays_ms = d;
            }
        }
        if let Some(t) = timeout
            .and_then(|t| t.trim().parse::<i64>().ok())
            .filter(|t| (1..=60).contains(t))
        {
            s.timeout_ms = t * 1000;
        }
        s
    }

    /// The deployment's schedule.
    pub fn from_env(env: &Env) -> Schedule {
        let var = |n: &str| env.var(n).ok().map(|v| v.to_string());
        Schedule::parse(
            var("WEBHOOK_RETRY_SCHEDULE").as_deref(),
            var("WEBHOOK_TIMEOUT_SECONDS").as_deref(),
        )
    }

    /// The wait before the next attempt after `attempts` failed ones, no
    /// shorter than a `Retry-After`; `None` when the schedule is over.
    pub fn next_delay(&self, attempts: i64, retry_after_ms: Option<i64>) -> Option<i64> {
        let d = *self.delays_ms.get(usize::try_from(attempts).ok()?)?;
        Some(d.max(retry_after_ms.unwrap_or(0).min(MAX_RETRY_AFTER_MS)))
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Delivered(u16),
    /// 410 Gone: the endpoint is disabled.
    Gone,
    /// Anything else: another status, a redirect (not followed), a
    /// network error or the timeout.
    Failed {
        /// The status, when there was an answer.
        status: Option<u16>,
        /// What went wrong, for the delivery's `last_error`.
        error: String,
        /// A `Retry-After` (429, 503) in ms.
        retry_after_ms: Option<i64>,
    },
}

impl Outcome {
    /// Classifies an answer.
    pub fn of_status(status: u16, retry_after: Option<&str>) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered(status),
            410 => Outcome::Gone,
            300..=399 => Outcome::Failed {
                status: Some(status),
                error: format!("answered {status}: redirects are not followed"),
                retry_after_ms: None,
            },
            _ => Outcome::Failed {
                status: Some(status),
                error: format!("answered {status}"),
                retry_after_ms: retry_after.and_then(retry_after_ms),
            },
        }
    }

    /// (last status, last error) for the delivery row.
    pub fn describe(&self) -> (Option<i64>, Option<String>) {
        match self {
            Outcome::Delivered(s) => (Some(i64::from(*s)), None),
            Outcome::Gone => (Some(410), Some("answered 410: the endpoint is disabled".into())),
            Outcome::Failed { status, error, .. } => (status.map(i64::from), Some(error.clone())),
        }
    }
}

/// A `Retry-After` value (seconds, or an HTTP date) in ms from now.
pub fn retry_after_ms(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<i64>() {
        return (s >= 0).then(|| s.saturating_mul(1000));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = Date::now().as_millis() as i64;
    Some((at.timestamp_millis() - now).max(0))
}

/// Posts one delivery: redirects are not followed, and no answer within
/// `timeout_ms` is a failure.
pub async fn send(url: &str, id: &str, timestamp: i64, signature: &str, body: &str, timeout_ms: i64) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        status: None,
        error,
        retry_after_ms: None,
    };
    let headers = Headers::new();
    for (k, v) in [
        ("content-type", "application/json"),
        ("user-agent", "rating-webhooks/1"),
        ("webhook-id", id),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", signature),
    ] {
        if headers.set(k, v).is_err() {
            return failed(format!("cannot set the {k} header"));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(body.into()));
    let req = match Request::new_with_init(url, &init) {
        Ok(r) => r,
        Err(e) => return failed(format!("bad request: {e}")),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetcher = Fetch::Request(req);
    let fetch = Box::pin(fetcher.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(timeout_ms.max(1) as u64)));
    let outcome = match futures_util::future::select(fetch, timeout).await {
        futures_util::future::Either::Left((Ok(resp), _)) => {
            let retry_after = resp.headers().get("retry-after").ok().flatten();
            Outcome::of_status(resp.status_code(), retry_after.as_deref())
        }
        futures_util::future::Either::Left((Err(e), _)) => failed(format!("network error: {e}")),
        futures_util::future::Either::Right(_) => {
            controller.abort();
            failed(format!("no answer within {} s", timeout_ms / 1000))
        }
    };
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_documented_one_or_the_dev_variable() {
        let s = Schedule::default();
        assert_eq!(s.next_delay(1, None), Some(5_000));
        assert_eq!(s.next_delay(2, None), Some(300_000));
        assert_eq!(s.next_delay(9, None), Some(86_400_000));
        assert_eq!(s.next_delay(10, None), None);
        // Retry-After lengthens a wait, never shortens it.
        assert_eq!(s.next_delay(1, Some(60_000)), Some(60_000));
        assert_eq!(s.next_delay(2, Some(1_000)), Some(300_000));
        let dev = Schedule::parse(Some("0, 1,2"), Some("3"));
        assert_eq!(dev.delays_ms, vec![0, 1000, 2000]);
        assert_eq!(dev.timeout_ms, 3000);
        assert_eq!(dev.next_delay(3, None), None);
        assert_eq!(Schedule::parse(Some("x"), Some("0")), Schedule::default());
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(Outcome::of_status(204, None), Outcome::Delivered(204));
        assert_eq!(Outcome::of_status(410, None), Outcome::Gone);
        assert!(matches!(
            Outcome::of_status(302, None),
            Outcome::Failed { status: Some(302), .. }
        ));
        assert!(matches!(
            Outcome::of_status(429, Some("7")),
            Outcome::Failed {
                retry_after_ms: Some(7000),
                ..
            }
        ));
        assert_eq!(retry_after_ms("-1"), None);
    }
}
