// Runs the Worker the way `wrangler dev` does, through wrangler's own
// dev-server API (`unstable_startWorker`, which the `wrangler dev` command
// calls: the same proxy workerd, Worker workerd, local Durable Objects,
// Queue and D1, and the same wrangler.toml), but with the DevTools
// inspector off, which the command line cannot ask for.
//
//   node tests/worker/start-worker.mjs PORT PERSIST_DIR ENV_FILE [LOG_LEVEL]
//
// Why: with the inspector on, wrangler's inspector proxy enables V8's
// Network domain on the Worker and relays every event it reports (four per
// subrequest: each Durable Object call, Queue send and D1 query) to the
// node process as a debug log, which appends it to a file under
// ~/.config/.wrangler/logs whatever --log-level says. Under load that
// costs the dev server more CPU than the Worker itself (BENCHMARKS.md).
// The load script uses this with `--no-inspector`. Prints "ready URL" when
// it serves; SIGINT or SIGTERM stops it.

import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const { unstable_startWorker } = createRequire(join(ROOT, "npm/package.json"))("wrangler");
const [port, persist, envFile, logLevel = "error"] = process.argv.slice(2);
if (!port || !persist || !envFile) {
  console.error("usage: node tests/worker/start-worker.mjs PORT PERSIST_DIR ENV_FILE [LOG_LEVEL]");
  process.exit(2);
}

const worker = await unstable_startWorker({
  config: join(ROOT, "wrangler.toml"),
  envFiles: [envFile],
  dev: {
    remote: false,
    inspector: false,
    server: { hostname: "127.0.0.1", port: Number(port) },
    persist,
    logLevel,
    watch: false,
  },
});
await worker.ready;
console.log(`ready ${(await worker.url).href}`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.dispose();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
