//! Prepared quotes (docs/quote.md "Prepared quotes"): a quote request read
//! once, whose usage and quantities are then changed one at a time, priced
//! again only when something changed and read without building JSON.
//!
//! Pricing is [`quote`] itself on the kept request, so a quoter's result is
//! always the quote of the same request: values set here are read by the
//! same readers as a request's fields and refused with the same code and
//! path (`usage.messages`).

use crate::error::{codes, Error, Problem};
use crate::json::{join, Reader};
use crate::money::parse_decimal_text;
use crate::price_book::{Aggregation, PriceBook, ProductType};
use crate::quote::{
    currency_and_base, quote, read_request, read_usage_of, LineKind, Money, Quote, QuoteRequest, Usage,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// A quote request kept between quotes, with its last pricing.
#[derive(Debug, Clone)]
pub struct Quoter {
    req: QuoteRequest,
    /// Whether `priced` is the pricing of `req`.
    fresh: bool,
    priced: Result<Priced, Error>,
}

/// What a quote's readers need of it, owned: the total and the lines'
/// products, kinds and amounts (the rest comes from [`Quoter::quote`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    /// The quote's total.
    pub total: Money,
    /// Its lines, in the quote's order.
    pub lines: Vec<PricedLine>,
}

/// One line of a [`Priced`].
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    /// Product id (plan id for setup-fee and discount lines).
    pub product: String,
    /// What the line is.
    pub kind: LineKind,
    /// Rounded amount.
    pub amount: Money,
    /// Unit, when not the quote currency.
    pub currency: Option<String>,
}

impl Priced {
    fn empty() -> Priced {
        Priced {
            total: Money {
                value: Decimal::ZERO,
                scale: 0,
            },
            lines: Vec::new(),
        }
    }
}

/// Whether two decimals are the same to the digit (`1.0` is not `1`), so
/// that keeping the old one changes nothing in what the quote prints.
fn same(a: &Decimal, b: &Decimal) -> bool {
    a == b && a.scale() == b.scale()
}

impl Quoter {
    /// Reads a quote request (docs/quote.md "Request"; `usage` may be left
    /// out and set later) and checks its plan and currency, refusing them
    /// as [`quote`] would.
    pub fn new(book: &PriceBook, request: &Value) -> Result<Quoter, Error> {
        Quoter::from_request(book, read_request(book, request, true)?)
    }

    /// A quoter for a parsed request.
    pub fn from_request(book: &PriceBook, req: QuoteRequest) -> Result<Quoter, Error> {
        currency_and_base(book, &req)?;
        Ok(Quoter {
            req,
            fresh: false,
            priced: Ok(Priced::empty()),
        })
    }

    /// The request as it stands.
    pub fn request(&self) -> &QuoteRequest {
        &self.req
    }

    /// The quote's currency: the request's, else the book's.
    pub fn currency<'a>(&'a self, book: &'a PriceBook) -> &'a str {
        self.req.currency.as_deref().unwrap_or(book.doc().currency.as_str())
    }

    /// Sets the usage of a metered product, given as a request's
    /// `usage.<product>` value. A refused value leaves the usage as it was.
    pub fn set_usage(&mut self, book: &PriceBook, product: &str, v: &Value) -> Result<(), Error> {
        let mut r = Reader::default();
        match read_usage_of(&mut r, book, product, v) {
            Some(u) if !r.failed() => {
                self.put_usage(product, u);
                Ok(())
            }
            _ => Err(Error::many(codes::INVALID_REQUEST, "the request", r.problems)),
        }
    }

    /// Sets the usage of a metered product to a decimal given as text: the
    /// usual case, read without building a JSON value.
    pub fn set_usage_text(&mut self, book: &PriceBook, product: &str, text: &str) -> Result<(), Error> {
        let plain = book.product(product).is_some_and(|p| {
            p.kind == ProductType::Metered && p.price_key_label.is_none() && p.aggregation() != Aggregation::Amount
        });
        match parse_decimal_text(text) {
            Ok(d) if plain && (d.is_zero() || !d.is_sign_negative()) => {
                self.put_usage(product, Usage::Quantity(d));
                Ok(())
            }
            // Anything else is refused, or read, as the request's field is.
            _ => self.set_usage(book, product, &Value::String(text.to_string())),
        }
    }

    fn put_usage(&mut self, product: &str, u: Usage) {
        match self.req.usage.get_mut(product) {
            Some(Usage::Quantity(old)) if matches!(&u, Usage::Quantity(d) if same(old, d)) => {}
            Some(old) => {
                *old = u;
                self.fresh = false;
            }
            None => {
                self.req.usage.insert(product.to_string(), u);
                self.fresh = false;
            }
        }
    }

    /// Removes a product's usage (as if the request did not name it).
    pub fn unset_usage(&mut self, product: &str) {
        if self.req.usage.shift_remove(product).is_some() {
            self.fresh = false;
        }
    }

    /// Sets the quantity of a seat, recurring or one-time product, given as
    /// a request's `quantities.<product>` value.
    pub fn set_quantity(&mut self, product: &str, v: &Value) -> Result<(), Error> {
        let mut r = Reader::default();
        match r.amount(v, &join("quantities", product)) {
            Some(d) if !r.failed() => {
                match self.req.quantities.get_mut(product) {
                    Some(old) if same(old, &d) => return Ok(()),
                    Some(old) => *old = d,
                    None => {
                        self.req.quantities.insert(product.to_string(), d);
                    }
                }
                self.fresh = false;
                Ok(())
            }
            _ => Err(Error::many(codes::INVALID_REQUEST, "the request", r.problems)),
        }
    }

    /// Removes a product's quantity (the plan's default applies).
    pub fn unset_quantity(&mut self, product: &str) {
        if self.req.quantities.shift_remove(product).is_some() {
            self.fresh = false;
        }
    }

    /// Adds an add-on (after those already there) or removes it. An unknown
    /// or base plan is refused when the quote is priced, as in a request.
    pub fn set_addon(&mut self, addon: &str, on: bool) {
        let has = self.req.addons.iter().any(|a| a == addon);
        if on && !has {
            self.req.addons.push(addon.to_string());
            self.fresh = false;
        } else if !on && has {
            self.req.addons.retain(|a| a != addon);
            self.fresh = false;
        }
    }

    /// The quote of the request, as [`quote`] gives it.
    pub fn quote<'a>(&'a self, book: &'a PriceBook) -> Result<Quote<'a>, Error> {
        quote(book, &self.req)
    }

    /// The total and lines of the request's quote, priced again only when
    /// the request changed since the last call; the error [`quote`] gives
    /// when it cannot be priced.
    pub fn priced(&mut self, book: &PriceBook) -> Result<&Priced, &Error> {
        if !self.fresh {
            let Quoter { req, priced, .. } = self;
            match quote(book, req) {
                Ok(q) => {
                    if priced.is_err() {
                        *priced = Ok(Priced::empty());
                    }
                    if let Ok(p) = priced {
                        keep(p, &q);
                    }
                }
                Err(e) => *priced = Err(e),
            }
            self.fresh = true;
        }
        self.priced.as_ref()
    }
}

/// Copies a quote's total and lines into `p`, reusing its allocations.
fn keep(p: &mut Priced, q: &Quote) {
    p.total = q.total;
    p.lines.truncate(q.lines.len());
    for (i, l) in q.lines.iter().enumerate() {
        let currency = l.currency.map(str::to_string);
        match p.lines.get_mut(i) {
            Some(mine) => {
                if mine.product != l.product {
                    l.product.clone_into(&mut mine.product);
                }
                mine.kind = l.kind;
                mine.amount = l.amount;
                mine.currency = currency;
            }
            None => p.lines.push(PricedLine {
                product: l.product.to_string(),
                kind: l.kind,
                amount: l.amount,
                currency,
            }),
        }
    }
}

/// The problem of a number that is not a safe integer where only those are
/// taken (docs/quote.md "Prepared quotes").
pub fn unsafe_number(path: &str) -> Error {
    Error::one(Problem::at(
        codes::INVALID_TYPE,
        path,
        "a number here must be a safe integer; give other decimals as strings",
    ))
}
