// The workload and timing loop of npm/bench/calculator.js, shared by its
// Node and Chromium runs (no Node APIs here): 10,000 quotes of
// examples/hybrid.json over its three plans with varying usage, priced by
// the hand-written decimal.js calculator, by `book.quote(object)` and by a
// prepared quoter, each reading the total and every line's product and
// amount.

export const PLANS = ["starter", "professional", "enterprise"];

/** `n` requests: plans in turn, usage below and above every allowance. */
export function workload(n = 10000) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({
      plan: PLANS[i % PLANS.length],
      usage: { messages: String((i * 7919) % 600000), users: String((i * 31) % 260), channels: String((i * 17) % 400) },
    });
  }
  return out;
}

/** The three ways to price the workload. Each returns a checksum of what
 * it read (lengths and the cents of the total), equal for all three when
 * they agree. */
export function contenders({ PriceBook, calculator, bookText }) {
  const book = PriceBook.parse(bookText);
  const calc = calculator(JSON.parse(bookText));
  // One quoter per plan, prepared once, as a pricing page would keep them.
  const quoters = new Map(PLANS.map((p) => [p, book.quoter({ plan: p })]));
  const cents = (total) => total.charCodeAt(total.length - 1);
  return {
    calculator(w) {
      let s = 0;
      for (const { plan, usage } of w) {
        const r = calc(plan, usage);
        s += cents(r.total);
        for (const l of r.lines) s += l.amount.length + l.product.length;
      }
      return s;
    },
    quote(w) {
      let s = 0;
      for (const req of w) {
        const q = book.quote(req);
        s += cents(q.total);
        for (const l of q.lines) s += l.amount.length + l.product.length;
      }
      return s;
    },
    quoter(w) {
      let s = 0;
      for (const { plan, usage } of w) {
        const q = quoters.get(plan);
        q.set("messages", usage.messages);
        q.set("users", usage.users);
        q.set("channels", usage.channels);
        s += cents(q.total);
        const n = q.lineCount;
        for (let i = 0; i < n; i++) s += q.lineAmount(i).length + q.lineProduct(i).length;
      }
      return s;
    },
  };
}

/** Runs every contender over the workload `rounds` times, interleaved
 * (after `warmup` untimed passes: V8 tiers hot WebAssembly and JS up to
 * its optimising compiler), and returns µs per quote, min and median. */
export function measure(fns, w, { rounds = 9, warmup = 3, now }) {
  const names = Object.keys(fns);
  const sums = {};
  for (let r = 0; r < warmup; r++) for (const k of names) sums[k] = fns[k](w);
  const first = sums[names[0]];
  for (const k of names) if (sums[k] !== first) throw new Error(`${k} read ${sums[k]}, ${names[0]} ${first}: they disagree`);
  const times = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const k of names) {
      const t0 = now();
      fns[k](w);
      times[k].push(((now() - t0) * 1000) / w.length);
    }
  }
  const out = {};
  for (const k of names) {
    const xs = [...times[k]].sort((a, b) => a - b);
    out[k] = { min: xs[0], median: xs[Math.floor(xs.length / 2)] };
  }
  return out;
}
