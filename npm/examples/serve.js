// A tiny static file server for the pricing page (`/`), the price book
// playground (`/playground`) and anything else under the repository root,
// with the MIME types browsers need for ES modules and
// `WebAssembly.instantiateStreaming`, gzip-compressed as a CDN would serve
// them (the Worker's static assets are). No dependencies, local only.
//
//   node npm/examples/serve.js [port]   # then open the URLs it prints
//
// Also imported by the browser tests and the benches (`serve({ port: 0 })`).
import { createServer } from "node:http";
import { createGzip } from "node:zlib";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const pagePath = "/npm/examples/pricing-page/";
export const playgroundPath = "/npm/examples/playground/";
/** The Worker's routes (scripts/build-worker), here redirected to the pages in the tree. */
const routes = { "/": pagePath, "/playground": playgroundPath };

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Starts the server; resolves to `{ url, close }` once it listens. */
export function serve({ port = 8080, host = "127.0.0.1" } = {}) {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (routes[path]) {
      res.writeHead(302, { location: routes[path] }).end();
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root) || file.split(sep).includes("node_modules") || file.includes(`${sep}.git`)) {
      res.writeHead(403).end("forbidden");
      return;
    }
    let target = file;
    try {
      if (statSync(target).isDirectory()) target = join(target, "index.html");
      statSync(target);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const type = types[extname(target)] ?? "application/octet-stream";
    const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "") && !type.startsWith("image/png");
    res.writeHead(200, {
      "content-type": type,
      "cache-control": "no-store",
      ...(gzip ? { "content-encoding": "gzip", vary: "accept-encoding" } : {}),
    });
    const body = createReadStream(target);
    (gzip ? body.pipe(createGzip()) : body).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      const origin = `http://${host}:${p}`;
      resolve({ url: `${origin}${pagePath}`, playground: `${origin}${playgroundPath}`, origin, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url, playground } = await serve({ port: Number(process.argv[2] ?? process.env.PORT ?? 8080) });
  console.log(`pricing page: ${url}\nplayground:   ${playground}\n(Ctrl-C stops)`);
}
