// A tiny static file server for the pricing page (and anything else under
// the repository root), with the MIME types browsers need for ES modules
// and `WebAssembly.instantiateStreaming`. No dependencies, local only.
//
//   node npm/examples/serve.js [port]   # then open the URL it prints
//
// Also imported by the browser test and the bench (`serve({ port: 0 })`).
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const pagePath = "/npm/examples/pricing-page/";

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
    if (path === "/") {
      res.writeHead(302, { location: pagePath }).end();
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
    res.writeHead(200, {
      "content-type": types[extname(target)] ?? "application/octet-stream",
      "cache-control": "no-store",
    });
    createReadStream(target).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ url: `http://${host}:${p}${pagePath}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url } = await serve({ port: Number(process.argv[2] ?? process.env.PORT ?? 8080) });
  console.log(`pricing page: ${url}  (Ctrl-C stops)`);
}
