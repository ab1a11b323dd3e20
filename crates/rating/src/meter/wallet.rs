//! Prepaid credits: grants from packs, bonuses and plan-included credits,
//! drawn down by priority (lower first), then the soonest-expiring, then
//! the oldest. Expired credits are never spent.

use super::records::{qty, Cause, Record};
use super::state::{overflow_problem, problem, Grant, Meter, Pending, PendingKind, Wallet};
use crate::error::{codes, Error, Problem};
use crate::money::fmt_qty;
use crate::period::Timestamp;
use crate::price::{add, sub, Overflow};
use crate::price_book::{CreditOverage, Plan, PriceBook, Product};
use rust_decimal::Decimal;

impl Wallet {
    /// Adds a grant.
    #[allow(clippy::too_many_arguments)]
    pub fn grant(
        &mut self,
        source: &str,
        unit: &str,
        credits: Decimal,
        priority: u32,
        at: Timestamp,
        expires_at: Option<Timestamp>,
    ) {
        self.grants.push(Grant {
            source: source.to_string(),
            unit: unit.to_string(),
            granted: credits,
            remaining: credits,
            priority,
            granted_at: at,
            expires_at,
            seq: self.next_seq,
            expired: false,
        });
        self.next_seq += 1;
    }

    fn live(g: &Grant, unit: &str, at: Timestamp) -> bool {
        g.unit == unit && !g.expired && g.expires_at.is_none_or(|e| at < e)
    }

    /// Credits spendable at `at` in `unit`.
    pub fn balance(&self, unit: &str, at: Timestamp) -> Decimal {
        self.grants
            .iter()
            .filter(|g| Self::live(g, unit, at))
            .fold(Decimal::ZERO, |s, g| {
                crate::money::checked_add(s, g.remaining).unwrap_or(s)
            })
    }

    /// Draws up to `amount` credits; returns the part that could not be drawn.
    pub fn draw(&mut self, unit: &str, amount: Decimal, at: Timestamp) -> Result<Decimal, Overflow> {
        let mut order: Vec<usize> = (0..self.grants.len())
            .filter(|&i| Self::live(&self.grants[i], unit, at))
            .collect();
        order.sort_by(|&a, &b| {
            let (ga, gb) = (&self.grants[a], &self.grants[b]);
            ga.priority
                .cmp(&gb.priority)
                .then_with(|| match (ga.expires_at, gb.expires_at) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then(ga.seq.cmp(&gb.seq))
        });
        let mut left = amount;
        for i in order {
            if left <= Decimal::ZERO {
                break;
            }
            let g = &mut self.grants[i];
            let take = g.remaining.min(left);
            g.remaining = sub(g.remaining, take)?;
            left = sub(left, take)?;
        }
        Ok(left)
    }

    /// Gives back `amount` credits (a usage change that lowered a charge) to
    /// the live grant that would be drawn last.
    pub fn refund(&mut self, unit: &str, amount: Decimal, at: Timestamp) -> Result<(), Overflow> {
        if let Some(g) = self.grants.iter_mut().rev().find(|g| Self::live(g, unit, at)) {
            g.remaining = add(g.remaining, amount)?;
        }
        Ok(())
    }

    /// Credits spendable in `unit` just before `at` (those that expire at
    /// `at` included).
    pub fn balance_before(&self, unit: &str, at: Timestamp) -> Decimal {
        self.grants
            .iter()
            .filter(|g| g.unit == unit && !g.expired && g.expires_at.is_none_or(|e| at <= e))
            .fold(Decimal::ZERO, |s, g| {
                crate::money::checked_add(s, g.remaining).unwrap_or(s)
            })
    }

    /// Drops grants that are spent or expired before `at`.
    pub fn prune(&mut self, at: Timestamp) {
        self.grants
            .retain(|g| !g.remaining.is_zero() && g.expires_at.is_none_or(|e| at < e));
    }
}

/// The custom unit a plan's credits are in: the book's only unit, or the
/// unit of the first credit-priced item.
pub(crate) fn plan_unit(book: &PriceBook) -> Option<String> {
    let units = &book.doc().units;
    if units.len() == 1 {
        return Some(units[0].code.clone());
    }
    book.doc().plans.iter().flat_map(|p| &p.items).find_map(|it| {
        it.price
            .iter()
            .chain(it.prices.iter().flat_map(|m| m.values()))
            .find_map(|p| p.currency.clone().filter(|c| book.is_custom_unit(c)))
    })
}

/// Grants `count` packs of `pack_id` bought at `at` (recorded by the
/// caller); answers the unit and the credits granted.
fn buy_pack(
    m: &mut Meter,
    book: &PriceBook,
    pack_id: &str,
    at: Timestamp,
    source: &str,
    count: Decimal,
) -> Result<(String, Decimal), Problem> {
    let pack = book.credit_pack(pack_id).ok_or_else(|| {
        problem(
            codes::UNKNOWN_PACK,
            "purchase_credits",
            format!("no credit pack {pack_id:?}"),
        )
    })?;
    let unit = pack.unit.clone().or_else(|| plan_unit(book)).unwrap_or_default();
    let credits = pack
        .credits
        .checked_add(pack.bonus.unwrap_or(Decimal::ZERO))
        .and_then(|c| crate::money::checked_mul(c, count))
        .ok_or_else(|| problem(codes::ARITHMETIC_OVERFLOW, "", "too many credits"))?;
    let expires = pack.expires_after.and_then(|p| p.boundary(at, 1));
    m.wallet
        .grant(source, &unit, credits, pack.priority.unwrap_or(50), at, expires);
    if let Some(low) = pack.low_balance {
        m.alerts.watch(&unit, low);
    }
    Ok((unit, credits))
}

/// Buys a credit pack now: the credits (and bonus) are granted and an
/// invoice for the pack's price is issued at `at`.
pub(crate) fn purchase(m: &mut Meter, book: &PriceBook, pack_id: &str, at: Timestamp) -> Result<(), Error> {
    m.advance_to(book, at)?;
    let (unit, credits) = buy_pack(m, book, pack_id, at, pack_id, Decimal::ONE).map_err(Error::one)?;
    let balance = m.wallet.balance(&unit, at);
    m.records.push(Record::CreditsToppedUp {
        head: m.head(at, None),
        pack: pack_id.to_string(),
        unit: unit.clone(),
        credits: qty(credits),
        balance: qty(balance),
        automatic: false,
    });
    m.low_balance_alerts(book, &unit, at, None, false);
    let pack = book
        .credit_pack(pack_id)
        .ok_or_else(|| Error::one(problem(codes::UNKNOWN_PACK, "purchase_credits", "no such pack")))?;
    let line = super::invoice::pack_line(m, book, pack, at, at);
    let inv = super::invoice::invoice_at(m, book, at, vec![line]);
    m.issue(inv);
    Ok(())
}

/// Which expiries [`expire`] takes.
#[derive(Clone, Copy)]
pub(crate) enum Expiring {
    /// Those at or before the time.
    By(Timestamp),
    /// Those strictly before it (not the credits that expire with a period
    /// at its end).
    Before(Timestamp),
}

impl Expiring {
    fn takes(self, e: Timestamp) -> bool {
        match self {
            Expiring::By(t) => e <= t,
            Expiring::Before(t) => e < t,
        }
    }
}

/// Records the expiry of every grant that `until` takes with credits left
/// (each once, at its expiry), and, when `low` says so, the low balances
/// the expiries leave. A grant recorded as expired is never spent, even by
/// a late event from before its expiry.
pub(crate) fn expire(m: &mut Meter, book: &PriceBook, until: Expiring, low: bool) {
    loop {
        let next = m
            .wallet
            .grants
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.expired && g.expires_at.is_some_and(|e| until.takes(e)))
            .min_by_key(|(_, g)| (g.expires_at, g.seq))
            .map(|(i, _)| i);
        let Some(g) = next.and_then(|i| m.wallet.grants.get_mut(i)) else {
            break;
        };
        g.expired = true;
        let (left, unit, source) = (g.remaining, g.unit.clone(), g.source.clone());
        let Some(at) = g.expires_at else { continue };
        if left.is_zero() {
            continue;
        }
        let balance = m.wallet.balance(&unit, at);
        m.records.push(Record::CreditsExpired {
            head: m.head(at, None),
            unit: unit.clone(),
            credits: qty(left),
            grant: source,
            balance: qty(balance),
        });
        if low {
            m.low_balance_alerts(book, &unit, at, None, true);
        }
    }
}

/// Spends `amount` credits for usage of `product` at `t` under the plan's
/// `credit_overage` policy; records the automatic top-ups it made and the
/// low balance it leaves (`cause`: the event).
pub(crate) fn spend(
    m: &mut Meter,
    book: &PriceBook,
    product: &Product,
    unit: &str,
    amount: Decimal,
    t: Timestamp,
    cause: Cause,
) -> Result<(), Problem> {
    let overflow = overflow_problem;
    if amount < Decimal::ZERO {
        m.wallet.refund(unit, -amount, t).map_err(|_| overflow())?;
        m.low_balance_alerts(book, unit, t, cause, false);
        return Ok(());
    }
    let Some(plan) = book.plan(&m.plan) else { return Ok(()) };
    let policy = plan.credit_overage.unwrap_or(CreditOverage::Reject);
    let before = m.wallet.balance(unit, t);
    if policy == CreditOverage::Reject && before < amount {
        return Err(problem(
            codes::INSUFFICIENT_CREDITS,
            "data",
            format!(
                "the event costs {} {unit}; the wallet holds {}",
                fmt_qty(amount),
                fmt_qty(before)
            ),
        ));
    }
    // How many top-up packs cover the shortfall, decided before anything
    // changes (a refused event changes nothing). They are bought at once:
    // one pack per loop turn made a huge event cost thousands of grants.
    let top_ups = match (policy, &plan.auto_top_up) {
        (CreditOverage::AutoTopUp, Some(cfg)) => top_ups_needed(m, book, &cfg.pack, unit, amount, t)?,
        _ => None,
    };
    let short = m.wallet.draw(unit, amount, t).map_err(|_| overflow())?;
    // Top-ups made: (pack, credits, balance after), recorded once all is done.
    let mut bought: Vec<(String, Decimal, Decimal)> = Vec::new();
    match policy {
        CreditOverage::Reject => {}
        CreditOverage::Charge if short > Decimal::ZERO => charge_overage(m, book, plan, product, short)?,
        CreditOverage::Charge => {}
        CreditOverage::AutoTopUp => {
            let Some(cfg) = plan.auto_top_up.clone() else {
                return Ok(());
            };
            if let Some(count) = top_ups {
                let credits = top_up(m, book, &cfg.pack, t, count)?;
                // The packs cover the shortfall exactly or with some left.
                m.wallet.draw(unit, short, t).map_err(|_| overflow())?;
                bought.push((cfg.pack.clone(), credits, m.wallet.balance(unit, t)));
            }
            if m.wallet.balance(unit, t) < cfg.threshold {
                let credits = top_up(m, book, &cfg.pack, t, Decimal::ONE)?;
                bought.push((cfg.pack.clone(), credits, m.wallet.balance(unit, t)));
            }
        }
    }
    for (pack, credits, balance) in bought {
        m.records.push(Record::CreditsToppedUp {
            head: m.head(t, cause),
            pack,
            unit: unit.to_string(),
            credits: qty(credits),
            balance: qty(balance),
            automatic: true,
        });
    }
    let fell = m.wallet.balance(unit, t) < before;
    m.low_balance_alerts(book, unit, t, cause, fell);
    Ok(())
}

/// Charges `short` credits the wallet lacked at the plan's overage rate,
/// on the period's pending overage line for the product.
fn charge_overage(
    m: &mut Meter,
    book: &PriceBook,
    plan: &Plan,
    product: &Product,
    short: Decimal,
) -> Result<(), Problem> {
    let overflow = overflow_problem;
    let rate = plan.overage_rate.unwrap_or(Decimal::ZERO);
    let exact = crate::money::checked_mul(short, rate).ok_or_else(overflow)?;
    let (start, end) = (m.period.start, m.period.end);
    let line = m
        .pending
        .iter_mut()
        .find(|p| p.kind == PendingKind::CreditOverage && p.product == product.id && p.start == start);
    match line {
        Some(p) => {
            p.quantity = crate::money::checked_add(p.quantity, short).ok_or_else(overflow)?;
            p.exact = crate::money::checked_add(p.exact, exact).ok_or_else(overflow)?;
        }
        None => m.pending.push(Pending {
            plan: plan.id.clone(),
            product: product.id.clone(),
            price_key: None,
            kind: PendingKind::CreditOverage,
            description: format!("{} beyond prepaid credits, at {} per credit", product.name, rate),
            start,
            end,
            quantity: short,
            exact,
            unit: book.doc().currency.clone(),
        }),
    }
    Ok(())
}

/// The number of `pack_id` packs that cover what the wallet lacks for
/// `amount` (`None` when it holds enough), or why no number of them can.
fn top_ups_needed(
    m: &Meter,
    book: &PriceBook,
    pack_id: &str,
    unit: &str,
    amount: Decimal,
    t: Timestamp,
) -> Result<Option<Decimal>, Problem> {
    let short = amount - m.wallet.balance(unit, t).min(amount);
    if short <= Decimal::ZERO {
        return Ok(None);
    }
    let insufficient = |why: &str| {
        problem(
            codes::INSUFFICIENT_CREDITS,
            "data",
            format!(
                "the event costs {} {unit} more than the wallet holds; {why}",
                fmt_qty(short)
            ),
        )
    };
    let Some(pack) = book.credit_pack(pack_id) else {
        return Err(insufficient("the top-up pack does not exist"));
    };
    let per_pack = crate::money::checked_add(pack.credits, pack.bonus.unwrap_or(Decimal::ZERO));
    let pack_unit = pack.unit.clone().or_else(|| plan_unit(book)).unwrap_or_default();
    match per_pack {
        Some(c) if c > Decimal::ZERO && pack_unit == unit => {
            let count = crate::money::checked_div(short, c).map(|n| n.ceil());
            let fits = count.is_some_and(|n| {
                crate::money::checked_mul(n, c).is_some() && crate::money::checked_mul(n, pack.price).is_some()
            });
            match count {
                Some(n) if fits => Ok(Some(n)),
                _ => Err(problem(
                    codes::ARITHMETIC_OVERFLOW,
                    "data",
                    "the top-ups this event needs exceed the exact decimal range",
                )),
            }
        }
        _ => Err(insufficient("the top-up pack adds none")),
    }
}

/// Buys `count` packs automatically: one grant and one invoice line.
/// Answers the credits granted.
fn top_up(m: &mut Meter, book: &PriceBook, pack_id: &str, t: Timestamp, count: Decimal) -> Result<Decimal, Problem> {
    let (_, credits) = buy_pack(m, book, pack_id, t, &format!("auto_top_up:{pack_id}"), count)?;
    let Some(pack) = book.credit_pack(pack_id) else {
        return Ok(credits);
    };
    m.pending.push(Pending {
        plan: m.plan.clone(),
        product: pack.id.clone(),
        price_key: None,
        kind: PendingKind::CreditPack,
        description: format!(
            "Automatic top-up: {}",
            pack.name.clone().unwrap_or_else(|| pack.id.clone())
        ),
        start: t,
        end: t,
        quantity: count,
        exact: pack
            .price
            .checked_mul(count)
            .ok_or_else(|| problem(codes::ARITHMETIC_OVERFLOW, "data", "too many top-ups"))?,
        unit: book.doc().currency.clone(),
    });
    Ok(credits)
}
