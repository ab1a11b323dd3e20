// Load script (not a test): N clients post batches of 100 usage events to
// the Worker under `wrangler dev` on loopback for a fixed time, then the
// script reports events/s, p50/p99 batch latency, the CPU the Worker's
// processes used per event, and checks the billed total against
// `rating replay` of the same events and the event log (GET /v1/export)
// against the accepted receipts; and the rows written per event (the
// customer objects' and D1's, from GET /v1/stats) and the log's bytes per
// event.
//
//   node tests/worker/load.mjs [--clients 8] [--seconds 30] [--customers 64]
//        [--per-batch 1] [--duplicates 0.02] [--json out.json] [--direct]
//        [--no-inspector] [--profile FILE.cpuprofile] [--batch 100] [--hot]
//
// --batch: events per request (the ingest client's default is 100).
// --hot: all clients send for the same customers (`--customers 1`: one
// Durable Object takes every request), to measure one customer's ceiling.
//
// --direct posts to the Worker's own workerd socket instead of the port
// `wrangler dev` prints (which is wrangler's proxy, another workerd), to
// show what the dev server's proxying costs.
//
// --no-inspector starts the dev server with wrangler's own dev-server API
// (tests/worker/start-worker.mjs: `unstable_startWorker`, which the
// `wrangler dev` command runs; same proxy and Worker workerd, same local
// Durable Objects, Queue and D1) with the DevTools inspector off, which
// the command line cannot do. With the inspector on, wrangler relays four
// Network events per subrequest of the Worker to its node process, which
// appends each to a debug-log file: about half the dev server's CPU.
// --profile needs the inspector.
//
// RATING_LOAD_VARS='{"NAME": "value"}' adds Worker variables (experiments).
//
// scripts/load-worker builds what it needs and runs it. Each client owns
// its own customers (so each customer's events keep their order, and the
// replay sees them in the order the Worker rated them); a batch holds
// events of `--per-batch` customers. About `--duplicates` of the events
// are re-sent copies of earlier ones, as retrying clients produce.

import { execFileSync, spawn } from "node:child_process";
import http from "node:http";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, mkdtempSync, createWriteStream } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Dev, KEYS, ROOT, LOG, freePort, iso, rating } from "./harness.mjs";
import { rng } from "./stream.mjs";

const { values: opt } = parseArgs({
  options: {
    clients: { type: "string", default: "8" },
    seconds: { type: "string", default: "30" },
    customers: { type: "string", default: "64" },
    "per-batch": { type: "string", default: "1" },
    duplicates: { type: "string", default: "0.02" },
    json: { type: "string" },
    profile: { type: "string" },
    direct: { type: "boolean", default: false },
    "no-inspector": { type: "boolean", default: false },
    batch: { type: "string", default: "100" },
    hot: { type: "boolean", default: false },
  },
});
const CLIENTS = Number(opt.clients);
const SECONDS = Number(opt.seconds);
// --hot: every client sends for the same `--customers` customers (one
// object takes every request), to find one customer's ceiling.
const CUSTOMERS = opt.hot ? Number(opt.customers) : Math.max(Number(opt.customers), CLIENTS);
const PER_BATCH = Number(opt["per-batch"]);
const DUPLICATES = Number(opt.duplicates);
const BATCH = Number(opt.batch);
const BOOK = join(ROOT, "examples/worker/price-book.json");
const TICK = 100; // clock ticks per second (getconf CLK_TCK)

/** utime + stime (s) of every process in a process group (and per command). */
function groupCpu(pgid, per = {}) {
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      const t = (Number(f[11]) + Number(f[12])) / TICK;
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      per[`${comm} ${pid}`] = (per[`${comm} ${pid}`] ?? 0) + t;
      total += t;
    } catch {}
  }
  return total;
}

/** The Worker's own workerd socket: a loopback port of the dev server's
 * process group, other than the public one, that answers /healthz. */
async function directUrl(dev) {
  const pids = new Set();
  for (const pid of readdirSync("/proc")) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === dev.proc.pid) pids.add(pid);
    } catch {}
  }
  const listening = execFileSync("ss", ["-ltnpH"]).toString();
  for (const m of listening.matchAll(/127\.0\.0\.1:(\d+)\s.*pid=(\d+)/g)) {
    if (!pids.has(m[2]) || Number(m[1]) === dev.port) continue;
    const url = `http://127.0.0.1:${m[1]}`;
    const ok = await fetch(`${url}/healthz`).then(async (r) => (await r.text()) === '{"status":"ok"}', () => false);
    if (ok) return url;
  }
  throw new Error("no direct workerd socket found");
}

/** The dev server of `--no-inspector`: tests/worker/start-worker.mjs
 * (wrangler's dev-server API, the inspector off) instead of the
 * `wrangler dev` command, in its own process group like Dev's. */
class DevNoInspector extends Dev {
  async start() {
    execFileSync(join(ROOT, "npm/node_modules/.bin/wrangler"), ["d1", "migrations", "apply", "rating", "--local", "--persist-to", this.state], {
      cwd: ROOT, stdio: "pipe", env: { ...process.env, CI: "1" },
    });
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    let envFile = "worker/dev.vars";
    if (Object.keys(this.vars).length > 0) {
      envFile = join(this.state, "dev.vars");
      const extra = Object.entries(this.vars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`);
      writeFileSync(envFile, [readFileSync(join(ROOT, "worker/dev.vars"), "utf8"), ...extra, ""].join("\n"));
    }
    this.proc = spawn(process.execPath, [join(ROOT, "tests/worker/start-worker.mjs"), String(this.port), this.state, envFile, this.logLevel ?? "error"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", RATING_WORKER_PREBUILT: "1" },
      detached: true,
    });
    mkdirSync(dirname(LOG), { recursive: true });
    const out = createWriteStream(LOG, { flags: "a" });
    out.write(`\n==== start-worker.mjs (no inspector) on ${this.url} (state ${this.state}) ====\n`);
    this.proc.stdout.pipe(out);
    this.proc.stderr.on("data", (d) => { out.write(d); this.log.push(String(d)); });
    for (let i = 0; i < 240; i++) {
      const up = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (up) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the dev server did not start:\n${this.log.join("")}`);
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function main() {
  if (opt.profile && opt["no-inspector"]) throw new Error("--profile needs the inspector");
  // RATING_LOAD_VARS='{"NAME":"value"}': extra Worker variables (experiments).
  const vars = JSON.parse(process.env.RATING_LOAD_VARS ?? "{}");
  const dev = opt["no-inspector"] ? new DevNoInspector({ logLevel: "error", vars }) : new Dev({ logLevel: "error", vars });
  const scratch = mkdtempSync(join(tmpdir(), "rating-load-"));
  await dev.start();
  try {
    const put = await dev.call("PUT", "/v1/price-book", { key: KEYS.devAdmin, raw: readFileSync(BOOK, "utf8") });
    if (put.status !== 201) throw new Error(`PUT /v1/price-book: ${put.status}`);
    const start = iso(Date.now() - 3600_000);
    const subs = [];
    for (let c = 0; c < CUSTOMERS; c++) {
      const s = { customer: `load_${c}`, plan: "pro", start, quantities: { seats: "2" } };
      const { customer, ...body } = s;
      const r = await dev.call("PUT", `/v1/customers/${customer}/subscription`, { key: KEYS.devAdmin, body });
      if (r.status !== 201) throw new Error(`subscribe ${customer}: ${r.status} ${JSON.stringify(r.body)}`);
      subs.push(s);
    }

    // Warm-up: one batch per customer, so every object is loaded.
    const warm = [];
    for (const s of subs) warm.push({ specversion: "1.0", id: `warm_${s.customer}`, source: "load", type: "api_calls", subject: s.customer, time: iso(Date.now() - 1000) });
    const sent = [warm];
    for (let i = 0; i < warm.length; i += BATCH) await dev.ingest(KEYS.devIngest, warm.slice(i, i + BATCH));

    const target = opt.direct ? await directUrl(dev) : dev.url;
    // node:http on kept-alive connections (one per client): the load
    // generator shares the two cores with the server, and undici's fetch
    // costs it about twice the CPU per request.
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const { hostname, port } = new URL(target);
    const post = (batch) => new Promise((ok, fail) => {
      const body = JSON.stringify(batch);
      const req = http.request({
        agent, hostname, port, path: "/v1/events", method: "POST",
        headers: { authorization: `Bearer ${KEYS.devIngest}`, "content-type": "application/cloudevents-batch+json", "content-length": Buffer.byteLength(body) },
      }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) return fail(new Error(`POST /v1/events: ${res.statusCode} ${text}`));
          ok(JSON.parse(text).results);
        });
        res.on("error", fail);
      });
      req.on("error", fail);
      req.end(body);
    });
    const counts = { accepted: 0, duplicate: 0, rejected: 0, dropped: 0 };
    const latencies = [];
    const per0 = {};
    const cpu0 = groupCpu(dev.proc.pid, per0);
    const own0 = process.cpuUsage();
    const stopProfile = opt.profile ? await (await import("./profile.mjs")).startProfile(dev.inspectorPort, opt.profile) : null;
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;

    async function client(n) {
      const rnd = rng(1000 + n);
      const mine = opt.hot ? subs.map((s) => s.customer) : subs.filter((_, i) => i % CLIENTS === n).map((s) => s.customer);
      const log = [];
      let seq = 0;
      while (performance.now() < deadline) {
        const batch = [];
        const time = iso(Date.now() - 1000);
        const group = Array.from({ length: PER_BATCH }, () => mine[Math.floor(rnd() * mine.length)]);
        for (let i = 0; i < BATCH; i++) {
          if (log.length > 0 && rnd() < DUPLICATES) {
            batch.push(log[Math.floor(rnd() * log.length)]);
            continue;
          }
          const subject = group[i % PER_BATCH];
          const k = rnd();
          const e = { specversion: "1.0", id: `c${n}_${seq++}`, source: "load", type: "api_calls", subject, time };
          if (k < 0.4) Object.assign(e, { type: "bandwidth", data: { quantity: (1 + Math.floor(rnd() * 999) / 100).toFixed(2) } });
          else if (k < 0.55) Object.assign(e, { type: "sms", data: { quantity: "1", country: rnd() < 0.7 ? "US" : "GB" } });
          batch.push(e);
          log.push(e);
        }
        const t = performance.now();
        const results = await post(batch);
        latencies.push(performance.now() - t);
        for (const r of results) counts[r.status]++;
        sent.push(batch);
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    agent.destroy();
    const elapsed = (performance.now() - t0) / 1000;
    if (stopProfile) {
      const { summary } = await import("./profile.mjs");
      console.error(summary(await stopProfile()).map((r) => r.join("  ")).join("\n"));
    }
    // The storage path: once every customer's outbox is empty (the event
    // log confirmed every message), the log holds exactly the accepted
    // events (the warm-up's too). The CPU is read after that, so that it
    // includes the Queue consumer's, R2's and D1's share.
    const expectRows = counts.accepted + warm.length;
    const perRun = {};
    const cpuRun = groupCpu(dev.proc.pid, perRun) - cpu0;
    const drain0 = performance.now();
    let objects = [];
    for (let i = 0; i < 480; i++) {
      objects = [];
      for (const sub of subs) {
        const r = await dev.call("GET", `/v1/stats?customer=${sub.customer}`, { key: KEYS.devAdmin });
        objects.push(r.body.customer);
      }
      if (objects.every((o) => o && o.outbox_messages === 0)) break;
      await new Promise((ok) => setTimeout(ok, 250));
    }
    const drainMs = Math.round(performance.now() - drain0);
    const per1 = {};
    const cpu = groupCpu(dev.proc.pid, per1) - cpu0;
    // wrangler dev runs node (the dev server), a workerd for its proxy
    // (the port clients talk to) and a workerd for the Worker itself.
    const perProcess = Object.fromEntries(
      Object.entries(per1).map(([k, v]) => [k, Number((v - (per0[k] ?? 0)).toFixed(1))]).filter(([, v]) => v > 0),
    );
    const own = process.cpuUsage(own0);
    const events = Object.values(counts).reduce((a, b) => a + b, 0);

    // The billed total: every customer's invoices plus the open period,
    // from the Worker, against `rating replay` of the same events.
    const at = iso(Date.now());
    let worker = 0n;
    const cents = (s) => BigInt(s.replace(".", ""));
    for (const s of subs) {
      const q = `?at=${encodeURIComponent(at)}`;
      const p = await dev.call("GET", `/v1/customers/${s.customer}/invoice-preview${q}`, { key: KEYS.devRead });
      const inv = await dev.call("GET", `/v1/customers/${s.customer}/invoices`, { key: KEYS.devRead });
      worker += cents(p.body.total);
      for (const i of inv.body.invoices) worker += cents(i.total);
    }
    const eventsPath = join(scratch, "events.ndjson");
    const out = createWriteStream(eventsPath);
    for (const b of sent) for (const e of b) out.write(JSON.stringify(e) + "\n");
    await new Promise((r) => out.end(r));
    const subsPath = join(scratch, "subs.json");
    writeFileSync(subsPath, JSON.stringify(subs));
    const replay = rating(["replay", BOOK, eventsPath, "--subscriptions", subsPath, "--at", at]);

    const replayTotal = cents(replay.totals.total);
    // Rows written and log size per event.
    const consumer = (await dev.call("GET", "/v1/stats", { key: KEYS.devAdmin })).body.consumer;
    const stored = objects.reduce((n, o) => n + o.events_stored, 0);
    const objectRows = objects.reduce((n, o) => n + o.rows_written, 0);
    const logged = await dev.exportLines("", KEYS.devAdmin);
    const logAccepted = logged.lines.filter((l) => l.ratingstatus === "accepted").length;
    const fmt = (c) => `${c / 100n}.${String(c % 100n).padStart(2, "0")}`;
    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      target: (opt.direct ? "workerd (direct)" : "wrangler dev") + (opt["no-inspector"] ? ", no inspector" : ""), clients: CLIENTS, seconds: Number(elapsed.toFixed(1)), customers: CUSTOMERS, customers_per_batch: PER_BATCH, batch: BATCH, hot: opt.hot,
      batches: latencies.length, events, events_per_second: Math.round(events / elapsed), receipts: counts,
      batch_latency_ms: { p50: Number(percentile(sorted, 50).toFixed(1)), p99: Number(percentile(sorted, 99).toFixed(1)), max: Number(sorted.at(-1).toFixed(1)) },
      worker_cpu_seconds: Number(cpu.toFixed(1)), worker_cpu_us_per_event: Math.round((cpu * 1e6) / events),
      // The same until the last receipt (without the Queue's backlog).
      worker_cpu_us_per_event_until_receipts: Math.round((cpuRun * 1e6) / events),
      worker_cpu_by_process: perProcess,
      load_generator_cpu_seconds: Number(((own.user + own.system) / 1e6).toFixed(1)), cores: cpus().length,
      billed: { worker: fmt(worker), replay: fmt(replayTotal), equal: worker === replayTotal },
      replay_receipts: replay.receipts,
      storage: {
        object_rows_written_per_event: Number((objectRows / stored).toFixed(3)),
        d1_rows_written_per_event: Number((consumer.d1_rows / expectRows).toFixed(3)),
        log_bytes_per_event: Number((consumer.log_bytes / expectRows).toFixed(1)),
        log_objects: consumer.log_objects,
        queue_messages: consumer.messages,
      },
      log_events: logAccepted, log_equal_accepted: logAccepted === expectRows, drained_after_ms: drainMs,
      receipts_equal: ["accepted", "duplicate", "rejected", "dropped"].every((k) => replay.receipts[k] === counts[k] + (k === "accepted" ? warm.length : 0)),
    };
    console.log(JSON.stringify(result, null, 2));
    if (opt.json) writeFileSync(opt.json, JSON.stringify(result, null, 2) + "\n");
    if (!result.billed.equal || !result.receipts_equal || !result.log_equal_accepted) process.exitCode = 1;
  } finally {
    await dev.stop();
    dev.cleanup();
  }
}

await main();
