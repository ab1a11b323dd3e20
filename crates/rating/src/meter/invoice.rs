//! Invoices issued by a meter (docs/contract.md §5 "Invoices"): usage in arrears, recurring and
//! seat charges in advance, each line naming the period it pays for.

use super::state::*;
use crate::error::Error;
use crate::money::{fmt_money, fmt_qty};
use crate::period::{Period, Timestamp};
use crate::price::{add, charge_quantity, mul};
use crate::price_book::{Aggregation, Plan, PlanItem, PriceBook, PriceModel, Product, ProductType, Proration};
use crate::quote::{LineKind, TierLine};
use crate::resolve::{amounts_in, resolve, Resolution};
use rust_decimal::Decimal;

pub(super) fn span(start: Timestamp, end: Timestamp) -> Span {
    Span {
        start: ts(start),
        end: ts(end),
    }
}

pub(super) fn plan_period(book: &PriceBook, plan: &str) -> Period {
    book.plan(plan)
        .map(|p| p.period)
        .unwrap_or(Period::new(crate::period::PeriodUnit::Month, 1))
}

/// The proration factor of `[from, end)` within `[full_start, full_end)`.
pub(super) fn factor(
    mode: Proration,
    from: Timestamp,
    end: Timestamp,
    full_start: Timestamp,
    full_end: Timestamp,
) -> Decimal {
    let (num, den) = match mode {
        Proration::None => return Decimal::ONE,
        Proration::BySecond => ((end - from).num_seconds(), (full_end - full_start).num_seconds()),
        Proration::ByDay => {
            let days = |a: Timestamp, b: Timestamp| (b.date_naive() - a.date_naive()).num_days();
            (days(from, end), days(full_start, full_end))
        }
    };
    if den <= 0 || num <= 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(num) / Decimal::from(den)).min(Decimal::ONE)
}

pub(super) fn item_price<'b>(
    m: &Meter,
    book: &'b PriceBook,
    product: &'b Product,
    item: &'b PlanItem,
    at: Timestamp,
) -> Option<(PriceModel, &'b crate::price_book::PriceAmounts)> {
    match resolve(book, product, item, None, Some(&m.customer), Some(at)) {
        Resolution::Priced { price, .. } => {
            amounts_in(book, price, &book.doc().currency).map(|(a, _)| (price.model, a))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn money_line(
    book: &PriceBook,
    plan: &Plan,
    product: &str,
    kind: LineKind,
    description: String,
    period: Span,
    qty: Decimal,
    exact: Decimal,
    tiers: Option<Vec<TierLine>>,
) -> InvoiceLine {
    let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
    let value = book.doc().rounding.round(exact, scale);
    InvoiceLine {
        plan: plan.id.clone(),
        product: product.to_string(),
        price_key: None,
        kind,
        description,
        period,
        quantity: fmt_qty(qty),
        raw_quantity: None,
        unit: None,
        transactions: None,
        included: None,
        billable: None,
        amount: fmt_money(value, scale),
        currency: None,
        tiers,
        value,
    }
}

/// The end of the full anchor-aligned period the open period belongs to
/// (later than the open period's end in a partial first period).
pub(super) fn full_end(m: &Meter, book: &PriceBook) -> Timestamp {
    plan_period(book, &m.plan)
        .containing(m.anchor, m.period.full_start)
        .map_or(m.period.end, |(_, _, e)| e)
}

/// Recurring and seat lines for the open period, prorated when it is a
/// partial first period; remembers what was paid.
pub(super) fn advance_lines(m: &mut Meter, book: &PriceBook, lines: &mut Vec<InvoiceLine>) -> Result<(), Error> {
    let full_end = full_end(m, book);
    let f = factor(
        book.doc().proration,
        m.period.start,
        m.period.end,
        m.period.full_start,
        full_end,
    );
    let f = if m.period.start == m.period.full_start {
        Decimal::ONE
    } else {
        f
    };
    m.paid.clear();
    for plan in m.plans(book) {
        for it in &plan.items {
            let Some(p) = book.product(&it.product) else { continue };
            let kind = match p.kind {
                ProductType::Recurring => LineKind::Recurring,
                ProductType::Seat => LineKind::Seat,
                _ => continue,
            };
            let q = m.quantities.get(&p.id).copied().unwrap_or(if kind == LineKind::Seat {
                Decimal::ZERO
            } else {
                Decimal::ONE
            });
            let Some((model, a)) = item_price(m, book, p, it, m.period.start) else {
                continue;
            };
            let full = charge_quantity(model, a, q, false).map_err(|_| overflow_err())?.amount;
            let exact = mul(full, f).map_err(|_| overflow_err())?;
            let mut description = if kind == LineKind::Seat {
                format!("{} × {}", p.name, fmt_qty(q))
            } else {
                p.name.clone()
            };
            if f != Decimal::ONE {
                description.push_str(&format!(" (prorated {})", fmt_qty(f.round_dp(6))));
            }
            lines.push(money_line(
                book,
                plan,
                &p.id,
                kind,
                description,
                span(m.period.start, m.period.end),
                q,
                exact,
                None,
            ));
            m.paid.push(Paid {
                plan: plan.id.clone(),
                product: p.id.clone(),
                exact,
            });
        }
    }
    Ok(())
}

/// The `minimum` lines of the segment `[m.period.start, end)` of the open
/// period (docs/metering.md "Minimums"), after `lines`, the segment's
/// closing lines (usage, pending, unused-advance credits): each item's
/// minimum against what the item charged in the segment (its advance
/// lines and its lines in `lines`), then each plan's against its charges
/// (item minimums included, setup left out). Minimums are prorated like
/// advance lines when the segment is not a whole period; a trial has none.
pub(super) fn minimum_lines(
    m: &Meter,
    book: &PriceBook,
    end: Timestamp,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), Error> {
    let plans = m.plans(book);
    let any = |p: &Plan| p.minimum_amount.is_some() || p.items.iter().any(|it| it.minimum_amount.is_some());
    if m.period.trial || !plans.iter().any(|p| any(p)) {
        return Ok(());
    }
    let f = if m.period.start == m.period.full_start && end == m.period.end {
        Decimal::ONE
    } else {
        let full_end = full_end(m, book);
        factor(book.doc().proration, m.period.start, end, m.period.full_start, full_end)
    };
    let currency = book.doc().currency.as_str();
    let round = |v: Decimal, unit: &str| book.doc().rounding.round(v, book.scale_of(unit).unwrap_or(2));
    // A closing line counts unless it is a setup line, a credit pack bought,
    // or late usage of an earlier period (its own `period` says so).
    let counts = |l: &InvoiceLine| {
        l.kind != LineKind::Setup
            && !(l.kind == LineKind::Credit && book.credit_pack(&l.product).is_some())
            && crate::period::parse_timestamp(&l.period.start).is_some_and(|s| s >= m.period.start)
    };
    // What the segment charged a plan (and product) in `unit`, from the advance
    // lines paid at its start and the closing lines.
    let charged = |lines: &[InvoiceLine], plan: &str, product: Option<&str>, unit: &str| -> Result<Decimal, Error> {
        let mut sum = Decimal::ZERO;
        let of = |p: &str, pr: &str| p == plan && product.is_none_or(|x| x == pr);
        if unit == currency {
            for paid in m.paid.iter().filter(|x| of(&x.plan, &x.product)) {
                sum = add(sum, round(paid.exact, currency)).map_err(|_| overflow_err())?;
            }
        }
        for l in lines.iter().filter(|l| of(&l.plan, &l.product) && counts(l)) {
            if l.currency.as_deref().unwrap_or(currency) == unit {
                sum = add(sum, l.value).map_err(|_| overflow_err())?;
            }
        }
        Ok(sum)
    };
    for plan in &plans {
        for it in &plan.items {
            let Some(minimum) = it.minimum_amount else { continue };
            let Some(p) = book.product(&it.product) else { continue };
            // A product two plans price is metered by one item only.
            let metered_elsewhere =
                p.kind == ProductType::Metered && !m.item_for(book, &p.id).is_some_and(|(_, i)| std::ptr::eq(i, it));
            if p.kind == ProductType::OneTime || metered_elsewhere {
                continue;
            }
            let unit = it.price_unit(currency).unwrap_or(currency);
            let charge = charged(lines, &plan.id, Some(&p.id), unit)?;
            if let Some(line) = minimum_line(m, book, plan, (&p.id, &p.name), unit, (minimum, f, charge), end)? {
                lines.push(line);
            }
        }
        if let Some(minimum) = plan.minimum_amount {
            let charge = charged(lines, &plan.id, None, currency)?;
            if let Some(line) = minimum_line(
                m,
                book,
                plan,
                (&plan.id, &plan.name),
                currency,
                (minimum, f, charge),
                end,
            )? {
                lines.push(line);
            }
        }
    }
    Ok(())
}

/// A `minimum` line topping `charge` up to `minimum × f`, unless it reaches
/// it (or the top-up rounds to zero).
fn minimum_line(
    m: &Meter,
    book: &PriceBook,
    plan: &Plan,
    (product, name): (&str, &str),
    unit: &str,
    (minimum, f, charge): (Decimal, Decimal, Decimal),
    end: Timestamp,
) -> Result<Option<InvoiceLine>, Error> {
    let target = mul(minimum, f).map_err(|_| overflow_err())?;
    let exact = crate::money::checked_sub(target, charge).ok_or_else(overflow_err)?;
    let scale = book.scale_of(unit).unwrap_or(2);
    let value = book.doc().rounding.round(exact, scale);
    if exact <= Decimal::ZERO || value <= Decimal::ZERO {
        return Ok(None);
    }
    let mut description = format!("{name} minimum");
    if f != Decimal::ONE {
        description.push_str(&format!(" (prorated {})", fmt_qty(f.round_dp(6))));
    }
    Ok(Some(InvoiceLine {
        plan: plan.id.clone(),
        product: product.to_string(),
        price_key: None,
        kind: LineKind::Minimum,
        description,
        period: span(m.period.start, end),
        quantity: "1".into(),
        raw_quantity: None,
        unit: None,
        transactions: None,
        included: None,
        billable: None,
        amount: fmt_money(value, scale),
        currency: (unit != book.doc().currency).then(|| unit.to_string()),
        tiers: None,
        value,
    }))
}

pub(super) fn invoice(
    m: &Meter,
    book: &PriceBook,
    issued: Timestamp,
    period: Span,
    lines: Vec<InvoiceLine>,
) -> Invoice {
    let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
    let total = lines
        .iter()
        .filter(|l| l.currency.is_none())
        .fold(Decimal::ZERO, |s, l| crate::money::checked_add(s, l.value).unwrap_or(s));
    Invoice {
        customer: m.customer.clone(),
        issued_at: ts(issued),
        period,
        currency: book.doc().currency.clone(),
        lines,
        total: fmt_money(total, scale),
        price_book: book.hash().to_string(),
        total_value: total,
    }
}

/// Usage lines of the open period (arrears), plus pending lines.
pub(super) fn usage_lines(m: &Meter, book: &PriceBook, end: Timestamp, out: &mut Vec<InvoiceLine>) {
    if m.period.trial {
        return;
    }
    let currency = book.doc().currency.as_str();
    for (pid, ps) in &m.products {
        let Some(product) = book.product(pid) else { continue };
        let found = m.item_for(book, pid);
        let plan_id = found.map_or_else(|| m.plan.clone(), |(p, _)| p.id.clone());
        let mut remaining = ps.allowance();
        for (key, ks) in &ps.keys {
            let included = if ps.has_allowance {
                ks.quantity.min(remaining)
            } else {
                Decimal::ZERO
            };
            remaining -= included;
            let scale = book.scale_of(&ks.unit).unwrap_or(2);
            let value = book.doc().rounding.round(ks.exact, scale);
            let keyed = product.price_key_label.is_some();
            let resolution = match found {
                Some((_, item)) => resolve(
                    book,
                    product,
                    item,
                    keyed.then_some(key.as_str()),
                    Some(&m.customer),
                    Some(end),
                ),
                None => Resolution::Rejected,
            };
            let tiers = match resolution {
                Resolution::Priced { price, .. }
                    if matches!(price.model, PriceModel::Graduated | PriceModel::Volume) =>
                {
                    amounts_in(book, price, currency)
                        .and_then(|(a, _)| charge_quantity(price.model, a, ks.billable, true).ok())
                        .and_then(|c| c.tiers)
                        .map(|ts| ts.iter().map(|t| TierLine::of(t, scale)).collect())
                }
                _ => None,
            };
            let conversion = product.unit_conversion.as_ref();
            let description = if keyed {
                format!("{} {}", product.name, key)
            } else {
                product.name.clone()
            };
            out.push(InvoiceLine {
                plan: plan_id.clone(),
                product: pid.clone(),
                price_key: keyed.then(|| key.clone()),
                kind: LineKind::Usage,
                description,
                period: span(m.period.start, end),
                quantity: fmt_qty(ks.quantity),
                raw_quantity: conversion.map(|_| fmt_qty(ks.raw.unwrap_or(Decimal::ZERO))),
                unit: conversion.and_then(|c| c.display_unit.clone()),
                transactions: (product.aggregation() == Aggregation::Amount).then(|| ks.events.to_string()),
                included: ps.has_allowance.then(|| fmt_qty(included)),
                billable: ps.has_allowance.then(|| fmt_qty(ks.billable)),
                amount: fmt_money(value, scale),
                currency: (ks.unit != currency).then(|| ks.unit.clone()),
                tiers,
                value,
            });
        }
    }
    pending_lines(m, book, out);
}

pub(super) fn pending_lines(m: &Meter, book: &PriceBook, out: &mut Vec<InvoiceLine>) {
    let currency = book.doc().currency.as_str();
    for p in &m.pending {
        let scale = book.scale_of(&p.unit).unwrap_or(2);
        let value = book.doc().rounding.round(p.exact, scale);
        out.push(InvoiceLine {
            plan: p.plan.clone(),
            product: p.product.clone(),
            price_key: p.price_key.clone(),
            kind: p.kind.line_kind(),
            description: p.description.clone(),
            period: span(p.start, p.end),
            quantity: fmt_qty(p.quantity),
            raw_quantity: None,
            unit: None,
            transactions: None,
            included: None,
            billable: None,
            amount: fmt_money(value, scale),
            currency: (p.unit != currency).then(|| p.unit.clone()),
            tiers: None,
            value,
        });
    }
}

/// The money line for buying a credit pack.
pub(super) fn pack_line(
    m: &Meter,
    book: &PriceBook,
    pack: &crate::price_book::CreditPack,
    start: Timestamp,
    end: Timestamp,
) -> InvoiceLine {
    let name = pack.name.clone().unwrap_or_else(|| pack.id.clone());
    let credits = pack
        .credits
        .checked_add(pack.bonus.unwrap_or(Decimal::ZERO))
        .unwrap_or(pack.credits);
    let scale = book.scale_of(&book.doc().currency).unwrap_or(2);
    let value = book.doc().rounding.round(pack.price, scale);
    InvoiceLine {
        plan: m.plan.clone(),
        product: pack.id.clone(),
        price_key: None,
        kind: LineKind::Credit,
        description: format!("{name}: {} credits", fmt_qty(credits)),
        period: span(start, end),
        quantity: "1".into(),
        raw_quantity: None,
        unit: None,
        transactions: None,
        included: None,
        billable: None,
        amount: fmt_money(value, scale),
        currency: None,
        tiers: None,
        value,
    }
}

/// An invoice issued at `at` for the open period.
pub(super) fn invoice_at(m: &Meter, book: &PriceBook, at: Timestamp, lines: Vec<InvoiceLine>) -> Invoice {
    invoice(m, book, at, span(m.period.start, m.period.end), lines)
}

impl Meter {
    /// Issues an invoice: keeps it for `take_invoices` and records
    /// `invoice.issued`.
    pub(super) fn issue(&mut self, inv: Invoice) {
        let head = super::records::RecordHead {
            customer: self.customer.clone(),
            at: inv.issued_at.clone(),
            event: None,
            source: None,
        };
        self.records.push(super::records::Record::InvoiceIssued {
            head,
            issued_at: inv.issued_at.clone(),
            period: inv.period.clone(),
            total: inv.total.clone(),
            currency: inv.currency.clone(),
        });
        self.issued.push(inv);
    }
}
