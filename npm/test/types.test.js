// The shipped TypeScript types, checked by `tsc --noEmit`:
// - every code block of README.md (```ts as TypeScript, ```js as checked
//   JavaScript), against the package's own declarations;
// - real results against the declared result types: every vector's quote
//   and compare output, meter outputs, and every book as a PriceBookDoc,
//   written as object literals so that a key the types lack (or a missing
//   required one) is an error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { PriceBook } from "rating-engine";
import { everyRecord, RECORDS_BOOK } from "./records.js";

const npm = fileURLToPath(new URL("../", import.meta.url));
const root = join(npm, "..");
const dir = join(npm, ".types-check");

function readmeBlocks() {
  const text = readFileSync(join(npm, "README.md"), "utf8");
  const blocks = [...text.matchAll(/```(ts|js)\n([\s\S]*?)```/g)];
  return blocks.map(([, lang, code], i) => {
    const ext = lang === "ts" ? "mts" : code.includes("require(") ? "cjs" : "mjs";
    return [`readme-${i}.${ext}`, code];
  });
}

/** `const name: Type = <literal>;` lines for real results. */
function outputs() {
  const lines = ['import type * as R from "rating-engine";', ""];
  let n = 0;
  const add = (type, value) => lines.push(`export const v${n++}: ${type} = ${JSON.stringify(value)};`);
  for (const f of readdirSync(join(root, "tests/vectors")).filter((f) => f.endsWith(".json")).sort()) {
    for (const c of JSON.parse(readFileSync(join(root, "tests/vectors", f), "utf8")).cases) {
      const bookJson = typeof c.book === "string" ? JSON.parse(readFileSync(join(root, c.book), "utf8")) : c.book;
      let book;
      try {
        book = PriceBook.parse(bookJson);
      } catch {
        continue; // invalid books are not PriceBookDocs
      }
      add("R.PriceBookDoc", bookJson);
      if (c.op !== "quote" && c.op !== "compare") continue;
      const req = typeof c.request === "string" ? JSON.parse(readFileSync(join(root, c.request), "utf8")) : c.request;
      try {
        add(c.op === "quote" ? "R.Quote" : "R.Comparison", c.op === "quote" ? book.quote(req) : book.compare(req));
        add(c.op === "quote" ? "R.QuoteRequest" : "R.CompareRequest", req);
      } catch {
        // errors are checked by the vector tests
      }
    }
  }
  // Meter outputs on the examples that exercise them.
  const replayBook = PriceBook.parse(readFileSync(join(root, "examples/replay/book.json"), "utf8"));
  for (const s of JSON.parse(readFileSync(join(root, "examples/replay/subscriptions.json"), "utf8"))) {
    const { changes, ...sub } = s;
    add("R.SubscriptionRequest", sub);
    const m = replayBook.meter(sub);
    add("R.SubscriptionView", m.subscription());
    for (const { at, ...change } of changes ?? []) add("R.SubscriptionChange", change);
    for (const line of readFileSync(join(root, "examples/replay/events.ndjson"), "utf8").split("\n").filter(Boolean)) {
      const ev = JSON.parse(line);
      if (ev.subject !== sub.customer) continue;
      add("R.UsageEvent", ev);
      add("R.Receipt", m.record(ev, ev.time));
      add("R.ValidatedEvent", validate(ev));
    }
    for (const c of changes ?? []) {
      try {
        if (c.quantities) for (const [p, q] of Object.entries(c.quantities)) m.changeQuantity(p, q, c.at);
        if (c.plan) m.transitionPlan(c.plan, c.at, c.transition);
        if (c.cancel) m.cancel(c.at, c.cancel);
      } catch {
        // order of changes vs. events does not matter here
      }
    }
    const at = "2026-03-01T00:00:00Z";
    add("R.AllowanceState", m.allowanceState("2026-01-20T00:00:00Z"));
    add("R.Forecast", m.forecast("2026-01-20T00:00:00Z"));
    add("R.Invoice", m.previewInvoice(at));
    add("R.Invoice[]", m.closePeriod(at));
    add("R.MeterRecord[]", m.takeRecords());
    add("R.MeterState", m.toJSON());
  }
  const credits = PriceBook.parse(readFileSync(join(root, "examples/credits.json"), "utf8"));
  const doc = credits.toJSON();
  add("R.PriceBookDoc", doc);
  const cm = credits.meter({ customer: "c", plan: doc.plans.find((p) => !p.addon).id, start: "2026-01-01T00:00:00Z" });
  cm.purchaseCredits(doc.credit_packs[0].id, "2026-01-02T00:00:00Z");
  add("R.Invoice[]", cm.takeInvoices());
  add("R.AllowanceState", cm.allowanceState("2026-01-03T00:00:00Z"));
  add("R.Forecast", cm.forecast("2026-01-03T00:00:00Z"));
  // Every record type, each checked against its member of the union.
  add("R.PriceBookDoc", RECORDS_BOOK);
  for (const r of everyRecord(PriceBook)) add("R.MeterRecord", r);
  add("R.SubscriptionRequest", { customer: "c", plan: "pro", start: "2026-01-01T00:00:00Z", spend_alert_thresholds: ["5.00", 10] });
  add("R.SubscriptionChange", { spend_alert_thresholds: [] });
  return lines.join("\n") + "\n";
}

import { validateEvent } from "rating-engine";
const validate = (ev) => validateEvent(ev);

test("tsc --noEmit: the README's examples and real results against the shipped types", () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const files = readmeBlocks();
  assert.ok(files.length >= 5, "the README has its code blocks");
  for (const [name, code] of files) writeFileSync(join(dir, name), code);
  writeFileSync(join(dir, "outputs.gen.ts"), outputs());
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: "es2022", lib: ["es2022", "dom"], types: ["node"],
        module: "nodenext", moduleResolution: "nodenext", allowJs: true, checkJs: true,
        exactOptionalPropertyTypes: true, skipLibCheck: false, noUnusedLocals: false,
      },
      include: ["*.ts", "*.mts", "*.cjs", "*.mjs"],
    }),
  );
  const tsc = join(npm, "node_modules/.bin/tsc");
  const r = spawnSync(tsc, ["-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
