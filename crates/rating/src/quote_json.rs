//! Quotes and comparisons written straight to JSON text, field by field:
//! the same bytes `serde_json::to_string` gives for their `Serialize`
//! implementations (a test checks every vector), without serde's
//! serializer machinery for each type. The WebAssembly bindings use it to
//! keep their bundles small (docs/architecture.md, "Bundle size").

use crate::error::Problem;
use crate::money::{fmt_exact, fmt_money, fmt_qty};
use crate::period::{fmt_timestamp, Period, PeriodUnit};
use crate::quote::{
    ComparedPlan, Comparison, Dropped, Exact, Limit, Line, LineKind, Money, OverrideRef, Quote, TierLine,
};

/// A quote as compact JSON text.
pub fn quote_text(q: &Quote) -> String {
    let mut w = Writer(String::with_capacity(256 + 256 * q.lines.len()));
    w.quote(q);
    w.0
}

/// A comparison as compact JSON text.
pub fn compare_text(c: &Comparison) -> String {
    let mut w = Writer(String::with_capacity(128 + 96 * c.plans.len()));
    w.comparison(c);
    w.0
}

/// Appends `s` as a JSON string, escaped as serde_json escapes: `"`, `\`
/// and control characters only (`\b \t \n \f \r`, else `\u00xx`).
pub fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The text being written; `{`/`[` state is the caller's.
struct Writer(String);

impl Writer {
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// `,"name":` (or `"name":` first in an object, `first` true).
    fn key(&mut self, name: &str, first: bool) {
        if !first {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
    }

    fn str(&mut self, s: &str) {
        push_json_str(&mut self.0, s);
    }

    fn field(&mut self, name: &str, value: &str) {
        self.key(name, false);
        self.str(value);
    }

    fn opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.field(name, v);
        }
    }

    fn uint(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut n = n;
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &buf[i..] {
            self.0.push(char::from(d));
        }
    }

    fn money(m: &Money) -> String {
        fmt_money(m.value, m.scale)
    }

    fn exact(e: &Exact) -> String {
        fmt_exact(e.value, e.min_scale)
    }

    fn period(&mut self, p: &Period) {
        self.raw("{\"unit\":\"");
        self.raw(match p.unit {
            PeriodUnit::Hour => "hour",
            PeriodUnit::Day => "day",
            PeriodUnit::Week => "week",
            PeriodUnit::Month => "month",
            PeriodUnit::Year => "year",
        });
        self.raw("\",\"length\":");
        self.uint(u64::from(p.length));
        self.raw("}");
    }

    fn quote(&mut self, q: &Quote) {
        self.raw("{");
        self.key("currency", true);
        self.str(q.currency);
        self.field("plan", q.plan);
        if !q.addons.is_empty() {
            self.key("addons", false);
            self.raw("[");
            for (i, a) in q.addons.iter().enumerate() {
                if i > 0 {
                    self.raw(",");
                }
                self.str(a);
            }
            self.raw("]");
        }
        self.key("period", false);
        self.period(&q.period);
        if let Some(n) = q.periods {
            self.key("periods", false);
            self.uint(u64::from(n));
        }
        self.key("lines", false);
        self.raw("[");
        for (i, l) in q.lines.iter().enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.line(l);
        }
        self.raw("]");
        self.field("subtotal", &Self::money(&q.subtotal));
        self.field("discount", &Self::money(&q.discount));
        self.field("total", &Self::money(&q.total));
        if let Some(credits) = &q.credits {
            self.key("credits", false);
            self.raw("{");
            for (i, (k, m)) in credits.iter().enumerate() {
                self.key_str(k, i == 0);
                self.str(&Self::money(m));
            }
            self.raw("}");
        }
        if let Some(limits) = &q.limits {
            self.key("limits", false);
            self.raw("{");
            for (i, (k, Limit(l))) in limits.iter().enumerate() {
                self.key_str(k, i == 0);
                match l {
                    Some(d) => self.str(&fmt_qty(*d)),
                    None => self.raw("\"unlimited\""),
                }
            }
            self.raw("}");
        }
        if let Some(features) = &q.features {
            self.key("features", false);
            self.raw("[");
            for (i, f) in features.iter().enumerate() {
                if i > 0 {
                    self.raw(",");
                }
                self.str(f);
            }
            self.raw("]");
        }
        if let Some(dropped) = &q.dropped {
            self.key("dropped", false);
            self.raw("[");
            for (i, d) in dropped.iter().enumerate() {
                if i > 0 {
                    self.raw(",");
                }
                self.dropped(d);
            }
            self.raw("]");
        }
        self.field("price_book", q.price_book);
        self.raw("}");
    }

    /// An object key that is data (escaped like any string).
    fn key_str(&mut self, k: &str, first: bool) {
        if !first {
            self.0.push(',');
        }
        self.str(k);
        self.0.push(':');
    }

    fn dropped(&mut self, d: &Dropped) {
        self.raw("{");
        self.key("product", true);
        self.str(d.product);
        self.field("price_key", d.price_key);
        self.field("quantity", &fmt_qty(d.quantity.0));
        self.raw("}");
    }

    fn line(&mut self, l: &Line) {
        self.raw("{");
        self.key("plan", true);
        self.str(l.plan);
        self.field("product", l.product);
        self.opt("price_key", l.price_key);
        if let Some(b) = l.price_key_remapped {
            self.key("price_key_remapped", false);
            self.raw(if b { "true" } else { "false" });
        }
        self.key("kind", false);
        self.raw(match l.kind {
            LineKind::Recurring => "\"recurring\"",
            LineKind::Seat => "\"seat\"",
            LineKind::Usage => "\"usage\"",
            LineKind::Setup => "\"setup\"",
            LineKind::Discount => "\"discount\"",
            LineKind::Proration => "\"proration\"",
            LineKind::Credit => "\"credit\"",
            LineKind::Minimum => "\"minimum\"",
        });
        self.field("description", &l.description.text());
        self.field("quantity", &fmt_qty(l.quantity.0));
        self.opt("raw_quantity", l.raw_quantity.map(|q| fmt_qty(q.0)).as_deref());
        self.opt("unit", l.unit);
        self.opt("transactions", l.transactions.map(|q| fmt_qty(q.0)).as_deref());
        self.opt("included", l.included.map(|q| fmt_qty(q.0)).as_deref());
        self.opt("billable", l.billable.map(|q| fmt_qty(q.0)).as_deref());
        self.field("amount", &Self::money(&l.amount));
        self.opt("currency", l.currency);
        if let Some(tiers) = &l.tiers {
            self.key("tiers", false);
            self.raw("[");
            for (i, t) in tiers.iter().enumerate() {
                if i > 0 {
                    self.raw(",");
                }
                self.tier(t);
            }
            self.raw("]");
        }
        if let Some(o) = &l.override_ref {
            self.key("override", false);
            self.override_ref(o);
        }
        self.raw("}");
    }

    fn tier(&mut self, t: &TierLine) {
        self.raw("{\"index\":");
        self.uint(t.index as u64);
        self.field("quantity", &fmt_qty(t.quantity.0));
        self.opt("unit_amount", t.unit_amount.as_ref().map(Self::exact).as_deref());
        self.opt("percent", t.percent.map(|q| fmt_qty(q.0)).as_deref());
        self.field("flat_amount", &Self::exact(&t.flat_amount));
        self.field("amount", &Self::exact(&t.amount));
        self.raw("}");
    }

    fn override_ref(&mut self, o: &OverrideRef) {
        self.raw("{");
        self.key("customer", true);
        self.str(o.customer);
        self.opt("from", o.from.map(|t| fmt_timestamp(t.0)).as_deref());
        self.opt("until", o.until.map(|t| fmt_timestamp(t.0)).as_deref());
        self.raw("}");
    }

    fn comparison(&mut self, c: &Comparison) {
        self.raw("{");
        self.key("currency", true);
        self.str(c.currency);
        self.key("plans", false);
        self.raw("[");
        for (i, p) in c.plans.iter().enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.compared(p);
        }
        self.raw("]");
        self.key("cheapest", false);
        match c.cheapest {
            Some(p) => self.str(p),
            None => self.raw("null"),
        }
        self.field("price_book", c.price_book);
        self.raw("}");
    }

    fn compared(&mut self, p: &ComparedPlan) {
        self.raw("{");
        self.key("plan", true);
        self.str(p.plan);
        self.field("name", p.name);
        self.opt("total", p.total.as_ref().map(Self::money).as_deref());
        if let Some(e) = &p.error {
            self.key("error", false);
            self.problem(e);
        }
        self.raw("}");
    }

    fn problem(&mut self, p: &Problem) {
        self.raw("{");
        self.key("code", true);
        self.str(p.code.as_str());
        self.field("message", &p.message);
        self.opt("path", p.path.as_deref());
        self.raw("}");
    }
}
