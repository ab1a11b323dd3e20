//! `Quoter`: a prepared quote (docs/quote.md "Prepared quotes"). The
//! request is read once; usage and quantities are then set one at a time as
//! decimal strings and the total and lines read as strings, without JSON
//! crossing the boundary. `quote()` gives the very object `book.quote()`
//! gives for the same request.
//!
//! `book.quoter()` returns the JS class of `js/quoter.js` around the
//! `QuoterCore` defined here: after a change it fetches the total and every
//! line's amount in one string (`refresh`), and the lines' products and
//! kinds only when they change (`layout`), so reading a quote decodes one
//! string instead of one per value.

use crate::convert::{json_in, text_out};
use crate::error;
use crate::price_book::PriceBook;
use rating::json::join;
use rating::money::fmt_money;
use rating::quote::LineKind;
use rating::quoter::unsafe_number;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/quoter.js")]
extern "C" {
    /// The JS face of a quoter (`js/quoter.js`; its TypeScript declaration
    /// is `Quoter` in `ts/api.d.ts`).
    #[wasm_bindgen(js_name = Quoter)]
    type QuoterJs;

    #[wasm_bindgen(constructor, js_class = "Quoter")]
    fn new(core: Quoter, plan: &str, currency: &str) -> QuoterJs;
}

/// A quote request kept in the WebAssembly instance and priced again only
/// when something changed: the engine side of the `Quoter` that
/// `book.quoter(request)` returns (`js/quoter.js`), which keeps the strings
/// of the last pricing in JS.
#[wasm_bindgen(js_name = QuoterCore)]
pub struct Quoter {
    book: Rc<rating::PriceBook>,
    q: rating::quoter::Quoter,
    /// The lines' products, kinds and units as last given by `refresh`,
    /// and how many times they changed.
    layout: Vec<(String, LineKind, Option<String>)>,
    layout_version: u32,
}

#[wasm_bindgen]
impl PriceBook {
    /// Prepares quotes of one request whose usage (and quantities, add-ons)
    /// change: a quote request as `quote()` takes it, `usage` optional.
    /// Throws a `RatingError` for a bad request, an unknown plan or
    /// currency, with the code and path `quote()` would give.
    #[wasm_bindgen(unchecked_return_type = "Quoter")]
    pub fn quoter(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "QuoterRequest | string",
            param_description = "`{plan, currency?, addons?, customer?, at?, quantities?, periods?, include_setup?, usage?}`: JSON text or an object"
        )]
        request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let value = json_in(&request, "the request")?;
        let q = rating::quoter::Quoter::new(&self.book, &value).map_err(|e| error::to_js(&e))?;
        // Neither changes once the quoter is made.
        let plan = q.request().plan.clone();
        let currency = q.currency(&self.book).to_string();
        let core = Quoter {
            book: Rc::clone(&self.book),
            q,
            layout: Vec::new(),
            layout_version: 0,
        };
        Ok(QuoterJs::new(core, &plan, &currency).into())
    }
}

/// Where a number is not a safe integer, its error; else its text.
fn safe_integer(v: &JsValue, path: impl Fn() -> String) -> Result<Option<String>, JsValue> {
    let Some(n) = v.as_f64() else { return Ok(None) };
    // Number.isSafeInteger: a whole number of magnitude below 2^53.
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // The cast is exact: a safe integer fits an i64.
        Ok(Some((n as i64).to_string()))
    } else {
        Err(error::to_js(&unsafe_number(&path())))
    }
}

#[wasm_bindgen(js_class = QuoterCore)]
impl Quoter {
    /// Sets the usage of a metered product: a decimal string (`"12500"`,
    /// `"0.5"`) or a safe integer; for a keyed or amount-aggregated product,
    /// what the request's `usage` takes for it. Throws a `RatingError` as
    /// `quote()` would for that `usage` entry (`unknown_product`,
    /// `invalid_decimal`, `negative_value`, ... at `usage.<product>`), and
    /// then keeps the previous usage.
    pub fn set(
        &mut self,
        product: &str,
        #[wasm_bindgen(unchecked_param_type = "string | number | UsageInput")] usage: JsValue,
    ) -> Result<(), JsValue> {
        let text = match usage.as_string() {
            Some(s) => Some(s),
            None => safe_integer(&usage, || join("usage", product))?,
        };
        let r = match text {
            Some(t) => self.q.set_usage_text(&self.book, product, &t),
            None => {
                let v = json_in(&usage, "the usage")?;
                self.q.set_usage(&self.book, product, &v)
            }
        };
        r.map_err(|e| error::to_js(&e))
    }

    /// `set` for a string: the JS side knows the type, so the text comes
    /// in as an argument without a second call to read it.
    #[wasm_bindgen(js_name = setText)]
    pub fn set_text(&mut self, product: &str, usage: &str) -> Result<(), JsValue> {
        self.q
            .set_usage_text(&self.book, product, usage)
            .map_err(|e| error::to_js(&e))
    }

    /// Prices the request if it changed and returns, space-separated, the
    /// layout version (see `layout`), the total and every line's amount.
    /// Throws the quote's `RatingError` when it cannot be priced.
    pub fn refresh(&mut self) -> Result<String, JsValue> {
        let p = self.q.priced(&self.book).map_err(error::to_js)?;
        let same = self.layout.len() == p.lines.len()
            && self
                .layout
                .iter()
                .zip(&p.lines)
                .all(|((product, kind, unit), l)| *product == l.product && *kind == l.kind && *unit == l.currency);
        if !same {
            self.layout = p
                .lines
                .iter()
                .map(|l| (l.product.clone(), l.kind, l.currency.clone()))
                .collect();
            self.layout_version = self.layout_version.wrapping_add(1);
        }
        let mut out = String::with_capacity(16 + 12 * p.lines.len());
        out.push_str(&self.layout_version.to_string());
        for m in std::iter::once(&p.total).chain(p.lines.iter().map(|l| &l.amount)) {
            out.push(' ');
            out.push_str(&fmt_money(m.value, m.scale));
        }
        Ok(out)
    }

    /// The lines' products, kinds and units as last given by `refresh`, as
    /// JSON text: `[[product, kind, unit or null], ...]`.
    pub fn layout(&self) -> Result<String, JsValue> {
        let rows: Vec<(&str, &str, Option<&str>)> = self
            .layout
            .iter()
            .map(|(p, k, u)| (p.as_str(), kind_name(*k), u.as_deref()))
            .collect();
        text_out(&rows)
    }

    /// Removes a product's usage, as if the request did not name it.
    pub fn unset(&mut self, product: &str) {
        self.q.unset_usage(product)
    }

    /// Sets the quantity of a seat, recurring or one-time product (seats,
    /// licences): a decimal string or a safe integer. Throws as `quote()`
    /// would for `quantities.<product>`.
    #[wasm_bindgen(js_name = setQuantity)]
    pub fn set_quantity(
        &mut self,
        product: &str,
        #[wasm_bindgen(unchecked_param_type = "string | number")] quantity: JsValue,
    ) -> Result<(), JsValue> {
        let text = match quantity.as_string() {
            Some(s) => s,
            None => match safe_integer(&quantity, || join("quantities", product))? {
                Some(s) => s,
                None => {
                    let p = join("quantities", product);
                    return Err(error::problem_to_js(rating::Problem::at(
                        rating::error::codes::INVALID_TYPE,
                        p,
                        "expected a decimal string or a safe integer",
                    )));
                }
            },
        };
        self.q
            .set_quantity(product, &serde_json::Value::String(text))
            .map_err(|e| error::to_js(&e))
    }

    /// Removes a product's quantity: the plan's default applies.
    #[wasm_bindgen(js_name = unsetQuantity)]
    pub fn unset_quantity(&mut self, product: &str) {
        self.q.unset_quantity(product)
    }

    /// Adds an add-on plan (after those already there) or removes it. An
    /// unknown or base plan is refused when the quote is read, as `quote()`
    /// refuses it in `addons`.
    #[wasm_bindgen(js_name = setAddon)]
    pub fn set_addon(&mut self, addon: &str, on: bool) {
        self.q.set_addon(addon, on)
    }

    /// Throws the `RatingError` of reading line `i`: the quote's own error
    /// when it cannot be priced, else `out_of_range` when there is no line
    /// `i` (the JS side reads lines that exist without calling in).
    #[wasm_bindgen(js_name = checkLine)]
    pub fn check_line(&mut self, i: f64) -> Result<(), JsValue> {
        let p = self.q.priced(&self.book).map_err(error::to_js)?;
        let n = p.lines.len();
        if i.fract() == 0.0 && i >= 0.0 && i < n as f64 {
            return Ok(());
        }
        // Not `{i}` of an f64: that would bring float formatting into the
        // bundle for one message.
        let which = if i.fract() == 0.0 && (0.0..1e9).contains(&i) {
            format!("no line {}", i as u32)
        } else {
            "no such line".to_string()
        };
        Err(error::problem_to_js(rating::Problem::general(
            rating::error::codes::OUT_OF_RANGE,
            format!("{which}: the quote has {n} lines"),
        )))
    }

    /// The quote as the engine's compact JSON text (as `book.quoteJson()`).
    #[wasm_bindgen(js_name = quoteJson)]
    pub fn quote_json(&self) -> Result<String, JsValue> {
        let q = self.q.quote(&self.book).map_err(|e| error::to_js(&e))?;
        // The same writer as book.quoteJson(): serde's would be a second
        // copy of the quote's serialization in the bundle.
        Ok(rating::quote_json::quote_text(&q))
    }
}

fn kind_name(k: LineKind) -> &'static str {
    match k {
        LineKind::Recurring => "recurring",
        LineKind::Seat => "seat",
        LineKind::Usage => "usage",
        LineKind::Setup => "setup",
        LineKind::Discount => "discount",
        LineKind::Proration => "proration",
        LineKind::Credit => "credit",
        LineKind::Minimum => "minimum",
    }
}
