//! [`Text`]: an immutable string that costs no allocation when short.
//!
//! Receipts are made once per event: an id, a source, an amount, a
//! currency and the price book's hash. As `String`s that was five
//! allocations and five frees per event, a quarter of `Meter::record`.
//! Strings up to 23 bytes (ids like `evt_00000001`, amounts, currency
//! codes) are kept inline; longer ones are shared (`Arc<str>`), so the price
//! book's hash is counted, not copied. It reads as a `&str` everywhere
//! (`Deref`), prints and serializes as one, and compares with `&str` and
//! `String`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A short-or-shared immutable string (a [`SmolStr`]: up to 23 bytes
/// inline, longer ones in an `Arc<str>`).
#[derive(Clone)]
pub struct Text(SmolStr);

impl Text {
    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A text shared with `s` (no copy, however long).
    pub fn shared(s: &Arc<str>) -> Text {
        Text(SmolStr::from(Arc::clone(s)))
    }

    /// Text of ASCII bytes (digits, sign, point) made by the engine itself.
    pub(crate) fn from_ascii(b: &[u8]) -> Text {
        Text::from(std::str::from_utf8(b).unwrap_or_default())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        if s.len() <= SmolStr::INLINE_CAP {
            // Copied straight in (`SmolStr::new` first looks for
            // whitespace-only text it could keep as a static).
            return Text(SmolStr::new_inline(s));
        }
        Text(SmolStr::new(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(SmolStr::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::from(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.as_str().to_string()
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from("")
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_read_back() {
        for s in [
            "",
            "USD",
            "evt_00000001",
            "é ü 😀 é ü",
            "0123456789012345678901",
            "01234567890123456789012",
        ] {
            let t = Text::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t, s);
            assert_eq!(Text::from(s.to_string()), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), serde_json::to_string(s).unwrap());
            let back: Text = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(back, t);
        }
        let long: Arc<str> = Arc::from("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        let t = Text::shared(&long);
        assert_eq!(t.as_str(), &*long);
        assert_eq!(Arc::strong_count(&long), 2);
    }
}
