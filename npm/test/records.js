// A meter's life that makes every record type of docs/metering.md
// "Records" once at least: used by api.test.js (every type comes through
// the package, as the engine makes it) and types.test.js (each record
// type-checks against the MeterRecord union).

/** Every record type, in documentation order. */
export const RECORD_TYPES = [
  "invoice.issued",
  "allowance.threshold_reached",
  "spend.threshold_reached",
  "allowance.rolled_over",
  "subscription.created",
  "subscription.plan_changed",
  "subscription.canceled",
  "usage_event.dropped",
  "credits.low_balance",
  "credits.topped_up",
  "credits.expired",
];

/** A book with alerts, a dropped key and credits. */
export const RECORDS_BOOK = {
  format: "price-book/v1",
  id: "records",
  currency: "USD",
  units: [{ code: "credits", scale: 0 }],
  products: [
    { id: "platform", name: "Platform", type: "recurring" },
    { id: "api", name: "API calls", type: "metered" },
    { id: "domain", name: "Domains", type: "metered", price_key_label: "tld", unmatched_price_key_policy: "drop" },
    { id: "gen", name: "Generations", type: "metered" },
  ],
  plans: [
    {
      id: "pro", name: "Pro", period: { unit: "month", length: 1 },
      spend_alert_thresholds: ["1.00"], low_balance: "10", included_credits: "30",
      items: [
        { product: "platform", price: { model: "flat", amount: "20.00" } },
        { product: "api", included_quantity: "1000", rollover: true, alert_thresholds: ["10"],
          price: { model: "per_unit", unit_amount: "0.01" } },
        { product: "domain", prices: { ".com": { model: "per_unit", unit_amount: "12.00" } } },
        { product: "gen", price: { model: "per_unit", unit_amount: "1", currency: "credits" } },
      ],
    },
    {
      id: "team", name: "Team", period: { unit: "month", length: 1 },
      items: [
        { product: "platform", price: { model: "flat", amount: "40.00" } },
        { product: "api", included_quantity: "5000", price: { model: "per_unit", unit_amount: "0.01" } },
      ],
    },
  ],
  credit_packs: [{ id: "boost", credits: "50", price: "5.00", expires_after: { unit: "day", length: 10 }, low_balance: "5" }],
};

const event = (id, type, time, data) => ({ specversion: "1.0", id, source: "test", type, subject: "c", time, data });

/** Runs the life through `PriceBook` and returns every record, in order. */
export function everyRecord(PriceBook) {
  const book = PriceBook.parse(RECORDS_BOOK);
  const m = book.meter({ customer: "c", plan: "pro", start: "2026-01-01T00:00:00Z" });
  const records = [...m.takeRecords()];
  m.record(event("e1", "api", "2026-01-02T00:00:00Z", { quantity: "150" }), "2026-01-02T00:00:00Z");
  m.record(event("e2", "domain", "2026-01-03T00:00:00Z", { quantity: "1", tld: ".com" }), "2026-01-03T00:00:00Z");
  m.record(event("e3", "domain", "2026-01-03T00:00:00Z", { quantity: "1", tld: ".xyz" }), "2026-01-03T00:00:00Z");
  m.record(event("e4", "gen", "2026-01-04T00:00:00Z", { quantity: "25" }), "2026-01-04T00:00:00Z");
  m.purchaseCredits("boost", "2026-01-05T00:00:00Z");
  m.closePeriod("2026-02-01T00:00:00Z");
  m.transitionPlan("team", "2026-02-10T00:00:00Z", "immediate");
  m.cancel("2026-02-20T00:00:00Z", "period_end");
  records.push(...m.takeRecords());
  return records;
}
