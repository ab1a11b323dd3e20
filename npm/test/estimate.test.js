// meter.estimate(event, at): the receipt an event would get if recorded
// next, with the allowance and credits it would leave, and nothing
// changed (docs/metering.md, "Estimates"). Checked on random events
// against recording them, in the Node build and the browser build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { targets } from "./targets.js";

const credits = readFileSync(new URL("../../examples/credits.json", import.meta.url), "utf8");

// A small deterministic generator, so a failure can be replayed.
function random(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

for (const [name, lib] of [["node", targets.node], ["web", targets.web]]) {
  test(`${name}: an estimate is the next receipt and changes nothing`, () => {
    const book = lib.PriceBook.parse(credits);
    for (const plan of ["payg", "pro"]) {
      const meter = book.meter({ customer: "c", plan, start: "2026-01-01T00:00:00Z" });
      meter.takeInvoices();
      const r = random(plan.length * 7919);
      let t = Date.parse("2026-01-01T00:00:00Z");
      for (let i = 0; i < 300; i++) {
        t += r(4 * 3600) * 1000;
        const at = new Date(t).toISOString();
        const type = ["image-generation", "text-generation", "video-analysis", "nope"][r(4)];
        const id = r(5) === 0 && i > 0 ? `e${r(i)}` : `e${i}`;
        const quality = ["standard", "hd", "ultra", "unknown"][r(4)];
        const event = { specversion: "1.0", id, source: "app", type, subject: r(20) ? "c" : "d",
          data: { quantity: `${r(40)}.${r(100)}`, quality } };
        const before = JSON.stringify(meter.toJSON());
        const estimate = meter.estimate(event, at);
        assert.equal(JSON.stringify(meter.toJSON()), before, "an estimate changed the meter");
        const receipt = meter.record(event, at);
        assert.deepEqual(estimate.receipt, receipt);
        assert.equal(estimate.would_be, receipt.status);
        assert.deepEqual(estimate.error, receipt.error);
        const after = meter.estimate({ ...event, type: "nope", id: `probe${i}` }, at);
        assert.deepEqual(estimate.credits, after.credits, "credits left after recording");
      }
    }
  });
}

test("an estimate of text that is not an event is its rejection", () => {
  const book = targets.node.PriceBook.parse(credits);
  const meter = book.meter({ customer: "c", plan: "pro", start: "2026-01-01T00:00:00Z" });
  const e = meter.estimate({ specversion: "1.0", id: "x", source: "app", type: "text-generation" }, "2026-01-02T00:00:00Z");
  assert.equal(e.would_be, "rejected");
  assert.equal(e.error.code, e.receipt.error.code);
  assert.equal(e.error.path, "subject");
  assert.deepEqual(e.credits, [{ unit: "credits", balance: "300" }]);
  assert.equal(e.allowance, undefined);
});
