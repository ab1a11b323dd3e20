//! The Cloudflare Worker: usage ingest and the HTTP API of SPEC §7.
#![forbid(unsafe_code)]

use worker::*;

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("ok")
}
