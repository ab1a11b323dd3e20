//! Pretty-printing with stored JSON inside: `serde_json`'s pretty layout
//! (two spaces, `"key": value`, `[]` and `{}` for empty containers), with
//! raw JSON fragments re-indented to where they are placed.
//!
//! A replay holds its invoices as compact JSON text and prints them inside
//! a pretty document. Parsing each one back into a `serde_json::Value` to
//! print it again cost more than rating the events did; with
//! [`RawPretty`] the stored text is copied through, indented on the way,
//! and the output is byte for byte what printing the values would give.

use serde_json::ser::{Formatter, PrettyFormatter};
use std::io::{self, Write};

/// A `serde_json` formatter: [`PrettyFormatter`], plus re-indentation of
/// raw fragments (`RawValue`s) at their depth.
pub(crate) struct RawPretty {
    inner: PrettyFormatter<'static>,
    depth: usize,
    buf: Vec<u8>,
}

impl Default for RawPretty {
    fn default() -> RawPretty {
        RawPretty {
            inner: PrettyFormatter::new(),
            depth: 0,
            buf: Vec::new(),
        }
    }
}

impl RawPretty {
    /// A formatter for a value placed `depth` levels deep in a pretty
    /// document (the value's own lines indented to match).
    pub fn at_depth(depth: usize) -> RawPretty {
        let mut f = RawPretty::default();
        for _ in 0..depth {
            // Only moves the indentation: the bracket goes to a sink.
            let _ = f.begin_array(&mut io::sink());
        }
        f
    }
}

const SPACES: &[u8] = &[b' '; 128];

fn indent(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    let mut n = depth * 2;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.extend_from_slice(&SPACES[..k]);
        n -= k;
    }
}

/// Re-indents compact JSON, as if printed pretty at `depth`.
pub(crate) fn reindent(json: &[u8], depth: usize, out: &mut Vec<u8>) {
    let mut depth = depth;
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        i += 1;
        match b {
            b'"' => {
                // Copy the whole string, escapes included.
                let start = i - 1;
                while i < json.len() {
                    i = crate::json::string_stop(json, i, false);
                    match json.get(i) {
                        Some(b'\\') => i += 2,
                        _ => {
                            i += 1;
                            break;
                        }
                    }
                }
                out.extend_from_slice(&json[start..i.min(json.len())]);
            }
            b'{' | b'[' => {
                if let Some(&next @ (b'}' | b']')) = json.get(i) {
                    out.push(b);
                    out.push(next);
                    i += 1;
                } else {
                    out.push(b);
                    depth += 1;
                    indent(out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                indent(out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                indent(out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => {
                // A number or literal: copy up to the next structural byte.
                let start = i - 1;
                while i < json.len() && !matches!(json[i], b',' | b'}' | b']' | b':' | b'"') {
                    i += 1;
                }
                out.extend_from_slice(&json[start..i]);
            }
        }
    }
}

impl Formatter for RawPretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_value(w)
    }
    fn write_raw_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        self.buf.clear();
        reindent(fragment.as_bytes(), self.depth, &mut self.buf);
        w.write_all(&self.buf)
    }
}

/// Serializes `value` pretty into `out`, raw fragments re-indented.
pub fn to_writer_pretty<W: Write, T: serde::Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, RawPretty::default());
    value.serialize(&mut ser)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::{to_raw_value, RawValue};

    #[test]
    fn raw_fragments_print_like_values() {
        let cases = [
            json!({}),
            json!([]),
            json!({"a": [], "b": {}, "c": [1, 2, {"d": null}], "e": "x"}),
            json!([[[]], [{}], {"k": [true, false, -1.5e3]}]),
            json!({"s": "quote \" and \\ backslash, {braces} [brackets]: colon, comma", "n": 1.5e3}),
            json!({"unicode": "é ü \u{1F600}", "ctrl": "\n\t\u{0001}", "end\\": "\\"}),
            json!("just a string"),
            json!(42),
        ];
        for v in cases {
            let raw: Box<RawValue> = to_raw_value(&v).unwrap();
            // The fragment nested at several depths, as a replay places invoices.
            let doc = json!({"customers": [{"customer": "c", "invoices": [v.clone(), v.clone()]}], "x": v.clone()});
            let mut out = Vec::new();
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                customers: [Cust<'a>; 1],
                x: &'a RawValue,
            }
            #[derive(serde::Serialize)]
            struct Cust<'a> {
                customer: &'a str,
                invoices: [&'a RawValue; 2],
            }
            let d = Doc {
                customers: [Cust {
                    customer: "c",
                    invoices: [&raw, &raw],
                }],
                x: &raw,
            };
            to_writer_pretty(&mut out, &d).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string_pretty(&doc).unwrap(),
                "{v}"
            );
        }
    }
}
