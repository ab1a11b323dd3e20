//! Bearer keys: the `API_KEYS` secret (or variable) maps each key to a
//! tenant and a role.
//!
//! ```json
//! {"dev-admin-key": {"tenant": "dev", "role": "admin"},
//!  "dev-ingest-key": {"tenant": "dev", "role": "ingest"}}
//! ```
//!
//! Keys are compared as SHA-256 digests in constant time, against every
//! configured key (no early exit), so neither the match nor its position
//! leaks through timing. Keys are never logged or echoed.

use crate::problem::ApiError;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use subtle::ConstantTimeEq;

/// What a key may do. `admin` may do everything; `read` reads and quotes;
/// `ingest` only sends events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `POST /v1/events`.
    Ingest,
    /// Reads, quotes and comparisons.
    Read,
    /// Everything, including the price book and subscriptions.
    Admin,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "ingest" => Some(Role::Ingest),
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether a key of this role may act as `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }

    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

/// Who is calling: the key's tenant and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Tenant of the key; every route only ever sees this tenant's data.
    pub tenant: String,
    /// Role of the key.
    pub role: Role,
}

/// The parsed key table.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    entries: Vec<([u8; 32], Caller)>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Keys {
    /// Reads the `API_KEYS` JSON. Problems name the entry, never the key.
    pub fn parse(text: &str) -> Result<Keys, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|_| "API_KEYS is not valid JSON".to_string())?;
        let obj = v
            .as_object()
            .ok_or("API_KEYS must be an object of key -> {tenant, role}")?;
        let mut entries = Vec::new();
        for (n, (key, spec)) in obj.iter().enumerate() {
            let tenant = spec.get("tenant").and_then(|t| t.as_str()).unwrap_or("");
            let role = spec.get("role").and_then(|r| r.as_str()).and_then(Role::parse);
            match role {
                Some(role) if !tenant.is_empty() && !key.is_empty() && valid_tenant(tenant) => {
                    entries.push((
                        digest(key),
                        Caller {
                            tenant: tenant.to_string(),
                            role,
                        },
                    ))
                }
                _ => {
                    return Err(format!(
                        "API_KEYS entry {n} needs a non-empty key, a tenant of letters, digits, '-' and '_', and a role (ingest, read, admin)"
                    ))
                }
            }
        }
        Ok(Keys { entries })
    }

    /// The caller a key belongs to; constant time in the key and the table.
    pub fn lookup(&self, key: &str) -> Option<Caller> {
        let d = digest(key);
        let mut found: Option<&Caller> = None;
        for (k, caller) in &self.entries {
            if bool::from(k.ct_eq(&d)) {
                found = Some(caller);
            }
        }
        found.cloned()
    }
}

/// Tenant names end up in Durable Object names and D1 rows.
fn valid_tenant(t: &str) -> bool {
    t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

thread_local! {
    /// The last table parsed, with the text it was parsed from.
    static CACHE: RefCell<Option<(String, Keys)>> = const { RefCell::new(None) };
}

/// The key table of this environment (parsed once per isolate).
pub fn keys(env: &worker::Env) -> Result<Keys, ApiError> {
    // A secret and a plain-text variable read the same way.
    let text = env.var("API_KEYS").map(|s| s.to_string()).unwrap_or_default();
    CACHE.with(|c| {
        if let Some((t, k)) = &*c.borrow() {
            if *t == text {
                return Ok(k.clone());
            }
        }
        let parsed = if text.is_empty() {
            Keys::default()
        } else {
            Keys::parse(&text).map_err(|e| {
                worker::console_error!("{e}");
                ApiError::new(500, "misconfigured", "the Worker's API_KEYS setting is invalid")
            })?
        };
        *c.borrow_mut() = Some((text, parsed.clone()));
        Ok(parsed)
    })
}

/// Authenticates a request's `Authorization: Bearer <key>` and checks
/// that its role allows `needed`.
pub fn authorize(keys: &Keys, authorization: Option<&str>, needed: Role) -> Result<Caller, ApiError> {
    let key = authorization
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(ApiError::new(
            401,
            "unauthorized",
            "send an API key as Authorization: Bearer <key>",
        ));
    };
    let caller = keys
        .lookup(key)
        .ok_or_else(|| ApiError::new(401, "unauthorized", "unknown API key"))?;
    if !caller.role.allows(needed) {
        return Err(ApiError::new(
            403,
            "forbidden",
            format!(
                "a {} key cannot do this; it needs the {} role",
                caller.role.name(),
                needed.name()
            ),
        ));
    }
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"{"a-admin": {"tenant": "a", "role": "admin"},
        "a-ingest": {"tenant": "a", "role": "ingest"},
        "b-read": {"tenant": "b", "role": "read"}}"#;

    #[test]
    fn keys_map_to_tenant_and_role() {
        let k = Keys::parse(TABLE).unwrap();
        assert_eq!(k.lookup("a-ingest").unwrap().role, Role::Ingest);
        assert_eq!(k.lookup("b-read").unwrap().tenant, "b");
        assert!(k.lookup("a-admin ").is_none());
        assert!(k.lookup("").is_none());
    }

    #[test]
    fn roles_and_statuses() {
        let k = Keys::parse(TABLE).unwrap();
        assert_eq!(authorize(&k, None, Role::Read).unwrap_err().status, 401);
        assert_eq!(authorize(&k, Some("Basic xyz"), Role::Read).unwrap_err().status, 401);
        assert_eq!(authorize(&k, Some("Bearer nope"), Role::Read).unwrap_err().status, 401);
        assert_eq!(
            authorize(&k, Some("Bearer a-ingest"), Role::Read).unwrap_err().status,
            403
        );
        assert_eq!(
            authorize(&k, Some("Bearer b-read"), Role::Admin).unwrap_err().status,
            403
        );
        assert_eq!(authorize(&k, Some("bearer a-admin"), Role::Ingest).unwrap().tenant, "a");
        assert_eq!(authorize(&k, Some("Bearer b-read"), Role::Read).unwrap().tenant, "b");
    }

    #[test]
    fn bad_tables_never_show_keys() {
        let e = Keys::parse(r#"{"secret-key-123": {"tenant": "x/y", "role": "admin"}}"#).unwrap_err();
        assert!(!e.contains("secret-key-123"));
        assert!(Keys::parse(r#"{"k": {"tenant": "t", "role": "owner"}}"#).is_err());
        assert!(Keys::parse("[1]").is_err());
    }
}
