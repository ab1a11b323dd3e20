//! The `price-book/v1` document as Rust types (docs/contract.md §3).
//!
//! These types are the single definition of the format: the JSON Schema in
//! `schema/price-book.v1.json` is generated from them, and serializing a
//! parsed book gives a document that parses back to the same book.

use crate::money::{CustomUnit, Rounding};
use crate::period::{Period, Timestamp};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A seller's whole catalogue: products, plans, credit packs and
/// customer overrides, in one currency with optional per-price options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBookDoc {
    /// Always `"price-book/v1"`.
    #[schemars(extend("const" = "price-book/v1"))]
    pub format: String,
    /// The price book's id.
    pub id: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ISO 4217 code of the book's currency; prices are in it unless they say otherwise.
    pub currency: String,
    /// Rounding mode applied once per line. Default `half_up`.
    #[serde(default)]
    pub rounding: Rounding,
    /// How changes within a period are prorated. Default `by_second`.
    #[serde(default)]
    pub proration: Proration,
    /// How long after a period closes late events are still rated against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_event_grace: Option<Period>,
    /// How long an event id is remembered for deduplication. Default 35 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_window: Option<Period>,
    /// Custom units of account (e.g. `credits`) usable where a currency code is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<CustomUnit>,
    /// Everything that can be sold.
    pub products: Vec<Product>,
    /// Base plans and add-ons.
    pub plans: Vec<Plan>,
    /// Prepaid credit packs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credit_packs: Vec<CreditPack>,
    /// Customer-specific prices with optional time windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

/// Proration mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proration {
    /// Remaining seconds / period seconds. The default.
    #[default]
    BySecond,
    /// Remaining whole UTC days / period days.
    ByDay,
    /// No proration: changes take full effect.
    None,
}

/// What a product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductType {
    /// A flat charge every period, billed in advance.
    Recurring,
    /// A licensed quantity × price, billed in advance, prorated on change.
    Seat,
    /// Priced from usage events, billed in arrears.
    Metered,
    /// Charged once, at subscription.
    OneTime,
}

/// How a metered product's events become a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum of `data.quantity`. The default.
    #[default]
    Sum,
    /// Number of events.
    Count,
    /// Largest `data.quantity` seen in the period.
    Max,
    /// Latest `data.quantity` (by event time).
    Last,
    /// Number of distinct values of the event property named by `property`.
    UniqueCount,
    /// Sum of `data.amount`, with the number of transactions.
    Amount,
}

/// What happens to an event whose price key the item does not price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPolicy {
    /// Rejected with `unknown_price_key`. The default.
    #[default]
    Reject,
    /// Priced at `default_price_key`, flagged `price_key_remapped`.
    UseDefault,
    /// Accepted as `dropped`, audited, not billed.
    Drop,
}

/// The event property (or properties, joined with `/`) that selects a price key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyLabel {
    /// One property, e.g. `"tld"`.
    One(String),
    /// Several properties, e.g. `["region", "size"]` → key `"eu/large"`.
    Many(Vec<String>),
}

impl KeyLabel {
    /// The property names, in order.
    pub fn properties(&self) -> Vec<&str> {
        match self {
            KeyLabel::One(s) => vec![s.as_str()],
            KeyLabel::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A product in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Unique id; usage events name it in `type`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind of product.
    #[serde(rename = "type")]
    pub kind: ProductType,
    /// Unit of measure shown to people (`"GB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Aggregation of a metered product's events. Default `sum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<Aggregation>,
    /// Event property counted by `unique_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Makes the product keyed: the event property (or properties) selecting the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_key_label: Option<KeyLabel>,
    /// Keyed products: what happens to an unpriced key. Default `reject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched_price_key_policy: Option<UnmatchedPolicy>,
    /// Keyed products: the key `use_default` prices unmatched keys at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_price_key: Option<String>,
    /// Longer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Metered products: the aggregated quantity is divided and rounded
    /// before allowances, limits and tiers see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_conversion: Option<UnitConversion>,
}

/// How a metered product's aggregated quantity becomes the quantity it is
/// priced in (docs/contract.md §3 "Unit conversion"): divided by
/// `divide_by`, then rounded with `round` to `precision` decimal places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::schema::unit_conversion_rules)]
pub struct UnitConversion {
    /// Raw units per priced unit (`"1000000"`: priced per million); above zero.
    pub divide_by: Decimal,
    /// How the quotient is rounded. Default `none`: kept as it is.
    #[serde(default, skip_serializing_if = "ConversionRound::is_none")]
    pub round: ConversionRound,
    /// Decimal places the quotient is rounded to (0-12); required unless
    /// `round` is `none`, where it is not allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 12))]
    pub precision: Option<u32>,
    /// Name of the priced unit shown on lines (`"M tokens"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_unit: Option<String>,
}

/// Rounding of a converted quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversionRound {
    /// Any remainder rounds up (away from zero).
    Up,
    /// Toward zero (truncate).
    Down,
    /// Half away from zero.
    HalfUp,
    /// Not rounded: the quotient as it is (exact when the division ends;
    /// else to the decimal's 28 significant digits). The default.
    #[default]
    None,
}

impl ConversionRound {
    /// Whether this is `none`.
    pub fn is_none(&self) -> bool {
        *self == ConversionRound::None
    }
}

impl UnitConversion {
    /// The converted quantity of `raw`; `None` on overflow.
    pub fn apply(&self, raw: Decimal) -> Option<Decimal> {
        let q = crate::money::checked_div(raw, self.divide_by)?;
        let scale = self.precision.unwrap_or(0);
        let rounded = match self.round {
            ConversionRound::None => return Some(q.normalize()),
            ConversionRound::Up => crate::money::Rounding::Up.round(q, scale),
            ConversionRound::Down => crate::money::Rounding::Down.round(q, scale),
            ConversionRound::HalfUp => crate::money::Rounding::HalfUp.round(q, scale),
        };
        Some(rounded.normalize())
    }
}

impl Product {
    /// The quantity allowances, limits and tiers see for an aggregated
    /// `raw` quantity: converted when the product has `unit_conversion`
    /// (docs/contract.md §3 "Unit conversion"). `None` on overflow.
    pub fn priced_quantity(&self, raw: Decimal) -> Option<Decimal> {
        match &self.unit_conversion {
            None => Some(raw),
            Some(c) => c.apply(raw),
        }
    }

    /// The effective aggregation (metered products).
    pub fn aggregation(&self) -> Aggregation {
        self.aggregation.unwrap_or_default()
    }

    /// The effective unmatched-key policy.
    pub fn policy(&self) -> UnmatchedPolicy {
        self.unmatched_price_key_policy.unwrap_or_default()
    }
}

/// A base plan or an add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Longer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Billing period.
    pub period: Period,
    /// An add-on attaches to a base plan instead of standing alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub addon: bool,
    /// One-time fee charged at subscription, in the book's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_fee: Option<Decimal>,
    /// Free days before the first paid period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 3650))]
    pub trial_days: Option<u32>,
    /// Percent off recurring and seat charges when paying N periods ahead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advance_discounts: Vec<AdvanceDiscount>,
    /// What the plan charges for.
    pub items: Vec<PlanItem>,
    /// Named limits (`{"projects": "3"}`); a limit named like a metered product caps its usage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Decimal>,
    /// Add-ons: how much each named limit is raised (`"unlimited"` lifts it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unlocks: BTreeMap<String, Unlock>,
    /// Feature flags the plan grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// Credits granted each period (in the unit of the plan's credit-priced items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_credits: Option<Decimal>,
    /// What happens when credit-priced usage exceeds the wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_overage: Option<CreditOverage>,
    /// Money charged per credit under `credit_overage: "charge"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage_rate: Option<Decimal>,
    /// Under `credit_overage: "auto_top_up"`: buy `pack` when the balance falls below `threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_top_up: Option<AutoTopUp>,
    /// Spend alerts: amounts in the book's currency; `spend.threshold_reached` is
    /// recorded once per period when the period's usage charge reaches each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub spend_alert_thresholds: Vec<Decimal>,
    /// Credits (in the plan's credit unit) at or below which the wallet's
    /// balance is low: `credits.low_balance` is recorded when it falls there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_balance: Option<Decimal>,
    /// Spending minimum per period, in the book's currency: when the plan's
    /// charges for a period (setup fees left out) are below it, a `minimum`
    /// line tops them up; prorated in a partial period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_amount: Option<Decimal>,
}

/// How much an add-on raises a named limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Unlock {
    /// Raise by this amount.
    By(Decimal),
    /// `"unlimited"`: no limit.
    Unlimited(UnlimitedTag),
}

/// The literal `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UnlimitedTag {
    /// `"unlimited"`.
    #[serde(rename = "unlimited")]
    Unlimited,
}

/// Credit overage policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditOverage {
    /// Usage beyond the wallet is rejected.
    Reject,
    /// Usage beyond the wallet is charged at `overage_rate` per credit.
    Charge,
    /// A pack is bought automatically below `threshold`.
    AutoTopUp,
}

/// Automatic top-up settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTopUp {
    /// Balance (in credits) at or below which a pack is bought.
    pub threshold: Decimal,
    /// Credit pack id to buy.
    pub pack: String,
}

/// Pay `periods` periods ahead for `percent` off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceDiscount {
    /// Number of periods paid ahead (1-1200).
    #[schemars(range(min = 1, max = 1200))]
    pub periods: u32,
    /// Percent off (0-100).
    pub percent: Decimal,
}

/// One product in a plan with its price and allowances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// Product id.
    pub product: String,
    /// The price (unkeyed products).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Prices by price key (keyed products).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<IndexMap<String, Price>>,
    /// Allowance per period, drawn before any tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_quantity: Option<Decimal>,
    /// Allowance per seat of the plan's seat items, added to `included_quantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_per_seat: Option<Decimal>,
    /// Unused allowance carries into the next period only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollover: bool,
    /// Smallest quantity allowed (seats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_quantity: Option<Decimal>,
    /// Largest quantity allowed (seats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quantity: Option<Decimal>,
    /// Hard cap on usage per period; usage above it is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Decimal>,
    /// Allowance alerts: percents of the period's allowance (included plus
    /// rolled over); `allowance.threshold_reached` is recorded once per
    /// period when usage reaches each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub alert_thresholds: Vec<Decimal>,
    /// Spending minimum per period, in the currency of the item's price:
    /// when the item's charge for a period is below it, a `minimum` line
    /// tops it up; prorated in a partial period. Not on one-time products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_amount: Option<Decimal>,
}

impl PlanItem {
    /// The currency (or custom unit) of the item's prices, the one its
    /// `minimum_amount` is in; `None` when keyed prices are in different ones.
    pub fn price_unit<'a>(&'a self, book_currency: &'a str) -> Option<&'a str> {
        let unit = |p: &'a Price| p.currency.as_deref().unwrap_or(book_currency);
        let mut units = self
            .price
            .iter()
            .chain(self.prices.iter().flat_map(|m| m.values()))
            .map(unit);
        let first = units.next().unwrap_or(book_currency);
        units.all(|u| u == first).then_some(first)
    }
}

/// Price model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(transform = staircase_alias)]
pub enum PriceModel {
    /// `amount` per period (or once, for one-time products).
    Flat,
    /// `unit_amount` per unit.
    PerUnit,
    /// Each unit priced in its tier (alias `staircase`).
    #[serde(alias = "staircase")]
    Graduated,
    /// All units at the rate of the tier the total falls in.
    Volume,
    /// `package_amount` per started `package_size`.
    Package,
    /// `percent` of each transaction plus `fixed_amount`, clamped to `[min_amount, max_amount]`.
    Percentage,
}

impl PriceModel {
    /// Every model, in declaration order.
    pub const ALL: [PriceModel; 6] = [
        PriceModel::Flat,
        PriceModel::PerUnit,
        PriceModel::Graduated,
        PriceModel::Volume,
        PriceModel::Package,
        PriceModel::Percentage,
    ];

    /// The amount fields the model requires, and those it also allows; a
    /// price of the model has no other amount field.
    pub fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            PriceModel::Flat => (&["amount"], &[]),
            PriceModel::PerUnit => (&["unit_amount"], &[]),
            PriceModel::Graduated | PriceModel::Volume => (&["tiers"], &[]),
            PriceModel::Package => (&["package_size", "package_amount"], &[]),
            PriceModel::Percentage => (&["percent"], &["fixed_amount", "min_amount", "max_amount"]),
        }
    }
}

/// The schema lists the `staircase` alias too (schemars leaves serde
/// aliases out), so books written with it validate against it.
fn staircase_alias(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(one_of)) = schema.get_mut("oneOf") {
        one_of.push(serde_json::json!({
            "description": "Same as `graduated`.",
            "type": "string",
            "const": "staircase"
        }));
    }
}

/// The amounts of a price, in one currency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceAmounts {
    /// `flat`: the amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    /// `per_unit`: price of one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Decimal>,
    /// `graduated` / `volume`: ascending tiers, the last one open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<Tier>>,
    /// `package`: units per package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_size: Option<Decimal>,
    /// `package`: price of one package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_amount: Option<Decimal>,
    /// `percentage`: percent of each transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Decimal>,
    /// `percentage`: fixed fee per transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_amount: Option<Decimal>,
    /// `percentage`: smallest fee per transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Decimal>,
    /// `percentage`: largest fee per transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Decimal>,
}

/// A price: a model, its amounts, and options in other currencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::schema::model_fields)]
pub struct Price {
    /// The price model.
    pub model: PriceModel,
    /// The price's currency or custom unit; default the book's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Display name for lines priced by it (`".com domain"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The amounts.
    #[serde(flatten)]
    pub amounts: PriceAmounts,
    /// The same price in other currencies: `{"EUR": {...amounts}}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub currency_options: IndexMap<String, PriceAmounts>,
}

/// One tier of a graduated or volume price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = up_to_required)]
pub struct Tier {
    /// Inclusive upper bound; `null` for the last, open tier. Always present.
    pub up_to: Option<Decimal>,
    /// Price per unit in this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Decimal>,
    /// Charged once when the quantity reaches into this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat_amount: Option<Decimal>,
    /// Instead of `unit_amount`, on amount-aggregated products: percent of the amount in this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Decimal>,
}

/// `up_to` must be present, `null` included: the engine refuses a tier
/// without it (schemars' own `required` would also forbid the `null`).
fn up_to_required(schema: &mut schemars::Schema) {
    schema.insert("required".into(), serde_json::json!(["up_to"]));
}

/// A prepaid credit pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditPack {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Credits bought.
    pub credits: Decimal,
    /// Extra credits given free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus: Option<Decimal>,
    /// Money paid for the pack, in the book's currency.
    pub price: Decimal,
    /// The custom unit the credits are in; default the book's only custom unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Credits expire this long after purchase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<Period>,
    /// Drawdown order (0-100, lower first). Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub priority: Option<u32>,
    /// Credits at or below which the wallet of a customer who bought this
    /// pack is low: `credits.low_balance` is recorded when its balance in the
    /// pack's unit falls there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_balance: Option<Decimal>,
}

/// A customer-specific price, optionally time-boxed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Customer id.
    pub customer: String,
    /// Product id.
    pub product: String,
    /// Only this price key (keyed products); absent: every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_key: Option<String>,
    /// The price that applies instead.
    pub price: Price,
    /// Active from (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Active until (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}
