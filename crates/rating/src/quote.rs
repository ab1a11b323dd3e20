//! Quotes and plan comparisons (docs/contract.md §4; the exact format is docs/quote.md).
//!
//! A quote prices one period of a plan (and its add-ons) for the given
//! quantities and usage: recurring and seat lines (× `periods` paid ahead,
//! less the matching advance discount), usage lines after allowances,
//! and setup lines on request. Every line is rounded once.

use crate::entitlements;
use crate::error::{codes, Error, Problem};
use crate::json::{index, join, type_name, Obj, Reader};
use crate::money::{self, fmt_exact, fmt_money, fmt_qty};
use crate::period::{fmt_timestamp, Period, Timestamp};
use crate::price::{charge_quantity, charge_transactions, ChargeError, Overflow, TierCharge, Transactions};
use crate::price_book::{Aggregation, Plan, PlanItem, Price, PriceAmounts, PriceBook, Product, ProductType};
use crate::resolve::{amounts_in, resolve, Resolution, Source};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

/// Usage of one metered product in a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// A quantity (unkeyed, non-amount products).
    Quantity(Decimal),
    /// Transactions (amount-aggregated products).
    Transactions(Transactions),
    /// Per price key (keyed products), in request order.
    Keyed(IndexMap<String, Usage>),
}

/// A quote request (docs/quote.md "Request").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuoteRequest {
    /// Base plan id.
    pub plan: String,
    /// Add-on plan ids.
    pub addons: Vec<String>,
    /// Currency; default the book's.
    pub currency: Option<String>,
    /// Customer, for overrides.
    pub customer: Option<String>,
    /// Time, for override windows.
    pub at: Option<Timestamp>,
    /// Quantities of seat, recurring and one-time products.
    pub quantities: IndexMap<String, Decimal>,
    /// Usage of metered products.
    pub usage: IndexMap<String, Usage>,
    /// Periods paid ahead (1 or more).
    pub periods: u32,
    /// Include setup fees and one-time items.
    pub include_setup: bool,
}

/// The kind of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Flat fee per period.
    Recurring,
    /// Seats × price.
    Seat,
    /// Metered usage.
    Usage,
    /// Setup fee or one-time product.
    Setup,
    /// Advance-payment discount.
    Discount,
    /// Proration of a change within a period.
    Proration,
    /// Credit (cancellations, downgrades, wallet).
    Credit,
    /// Top-up to a spending minimum (docs/contract.md §4 "Minimums").
    Minimum,
}

/// An amount printed with exactly its currency's digits (`"74.00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// The amount, already rounded.
    pub value: Decimal,
    /// Digits after the point.
    pub scale: u32,
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_money(self.value, self.scale))
    }
}

/// A quantity printed exactly, trailing zeros dropped (`"12.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qty(pub Decimal);

impl Serialize for Qty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_qty(self.0))
    }
}

/// An exact amount: trailing zeros dropped, at least `min_scale` digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    /// The amount.
    pub value: Decimal,
    /// Fewest digits after the point.
    pub min_scale: u32,
}

impl Serialize for Exact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_exact(self.value, self.min_scale))
    }
}

/// A timestamp printed as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts(pub Timestamp);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_timestamp(self.0))
    }
}

/// One tier of a line's breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TierLine {
    /// Tier position (0-based).
    pub index: usize,
    /// Units priced in the tier.
    pub quantity: Qty,
    /// Unit price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Exact>,
    /// Percent (percent tiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<Qty>,
    /// Flat amount charged.
    pub flat_amount: Exact,
    /// Exact amount of the tier.
    pub amount: Exact,
}

impl TierLine {
    /// The printed form of a tier charge in a currency of `scale` digits.
    pub fn of(t: &TierCharge, scale: u32) -> TierLine {
        TierLine {
            index: t.index,
            quantity: Qty(t.quantity),
            unit_amount: t.unit_amount.map(|u| Exact {
                value: u,
                min_scale: scale,
            }),
            percent: t.percent.map(Qty),
            flat_amount: Exact {
                value: t.flat_amount,
                min_scale: scale,
            },
            amount: Exact {
                value: t.amount,
                min_scale: scale,
            },
        }
    }
}

/// The override that priced a line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OverrideRef<'a> {
    /// Customer.
    pub customer: &'a str,
    /// Window start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Ts>,
    /// Window end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Ts>,
}

/// What a line says to people; built into text only when printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Description<'a> {
    /// The product's name (`periods` > 1 adds ", N periods").
    Product(&'a str, u32),
    /// Seats: name × quantity.
    Seats(&'a str, Decimal, u32),
    /// A keyed line: the price's display name, else name and key.
    Keyed(Option<&'a str>, &'a str, &'a str),
    /// A plan's setup fee.
    Setup(&'a str),
    /// An advance-payment discount: percent and periods.
    Discount(Decimal, u32),
    /// A top-up to the spending minimum of a product or plan, by name.
    Minimum(&'a str),
}

impl Description<'_> {
    /// The text people read.
    pub fn text(&self) -> String {
        let periods = |n: u32| if n > 1 { format!(", {n} periods") } else { String::new() };
        match *self {
            Description::Product(name, n) => format!("{name}{}", periods(n)),
            Description::Seats(name, q, n) => format!("{name} × {}{}", fmt_qty(q), periods(n)),
            Description::Keyed(Some(display), _, _) => display.to_string(),
            Description::Keyed(None, name, key) => format!("{name} {key}"),
            Description::Setup(plan) => format!("{plan} setup fee"),
            Description::Discount(pct, n) => format!("{}% off for paying {n} periods ahead", fmt_qty(pct)),
            Description::Minimum(name) => format!("{name} minimum"),
        }
    }
}

impl Serialize for Description<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// A quote line (docs/quote.md "Lines"): decimals until it is printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line<'a> {
    /// Plan the line comes from.
    pub plan: &'a str,
    /// Product id (plan id for setup-fee and discount lines).
    pub product: &'a str,
    /// Price key (keyed products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key: Option<&'a str>,
    /// `use_default` priced this key at the default key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_key_remapped: Option<bool>,
    /// What the line is.
    pub kind: LineKind,
    /// For people.
    pub description: Description<'a>,
    /// Quantity (of a product with `unit_conversion`: the converted one).
    pub quantity: Qty,
    /// Products with `unit_conversion`: the quantity before conversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_quantity: Option<Qty>,
    /// Products with `unit_conversion`: its `display_unit`, the unit of `quantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'a str>,
    /// Transactions (amount-aggregated usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Qty>,
    /// Part of the quantity covered by the allowance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included: Option<Qty>,
    /// Part of the quantity priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billable: Option<Qty>,
    /// Rounded amount.
    pub amount: Money,
    /// Unit, when not the quote currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<&'a str>,
    /// Tier breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<TierLine>>,
    /// Override applied.
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_ref: Option<OverrideRef<'a>>,
    /// Exact amount before rounding.
    #[serde(skip)]
    pub exact: Decimal,
}

/// A key dropped under the `drop` policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dropped<'a> {
    /// Product.
    pub product: &'a str,
    /// The unpriced key.
    pub price_key: &'a str,
    /// Its usage.
    pub quantity: Qty,
}

/// A named limit: a quantity or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Decimal>);

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => s.serialize_str(&fmt_qty(d)),
            None => s.serialize_str("unlimited"),
        }
    }
}

/// A quote (docs/quote.md "Response"), borrowing from the book and the
/// request; numbers become strings only when it is serialized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote<'a> {
    /// Currency of the money lines.
    pub currency: &'a str,
    /// Base plan.
    pub plan: &'a str,
    /// Add-ons.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub addons: &'a [String],
    /// Billing period of the base plan.
    pub period: Period,
    /// Periods paid ahead, when more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periods: Option<u32>,
    /// Lines.
    pub lines: Vec<Line<'a>>,
    /// Sum of non-discount money lines.
    pub subtotal: Money,
    /// Discounts, as a positive amount.
    pub discount: Money,
    /// Subtotal less discount.
    pub total: Money,
    /// Totals of lines priced in custom units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<IndexMap<&'a str, Money>>,
    /// Effective named limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<IndexMap<&'a str, Limit>>,
    /// Features granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<&'a str>>,
    /// Keys dropped under the `drop` policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Vec<Dropped<'a>>>,
    /// Hash of the price book.
    pub price_book: &'a str,
}

// ---------------------------------------------------------------- request

/// Reads a quote request (or, with `with_plan = false`, a compare request).
pub fn read_request(book: &PriceBook, v: &Value, with_plan: bool) -> Result<QuoteRequest, Error> {
    let mut r = Reader::default();
    let req = read_request_inner(&mut r, book, v, with_plan);
    match req {
        Some(req) if !r.failed() => Ok(req),
        _ => Err(Error::many(codes::INVALID_REQUEST, "the request", r.problems)),
    }
}

fn read_request_inner(r: &mut Reader, book: &PriceBook, v: &Value, with_plan: bool) -> Option<QuoteRequest> {
    let mut o = r.object(v, "")?;
    let plan = if with_plan {
        o.req_string(r, "plan")
    } else {
        Some(String::new())
    };
    let addons = o.opt("addons").and_then(|v| {
        let arr = r.array(v, "addons")?;
        arr.iter()
            .enumerate()
            .map(|(i, e)| r.string(e, &index("addons", i)))
            .collect::<Option<Vec<_>>>()
    });
    let currency = o.opt_string(r, "currency");
    let customer = o.opt_string(r, "customer");
    let at = o.opt_timestamp(r, "at");
    let quantities = o.opt("quantities").and_then(|v| {
        let q = r.object(v, "quantities")?;
        let mut out = IndexMap::new();
        for (k, v) in q.map() {
            if let Some(d) = r.amount(v, &join("quantities", k)) {
                out.insert(k.clone(), d);
            }
        }
        Some(out)
    });
    let usage = o.opt("usage").and_then(|v| {
        let u = r.object(v, "usage")?;
        let mut out = IndexMap::new();
        for (k, v) in u.map() {
            if let Some(u) = read_usage_of(r, book, k, v) {
                out.insert(k.clone(), u);
            }
        }
        Some(out)
    });
    let periods = match o.opt("periods") {
        Some(v) => r.integer(v, "periods", 1, 1200),
        None => Some(1),
    };
    let include_setup = o.opt_bool(r, "include_setup").unwrap_or(false);
    o.finish(r);
    Some(QuoteRequest {
        plan: plan?,
        addons: addons.unwrap_or_default(),
        currency,
        customer,
        at,
        quantities: quantities.unwrap_or_default(),
        usage: usage.unwrap_or_default(),
        periods: periods?,
        include_setup,
    })
}

/// Reads the usage of product `k` (the request's `usage.k`).
pub(crate) fn read_usage_of(r: &mut Reader, book: &PriceBook, k: &str, v: &Value) -> Option<Usage> {
    let p = join("usage", k);
    let Some(product) = book.product(k) else {
        r.err(
            codes::UNKNOWN_PRODUCT,
            &p,
            format!("no product {k:?} in the price book"),
        );
        return None;
    };
    read_usage(r, product, v, &p, true)
}

fn read_usage(r: &mut Reader, product: &Product, v: &Value, path: &str, allow_keyed: bool) -> Option<Usage> {
    if product.kind != ProductType::Metered {
        r.err(
            codes::INVALID_USAGE,
            path,
            format!("{:?} is not metered; give its quantity in quantities", product.id),
        );
        return None;
    }
    if allow_keyed && product.price_key_label.is_some() {
        if !v.is_object() {
            r.err(
                codes::INVALID_USAGE,
                path,
                format!(
                    "{:?} is keyed: give usage per price key, e.g. {{\"key\": \"3\"}}, not {}",
                    product.id,
                    type_name(v)
                ),
            );
            return None;
        }
        let o = r.object(v, path)?;
        let mut out = IndexMap::new();
        let keys: Vec<&String> = o.map().keys().collect();
        for k in keys {
            let kp = join(path, k);
            if let Some(u) = read_usage(r, product, &o.map()[k], &kp, false) {
                out.insert(k.clone(), u);
            }
        }
        o.finish_allowing(r, |_| true);
        return Some(Usage::Keyed(out));
    }
    if product.aggregation() == Aggregation::Amount {
        let mut o = match v {
            Value::Object(_) => r.object(v, path)?,
            other => {
                r.err(
                    codes::INVALID_USAGE,
                    path,
                    format!(
                        "{:?} is amount-aggregated: give {{\"amounts\": [...]}} or {{\"count\", \"total\"}}, not {}",
                        product.id,
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        let tx = read_transactions(r, &mut o, path);
        o.finish(r);
        return tx.map(Usage::Transactions);
    }
    match v {
        Value::Object(_) | Value::Array(_) => {
            r.err(
                codes::INVALID_USAGE,
                path,
                format!("expected a quantity for {:?}, found {}", product.id, type_name(v)),
            );
            None
        }
        _ => r.amount(v, path).map(Usage::Quantity),
    }
}

fn read_transactions(r: &mut Reader, o: &mut Obj, path: &str) -> Option<Transactions> {
    if o.has("amounts") {
        let ap = join(path, "amounts");
        let v = o.opt("amounts")?;
        let arr = r.array(v, &ap)?;
        let amounts = arr
            .iter()
            .enumerate()
            .map(|(i, e)| r.amount(e, &index(&ap, i)))
            .collect::<Option<Vec<_>>>()?;
        if o.has("count") || o.has("total") {
            r.err(codes::INVALID_USAGE, path, "give amounts, or count and total, not both");
        }
        return Some(Transactions::Amounts(amounts));
    }
    let count = o
        .req(r, "count")
        .and_then(|v| r.integer(v, &join(path, "count"), 0, u32::MAX));
    let total = o.req(r, "total").and_then(|v| r.amount(v, &join(path, "total")));
    Some(Transactions::Summary {
        count: Decimal::from(count?),
        total: total?,
    })
}

// ------------------------------------------------------------------ quote

struct Ctx<'a> {
    book: &'a PriceBook,
    req: &'a QuoteRequest,
    currency: &'a str,
    scale: u32,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn round(&self, v: Decimal, scale: u32) -> Decimal {
        self.book.doc().rounding.round(v, scale)
    }

    fn money(&self, exact: Decimal, scale: u32) -> Money {
        Money {
            value: self.round(exact, scale),
            scale,
        }
    }

    fn overflow(&mut self, path: &str) {
        self.problems.push(Problem::at(
            codes::ARITHMETIC_OVERFLOW,
            path,
            "the amount exceeds the exact decimal range",
        ));
    }
}

fn single(code: crate::error::Code, path: &str, message: String) -> Error {
    Error::one(Problem::at(code, path, message))
}

/// Quotes a parsed request.
pub fn quote<'a>(book: &'a PriceBook, req: &'a QuoteRequest) -> Result<Quote<'a>, Error> {
    let (currency, scale, base) = currency_and_base(book, req)?;
    let plans = checked_plans(book, req, base)?;
    let mut cx = Ctx {
        book,
        req,
        currency,
        scale,
        problems: Vec::new(),
    };
    let mut lines = Vec::with_capacity(plans.iter().map(|p| p.items.len()).sum::<usize>() + 2);
    let mut dropped = Vec::new();
    for plan in &plans {
        plan_lines(&mut cx, plan, &plans, &mut lines, &mut dropped);
    }
    if !cx.problems.is_empty() {
        return Err(Error::many(codes::INVALID_REQUEST, "the request", cx.problems));
    }
    let totals = Totals::of(&lines)?;
    let features = entitlements::features(&plans);
    let limits = entitlements::named_limits(&plans);
    Ok(Quote {
        currency,
        plan: &base.id,
        addons: &req.addons,
        period: base.period,
        periods: (req.periods > 1).then_some(req.periods),
        lines,
        subtotal: Money {
            value: totals.subtotal,
            scale,
        },
        discount: Money {
            value: totals.discount,
            scale,
        },
        total: Money {
            value: totals.total,
            scale,
        },
        credits: (!totals.credits.is_empty()).then_some(totals.credits),
        limits: (!limits.is_empty()).then(|| limits.iter().map(|(k, v)| (*k, Limit(*v))).collect()),
        features: (!features.is_empty()).then_some(features),
        dropped: (!dropped.is_empty()).then_some(dropped),
        price_book: book.hash(),
    })
}

/// The quote's currency (with its scale) and base plan.
pub(crate) fn currency_and_base<'a>(
    book: &'a PriceBook,
    req: &'a QuoteRequest,
) -> Result<(&'a str, u32, &'a Plan), Error> {
    let currency = req.currency.as_deref().unwrap_or(book.doc().currency.as_str());
    let scale = match book.scale_of(currency) {
        Some(s) if !book.is_custom_unit(currency) => s,
        _ => {
            return Err(single(
                codes::UNKNOWN_CURRENCY,
                "currency",
                format!("{currency:?} is not an ISO 4217 currency"),
            ))
        }
    };
    let base = match book.plan(&req.plan) {
        None => return Err(single(codes::UNKNOWN_PLAN, "plan", format!("no plan {:?}", req.plan))),
        Some(p) if p.addon => {
            return Err(single(
                codes::WRONG_PLAN_KIND,
                "plan",
                format!("{:?} is an add-on, not a base plan", req.plan),
            ))
        }
        Some(p) => p,
    };
    Ok((currency, scale, base))
}

/// The plans in force (base, then add-ons), after every check of the
/// request that needs no pricing; all problems at once.
fn checked_plans<'a>(book: &'a PriceBook, req: &'a QuoteRequest, base: &'a Plan) -> Result<Vec<&'a Plan>, Error> {
    let mut problems = Vec::new();
    check_typed(book, req, &mut problems);
    let mut plans: Vec<&Plan> = Vec::with_capacity(1 + req.addons.len());
    plans.push(base);
    for (i, a) in req.addons.iter().enumerate() {
        let p = index("addons", i);
        match book.plan(a) {
            None => problems.push(Problem::at(codes::UNKNOWN_PLAN, p, format!("no plan {a:?}"))),
            Some(pl) if !pl.addon => problems.push(Problem::at(
                codes::WRONG_PLAN_KIND,
                p,
                format!("{a:?} is a base plan, not an add-on"),
            )),
            Some(_) if req.addons[..i].contains(a) => problems.push(Problem::at(
                codes::DUPLICATE_ID,
                p,
                format!("add-on {a:?} is listed twice"),
            )),
            Some(pl) => plans.push(pl),
        }
    }
    check_membership(book, req, &plans, &mut problems);
    if !problems.is_empty() {
        return Err(Error::many(codes::INVALID_REQUEST, "the request", problems));
    }
    Ok(plans)
}

/// The checks a typed request gets that the JSON reader makes.
fn check_typed(book: &PriceBook, req: &QuoteRequest, problems: &mut Vec<Problem>) {
    if req.periods == 0 {
        problems.push(Problem::at(
            codes::INVALID_VALUE,
            "periods",
            "must be a whole number from 1 to 1200",
        ));
    }
    for (k, q) in &req.quantities {
        if q.is_sign_negative() && !q.is_zero() {
            problems.push(Problem::at(
                codes::NEGATIVE_VALUE,
                join("quantities", k),
                "must not be negative",
            ));
        }
    }
    for (k, u) in &req.usage {
        check_usage(book, k, u, &|| join("usage", k), true, problems);
    }
}

/// Every quantity and usage must belong to a product of the plans.
fn check_membership(book: &PriceBook, req: &QuoteRequest, plans: &[&Plan], problems: &mut Vec<Problem>) {
    let in_plans = |id: &str| plans.iter().any(|p| p.items.iter().any(|it| it.product == id));
    for k in req.quantities.keys() {
        match book.product(k) {
            None => problems.push(Problem::at(
                codes::UNKNOWN_PRODUCT,
                join("quantities", k),
                format!("no product {k:?} in the price book"),
            )),
            Some(p) if p.kind == ProductType::Metered => problems.push(Problem::at(
                codes::INVALID_USAGE,
                join("quantities", k),
                format!("{k:?} is metered; give its usage in usage"),
            )),
            Some(_) if !in_plans(k) => problems.push(Problem::at(
                codes::PRODUCT_NOT_IN_PLAN,
                join("quantities", k),
                format!("{k:?} is not in the plan or its add-ons"),
            )),
            _ => {}
        }
    }
    for k in req.usage.keys() {
        if !in_plans(k) {
            problems.push(Problem::at(
                codes::PRODUCT_NOT_IN_PLAN,
                join("usage", k),
                format!("{k:?} is not in the plan or its add-ons"),
            ));
        }
    }
}

/// A quote's sums: money lines in the quote currency, discounts apart,
/// custom units per unit.
struct Totals<'a> {
    subtotal: Decimal,
    discount: Decimal,
    total: Decimal,
    credits: IndexMap<&'a str, Money>,
}

impl<'a> Totals<'a> {
    fn of(lines: &[Line<'a>]) -> Result<Totals<'a>, Error> {
        let overflow = || {
            Error::one(Problem::general(
                codes::ARITHMETIC_OVERFLOW,
                "the total exceeds the exact decimal range",
            ))
        };
        let mut t = Totals {
            subtotal: Decimal::ZERO,
            discount: Decimal::ZERO,
            total: Decimal::ZERO,
            credits: IndexMap::new(),
        };
        for l in lines {
            let v = l.amount.value;
            let r = match l.currency {
                Some(unit) => {
                    let e = t.credits.entry(unit).or_insert(Money {
                        value: Decimal::ZERO,
                        scale: l.amount.scale,
                    });
                    money::checked_add(e.value, v).map(|x| e.value = x)
                }
                None if l.kind == LineKind::Discount => money::checked_sub(t.discount, v).map(|x| t.discount = x),
                None => money::checked_add(t.subtotal, v).map(|x| t.subtotal = x),
            };
            r.ok_or_else(overflow)?;
        }
        t.total = money::checked_sub(t.subtotal, t.discount).ok_or_else(overflow)?;
        Ok(t)
    }
}

fn plan_lines<'a>(
    cx: &mut Ctx<'a>,
    plan: &'a Plan,
    plans: &[&'a Plan],
    lines: &mut Vec<Line<'a>>,
    dropped: &mut Vec<Dropped<'a>>,
) {
    let req = cx.req;
    if req.include_setup {
        if let Some(fee) = plan.setup_fee {
            if cx.currency != cx.book.doc().currency {
                cx.problems.push(Problem::at(
                    codes::CURRENCY_UNAVAILABLE,
                    "currency",
                    format!("the setup fee of plan {:?} has no price in {}", plan.id, cx.currency),
                ));
            } else {
                let amount = cx.money(fee, cx.scale);
                lines.push(simple_line(
                    plan,
                    LineKind::Setup,
                    Description::Setup(&plan.name),
                    Decimal::ONE,
                    amount,
                    fee,
                ));
            }
        }
    }
    let first_advance = lines.len();
    let seats = entitlements::seats(cx.book, plan, |p| req.quantities.get(p).copied());
    for item in &plan.items {
        let Some(product) = cx.book.product(&item.product) else {
            continue;
        };
        let first_of_item = lines.len();
        match product.kind {
            ProductType::OneTime if !req.include_setup => {}
            // A product two plans price is metered once, by the first
            // (docs/metering.md "Entitlements"; a plan lists a product once).
            ProductType::Metered
                if !std::ptr::eq(plan, plans[0]) && !metered_here(cx.book, plans, &product.id, item) => {}
            ProductType::Metered => {
                usage_lines(cx, Metered { plan, product, item }, seats, plans, lines, dropped);
                item_minimum(cx, plan, product, item, lines, first_of_item);
            }
            ProductType::OneTime => fixed_line(cx, plan, product, item, lines),
            _ => {
                fixed_line(cx, plan, product, item, lines);
                item_minimum(cx, plan, product, item, lines, first_of_item);
            }
        }
    }
    plan_minimum(cx, plan, lines, first_advance);
    if req.periods > 1 {
        if let Some(d) = plan.advance_discounts.iter().find(|d| d.periods == req.periods) {
            let base: Decimal = lines[first_advance..]
                .iter()
                .filter(|l| matches!(l.kind, LineKind::Recurring | LineKind::Seat) && l.currency.is_none())
                .map(|l| l.amount.value)
                .fold(Decimal::ZERO, |a, b| money::checked_add(a, b).unwrap_or(Decimal::MAX));
            let Some(exact) =
                money::checked_mul(base, d.percent).and_then(|v| money::checked_div(v, Decimal::ONE_HUNDRED))
            else {
                return cx.overflow("periods");
            };
            let amount = Money {
                value: -cx.round(exact, cx.scale),
                scale: cx.scale,
            };
            let description = Description::Discount(d.percent, d.periods);
            lines.push(simple_line(
                plan,
                LineKind::Discount,
                description,
                Decimal::from(d.periods),
                amount,
                -exact,
            ));
        }
    }
}

/// One period's share of a line: recurring and seat lines of a quote paid
/// `periods` ahead cover that many periods, the rest one (docs/quote.md
/// "Minimums").
fn period_amount(cx: &Ctx, l: &Line, periods: u32) -> Option<Decimal> {
    match l.kind {
        LineKind::Recurring | LineKind::Seat if periods > 1 => {
            let scale = l.amount.scale;
            money::checked_div(l.exact, Decimal::from(periods)).map(|v| cx.round(v, scale))
        }
        _ => Some(l.amount.value),
    }
}

/// The top-up from `charge` to `minimum`, or `None` when the charge
/// reaches it (a line that rounds to zero is left out too).
fn top_up(cx: &Ctx, minimum: Decimal, charge: Decimal, scale: u32) -> Option<(Decimal, Money)> {
    let exact = money::checked_sub(minimum, charge)?;
    let amount = cx.money(exact, scale);
    (exact > Decimal::ZERO && amount.value > Decimal::ZERO).then_some((exact, amount))
}

/// The `minimum` line of an item whose lines (from `first` on) charge less
/// than its `minimum_amount` for the period (docs/contract.md §4
/// "Minimums"). The minimum is in the currency of the item's price.
fn item_minimum<'a>(
    cx: &mut Ctx<'a>,
    plan: &'a Plan,
    product: &'a Product,
    item: &'a PlanItem,
    lines: &mut Vec<Line<'a>>,
    first: usize,
) {
    let Some(minimum) = item.minimum_amount else { return };
    let book_currency = cx.book.doc().currency.as_str();
    let unit = item.price_unit(book_currency).unwrap_or(book_currency);
    let currency = if cx.book.is_custom_unit(unit) {
        Some(unit)
    } else if unit == cx.currency {
        None
    } else {
        let msg = format!("the minimum of {:?} is in {unit}, not in {}", product.id, cx.currency);
        return cx
            .problems
            .push(Problem::at(codes::CURRENCY_UNAVAILABLE, "currency", msg));
    };
    let scale = currency.and_then(|u| cx.book.scale_of(u)).unwrap_or(cx.scale);
    let mut charge = Decimal::ZERO;
    for l in lines[first..].iter().filter(|l| l.currency == currency) {
        let Some(c) = period_amount(cx, l, cx.req.periods).and_then(|v| money::checked_add(charge, v)) else {
            return cx.overflow("periods");
        };
        charge = c;
    }
    if let Some((exact, amount)) = top_up(cx, minimum, charge, scale) {
        let mut line = simple_line(
            plan,
            LineKind::Minimum,
            Description::Minimum(&product.name),
            Decimal::ONE,
            amount,
            exact,
        );
        line.product = &product.id;
        line.currency = currency;
        lines.push(line);
    }
}

/// The `minimum` line of a plan whose lines (from `first` on: its items'
/// lines and minimums, setup left out) charge less than its
/// `minimum_amount`, in the book's currency (docs/contract.md §4 "Minimums").
fn plan_minimum<'a>(cx: &mut Ctx<'a>, plan: &'a Plan, lines: &mut Vec<Line<'a>>, first: usize) {
    let Some(minimum) = plan.minimum_amount else { return };
    if cx.currency != cx.book.doc().currency {
        let msg = format!("the minimum of plan {:?} has no amount in {}", plan.id, cx.currency);
        return cx
            .problems
            .push(Problem::at(codes::CURRENCY_UNAVAILABLE, "currency", msg));
    }
    let mut charge = Decimal::ZERO;
    for l in lines[first..]
        .iter()
        .filter(|l| l.currency.is_none() && l.kind != LineKind::Setup)
    {
        let Some(c) = period_amount(cx, l, cx.req.periods).and_then(|v| money::checked_add(charge, v)) else {
            return cx.overflow("periods");
        };
        charge = c;
    }
    if let Some((exact, amount)) = top_up(cx, minimum, charge, cx.scale) {
        lines.push(simple_line(
            plan,
            LineKind::Minimum,
            Description::Minimum(&plan.name),
            Decimal::ONE,
            amount,
            exact,
        ));
    }
}

/// Whether `item` is the one that meters its product among `plans`.
fn metered_here(book: &PriceBook, plans: &[&Plan], product: &str, item: &PlanItem) -> bool {
    entitlements::item_for(book, plans.iter().map(|p| p.id.as_str()), product)
        .is_some_and(|(_, it)| std::ptr::eq(it, item))
}

fn simple_line<'a>(
    plan: &'a Plan,
    kind: LineKind,
    description: Description<'a>,
    quantity: Decimal,
    amount: Money,
    exact: Decimal,
) -> Line<'a> {
    Line {
        plan: &plan.id,
        product: &plan.id,
        price_key: None,
        price_key_remapped: None,
        kind,
        description,
        quantity: Qty(quantity),
        raw_quantity: None,
        unit: None,
        transactions: None,
        included: None,
        billable: None,
        amount,
        currency: None,
        tiers: None,
        override_ref: None,
        exact,
    }
}

/// Recurring, seat and one-time lines.
fn fixed_line<'a>(
    cx: &mut Ctx<'a>,
    plan: &'a Plan,
    product: &'a Product,
    item: &'a PlanItem,
    lines: &mut Vec<Line<'a>>,
) {
    let req = cx.req;
    let (kind, default_qty) = match product.kind {
        ProductType::Seat => (LineKind::Seat, item.min_quantity.unwrap_or(Decimal::ZERO)),
        ProductType::OneTime => (LineKind::Setup, Decimal::ONE),
        _ => (LineKind::Recurring, Decimal::ONE),
    };
    let qty = req.quantities.get(&product.id).copied().unwrap_or(default_qty);
    let qpath = || join("quantities", &product.id);
    if let Some(min) = item.min_quantity.filter(|m| qty < *m) {
        let msg = format!("plan {:?} needs at least {} of {:?}", plan.id, fmt_qty(min), product.id);
        return cx.problems.push(Problem::at(codes::BELOW_MIN_QUANTITY, qpath(), msg));
    }
    if let Some(max) = item.max_quantity.filter(|m| qty > *m) {
        let msg = format!("plan {:?} allows at most {} of {:?}", plan.id, fmt_qty(max), product.id);
        return cx.problems.push(Problem::at(codes::ABOVE_MAX_QUANTITY, qpath(), msg));
    }
    let Some((amounts, unit, source, price)) = price_one(cx, product, item, None, &qpath) else {
        return;
    };
    let periods = if kind == LineKind::Setup { 1 } else { req.periods };
    let Ok(charge) = charge_quantity(price.model, amounts, qty, true) else {
        return cx.overflow(&qpath());
    };
    let Some(exact) = money::checked_mul(charge.amount, Decimal::from(periods)) else {
        return cx.overflow(&qpath());
    };
    let scale = if unit == cx.currency {
        cx.scale
    } else {
        cx.book.scale_of(unit).unwrap_or(cx.scale)
    };
    let description = match kind {
        LineKind::Seat => Description::Seats(&product.name, qty, periods),
        _ => Description::Product(&product.name, periods),
    };
    lines.push(Line {
        plan: &plan.id,
        product: &product.id,
        price_key: None,
        price_key_remapped: None,
        kind,
        description,
        quantity: Qty(qty),
        raw_quantity: None,
        unit: None,
        transactions: None,
        included: None,
        billable: None,
        amount: cx.money(exact, scale),
        currency: (unit != cx.currency).then_some(unit),
        tiers: tier_lines(charge.tiers, scale),
        override_ref: override_ref(source),
        exact,
    });
}

type Priced<'a> = (
    &'a crate::price_book::PriceAmounts,
    &'a str,
    Source<'a>,
    &'a crate::price_book::Price,
);

/// Resolves an unkeyed price in the quote currency.
fn price_one<'a>(
    cx: &mut Ctx<'a>,
    product: &'a Product,
    item: &'a PlanItem,
    key: Option<&str>,
    path: &dyn Fn() -> String,
) -> Option<Priced<'a>> {
    match resolve(cx.book, product, item, key, cx.req.customer.as_deref(), cx.req.at) {
        Resolution::Priced { price, source, .. } => match amounts_in(cx.book, price, cx.currency) {
            Some((a, unit)) => Some((a, unit, source, price)),
            None => {
                let msg = format!("the price of {:?} has no option in {}", product.id, cx.currency);
                cx.problems.push(Problem::at(codes::CURRENCY_UNAVAILABLE, path(), msg));
                None
            }
        },
        _ => {
            let msg = format!("{:?} has no price for this key", product.id);
            cx.problems.push(Problem::at(codes::UNKNOWN_PRICE_KEY, path(), msg));
            None
        }
    }
}

fn override_ref(source: Source) -> Option<OverrideRef> {
    match source {
        Source::Item => None,
        Source::Override(o) => Some(OverrideRef {
            customer: &o.customer,
            from: o.from.map(Ts),
            until: o.until.map(Ts),
        }),
    }
}

fn tier_lines(tiers: Option<Vec<TierCharge>>, scale: u32) -> Option<Vec<TierLine>> {
    tiers.map(|ts| ts.iter().map(|t| TierLine::of(t, scale)).collect())
}

/// One metered item being quoted: the plan that prices it, the product and
/// the item.
#[derive(Clone, Copy)]
struct Metered<'a> {
    plan: &'a Plan,
    product: &'a Product,
    item: &'a PlanItem,
}

/// A product's usage entries: per price key (keyed), else the one quantity.
type Entry<'a> = (Option<&'a str>, Option<&'a Usage>);

/// Usage lines of one metered item (docs/metering.md "Entitlements").
fn usage_lines<'a>(
    cx: &mut Ctx<'a>,
    m: Metered<'a>,
    seats: Decimal,
    plans: &[&'a Plan],
    lines: &mut Vec<Line<'a>>,
    dropped: &mut Vec<Dropped<'a>>,
) {
    let Ok(allowance) = entitlements::allowance(m.item, seats) else {
        return cx.overflow(&join("usage", &m.product.id));
    };
    let entries = usage_entries(cx.req, m.product);
    let entries = entries.as_slice();
    if !within_cap(cx, m, plans, entries) {
        return;
    }
    // One entry takes what it can of the allowance; several share it.
    let shares = match (allowance, entries) {
        (Some(a), [_, _, ..]) => Some(allowance_shares(cx, m, entries, a)),
        _ => None,
    };
    for (i, &(key, u)) in entries.iter().enumerate() {
        let included = match (&shares, allowance) {
            (Some(s), _) => Some(s.get(i).copied().unwrap_or(Decimal::ZERO)),
            (None, Some(a)) => Some(priced_quantity(m.product, u).unwrap_or(Decimal::ZERO).min(a)),
            (None, None) => None,
        };
        match usage_line(cx, m, (key, u), included, dropped) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) => {}
            Err(Overflow) => return,
        }
    }
}

/// A product's usage entries, without allocating for the usual one entry.
enum Entries<'a> {
    One([Entry<'a>; 1]),
    Many(Vec<Entry<'a>>),
}

impl<'a> Entries<'a> {
    fn as_slice(&self) -> &[Entry<'a>] {
        match self {
            Entries::One(e) => e,
            Entries::Many(v) => v,
        }
    }
}

fn usage_entries<'a>(req: &'a QuoteRequest, product: &Product) -> Entries<'a> {
    match req.usage.get(&product.id) {
        Some(Usage::Keyed(m)) => Entries::Many(m.iter().map(|(k, u)| (Some(k.as_str()), Some(u))).collect()),
        Some(u) => Entries::One([(None, Some(u))]),
        None if product.price_key_label.is_some() => Entries::Many(Vec::new()),
        None => Entries::One([(None, None)]),
    }
}

/// Whether usage of `key` is priced (not dropped, not refused).
fn priced(cx: &Ctx, m: Metered, key: Option<&str>) -> bool {
    matches!(
        resolve(cx.book, m.product, m.item, key, cx.req.customer.as_deref(), cx.req.at),
        Resolution::Priced { price, .. } if amounts_in(cx.book, price, cx.currency).is_some()
    )
}

/// Checks the cap on the product's whole priced usage: a dropped key is
/// accepted but not counted, an unpriced one is refused on its own.
fn within_cap<'a>(cx: &mut Ctx<'a>, m: Metered<'a>, plans: &[&'a Plan], entries: &[Entry<'a>]) -> bool {
    let Some(cap) = entitlements::usage_cap(plans, &m.product.id, m.item) else {
        return true;
    };
    let mut total = Decimal::ZERO;
    for (key, u) in entries {
        if priced(cx, m, *key) {
            let q = priced_quantity(m.product, *u).unwrap_or(Decimal::MAX);
            total = money::checked_add(total, q).unwrap_or(Decimal::MAX);
        }
    }
    if total <= cap {
        return true;
    }
    let msg = format!(
        "usage {} of {:?} is above the limit of {}",
        fmt_qty(total),
        m.product.id,
        fmt_qty(cap)
    );
    let path = join("usage", &m.product.id);
    cx.problems.push(Problem::at(codes::LIMIT_EXCEEDED, path, msg));
    false
}

/// The allowance each entry draws: over the keys in key order, as the
/// meter draws it whatever the order events arrive in.
fn allowance_shares(cx: &Ctx, m: Metered, entries: &[Entry], mut allowance: Decimal) -> Vec<Decimal> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
    let mut shares = vec![Decimal::ZERO; entries.len()];
    for i in order {
        let (key, u) = entries[i];
        if !priced(cx, m, key) {
            continue;
        }
        let share = priced_quantity(m.product, u).unwrap_or(Decimal::ZERO).min(allowance);
        allowance -= share;
        shares[i] = share;
    }
    shares
}

/// The price of one usage entry in the quote currency; `None` when the key
/// is dropped (added to `dropped`) or cannot be priced (a problem in
/// `cx.problems`).
fn usage_price<'a>(
    cx: &mut Ctx<'a>,
    m: Metered<'a>,
    key: Option<&'a str>,
    qty: Decimal,
    dropped: &mut Vec<Dropped<'a>>,
) -> Option<(&'a Price, Source<'a>, bool, &'a PriceAmounts, &'a str)> {
    let path = || match key {
        Some(k) => join(&join("usage", &m.product.id), k),
        None => join("usage", &m.product.id),
    };
    let (price, source, remapped) =
        match resolve(cx.book, m.product, m.item, key, cx.req.customer.as_deref(), cx.req.at) {
            Resolution::Priced {
                price,
                source,
                remapped,
            } => (price, source, remapped),
            Resolution::Dropped => {
                let price_key = key.unwrap_or_default();
                dropped.push(Dropped {
                    product: &m.product.id,
                    price_key,
                    quantity: Qty(qty),
                });
                return None;
            }
            Resolution::Rejected => {
                let msg = format!("{:?} has no price for key {:?}", m.product.id, key.unwrap_or_default());
                cx.problems.push(Problem::at(codes::UNKNOWN_PRICE_KEY, path(), msg));
                return None;
            }
        };
    let Some((amounts, unit)) = amounts_in(cx.book, price, cx.currency) else {
        let msg = format!("the price of {:?} has no option in {}", m.product.id, cx.currency);
        cx.problems.push(Problem::at(codes::CURRENCY_UNAVAILABLE, path(), msg));
        return None;
    };
    Some((price, source, remapped, amounts, unit))
}

/// The line of one usage entry; `None` when it is dropped or refused (the
/// refusal is in `cx.problems`); `Err` after an overflow, which ends the
/// product's lines.
fn usage_line<'a>(
    cx: &mut Ctx<'a>,
    m: Metered<'a>,
    (key, u): Entry<'a>,
    included: Option<Decimal>,
    dropped: &mut Vec<Dropped<'a>>,
) -> Result<Option<Line<'a>>, Overflow> {
    let path = || match key {
        Some(k) => join(&join("usage", &m.product.id), k),
        None => join("usage", &m.product.id),
    };
    let overflow = |cx: &mut Ctx| {
        cx.overflow(&path());
        Overflow
    };
    let raw = usage_quantity(u).map_err(|_| overflow(cx))?;
    let Some((price, source, remapped, amounts, unit)) = usage_price(cx, m, key, raw, dropped) else {
        return Ok(None);
    };
    let Some(qty) = m.product.priced_quantity(raw) else {
        return Err(overflow(cx));
    };
    let conversion = m.product.unit_conversion.as_ref();
    let billable = money::checked_sub(qty, included.unwrap_or(Decimal::ZERO)).ok_or_else(|| overflow(cx))?;
    let charge = match u {
        Some(Usage::Transactions(tx)) => charge_transactions(price.model, amounts, tx, billable, true),
        _ => charge_quantity(price.model, amounts, billable, true).map_err(ChargeError::from),
    };
    let charge = match charge {
        Ok(c) => c,
        Err(ChargeError::Overflow) => return Err(overflow(cx)),
        Err(ChargeError::AmountsRequired) => {
            let msg = "this price clamps each transaction (min_amount/max_amount): give the list of amounts";
            cx.problems.push(Problem::at(codes::AMOUNTS_REQUIRED, path(), msg));
            return Ok(None);
        }
    };
    let scale = if unit == cx.currency {
        cx.scale
    } else {
        cx.book.scale_of(unit).unwrap_or(cx.scale)
    };
    let description = match key {
        Some(k) => Description::Keyed(price.display_name.as_deref(), &m.product.name, k),
        None => Description::Product(&m.product.name, 1),
    };
    let transactions = match u {
        Some(Usage::Transactions(tx)) => Some(Qty(tx.count())),
        _ if m.product.aggregation() == Aggregation::Amount => Some(Qty(Decimal::ZERO)),
        _ => None,
    };
    Ok(Some(Line {
        plan: &m.plan.id,
        product: &m.product.id,
        price_key: key,
        price_key_remapped: remapped.then_some(true),
        kind: LineKind::Usage,
        description,
        quantity: Qty(qty),
        raw_quantity: conversion.map(|_| Qty(raw)),
        unit: conversion.and_then(|c| c.display_unit.as_deref()),
        transactions,
        included: included.map(Qty),
        billable: included.map(|_| Qty(billable)),
        amount: cx.money(charge.amount, scale),
        currency: (unit != cx.currency).then_some(unit),
        tiers: tier_lines(charge.tiers, scale),
        override_ref: override_ref(source),
        exact: charge.amount,
    }))
}

/// Checks a typed usage value the way `read_usage` checks JSON.
fn check_usage(
    book: &PriceBook,
    product: &str,
    u: &Usage,
    path: &dyn Fn() -> String,
    top: bool,
    problems: &mut Vec<Problem>,
) {
    let Some(p) = book.product(product) else { return };
    let keyed = p.price_key_label.is_some();
    let amount_based = p.aggregation() == Aggregation::Amount;
    let negative = |d: &Decimal| d.is_sign_negative() && !d.is_zero();
    let shape_ok = match u {
        Usage::Keyed(_) => keyed && top,
        Usage::Transactions(_) => amount_based && !(keyed && top),
        Usage::Quantity(_) => !(amount_based || keyed && top),
    };
    if !shape_ok {
        problems.push(Problem::at(
            codes::INVALID_USAGE,
            path(),
            format!("this usage shape does not fit product {product:?}"),
        ));
        return;
    }
    match u {
        Usage::Quantity(q) if negative(q) => {
            problems.push(Problem::at(codes::NEGATIVE_VALUE, path(), "must not be negative"))
        }
        Usage::Transactions(Transactions::Amounts(v)) if v.iter().any(negative) => {
            problems.push(Problem::at(
                codes::NEGATIVE_VALUE,
                join(&path(), "amounts"),
                "must not be negative",
            ));
        }
        Usage::Transactions(Transactions::Summary { count, total }) if negative(count) || negative(total) => {
            problems.push(Problem::at(codes::NEGATIVE_VALUE, path(), "must not be negative"));
        }
        Usage::Keyed(m) => {
            for (k, inner) in m {
                check_usage(book, product, inner, &|| join(&path(), k), false, problems);
            }
        }
        _ => {}
    }
}

/// The quantity of a usage entry that allowances, limits and tiers see:
/// converted when the product has `unit_conversion` (docs/quote.md
/// "Unit conversion").
fn priced_quantity(product: &Product, u: Option<&Usage>) -> Result<Decimal, Overflow> {
    product.priced_quantity(usage_quantity(u)?).ok_or(Overflow)
}

fn usage_quantity(u: Option<&Usage>) -> Result<Decimal, Overflow> {
    match u {
        None => Ok(Decimal::ZERO),
        Some(Usage::Quantity(q)) => Ok(*q),
        Some(Usage::Transactions(tx)) => tx.total(),
        Some(Usage::Keyed(m)) => m.values().try_fold(Decimal::ZERO, |s, u| {
            usage_quantity(Some(u)).and_then(|q| crate::price::add(s, q))
        }),
    }
}

// ---------------------------------------------------------------- compare

/// One plan in a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedPlan<'a> {
    /// Plan id.
    pub plan: &'a str,
    /// Plan name.
    pub name: &'a str,
    /// Total, when the usage could be quoted on this plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    /// Why it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// Every base plan's total for the same usage, cheapest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison<'a> {
    /// Currency.
    pub currency: &'a str,
    /// Plans, cheapest first, then the ones that could not be quoted.
    pub plans: Vec<ComparedPlan<'a>>,
    /// The cheapest plan, if any.
    pub cheapest: Option<&'a str>,
    /// Hash of the price book.
    pub price_book: &'a str,
}

/// Compares every base plan for the usage of `req` (its `plan` is ignored).
pub fn compare<'a>(book: &'a PriceBook, req: &'a QuoteRequest) -> Result<Comparison<'a>, Error> {
    let currency = req.currency.as_deref().unwrap_or(book.doc().currency.as_str());
    let mut priced: Vec<(Decimal, usize, ComparedPlan)> = Vec::new();
    let mut failed = Vec::new();
    let mut r = req.clone();
    for (i, plan) in book.doc().plans.iter().enumerate().filter(|(_, p)| !p.addon) {
        r.plan.clone_from(&plan.id);
        match quote(book, &r) {
            Ok(q) => {
                let total = q.total;
                priced.push((
                    total.value,
                    i,
                    ComparedPlan {
                        plan: &plan.id,
                        name: &plan.name,
                        total: Some(total),
                        error: None,
                    },
                ))
            }
            Err(e) => failed.push(ComparedPlan {
                plan: &plan.id,
                name: &plan.name,
                total: None,
                error: Some(e.errors.into_iter().next().unwrap_or(Problem {
                    code: e.code,
                    message: e.message,
                    path: e.path,
                })),
            }),
        }
    }
    priced.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let cheapest = priced.first().map(|p| p.2.plan);
    let mut plans: Vec<ComparedPlan> = priced.into_iter().map(|p| p.2).collect();
    plans.extend(failed);
    Ok(Comparison {
        currency,
        plans,
        cheapest,
        price_book: book.hash(),
    })
}

// ------------------------------------------------------------------- JSON

fn to_json<T: Serialize>(t: &T) -> Result<Value, Error> {
    serde_json::to_value(t).map_err(|e| Error::one(Problem::general(codes::INVALID_REQUEST, e.to_string())))
}

/// Quotes a request given as JSON (docs/quote.md) and returns the quote as JSON.
pub fn quote_value(book: &PriceBook, request: &Value) -> Result<Value, Error> {
    let req = read_request(book, request, true)?;
    to_json(&quote(book, &req)?)
}

/// Compares every base plan for the usage given as JSON.
pub fn compare_value(book: &PriceBook, request: &Value) -> Result<Value, Error> {
    let req = read_request(book, request, false)?;
    to_json(&compare(book, &req)?)
}
