// ---- rating-engine: the JSON shapes of requests and results -------------
// Written from the engine's Rust types (crates/rating/src: quote.rs,
// meter/*.rs, event.rs, error.rs), with their `///` docs; the package's
// tests type-check every vector result and meter output against them.

/** An exact decimal as text: `"74.00"`, `"0.005"`, `"15000"`. Results
 * always give money and quantities this way, never as JS numbers. */
export type Decimal = string;

/** A decimal as input: a string, or a JS number, which is read by its
 * shortest round-trip text (`0.005` is exactly 0.005, never a double). */
export type DecimalInput = string | number;

/** An RFC 3339 timestamp (`"2026-11-23T10:00:00Z"`); the engine works in UTC. */
export type Timestamp = string;

/** One problem with an input. */
export interface Problem {
  /** Stable machine-readable code, e.g. `unknown_field`. */
  code: string;
  /** What is wrong, for a person. */
  message: string;
  /** JSON path of the offending field (`plans[0].items[2].price.tiers[1].up_to`). */
  path?: string;
}

/**
 * An error from the rating engine: a bad price book, request, event or
 * argument. `code` is stable and machine-readable (the same codes as the
 * `rating` CLI), `path` is the JSON path of the offending field when there
 * is exactly one, and `errors` lists every problem found.
 */
export class RatingError extends Error {
  constructor(code: string, message: string, path?: string, errors?: Problem[]);
  readonly name: "RatingError";
  /** Code of the first problem, or `invalid_price_book` / `invalid_request`
   * when several problems of different kinds were found. */
  readonly code: string;
  /** Path of the first problem, when there is exactly one. */
  readonly path?: string;
  /** Every problem found, in document order. */
  readonly errors: Problem[];
}

// ---------------------------------------------------------------- quote

/** Usage of an amount-aggregated product: the transactions, or their count and total. */
export type TransactionsInput = { amounts: DecimalInput[] } | { count: DecimalInput; total: DecimalInput };

/** Usage of one metered product: a quantity, transactions, or per price key. */
export type UsageInput = DecimalInput | TransactionsInput | { [priceKey: string]: DecimalInput | TransactionsInput };

/** A quote request (docs/quote.md "Request"). */
export interface QuoteRequest {
  /** Base plan id. */
  plan: string;
  /** Add-on plan ids, each at most once. */
  addons?: string[];
  /** Currency; default the book's. */
  currency?: string;
  /** Customer, for overrides. */
  customer?: string;
  /** Time, for override windows. */
  at?: Timestamp;
  /** Quantities of seat, recurring and one-time products. */
  quantities?: { [product: string]: DecimalInput };
  /** Usage of metered products. */
  usage?: { [product: string]: UsageInput };
  /** Periods paid ahead, 1-1200 (default 1). */
  periods?: number | string;
  /** Include setup fees and one-time items (default false). */
  include_setup?: boolean;
}

/** A compare request: a quote request without `plan`. */
export type CompareRequest = Omit<QuoteRequest, "plan">;

/** What `book.quoter()` takes (docs/quote.md "Prepared quotes"): a quote
 * request whose `usage` is usually left out and set with `quoter.set()`. */
export type QuoterRequest = QuoteRequest;

/**
 * A prepared quote, made by `book.quoter(request)` (docs/quote.md
 * "Prepared quotes"): the request is kept in the engine, usage and
 * quantities change one at a time, and the quote is priced again only when
 * something changed. Every reader gives what `book.quote(request)` gives
 * for the request as it stands, and throws its `RatingError` when it
 * cannot be priced.
 */
export interface Quoter {
  /** Sets a metered product's usage: a decimal string, a safe integer, or
   * (keyed, amount-aggregated products) what the request's `usage` takes.
   * Throws as `quote()` would for `usage.<product>`, keeping the old value. */
  set(product: string, usage: string | number | UsageInput): void;
  /** Removes a product's usage. */
  unset(product: string): void;
  /** Sets a seat, recurring or one-time product's quantity. */
  setQuantity(product: string, quantity: string | number): void;
  /** Removes a product's quantity (the plan's default applies). */
  unsetQuantity(product: string): void;
  /** Adds an add-on plan (after those already there) or removes it. */
  setAddon(addon: string, on: boolean): void;
  /** The quote's currency. */
  readonly currency: string;
  /** The base plan id. */
  readonly plan: string;
  /** The total, as `quote().total`. */
  readonly total: string;
  /** The number of lines. */
  readonly lineCount: number;
  /** Line `i`'s rounded amount, as `quote().lines[i].amount`. */
  lineAmount(i: number): string;
  /** Line `i`'s product (the plan id for setup-fee and discount lines). */
  lineProduct(i: number): string;
  /** Line `i`'s kind. */
  lineKind(i: number): LineKind;
  /** Line `i`'s unit when it is not the quote currency (credits). */
  lineCurrency(i: number): string | undefined;
  /** The lines, as `quote().lines`. */
  lines(): QuoteLine[];
  /** The quote, as `book.quote(request)`. */
  quote(): Quote;
  /** The quote's JSON text, as `book.quoteJson(request)`. */
  quoteJson(): string;
  /** Releases its WebAssembly memory now. */
  free(): void;
  [Symbol.dispose](): void;
}

/** The kind of a line. */
export type LineKind = "recurring" | "seat" | "usage" | "setup" | "discount" | "proration" | "credit" | "minimum";

/** One tier of a line's breakdown. */
export interface TierLine {
  /** Tier position (0-based). */
  index: number;
  /** Units priced in the tier. */
  quantity: Decimal;
  /** Unit price. */
  unit_amount?: Decimal;
  /** Percent (percent tiers). */
  percent?: Decimal;
  /** Flat amount charged. */
  flat_amount: Decimal;
  /** Exact amount of the tier. */
  amount: Decimal;
}

/** The override that priced a line. */
export interface OverrideRef {
  /** Customer. */
  customer: string;
  /** Window start. */
  from?: Timestamp;
  /** Window end. */
  until?: Timestamp;
}

/** A quote line: every amount explains itself. */
export interface QuoteLine {
  /** Plan the line comes from. */
  plan: string;
  /** Product id (plan id for setup-fee and discount lines). */
  product: string;
  /** Price key (keyed products). */
  price_key?: string;
  /** `use_default` priced this key at the default key. */
  price_key_remapped?: boolean;
  /** What the line is. */
  kind: LineKind;
  /** For people. */
  description: string;
  /** Quantity (of a product with `unit_conversion`: the converted one). */
  quantity: Decimal;
  /** Products with `unit_conversion`: the quantity before conversion. */
  raw_quantity?: Decimal;
  /** Products with `unit_conversion`: its `display_unit`, the unit of `quantity`. */
  unit?: string;
  /** Transactions (amount-aggregated usage). */
  transactions?: Decimal;
  /** Part of the quantity covered by the allowance. */
  included?: Decimal;
  /** Part of the quantity priced. */
  billable?: Decimal;
  /** Rounded amount. */
  amount: Decimal;
  /** Unit, when not the quote currency. */
  currency?: string;
  /** Tier breakdown. */
  tiers?: TierLine[];
  /** Override applied. */
  override?: OverrideRef;
}

/** A key dropped under the `drop` policy. */
export interface Dropped {
  /** Product. */
  product: string;
  /** The unpriced key. */
  price_key: string;
  /** Its usage. */
  quantity: Decimal;
}

/** A quote (docs/quote.md "Response"). */
export interface Quote {
  /** Currency of the money lines. */
  currency: string;
  /** Base plan. */
  plan: string;
  /** Add-ons. */
  addons?: string[];
  /** Billing period of the base plan. */
  period: Period;
  /** Periods paid ahead, when more than one. */
  periods?: number;
  /** Lines. */
  lines: QuoteLine[];
  /** Sum of non-discount money lines. */
  subtotal: Decimal;
  /** Discounts, as a positive amount. */
  discount: Decimal;
  /** Subtotal less discount. */
  total: Decimal;
  /** Totals of lines priced in custom units. */
  credits?: { [unit: string]: Decimal };
  /** Effective named limits. */
  limits?: { [name: string]: Decimal };
  /** Features granted. */
  features?: string[];
  /** Keys dropped under the `drop` policy. */
  dropped?: Dropped[];
  /** Hash of the price book. */
  price_book: string;
}

/** One plan in a comparison. */
export interface ComparedPlan {
  /** Plan id. */
  plan: string;
  /** Plan name. */
  name: string;
  /** Total, when the usage could be quoted on this plan. */
  total?: Decimal;
  /** Why it could not. */
  error?: Problem;
}

/** Every base plan's total for the same usage, cheapest first. */
export interface Comparison {
  /** Currency. */
  currency: string;
  /** Plans, cheapest first, then the ones that could not be quoted. */
  plans: ComparedPlan[];
  /** The cheapest plan, if any. */
  cheapest: string | null;
  /** Hash of the price book. */
  price_book: string;
}

// ------------------------------------------------------- events, meter

/** A usage event: a CloudEvent 1.0 in structured JSON mode (docs/contract.md §6).
 * Extension attributes and unknown `data` properties are kept. */
export interface UsageEvent {
  specversion: "1.0";
  /** Event id, 1-255 characters (the dedup key with `source`). */
  id: string;
  /** Producer, 1-255 characters. */
  source: string;
  /** The product id. */
  type: string;
  /** The customer. */
  subject: string;
  /** Usage time (absent: the time of receipt). */
  time?: Timestamp;
  data?: {
    /** Quantity (`sum`, `max`, `last` aggregations). */
    quantity?: DecimalInput;
    /** Amount (`amount` aggregation: percentage prices). */
    amount?: DecimalInput;
    /** Price-key properties (`tld`, `region`, ...) and anything else. */
    [property: string]: unknown;
  };
  [attribute: string]: unknown;
}

/** What the engine read from a valid event. */
export interface ValidatedEvent {
  /** Event id. */
  id: string;
  /** Event source. */
  source: string;
  /** Product id (`type`). */
  product: string;
  /** Customer id (`subject`). */
  customer: string;
  /** Usage time, when given. */
  time?: Timestamp;
  /** `data.quantity`, when given. */
  quantity?: Decimal;
  /** `data.amount`, when given. */
  amount?: Decimal;
}

/** When a plan change or a cancellation takes effect. */
export type SubscriptionMode = "immediate" | "period_end";

/**
 * A later subscription request (`meter.apply(...)`, the Worker's `PUT
 * .../subscription` body; docs/subscriptions.md). Every field is optional.
 */
export interface SubscriptionChange {
  /** Base plan; another plan than the current one transitions. */
  plan?: string;
  /** Must equal the subscription's start. */
  start?: Timestamp | Date;
  /** Must equal the subscription's anchor. */
  anchor?: Timestamp | Date;
  /** Seat and recurring quantities; only those that differ change (prorated). */
  quantities?: { [product: string]: DecimalInput };
  /** Must equal the subscription's add-ons. */
  addons?: string[];
  /** When a plan change takes effect (default `"immediate"`). */
  transition?: SubscriptionMode;
  /** Cancel, at once or at the end of the open period. */
  cancel?: SubscriptionMode;
  /** Credit pack to buy. */
  purchase_credits?: string;
  /** The subscription's own spend alert thresholds (besides its plans'),
   * in the book's currency; they replace the ones in force. */
  spend_alert_thresholds?: DecimalInput[];
  /** Keep (or stop keeping) the price book version in force (see SubscriptionRequest). */
  pin_price_book?: boolean;
  /** Move to the active price book version (see SubscriptionRequest). */
  price_book?: "latest";
}

/** What a subscription starts with (`book.meter(...)`): the first request, with its customer and start. */
export interface SubscriptionRequest {
  /** Customer id. */
  customer: string;
  /** Base plan id. */
  plan: string;
  /** When it starts. */
  start: Timestamp | Date;
  /** Period anchor; default the start (after any trial). */
  anchor?: Timestamp | Date;
  /** Seat and recurring quantities. */
  quantities?: { [product: string]: DecimalInput };
  /** Add-on plan ids. */
  addons?: string[];
  /** Ignored when subscribing (there is no plan to leave). */
  transition?: SubscriptionMode;
  /** Cancel at the start, at once or at the end of the first period. */
  cancel?: SubscriptionMode;
  /** Credit pack to buy at the start. */
  purchase_credits?: string;
  /** The subscription's own spend alert thresholds (besides its plans'), in the book's currency. */
  spend_alert_thresholds?: DecimalInput[];
  /**
   * Keep the price book version in force when newer ones become active
   * (where versions are kept: the Worker; a meter in JS is priced with the
   * book each call is given).
   */
  pin_price_book?: boolean;
  /** Move to the active price book version (the Worker; unpins). */
  price_book?: "latest";
}

/** A subscription as it is (`meter.subscription()`, `meter.apply(...)`). */
export interface SubscriptionView {
  /** Customer id. */
  customer: string;
  /** Base plan. */
  plan: string;
  /** Add-on plans. */
  addons: string[];
  /** Start. */
  start: Timestamp;
  /** Period anchor. */
  anchor: Timestamp;
  /** The open period. */
  period: { start: Timestamp; end: Timestamp };
  /** Whether the open period is a free trial. */
  trial: boolean;
  /** Seat and recurring quantities in force. */
  quantities: { [product: string]: Decimal };
  /** Cancelled at the end of the open period. */
  cancel_at_period_end: boolean;
  /** Price book hash. */
  price_book: string;
  /** Plan that takes over at the end of the open period. */
  transition_at_period_end?: string;
  /** When the subscription ended. */
  ended_at?: Timestamp;
  /** End of the free trial. */
  trial_end?: Timestamp;
  /** The subscription's own spend alert thresholds, when it has any. */
  spend_alert_thresholds?: Decimal[];
  /** Present when the subscription keeps its price book version. */
  pin_price_book?: true;
}

/** Status of an event's receipt. */
export type ReceiptStatus = "accepted" | "duplicate" | "rejected" | "dropped";

/** The answer to one event (docs/contract.md §6). */
export interface Receipt {
  /** Event id. */
  id: string;
  /** Event source. */
  source: string;
  /** Outcome. */
  status: ReceiptStatus;
  /** Exact change to the period's charge. */
  amount?: Decimal;
  /** Currency (or credit unit) of `amount`. */
  currency?: string;
  /** Price key used. */
  price_key?: string;
  /** Priced at the default key. */
  price_key_remapped?: boolean;
  /** Price book hash. */
  price_book?: string;
  /** A duplicate whose payload differs from the first. */
  conflict?: boolean;
  /** Why it was rejected. */
  error?: Problem;
}

/** What recording an event would do now, without doing it (`meter.estimate`). */
export interface Estimate {
  /** The status its receipt would have. */
  would_be: ReceiptStatus;
  /** The error it would get, when `rejected`. */
  error?: Problem;
  /** The receipt it would get: the one recording it next returns. */
  receipt: Receipt;
  /** The allowance of the event's product after it, when the plans meter that product. */
  allowance?: AllowanceDimension;
  /** Credits left after it, per credit unit held, in first-grant order. */
  credits: CreditBalance[];
}

/** The balance of one credit unit. */
export interface CreditBalance {
  /** Credit unit. */
  unit: string;
  /** Credits left (unexpired), exact. */
  balance: Decimal;
}

/** A `[start, end)` period. */
export interface Span {
  /** Start (inclusive). */
  start: Timestamp;
  /** End (exclusive). */
  end: Timestamp;
}

/** One invoice line. */
export interface InvoiceLine {
  /** Plan the line comes from. */
  plan: string;
  /** Product id (plan id for setup fees). */
  product: string;
  /** Price key. */
  price_key?: string;
  /** What the line is. */
  kind: LineKind;
  /** For people. */
  description: string;
  /** The period the line pays for. */
  period: Span;
  /** Quantity (of a product with `unit_conversion`: the converted one). */
  quantity: Decimal;
  /** Products with `unit_conversion`: the quantity before conversion. */
  raw_quantity?: Decimal;
  /** Products with `unit_conversion`: its `display_unit`, the unit of `quantity`. */
  unit?: string;
  /** Transactions (amount-aggregated usage). */
  transactions?: Decimal;
  /** Allowance applied. */
  included?: Decimal;
  /** Quantity priced. */
  billable?: Decimal;
  /** Rounded amount. */
  amount: Decimal;
  /** Unit, when not the invoice currency (credits). */
  currency?: string;
  /** Tier breakdown. */
  tiers?: TierLine[];
}

/** An invoice: usage in arrears, recurring and seat charges in advance. */
export interface Invoice {
  /** Customer. */
  customer: string;
  /** When it was issued. */
  issued_at: Timestamp;
  /** The period whose usage it bills in arrears (for the first invoice, the first period). */
  period: Span;
  /** Currency. */
  currency: string;
  /** Lines. */
  lines: InvoiceLine[];
  /** Sum of the money lines. */
  total: Decimal;
  /** Hash of the price book. */
  price_book: string;
}

/** The allowance of one metered dimension. */
export interface AllowanceDimension {
  product: string;
  price_key?: string;
  /** Allowance of the period. */
  included: Decimal;
  /** Carried over from the previous period. */
  rolled_over: Decimal;
  used: Decimal;
  remaining: Decimal;
  /** Usage beyond the allowance. */
  billable_usage: Decimal;
  /** What the billable usage costs so far, rounded. */
  overage_amount: Decimal;
  /** `used` as a percentage of the allowance (rounded to 2 places). */
  percent_used: Decimal;
}

/** Allowance state per metered dimension (docs/contract.md §5 "Allowance state"). */
export interface AllowanceState {
  customer: string;
  period: Span;
  dimensions: AllowanceDimension[];
  price_book: string;
}

/** One dimension of a forecast. */
export interface ForecastDimension {
  product: string;
  price_key?: string;
  /** Usage so far. */
  quantity: Decimal;
  /** Usage projected linearly to the period end. */
  projected_quantity: Decimal;
  /** What the projected usage costs, rounded. */
  projected_amount: Decimal;
  /** Unit, when not the book's currency (credits). */
  currency?: string;
}

/** The open period's usage projected to its end. */
export interface Forecast {
  customer: string;
  at: Timestamp;
  period: Span;
  dimensions: ForecastDimension[];
  /** Sum of the projected money amounts. */
  projected_usage_total: Decimal;
  currency: string;
  price_book: string;
}

/** What every record says: whose, when, and which event caused it. */
export interface RecordHead {
  /** Customer. */
  customer: string;
  /** When the change happened: the event's time for a change an event
   * caused, else the time of the operation or period boundary. */
  at: Timestamp;
  /** Id of the usage event that caused it, where one did. */
  event?: string;
  /** That event's `source` (with `event`, the event's dedup key). */
  source?: string;
}

/** An invoice was issued (subscription, period close, immediate plan change
 * or cancellation, credit pack bought). */
export interface InvoiceIssuedRecord extends RecordHead {
  type: "invoice.issued";
  /** The invoice's `issued_at`. */
  issued_at: Timestamp;
  /** The invoice's `period`. */
  period: Span;
  /** The invoice's `total`. */
  total: Decimal;
  /** The invoice's `currency`. */
  currency: string;
}

/** Usage reached `threshold` % of the period's allowance (once per period). */
export interface AllowanceThresholdReachedRecord extends RecordHead {
  type: "allowance.threshold_reached";
  /** Product. */
  product: string;
  /** The threshold, a percent, as the price book writes it. */
  threshold: Decimal;
  /** Usage of the period after the event. */
  used: Decimal;
  /** The period's allowance: included plus rolled over. */
  limit: Decimal;
  /** The period (segment) the usage counts in. */
  period: Span;
}

/** The period's usage charge reached `threshold` (once per period). */
export interface SpendThresholdReachedRecord extends RecordHead {
  type: "spend.threshold_reached";
  /** The threshold, in `currency`. */
  threshold: Decimal;
  /** The period's usage charge after the event, exact. */
  amount: Decimal;
  /** The book's currency. */
  currency: string;
  /** The period (segment) the charge belongs to. */
  period: Span;
}

/** Unused allowance carried into the next period. */
export interface AllowanceRolledOverRecord extends RecordHead {
  type: "allowance.rolled_over";
  /** Product. */
  product: string;
  /** Quantity carried. */
  quantity: Decimal;
}

/** The customer subscribed. */
export interface SubscriptionCreatedRecord extends RecordHead {
  type: "subscription.created";
  /** Base plan. */
  plan: string;
  /** Add-on plans, when any. */
  addons?: string[];
}

/** The base plan changed. */
export interface SubscriptionPlanChangedRecord extends RecordHead {
  type: "subscription.plan_changed";
  /** Previous plan. */
  from: string;
  /** New plan. */
  to: string;
}

/** The subscription was cancelled. */
export interface SubscriptionCanceledRecord extends RecordHead {
  type: "subscription.canceled";
  /** At once, or at the end of the open period. */
  mode: SubscriptionMode;
  /** When it ends (or ended). */
  ends_at: Timestamp;
}

/** An event was accepted as `dropped`: its price key is unpriced under `drop`. */
export interface UsageEventDroppedRecord extends RecordHead {
  type: "usage_event.dropped";
  /** Product. */
  product: string;
  /** The unpriced key. */
  price_key: string;
}

/** The wallet's balance fell to or below a `low_balance` (once until it rises above it again). */
export interface CreditsLowBalanceRecord extends RecordHead {
  type: "credits.low_balance";
  /** Credit unit. */
  unit: string;
  /** Balance after the change. */
  balance: Decimal;
  /** The `low_balance` reached. */
  threshold: Decimal;
}

/** A credit pack was bought, by hand or automatically. */
export interface CreditsToppedUpRecord extends RecordHead {
  type: "credits.topped_up";
  /** Pack. */
  pack: string;
  /** Credit unit. */
  unit: string;
  /** Credits granted (bonus included, times the packs bought). */
  credits: Decimal;
  /** Balance once the operation that bought it is done. */
  balance: Decimal;
  /** Bought automatically (`auto_top_up`). */
  automatic?: true;
}

/** Unspent credits of a grant expired. */
export interface CreditsExpiredRecord extends RecordHead {
  type: "credits.expired";
  /** Credit unit. */
  unit: string;
  /** Credits that expired. */
  credits: Decimal;
  /** Where they came from: a pack id, `included` or `auto_top_up:<pack>`. */
  grant: string;
  /** Balance after the expiry. */
  balance: Decimal;
}

/** A notable change, for webhooks and analytics (docs/metering.md "Records"):
 * one of these types, told apart by `type`. */
export type MeterRecord =
  | InvoiceIssuedRecord
  | AllowanceThresholdReachedRecord
  | SpendThresholdReachedRecord
  | AllowanceRolledOverRecord
  | SubscriptionCreatedRecord
  | SubscriptionPlanChangedRecord
  | SubscriptionCanceledRecord
  | UsageEventDroppedRecord
  | CreditsLowBalanceRecord
  | CreditsToppedUpRecord
  | CreditsExpiredRecord;

/** The type of a record. */
export type MeterRecordType = MeterRecord["type"];

/** A meter's exported state: keep it as it is and give it back to
 * `book.restoreMeter`; its shape is the engine's and may change. */
export interface MeterState {
  readonly customer: string;
  readonly plan: string;
  readonly [field: string]: unknown;
}
