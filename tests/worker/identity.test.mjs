// Cross-target identity: every case of tests/vectors/*.json gives the same
// bytes from the CLI, the npm package in Node, the npm package in Chromium
// and the Worker's /v1/quote, /v1/compare (and PUT /v1/price-book for
// `check` cases). Each target's outputs go to
// tests/artifacts/identity/<target>.ndjson (tests/worker/identity.mjs
// describes a line); the files are then compared byte for byte and the
// first differing vector is reported.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Dev, KEYS } from "./harness.mjs";
import { collectChromium, collectCli, collectNode, collectWorker, firstDifference, loadCases, save } from "./identity.mjs";

const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const dev = new Dev();
const cases = loadCases();
const done = new Set();

before(async () => {
  await dev.start();
});

after(async () => {
  await dev.stop();
  dev.cleanup();
});

test("there are vectors of every op", () => {
  assert.ok(cases.length >= 200, String(cases.length));
  for (const op of ["check", "quote", "compare"]) assert.ok(cases.some((c) => c.op === op), op);
});

test("the CLI", () => {
  save("cli", collectCli(cases));
  done.add("cli");
});

test("the npm package in Node", async () => {
  save("node", await collectNode(cases));
  done.add("node");
});

test("the npm package in Chromium", { skip: !existsSync(chromium) && "no chromium" }, async () => {
  save("chromium", await collectChromium(cases, dev.url));
  done.add("chromium");
});

test("the Worker (wrangler dev)", async () => {
  save("worker", await collectWorker(cases, dev.url, KEYS.devAdmin));
  done.add("worker");
});

test("every target's file is byte-identical to the CLI's", () => {
  assert.ok(done.has("cli"));
  const problems = [];
  for (const target of ["node", "chromium", "worker"]) {
    if (!done.has(target)) continue;
    const d = firstDifference("cli", target);
    if (d) problems.push(`${target}: ${d}`);
  }
  assert.deepEqual(problems, [], problems.join("\n\n"));
  console.log(`# identity: ${cases.length} vectors x ${done.size} targets (${[...done].join(", ")}) byte-identical`);
});
