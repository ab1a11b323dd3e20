// The meter through the package against the native engine: the same
// subscriptions, changes and events go through `rating replay` (the CLI)
// and through book.meter() in JS, and every invoice, open-period preview,
// record and receipt count must be the same JSON. Replay's rules are those
// of crates/rating/src/replay.rs: events in file order, each received at
// its own time (at most --at), changes applied when an event or the end
// reaches their time, then every period ending by --at closed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PriceBook, RatingError } from "rating-engine";
import { parse, stringify } from "./json-literal.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli =
  process.env.RATING_CLI ??
  ["target/release/rating", "target/debug/rating"].map((p) => join(root, p)).find((p) => existsSync(p));

const ms = (t) => Date.parse(t);
const min = (a, b) => (ms(a) <= ms(b) ? a : b);

/** replay.rs in JS, over the package's Meter. */
function replayInJs(bookText, subsText, eventLines, at) {
  const book = PriceBook.parse(bookText);
  const runs = new Map();
  for (const s of parse(subsText)) {
    const { changes = [], ...sub } = s;
    const meter = book.meter(stringify(sub));
    const queue = changes.map(({ at, ...request }, index) => ({ at, index, request })).sort((a, b) => ms(a.at) - ms(b.at));
    const run = { meter, changes: queue, invoices: [], records: [], errors: [] };
    collect(run);
    runs.set(sub.customer, run);
  }
  const counts = { accepted: 0, duplicate: 0, rejected: 0, dropped: 0 };
  for (const line of eventLines) {
    let event = null;
    try {
      event = JSON.parse(line);
    } catch {
      // Not JSON: rejected.
    }
    const run = event && typeof event === "object" ? runs.get(event.subject) : undefined;
    let receipt;
    if (!run) {
      // Not JSON, not an event, or a customer without a subscription.
      receipt = { status: "rejected" };
    } else {
      const t = typeof event.time === "string" ? event.time : at;
      applyChangesUntil(run, t);
      receipt = run.meter.record(line, min(t, at));
      collect(run);
    }
    if (receipt) counts[receipt.status] += 1;
  }
  const customers = [];
  for (const [customer, run] of runs) {
    applyChangesUntil(run, at);
    run.invoices.push(...run.meter.closePeriod(at));
    run.records.push(...run.meter.takeRecords());
    const c = { customer, invoices: run.invoices.filter((i) => ms(i.issued_at) <= ms(at)) };
    if (run.meter.endedAt === undefined) c.open_period = run.meter.previewInvoice(at);
    c.records = run.records.filter((r) => ms(r.at) <= ms(at));
    if (run.errors.length) c.errors = run.errors;
    customers.push(c);
  }
  return { customers, receipts: counts, price_book: book.hash };
}

function collect(run) {
  run.invoices.push(...run.meter.takeInvoices());
  run.records.push(...run.meter.takeRecords());
}

/** A change is a subscription request at its time, applied all or
 * nothing; a failed one is listed at `changes[j].<path>`. */
function applyChangesUntil(run, t) {
  while (run.changes.length && ms(run.changes[0].at) <= ms(t)) {
    const { at, index, request } = run.changes.shift();
    try {
      run.meter.apply(stringify(request), at);
    } catch (e) {
      if (!(e instanceof RatingError)) throw e;
      const base = `changes[${index}]`;
      const path = e.path === undefined ? base : e.path.startsWith("[") ? base + e.path : `${base}.${e.path}`;
      run.errors.push({ code: e.code, message: `at ${at}: ${e.message}`, path });
    }
    collect(run);
  }
}

const scratch = mkdtempSync(join(tmpdir(), "rating-meter-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

function replayInCli(bookText, subsText, eventLines, at) {
  const files = { book: bookText, events: eventLines.join("\n") + "\n", subs: subsText };
  for (const [k, v] of Object.entries(files)) writeFileSync(join(scratch, k), v);
  const r = spawnSync(cli, ["replay", join(scratch, "book"), join(scratch, "events"), "--subscriptions", join(scratch, "subs"), "--at", at], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertSameReplay(bookText, subsText, eventLines, at) {
  const native = replayInCli(bookText, subsText, eventLines, at);
  const js = replayInJs(bookText, subsText, eventLines, at);
  assert.equal(js.customers.length, native.customers.length);
  for (const [i, c] of native.customers.entries()) {
    const mine = js.customers[i];
    assert.equal(mine.customer, c.customer);
    // Same keys in the same order with the same strings.
    for (const key of ["invoices", "open_period", "records", "errors"]) {
      assert.equal(JSON.stringify(mine[key]), JSON.stringify(c[key]), `${c.customer}: ${key} differ at --at ${at}`);
    }
    assert.deepEqual(Object.keys(mine), Object.keys(c));
  }
  assert.deepEqual(js.receipts, native.receipts);
  assert.equal(js.price_book, native.price_book);
  return native;
}

const skip = cli ? false : "no rating CLI built (set RATING_CLI)";
const read = (p) => readFileSync(join(root, p), "utf8");

test("examples/replay: the package's meter issues the CLI's invoices", { skip }, () => {
  const book = read("examples/replay/book.json");
  const subs = read("examples/replay/subscriptions.json");
  const events = read("examples/replay/events.ndjson").split("\n").filter((l) => l.trim());
  for (const at of ["2026-01-01T00:00:00Z", "2026-01-13T12:00:00Z", "2026-02-01T00:00:00Z", "2026-02-17T00:00:00Z", "2026-03-01T00:00:00Z", "2026-06-15T08:30:00Z"]) {
    const out = assertSameReplay(book, subs, events, at);
    assert.ok(out.customers.some((c) => c.invoices.length > 0));
  }
});

/** A small deterministic PRNG (mulberry32) for generated workloads. */
function rng(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("generated usage, changes and bad events: the same invoices and records natively and in WASM", { skip }, () => {
  // The example book with alerts on every allowance and on spend, so that
  // thresholds are crossed by events in both.
  const doc = JSON.parse(read("examples/replay/book.json"));
  for (const plan of doc.plans) {
    plan.spend_alert_thresholds = ["1.00", "5.00", "25.00", "100.00"];
    for (const item of plan.items) if (item.included_quantity) item.alert_thresholds = ["50", "80", "100", "200"];
  }
  const book = JSON.stringify(doc);
  const subs = JSON.stringify([
    { customer: "cus_1", plan: "pro", start: "2026-01-01T00:00:00Z", quantities: { seats: "3" },
      changes: [{ at: "2026-01-20T06:00:00Z", quantities: { seats: "1" } }, { at: "2026-03-03T00:00:00Z", plan: "hobby", transition: "period_end" }] },
    { customer: "cus_2", plan: "hobby", start: "2026-01-07T12:00:00Z", anchor: "2026-02-01T00:00:00Z",
      changes: [{ at: "2026-02-10T00:00:00Z", plan: "pro", transition: "immediate" }, { at: "2026-03-20T00:00:00Z", cancel: "period_end" }] },
    { customer: "cus_3", plan: "pro", start: "2026-01-15T00:00:00Z", quantities: { seats: "2" }, spend_alert_thresholds: ["0.10"],
      changes: [{ at: "2026-02-01T00:00:00Z", spend_alert_thresholds: ["2.50"] }, { at: "2026-02-25T13:00:00Z", cancel: "immediate" }] },
  ]);
  const random = rng(42);
  const products = ["bandwidth", "builds", "invocations"];
  const lines = [];
  const start = ms("2026-01-01T00:00:00Z");
  // Times ascending, as exported usage is; a few events arrive late.
  const times = Array.from({ length: 1500 }, () => start + Math.floor(random() * 110 * 86400) * 1000).sort((a, b) => a - b);
  for (let i = 0; i < times.length; i++) {
    const late = random() < 0.03 ? 2 * 86400 * 1000 : 0;
    const t = new Date(times[i] - late).toISOString().replace(".000Z", "Z");
    const customer = `cus_${1 + Math.floor(random() * 3)}`;
    const r = random();
    const quantity = r < 0.5 ? (random() * 40).toFixed(3) : String(Math.floor(random() * 900));
    const event = { specversion: "1.0", id: `e${i}`, source: "gen", type: products[Math.floor(random() * 3)], subject: customer, time: t, data: { quantity } };
    if (r > 0.97) event.data.quantity = "-1"; // rejected
    if (r > 0.99) delete event.specversion; // invalid
    lines.push(JSON.stringify(event));
    if (random() < 0.05) lines.push(lines[Math.floor(random() * lines.length)]); // duplicates
  }
  lines.push("not json");
  for (const at of ["2026-02-01T00:00:00Z", "2026-03-15T00:00:00Z", "2026-05-01T00:00:00Z"]) {
    const out = assertSameReplay(book, subs, lines, at);
    assert.ok(out.receipts.duplicate > 0 && out.receipts.rejected > 0 && out.receipts.accepted > 100);
    // Crossed by events, except cus_3's 2.50 set on Feb 1, mid-period,
    // when its charge had passed it: that one fires at the change.
    const crossed = out.customers.flatMap((c) => c.records).filter((r) => r.type.endsWith(".threshold_reached"));
    const byChange = crossed.filter((r) => !r.event);
    assert.ok(crossed.length - byChange.length > 3, "thresholds crossed by events");
    assert.ok(byChange.every((r) => r.customer === "cus_3" && r.at === "2026-02-01T00:00:00Z" && r.threshold === "2.50"));
  }
});
