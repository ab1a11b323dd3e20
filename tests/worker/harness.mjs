// Starts the real Worker under `wrangler dev` (workerd, with local Durable
// Objects, Queue and D1) on a free loopback port with its own state
// directory, and gives the tests a small HTTP client for it.
//
// Needs what scripts/test-worker prepares: the built Worker
// (worker/build), npm/node_modules (wrangler) and the rating CLI.

import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const WRANGLER = join(ROOT, "npm/node_modules/.bin/wrangler");
/** wrangler dev's output goes here (CI keeps tests/artifacts). */
export const LOG = join(ROOT, "tests/artifacts/worker/wrangler.log");

/** The dev keys of worker/dev.vars. */
export const KEYS = {
  devAdmin: "dev-admin-key",
  devIngest: "dev-ingest-key",
  devRead: "dev-read-key",
  acmeAdmin: "acme-admin-key",
  acmeIngest: "acme-ingest-key",
};

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A `wrangler dev` process with its own state, restartable on that state. */
export class Dev {
  /** `logLevel`: wrangler's --log-level (the load script uses "error":
   * wrangler writes every request's log line to a file, which costs the
   * dev server more CPU than the Worker spends on a small request).
   * `vars`: extra Worker variables ({NAME: value}, added to the env file), e.g.
   * the fault hook FAULT_QUEUE_FAIL_EVERY of the reliability tests. */
  constructor({ logLevel, vars } = {}) {
    this.logLevel = logLevel;
    this.vars = vars ?? {};
    this.state = mkdtempSync(join(tmpdir(), "rating-worker-"));
    this.proc = null;
    this.log = [];
  }

  /** Applies the D1 migrations to this state, then starts the Worker. */
  async start() {
    if (!this.migrated) {
      execFileSync(WRANGLER, ["d1", "migrations", "apply", "rating", "--local", "--persist-to", this.state], {
        cwd: ROOT,
        stdio: "pipe",
        env: { ...process.env, CI: "1" },
      });
      this.migrated = true;
    }
    // A start can lose a race for its ports (wrangler reloads the Worker
    // once its file watcher is ready, and the reloaded workerd may find
    // the port still held): such a start is retried on fresh ports.
    for (let attempt = 1; ; attempt++) {
      if (await this.#startOnce()) return;
      const raced = this.log.join("").includes("Address already in use");
      if (!raced || attempt >= 3) break;
      appendFileSync(LOG, `\n==== port race on start, retrying (attempt ${attempt + 1}) ====\n`);
      try {
        process.kill(-this.proc.pid, "SIGKILL");
      } catch {}
      await sleep(500);
    }
    throw new Error(`wrangler dev did not start:\n${this.log.join("")}`);
  }

  /** One start on fresh ports; whether /healthz answered. */
  async #startOnce() {
    this.log = [];
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.inspectorPort = await freePort();
    const args = ["dev", "--ip", "127.0.0.1", "--port", String(this.port), "--persist-to", this.state,
      "--env-file", "worker/dev.vars", "--show-interactive-dev-session=false", "--inspector-port",
      String(this.inspectorPort)];
    if (this.logLevel) args.push("--log-level", this.logLevel);
    if (Object.keys(this.vars).length > 0) {
      // `--var` does not reach the Worker next to `--env-file`: put the
      // extra variables in a copy of the env file.
      const file = join(this.state, "dev.vars");
      const extra = Object.entries(this.vars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`);
      writeFileSync(file, [readFileSync(join(ROOT, "worker/dev.vars"), "utf8"), ...extra, ""].join("\n"));
      args[args.indexOf("worker/dev.vars")] = file;
    }
    // RATING_WRANGLER_NODE_ARGS (e.g. "--cpu-prof"): run wrangler's node
    // with these flags, to profile the dev server itself.
    const nodeArgs = process.env.RATING_WRANGLER_NODE_ARGS?.split(" ").filter(Boolean);
    const [cmd, argv] = nodeArgs
      ? [process.execPath, [...nodeArgs, join(ROOT, "npm/node_modules/wrangler/bin/wrangler.js"), ...args]]
      : [WRANGLER, args];
    this.proc = spawn(cmd, argv, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      // The Worker is built before the tests; never rebuild it under them.
      env: { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", RATING_WORKER_PREBUILT: "1" },
      detached: true,
    });
    mkdirSync(join(ROOT, "tests/artifacts/worker"), { recursive: true });
    appendFileSync(LOG, `\n==== wrangler dev on ${this.url} (state ${this.state}) ====\n`);
    const keep = (d) => {
      appendFileSync(LOG, d);
      this.log.push(String(d));
      if (this.log.length > 400) this.log.splice(0, 100);
    };
    this.proc.stdout.on("data", keep);
    this.proc.stderr.on("data", keep);
    const exited = new Promise((r) => this.proc.once("exit", r));
    for (let i = 0; i < 240; i++) {
      const up = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (up) {
        // wrangler reloads the Worker once its file watcher is ready
        // ("The file worker/src changed, restarting build..."); on a busy
        // machine that reload can outlast a fixed pause. Wait for it to
        // answer again (up to 30 s) before calling the start failed.
        await sleep(1500);
        for (let j = 0; j < 120 && this.proc.exitCode === null; j++) {
          const still = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
          if (still) return true;
          await Promise.race([sleep(250), exited]);
        }
        break;
      }
      if (this.proc.exitCode !== null) break;
      await Promise.race([sleep(250), exited]);
    }
    return false;
  }

  /** Stops wrangler dev and workerd (the whole process group). */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    try {
      process.kill(-this.proc.pid, "SIGINT");
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-this.proc.pid, "SIGKILL");
      } catch {}
    }, 10_000);
    await exited;
    clearTimeout(t);
    // workerd may still be flushing; wait until the port is closed.
    for (let i = 0; i < 40; i++) {
      const up = await fetch(`${this.url}/healthz`).then(() => true, () => false);
      if (!up) break;
      await sleep(250);
    }
  }

  /** Kills wrangler dev and workerd (the whole process group) with
   * SIGKILL: no graceful shutdown, as in a crash. */
  async kill() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    try {
      process.kill(-this.proc.pid, "SIGKILL");
    } catch {}
    await exited;
    for (let i = 0; i < 40; i++) {
      const up = await fetch(`${this.url}/healthz`).then(() => true, () => false);
      if (!up) break;
      await sleep(250);
    }
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  cleanup() {
    rmSync(this.state, { recursive: true, force: true });
  }

  /** Calls the API: answers {status, headers, body (parsed JSON or text)}. */
  async call(method, path, { key, body, type, raw } = {}) {
    const headers = {};
    if (key) headers.authorization = `Bearer ${key}`;
    let payload;
    if (raw !== undefined) {
      payload = raw;
      headers["content-type"] = type ?? "application/json";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = type ?? "application/json";
    }
    const r = await fetch(`${this.url}${path}`, { method, headers, body: payload });
    const text = await r.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: r.status, headers: r.headers, body: parsed };
  }

  /** GET /v1/export with a query (`?from=...`): the status, content type and parsed lines. */
  async exportLines(query = "", key = KEYS.devAdmin) {
    const r = await fetch(`${this.url}/v1/export${query}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await r.text();
    const lines = r.status === 200 ? text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)) : [];
    return { status: r.status, type: r.headers.get("content-type"), text, lines };
  }

  /** Posts events (an array is a batch): answers the receipts. */
  async ingest(key, events, type = "application/cloudevents-batch+json") {
    const r = await this.call("POST", "/v1/events", { key, body: events, type });
    if (r.status !== 200) throw new Error(`POST /v1/events: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.results;
  }
}

/** A CloudEvent. */
export function event(id, type, subject, data, extra = {}) {
  const e = { specversion: "1.0", id, source: extra.source ?? "tests", type, subject, ...extra };
  if (data !== undefined) e.data = data;
  return e;
}

/** RFC 3339 (UTC, seconds) of a Date or ms. */
export function iso(t) {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Runs the rating CLI (JSON on stdout). */
export function rating(args) {
  const bin = process.env.RATING_BIN ?? join(ROOT, "target/debug/rating");
  return JSON.parse(execFileSync(bin, args, { cwd: ROOT, maxBuffer: 1 << 28 }).toString());
}
