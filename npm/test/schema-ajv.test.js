// The committed JSON Schema of a price book (schema/price-book.v1.json)
// compiles with ajv in strict mode (draft 2020-12, standard formats), every
// book the repository ships validates against it, and it is never stricter
// than the engine: each broken book below is run through both, and a book
// the schema rejects is one `rating check` rejects too. docs/schema.md lists
// the rules only the engine checks; the table marks the books they catch.
// A second list holds spellings the engine reads (null for an absent
// field, negative zero, exponents, `staircase`) that both must accept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const root = fileURLToPath(new URL("../../", import.meta.url));
const readJson = (path) => JSON.parse(readFileSync(join(root, path), "utf8"));
const schema = readJson("schema/price-book.v1.json");

function compile() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

const show = (errors) => JSON.stringify(errors, null, 1);

test("the schema compiles with ajv 2020 in strict mode", () => {
  assert.equal(typeof compile(), "function");
});

/** Every price book in examples/ (by its `format`). */
function exampleBooks() {
  const books = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json")) {
        const v = readJson(p);
        if (v && v.format === "price-book/v1") books.push([p, v]);
      }
    }
  };
  walk("examples");
  return books;
}

/** The books of tests/vectors cases that expect a result, not an error. */
function vectorBooks() {
  const books = [];
  for (const f of readdirSync(join(root, "tests/vectors")).filter((n) => n.endsWith(".json"))) {
    for (const c of readJson(`tests/vectors/${f}`).cases) {
      if (c.error || c.book === undefined) continue;
      const book = typeof c.book === "string" ? readJson(c.book) : c.book;
      books.push([`tests/vectors/${f}: ${c.name}`, book]);
    }
  }
  return books;
}

test("every example price book validates", () => {
  const validate = compile();
  const books = exampleBooks();
  assert.ok(books.length >= 5, `only ${books.length} example books found`);
  for (const [name, book] of books) {
    assert.ok(validate(book), `${name}: ${show(validate.errors)}`);
  }
});

test("every price book of the shared vectors validates", () => {
  const validate = compile();
  const books = vectorBooks();
  assert.ok(books.length > 0);
  for (const [name, book] of books) {
    assert.ok(validate(book), `${name}: ${show(validate.errors)}`);
  }
});

// A small valid book the broken ones are made from.
const base = () => ({
  format: "price-book/v1",
  id: "broken",
  currency: "USD",
  products: [
    { id: "base", name: "Base", type: "recurring" },
    { id: "api", name: "API calls", type: "metered" },
  ],
  plans: [
    {
      id: "pro",
      name: "Pro",
      period: { unit: "month", length: 1 },
      items: [
        { product: "base", price: { model: "flat", amount: "20.00" } },
        {
          product: "api",
          price: {
            model: "graduated",
            tiers: [
              { up_to: "1000", unit_amount: "0" },
              { up_to: null, unit_amount: "0.002" },
            ],
          },
        },
      ],
    },
  ],
});
const flat = (b) => b.plans[0].items[0].price;
const tiered = (b) => b.plans[0].items[1].price;

// [name, how to break the book, whether the schema can see it]
const broken = [
  ["negative amount", (b) => { flat(b).amount = "-1"; }, true],
  ["negative amount as a number", (b) => { flat(b).amount = -1; }, true],
  ["amount that is not a decimal", (b) => { flat(b).amount = "12,50"; }, true],
  ["negative tier unit_amount", (b) => { tiered(b).tiers[1].unit_amount = "-0.5"; }, true],
  ["tier without up_to", (b) => { delete tiered(b).tiers[1].up_to; }, true],
  ["wrong format string", (b) => { b.format = "price-book/v2"; }, true],
  ["missing format", (b) => { delete b.format; }, true],
  ["flat price without amount", (b) => { delete flat(b).amount; }, true],
  ["flat price with unit_amount", (b) => { flat(b).unit_amount = "1"; }, true],
  ["graduated price without tiers", (b) => { delete tiered(b).tiers; }, true],
  ["per_unit price without unit_amount", (b) => { b.plans[0].items[0].price = { model: "per_unit" }; }, true],
  ["package price without package_amount", (b) => { b.plans[0].items[0].price = { model: "package", package_size: "100" }; }, true],
  ["percentage price without percent", (b) => { b.plans[0].items[0].price = { model: "percentage", fixed_amount: "0.30" }; }, true],
  ["currency option missing the model's field", (b) => { flat(b).currency_options = { EUR: { unit_amount: "18" } }; }, true],
  ["null for the model's required field", (b) => { flat(b).amount = null; }, true],
  ["negative currency option amount", (b) => { flat(b).currency_options = { EUR: { amount: "-18" } }; }, true],
  ["staircase price without tiers", (b) => { b.plans[0].items[1].price = { model: "staircase" }; }, true],
  ["unknown model", (b) => { flat(b).model = "tiered"; }, true],
  ["unknown property on the book", (b) => { b.colour = "blue"; }, true],
  ["unknown property on a price", (b) => { flat(b).amout = "20"; }, true],
  ["negative trial_days", (b) => { b.plans[0].trial_days = -3; }, true],
  ["negative setup_fee", (b) => { b.plans[0].setup_fee = "-5"; }, true],
  ["trial_days above 3650", (b) => { b.plans[0].trial_days = 4000; }, true],
  ["advance discount of 0 periods", (b) => { b.plans[0].advance_discounts = [{ periods: 0, percent: "10" }]; }, true],
  ["unknown product type", (b) => { b.products[0].type = "subscription"; }, true],
  // Only the engine sees these (docs/schema.md).
  ["item naming an unknown product", (b) => { b.plans[0].items[0].product = "nope"; }, false],
  ["duplicate plan id", (b) => { b.plans.push({ ...b.plans[0] }); }, false],
  ["tiers out of order", (b) => { tiered(b).tiers.unshift({ up_to: "5000", unit_amount: "1" }); }, false],
  ["open tier not last", (b) => { tiered(b).tiers.reverse(); }, false],
  ["unknown currency", (b) => { b.currency = "XYZ"; }, false],
  ["zero package_size", (b) => { b.plans[0].items[0].price = { model: "package", package_size: "0", package_amount: "1" }; }, false],
];

// Books both accept: spellings the engine reads that the schema must not refuse.
const accepted = [
  ["a forbidden field given as null", (b) => { flat(b).unit_amount = null; }],
  ["negative zero", (b) => { flat(b).amount = "-0.00"; }],
  ["a decimal with an exponent", (b) => { flat(b).amount = "2e1"; }],
  ["an amount as a JSON number", (b) => { flat(b).amount = 20; }],
  ["the staircase alias", (b) => { tiered(b).model = "staircase"; }],
  ["a percentage price with its optional fields", (b) => {
    b.products[1].aggregation = "amount";
    b.plans[0].items[1].price = { model: "percentage", percent: "2.9", fixed_amount: "0.30", min_amount: null };
  }],
];

function cliPath() {
  if (process.env.RATING_CLI) return process.env.RATING_CLI;
  for (const p of ["target/release/rating", "target/debug/rating"]) {
    if (existsSync(join(root, p))) return join(root, p);
  }
  return null;
}
const cli = cliPath();

test("a book the schema rejects, the engine rejects; books both accept", { skip: cli ? false : "no rating CLI built (set RATING_CLI)" }, () => {
  const validate = compile();
  const dir = mkdtempSync(join(tmpdir(), "schema-ajv-"));
  try {
    const file = join(dir, "book.json");
    writeFileSync(file, JSON.stringify(base()));
    const ok = spawnSync(cli, ["check", file], { encoding: "utf8" });
    assert.equal(ok.status, 0, `the base book is refused: ${ok.stderr}`);
    assert.ok(validate(base()), show(validate.errors));

    const engineOnly = [];
    for (const [name, breakIt, schemaSees] of broken) {
      const book = base();
      breakIt(book);
      writeFileSync(file, JSON.stringify(book));
      const r = spawnSync(cli, ["check", file], { encoding: "utf8" });
      if (r.error) throw r.error;
      const schemaRejects = !validate(book);
      const engineRejects = r.status !== 0;
      assert.ok(engineRejects, `${name}: the engine accepts it`);
      assert.equal(schemaRejects, schemaSees, `${name}: the schema ${schemaRejects ? "rejects" : "accepts"} it`);
      if (!schemaRejects) engineOnly.push(name);
    }
    for (const [name, change] of accepted) {
      const book = base();
      change(book);
      writeFileSync(file, JSON.stringify(book));
      const r = spawnSync(cli, ["check", file], { encoding: "utf8" });
      assert.equal(r.status, 0, `${name}: the engine refuses it: ${r.stderr}`);
      assert.ok(validate(book), `${name}: ${show(validate.errors)}`);
    }
    assert.deepEqual(
      engineOnly,
      broken.filter(([, , sees]) => !sees).map(([name]) => name),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
