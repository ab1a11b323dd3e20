// rating-engine/calculator outside a browser: importing it in Node defines
// nothing and throws nothing; its declarations type-check a typical use
// (tsc --noEmit, DOM lib); and Node's Intl.NumberFormat formats a decimal
// string exactly, which the element relies on (docs/calculator.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const npm = fileURLToPath(new URL("../", import.meta.url));

test("importing the calculator in Node does not throw", async () => {
  assert.equal(typeof globalThis.customElements, "undefined");
  const m = await import("../calculator.js");
  assert.equal(typeof m.RatingCalculator, "function");
  assert.equal(m.compareDecimals("10.50", "10.5"), 0);
  assert.equal(m.compareDecimals("99999999999999999999.01", "99999999999999999999.009"), 1);
  assert.equal(m.compareDecimals("-1", "0.00"), -1);
});

test("Intl.NumberFormat reads decimal strings exactly", () => {
  const f = new Intl.NumberFormat("en", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  assert.equal(f.format("123456789012345678.91"), "$123,456,789,012,345,678.91");
  assert.equal(f.format(123456789012345678.91), "$123,456,789,012,345,680.00"); // what a double would show
});

test("calculator.d.ts types a typical use", () => {
  const dir = join(npm, ".calculator-types");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, "use.ts"), `
import { RatingCalculator, type QuoteChangeDetail } from "../calculator.js";
const el = document.querySelector("rating-calculator");
if (el) {
  el.plans = "starter pro";
  el.addEventListener("quote-change", (e) => {
    const d: QuoteChangeDetail = e.detail;
    const total: string | undefined = d.quotes["pro"]?.total;
    console.log(total, d.cheapest, d.errors["starter"]?.message);
  });
  el.bookData = { format: "price-book/v1" };
}
const made: RatingCalculator = document.createElement("rating-calculator");
made.period = "12";
// @ts-expect-error: money is a string, never a number
const wrong: number = made.quotes!.quotes["pro"].total;
void wrong;
`);
  const r = spawnSync(join(npm, "node_modules/.bin/tsc"), ["--noEmit", "--strict", "--lib", "es2022,dom", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", join(dir, "use.ts")], { encoding: "utf8" });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
