//! RFC 9457 problem documents (`application/problem+json`) with the
//! stable `code` of the engine's errors (docs/worker.md lists the Worker's
//! own codes).

use serde_json::{json, Map, Value};
use worker::{Headers, Response};

/// An HTTP error: a status and a problem document.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine code (`invalid_json`, `unauthorized`, ...).
    pub code: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// JSON path of the offending field, when there is one.
    pub path: Option<String>,
    /// Every problem found (engine validation errors).
    pub errors: Vec<rating::Problem>,
}

impl ApiError {
    /// A problem with no path.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            detail: detail.into(),
            path: None,
            errors: Vec::new(),
        }
    }

    /// An engine error; `invalid_json` is a 400, anything else a 422.
    pub fn engine(e: rating::Error) -> ApiError {
        let status = if e.code == rating::error::codes::INVALID_JSON {
            400
        } else {
            422
        };
        ApiError {
            status,
            code: e.code.to_string(),
            detail: e.message,
            path: e.path,
            errors: e.errors,
        }
    }

    /// One engine problem as a request error.
    pub fn problem(status: u16, p: rating::Problem) -> ApiError {
        ApiError {
            status,
            code: p.code.to_string(),
            detail: p.message,
            path: p.path,
            errors: Vec::new(),
        }
    }

    /// An unexpected failure of the platform (storage, a Durable Object,
    /// the Queue): a 503 the client may retry.
    pub fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
        worker::console_error!("{what}: {e}");
        ApiError::new(503, "unavailable", format!("{what} failed; retry the request"))
    }

    /// The problem document.
    pub fn to_value(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), json!("about:blank"));
        o.insert("title".into(), json!(reason(self.status)));
        o.insert("status".into(), json!(self.status));
        o.insert("code".into(), json!(self.code));
        o.insert("detail".into(), json!(self.detail));
        if let Some(p) = &self.path {
            o.insert("path".into(), json!(p));
        }
        if !self.errors.is_empty() {
            o.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or(Value::Null),
            );
        }
        Value::Object(o)
    }

    /// The HTTP response.
    pub fn into_response(self) -> worker::Result<Response> {
        let headers = Headers::new();
        headers.set("content-type", "application/problem+json")?;
        if self.status == 401 {
            headers.set("www-authenticate", "Bearer realm=\"rating\"")?;
        }
        Ok(Response::ok(self.to_value().to_string())?
            .with_status(self.status)
            .with_headers(headers))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl From<rating::Error> for ApiError {
    fn from(e: rating::Error) -> ApiError {
        ApiError::engine(e)
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> ApiError {
        ApiError::unavailable("the Worker runtime", e)
    }
}

/// The standard reason phrase of the statuses this Worker answers with.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_code_path_and_errors() {
        let e = rating::PriceBook::parse("{\"format\": \"price-book/v1\", \"inclued\": 1}").unwrap_err();
        let p = ApiError::engine(e).to_value();
        assert_eq!(p["status"], 422);
        assert_eq!(p["type"], "about:blank");
        assert!(p["code"].as_str().is_some());
        assert!(p["errors"].as_array().is_some_and(|a| a.len() > 1));
    }

    #[test]
    fn invalid_json_is_a_400() {
        let e = rating::PriceBook::parse("{").unwrap_err();
        assert_eq!(ApiError::engine(e).status, 400);
    }
}
