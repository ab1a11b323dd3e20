// What a user would write by hand to price examples/hybrid.json with
// decimal.js: a flat fee per plan, metered products priced per unit after
// the plan's included quantity, each line rounded half-up to cents, the
// total the sum of the lines. The baseline of npm/bench/calculator.js;
// npm/test/handwritten.test.js checks it against the engine's quote().
import Decimal from "decimal.js";

const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });
const ZERO = new D(0);

/** Prepares a book's plans; returns `(plan, usage) => {total, lines}`,
 * usage as `{product: "decimal string"}`, money as strings. */
export function calculator(book) {
  const plans = new Map();
  for (const p of book.plans) {
    plans.set(p.id, p.items.map(({ product, price, included_quantity }) => {
      if (price.model !== "flat" && price.model !== "per_unit") throw new Error(`${price.model} is not handled`);
      return { product, flat: price.model === "flat", amount: new D(price.amount ?? price.unit_amount), included: new D(included_quantity ?? 0) };
    }));
  }
  return (plan, usage) => {
    let total = ZERO;
    const lines = [];
    for (const it of plans.get(plan)) {
      const amount = (it.flat ? it.amount : D.max(ZERO, new D(usage[it.product] ?? 0).minus(it.included)).times(it.amount)).toDecimalPlaces(2);
      total = total.plus(amount);
      lines.push({ product: it.product, amount: amount.toFixed(2) });
    }
    return { total: total.toFixed(2), lines };
  };
}
