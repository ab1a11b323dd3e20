//! The fast reader: events of the common shape (the standard attributes as
//! plain strings or `null`, `data` an object of plain strings and numbers)
//! read in one pass over the text, borrowing every string.
//!
//! It is strict: anything it does not fully understand (escapes, control
//! characters, extension attributes, repeated keys, other value types,
//! malformed JSON) makes it give up, and the general path — a full JSON
//! parse and [`super::parse_event`] — decides. So it never accepts what the
//! general path would refuse, and reads what it accepts the same way (a
//! property test holds the two equal).

use super::{fnv1a, mix, Field, Text};

/// The attributes of an event, borrowed from its text.
#[cfg(test)]
mod tests {
    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control() {
        let plain = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"abc".to_vec(), b"abcdefghijklmnop".to_vec()];
        for len in 0..20 {
            for pos in 0..len {
                for c in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut v: Vec<u8> = (0..len).map(|i| b"az\x7f\xc3\xa9 !#"[i % 8]).collect();
                    v[pos] = c;
                    cases.push(v);
                }
            }
        }
        for c in cases {
            let stop = crate::json::string_stop(&c, 0, true);
            assert_eq!((stop < c.len()).then_some(stop), plain(&c), "{c:?}");
            let plain2 = c.iter().position(|&x| x == b'"' || x == b'\\').unwrap_or(c.len());
            assert_eq!(crate::json::string_stop(&c, 0, false), plain2, "{c:?}");
        }
    }
}

#[derive(Default)]
pub(super) struct Wire<'a> {
    pub specversion: Text<'a>,
    pub id: Text<'a>,
    pub source: Text<'a>,
    pub kind: Text<'a>,
    pub subject: Text<'a>,
    pub time: Text<'a>,
    pub datacontenttype: Text<'a>,
    pub data: Field<Option<DataObj<'a>>>,
}

/// A `data` object: its text and what the event needs of it.
#[derive(Default)]
pub(super) struct DataObj<'a> {
    pub text: &'a str,
    pub entries: usize,
    /// Sum of the entries' fingerprints (as `object_fingerprint` makes it).
    pub sum: u64,
    /// `quantity` / `amount` as written (string content or number).
    pub quantity: Option<&'a str>,
    pub amount: Option<&'a str>,
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Most entries a `data` object may have on the fast path.
const MAX_ENTRIES: usize = 16;

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn byte(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i + lit.len();
        (self.b.get(self.i..end)? == lit).then(|| self.i = end)
    }

    /// A string without escapes or control characters: its content.
    fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let start = self.i;
        let end = crate::json::string_stop(self.b, start, true);
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        self.s.get(start..end)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// A number in JSON's grammar: its text.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        // Exponents are left to the general path: serde_json keeps a
        // number's digits as written but rewrites its exponent (`1e3` is
        // `1e+3` to it), and fingerprints and price keys follow its text.
        if let Some(b'e' | b'E') = self.peek() {
            return None;
        }
        self.s.get(start..self.i)
    }

    /// `null` or a string.
    fn text(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// `null` or an object of plain strings and numbers.
    fn data(&mut self) -> Option<Option<DataObj<'a>>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        let start = self.i;
        self.byte(b'{')?;
        self.ws();
        let mut out = DataObj::default();
        let mut keys: [&str; MAX_ENTRIES] = [""; MAX_ENTRIES];
        if self.peek()? != b'}' {
            loop {
                let k = self.string()?;
                if out.entries == MAX_ENTRIES || keys[..out.entries].contains(&k) {
                    return None;
                }
                keys[out.entries] = k;
                out.entries += 1;
                self.ws();
                self.byte(b':')?;
                self.ws();
                let (value, fp) = if self.peek()? == b'"' {
                    let v = self.string()?;
                    (v, mix(5 ^ fnv1a(v.as_bytes())))
                } else {
                    let v = self.number()?;
                    (v, mix(4 ^ fnv1a(v.as_bytes())))
                };
                out.sum = out.sum.wrapping_add(mix(fnv1a(k.as_bytes()) ^ fp.rotate_left(17)));
                match k {
                    "quantity" => out.quantity = Some(value),
                    "amount" => out.amount = Some(value),
                    _ => {}
                }
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.byte(b'}')?;
        out.text = self.s.get(start..self.i)?;
        Some(Some(out))
    }
}

/// Reads an event of the common shape; `None`: leave it to the general path.
pub(super) fn read(text: &str) -> Option<Wire<'_>> {
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut w = Wire::default();
    let mut seen = 0u8;
    r.ws();
    r.byte(b'{')?;
    r.ws();
    if r.peek()? != b'}' {
        loop {
            let key = r.string()?;
            r.ws();
            r.byte(b':')?;
            r.ws();
            let bit = match key {
                "specversion" => 0,
                "id" => 1,
                "source" => 2,
                "type" => 3,
                "subject" => 4,
                "time" => 5,
                "datacontenttype" => 6,
                "data" => 7,
                _ => return None,
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            if bit == 7 {
                w.data = Field::Present(r.data()?);
            } else {
                let v = Field::Present(r.text()?);
                match bit {
                    0 => w.specversion = v,
                    1 => w.id = v,
                    2 => w.source = v,
                    3 => w.kind = v,
                    4 => w.subject = v,
                    5 => w.time = v,
                    _ => w.datacontenttype = v,
                }
            }
            r.ws();
            match r.peek()? {
                b',' => {
                    r.i += 1;
                    r.ws();
                }
                b'}' => break,
                _ => return None,
            }
        }
    }
    r.byte(b'}')?;
    r.ws();
    (r.i == r.b.len()).then_some(w)
}
