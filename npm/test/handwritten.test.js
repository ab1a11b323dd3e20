// The hand-written decimal.js calculator of npm/bench/handwritten is the
// baseline of npm/bench/calculator.js, so it must price examples/hybrid.json
// as the engine does: same total and same line amounts for random usage
// on every plan (around each allowance, and far above it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PriceBook } from "rating-engine";
import { calculator } from "../bench/handwritten/calculator.js";

const text = readFileSync(new URL("../../examples/hybrid.json", import.meta.url), "utf8");
const doc = JSON.parse(text);
const book = PriceBook.parse(text);
const calc = calculator(doc);

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A decimal quantity string: an integer up to `max`, sometimes with a fraction. */
function quantity(next, max) {
  const whole = String(Math.floor(next() * max));
  return next() < 0.3 ? `${whole}.${String(Math.floor(next() * 1000)).padStart(3, "0")}` : whole;
}

test("the hand-written calculator gives the engine's totals and lines for hybrid.json", () => {
  const next = rng(15);
  const plans = doc.plans.map((p) => p.id);
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const plan = plans[i % plans.length];
    const scale = [300, 3000, 300000, 3000000][Math.floor(next() * 4)];
    const usage = {};
    for (const product of ["messages", "users", "channels"]) {
      if (next() < 0.9) usage[product] = quantity(next, product === "messages" ? scale * 10 : scale);
    }
    const q = book.quote({ plan, usage });
    const mine = calc(plan, usage);
    assert.equal(mine.total, q.total, `${plan} ${JSON.stringify(usage)}`);
    assert.deepEqual(
      mine.lines,
      q.lines.map((l) => ({ product: l.product, amount: l.amount })),
      `${plan} ${JSON.stringify(usage)}`,
    );
    checked++;
  }
  assert.equal(checked, 3000);
});
