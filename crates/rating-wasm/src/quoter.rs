//! `Quoter`: a prepared quote (docs/quote.md "Prepared quotes"). The
//! request is read once; usage and quantities are then set one at a time as
//! decimal strings and the total and lines read as strings, without JSON
//! crossing the boundary. `quote()` gives the very object `book.quote()`
//! gives for the same request.

use crate::convert::{json_in, text_out};
use crate::error;
use crate::price_book::PriceBook;
use rating::json::join;
use rating::money::fmt_money;
use rating::quote::LineKind;
use rating::quote::Money;
use rating::quoter::{unsafe_number, Priced, PricedLine};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A quote request kept in the WebAssembly instance and priced again only
/// when something changed. Create one with `book.quoter(request)`.
#[wasm_bindgen]
pub struct Quoter {
    book: Rc<rating::PriceBook>,
    q: rating::quoter::Quoter,
    shown: Shown,
}

/// The JS strings last handed out, kept while what they show is unchanged:
/// a string made in WebAssembly is copied into a new JS string on every
/// return, and most lines (flat fees, usage within the allowance) keep
/// their amount from one quote to the next.
#[derive(Default)]
struct Shown {
    total: Option<(Money, JsValue)>,
    lines: Vec<ShownLine>,
}

#[derive(Default)]
struct ShownLine {
    amount: Option<(Money, JsValue)>,
    product: Option<(String, JsValue)>,
}

/// A short ASCII string (an amount, an id) made in JS by
/// `String.fromCharCode` rather than decoded from UTF-8 by the glue's
/// `TextDecoder`, whose fixed cost per call is several times that of
/// pricing one line in Chromium; anything else is decoded as usual.
fn js_string(s: &str) -> JsValue {
    const SHORT: usize = 32;
    if s.len() > SHORT || !s.is_ascii() {
        return JsValue::from_str(s);
    }
    let mut units = [0u16; SHORT];
    for (u, b) in units.iter_mut().zip(s.bytes()) {
        *u = u16::from(b);
    }
    js_sys::JsString::from_char_code(&units[..s.len()]).into()
}

/// `money` as a JS string, from `cache` when it shows the same amount.
fn money_js(cache: &mut Option<(Money, JsValue)>, money: Money) -> JsValue {
    match cache {
        Some((m, js)) if *m == money => js.clone(),
        _ => {
            let js = js_string(&fmt_money(money.value, money.scale));
            *cache = Some((money, js.clone()));
            js
        }
    }
}

#[wasm_bindgen]
impl PriceBook {
    /// Prepares quotes of one request whose usage (and quantities, add-ons)
    /// change: a quote request as `quote()` takes it, `usage` optional.
    /// Throws a `RatingError` for a bad request, an unknown plan or
    /// currency, with the code and path `quote()` would give.
    pub fn quoter(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "QuoterRequest | string",
            param_description = "`{plan, currency?, addons?, customer?, at?, quantities?, periods?, include_setup?, usage?}`: JSON text or an object"
        )]
        request: JsValue,
    ) -> Result<Quoter, JsValue> {
        let value = json_in(&request, "the request")?;
        let q = rating::quoter::Quoter::new(&self.book, &value).map_err(|e| error::to_js(&e))?;
        Ok(Quoter {
            book: Rc::clone(&self.book),
            q,
            shown: Shown::default(),
        })
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

#[wasm_bindgen]
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

    /// The quote's currency.
    #[wasm_bindgen(getter)]
    pub fn currency(&self) -> String {
        self.q.currency(&self.book).to_string()
    }

    /// The base plan id.
    #[wasm_bindgen(getter)]
    pub fn plan(&self) -> String {
        self.q.request().plan.clone()
    }

    /// The total, a decimal string with the currency's digits (`"74.00"`):
    /// the `total` of `quote()`. Throws the `RatingError` `quote()` would
    /// (`limit_exceeded`, `product_not_in_plan`, ...).
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn total(&mut self) -> Result<JsValue, JsValue> {
        let p = self.q.priced(&self.book).map_err(error::to_js)?;
        Ok(money_js(&mut self.shown.total, p.total))
    }

    /// The number of lines of the quote.
    #[wasm_bindgen(getter, js_name = lineCount)]
    pub fn line_count(&mut self) -> Result<usize, JsValue> {
        Ok(self.priced()?.lines.len())
    }

    /// Line `i`'s rounded amount, as in `quote().lines[i].amount`.
    #[wasm_bindgen(js_name = lineAmount, unchecked_return_type = "string")]
    pub fn line_amount(&mut self, i: usize) -> Result<JsValue, JsValue> {
        let (l, shown) = self.line(i)?;
        Ok(money_js(&mut shown.amount, l.amount))
    }

    /// Line `i`'s product id (the plan id for setup-fee and discount lines).
    #[wasm_bindgen(js_name = lineProduct, unchecked_return_type = "string")]
    pub fn line_product(&mut self, i: usize) -> Result<JsValue, JsValue> {
        let (l, shown) = self.line(i)?;
        Ok(match &shown.product {
            Some((p, js)) if *p == l.product => js.clone(),
            _ => {
                let js = js_string(&l.product);
                shown.product = Some((l.product.clone(), js.clone()));
                js
            }
        })
    }

    /// Line `i`'s kind (`"recurring"`, `"seat"`, `"usage"`, ...).
    #[wasm_bindgen(js_name = lineKind, unchecked_return_type = "LineKind")]
    pub fn line_kind(&mut self, i: usize) -> Result<String, JsValue> {
        Ok(kind_name(self.line(i)?.0.kind).to_string())
    }

    /// Line `i`'s unit when it is not the quote currency (credits), else
    /// `undefined`.
    #[wasm_bindgen(js_name = lineCurrency)]
    pub fn line_currency(&mut self, i: usize) -> Result<Option<String>, JsValue> {
        Ok(self.line(i)?.0.currency.clone())
    }

    /// The quote's lines, as `quote().lines`.
    #[wasm_bindgen(unchecked_return_type = "QuoteLine[]")]
    pub fn lines(&self) -> Result<JsValue, JsValue> {
        let q = self.q.quote(&self.book).map_err(|e| error::to_js(&e))?;
        js_sys::JSON::parse(&text_out(&q.lines)?)
    }

    /// The whole quote: the same object as `book.quote(request)` for the
    /// request as it stands.
    #[wasm_bindgen(unchecked_return_type = "Quote")]
    pub fn quote(&self) -> Result<JsValue, JsValue> {
        js_sys::JSON::parse(&self.quote_json()?)
    }

    /// The quote as the engine's compact JSON text (as `book.quoteJson()`).
    #[wasm_bindgen(js_name = quoteJson)]
    pub fn quote_json(&self) -> Result<String, JsValue> {
        let q = self.q.quote(&self.book).map_err(|e| error::to_js(&e))?;
        text_out(&q)
    }
}

impl Quoter {
    fn priced(&mut self) -> Result<&Priced, JsValue> {
        self.q.priced(&self.book).map_err(error::to_js)
    }

    /// Line `i` of the pricing, with the JS strings last shown for it.
    fn line(&mut self, i: usize) -> Result<(&PricedLine, &mut ShownLine), JsValue> {
        let p = self.q.priced(&self.book).map_err(error::to_js)?;
        let Some(l) = p.lines.get(i) else {
            return Err(error::problem_to_js(rating::Problem::general(
                rating::error::codes::OUT_OF_RANGE,
                format!("no line {i}: the quote has {}", p.lines.len()),
            )));
        };
        if self.shown.lines.len() <= i {
            self.shown.lines.resize_with(i + 1, ShownLine::default);
        }
        Ok((l, &mut self.shown.lines[i]))
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
    }
}
