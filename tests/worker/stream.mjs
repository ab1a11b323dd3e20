// A deterministic usage stream for examples/worker/price-book.json: a few
// customers on both plans, every product, keyed products with known and
// unknown keys (each unmatched-key policy), re-sent duplicates (some with
// a changed payload) and events the engine rejects.

import { iso } from "./harness.mjs";

/** mulberry32: a small seeded PRNG. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Subscriptions and events for `customers` (names prefixed by `prefix`),
 * starting `startMs`, with event times in [startMs + 1 h, endMs].
 */
export function stream({ prefix, customers = 6, events = 1500, startMs, endMs, seed = 7 }) {
  const rnd = rng(seed);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const start = iso(startMs);
  const subs = [];
  for (let i = 0; i < customers; i++) {
    const pro = i % 3 !== 2;
    const s = { customer: `${prefix}${i}`, plan: pro ? "pro" : "starter", start };
    if (pro) s.quantities = { seats: String(1 + (i % 3)) };
    subs.push(s);
  }
  const qty = () => (Math.floor(rnd() * 5000) / 100 + 0.01).toFixed(2);
  const kinds = [
    () => ["api_calls", undefined],
    () => ["bandwidth", { quantity: qty() }],
    () => ["storage", { quantity: String(Math.floor(rnd() * 300)) }],
    () => ["sales", { amount: qty() }],
    () => ["sms", { quantity: String(1 + Math.floor(rnd() * 3)), country: pick(["US", "US", "GB", "FR"]) }],
    () => ["voice", { quantity: qty(), country: pick(["US", "GB", "FR"]) }],
    () => ["mms", { quantity: "1", country: pick(["US", "FR"]) }],
  ];
  const out = [];
  const span = endMs - startMs - 3600_000;
  for (let n = 0; n < events; n++) {
    const r = rnd();
    if (out.length > 0 && r < 0.05) {
      out.push(structuredClone(pick(out)));
      continue;
    }
    if (out.length > 0 && r < 0.06) {
      const e = structuredClone(pick(out));
      e.data = { ...(e.data ?? {}), note: "changed" };
      out.push(e);
      continue;
    }
    const c = pick(subs).customer;
    const [type, data] = pick(kinds)();
    const t = iso(startMs + 3600_000 + Math.floor(rnd() * span));
    const e = { specversion: "1.0", id: `${prefix}e${n}`, source: pick(["app-1", "app-2"]), type, subject: c, time: t };
    if (data) e.data = data;
    if (r > 0.995) e.type = "teleport"; // unknown product: rejected
    out.push(e);
  }
  return { subs, events: out };
}
