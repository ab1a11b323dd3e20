// CPU profile of the Worker under `wrangler dev` through its DevTools
// inspector (V8's sampling profiler): `load.mjs --profile FILE` uses it.
// The .cpuprofile opens in Chrome DevTools; `summary` lists the functions
// with the most self time.

import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const WebSocket = createRequire(join(ROOT, "npm/package.json"))("ws");

/** Starts profiling; resolves to a function that stops and saves it. */
export async function startProfile(inspectorPort, file) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((ok, fail) => ws.once("open", ok).once("error", fail));
  let id = 0;
  const waiting = new Map();
  ws.on("message", (m) => {
    const d = JSON.parse(m);
    waiting.get(d.id)?.(d);
    waiting.delete(d.id);
  });
  const call = (method, params = {}) => new Promise((ok) => {
    waiting.set(++id, ok);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 500 });
  await call("Profiler.start");
  return async () => {
    const { result } = await call("Profiler.stop");
    ws.close();
    writeFileSync(file, JSON.stringify(result.profile));
    return result.profile;
  };
}

/** The `top` functions by self time: [name, ms, share]. */
export function summary(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((s, i) => {
    const n = byId.get(s);
    const f = n.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url ? f.url.split("/").pop() : ""}`.trim();
    const d = dt[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + d);
    total += d;
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => [k, Math.round(us / 1000), `${((100 * us) / total).toFixed(1)}%`]);
}
