//! Re-indents compact JSON into the layout of `serde_json`'s pretty printer
//! (two spaces, `"key": value`, `[]` and `{}` for empty containers) while
//! it is written.
//!
//! A replay holds its invoices as compact JSON text and prints them inside
//! a pretty document. Parsing each one back into a `serde_json::Value` to
//! print it again cost more than rating the events did; this writer lets
//! the whole document be serialized compactly (the stored invoices
//! verbatim) and indents the bytes on the way out, with identical output.

use std::io::{self, Write};

/// A [`Write`] adapter: compact JSON in, pretty JSON out.
pub struct PrettyWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Just after `{` or `[`: an immediate close keeps them together.
    opened: bool,
}

const FLUSH_AT: usize = 1 << 16;

impl<W: Write> PrettyWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> PrettyWriter<W> {
        PrettyWriter {
            inner,
            buf: Vec::with_capacity(FLUSH_AT + 1024),
            depth: 0,
            in_string: false,
            escaped: false,
            opened: false,
        }
    }

    fn newline(&mut self) {
        self.buf.push(b'\n');
        for _ in 0..self.depth {
            self.buf.extend_from_slice(b"  ");
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                // Copy the run up to the next quote or backslash at once.
                let run = bytes[i..].iter().position(|&b| b == b'"' || b == b'\\');
                if self.escaped {
                    self.buf.push(bytes[i]);
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match run {
                    None => {
                        self.buf.extend_from_slice(&bytes[i..]);
                        return;
                    }
                    Some(n) => {
                        self.buf.extend_from_slice(&bytes[i..i + n + 1]);
                        if bytes[i + n] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                        }
                        i += n + 1;
                    }
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            if self.opened {
                self.opened = false;
                if b == b'}' || b == b']' {
                    self.depth = self.depth.saturating_sub(1);
                    self.buf.push(b);
                    continue;
                }
                self.newline();
            }
            match b {
                b'{' | b'[' => {
                    self.buf.push(b);
                    self.depth += 1;
                    self.opened = true;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.newline();
                    self.buf.push(b);
                }
                b',' => {
                    self.buf.push(b',');
                    self.newline();
                }
                b':' => self.buf.extend_from_slice(b": "),
                b'"' => {
                    self.buf.push(b'"');
                    self.in_string = true;
                }
                _ => self.buf.push(b),
            }
        }
    }

    /// Writes what is buffered and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush_buf()?;
        Ok(self.inner)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Write for PrettyWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.push(bytes);
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pretty(v: &serde_json::Value) -> String {
        let mut w = PrettyWriter::new(Vec::new());
        serde_json::to_writer(&mut w, v).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn same_as_serde_json_pretty() {
        let cases = [
            json!({}),
            json!([]),
            json!({"a": [], "b": {}, "c": [1, 2, {"d": null}], "e": "x"}),
            json!([[[]], [{}], {"k": [true, false]}]),
            json!({"s": "quote \" and \\ backslash, {braces} [brackets]: colon, comma", "n": 1.5e3}),
            json!({"unicode": "é ü \u{1F600}", "ctrl": "\n\t\u{0001}"}),
            json!("just a string"),
            json!(42),
        ];
        for v in cases {
            assert_eq!(pretty(&v), serde_json::to_string_pretty(&v).unwrap(), "{v}");
        }
    }

    #[test]
    fn split_writes_give_the_same_bytes() {
        let v = json!({"a": ["x\\\"y", {}, []], "b": {"c": "d,e:f"}});
        let compact = serde_json::to_vec(&v).unwrap();
        for chunk in 1..compact.len() {
            let mut w = PrettyWriter::new(Vec::new());
            for part in compact.chunks(chunk) {
                w.write_all(part).unwrap();
            }
            let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
            assert_eq!(out, serde_json::to_string_pretty(&v).unwrap(), "chunk {chunk}");
        }
    }
}
