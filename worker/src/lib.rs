//! The Cloudflare Worker of the rating engine (docs/contract.md §6-7).
//!
//! - The front Worker ([`routes`]) authenticates every request, validates
//!   and splits event batches ([`ingest`]; a binary-mode CloudEvent is
//!   assembled from its headers by [`binary`]) and answers stateless quotes.
//! - A [`customer::Customer`] Durable Object per (tenant, customer) owns
//!   the customer's meter: it deduplicates, rates and commits events with
//!   their dedup keys and the meter in one SQLite transaction, then
//!   forwards them through its outbox to the `EVENTS` Queue.
//! - A [`tenant::Tenant`] Durable Object per tenant keeps the versions of
//!   its price book ([`books`]).
//! - The Queue consumer ([`forward`]) writes the events to the event log
//!   in R2 ([`log`], read back by `GET /v1/export`) and to D1, the
//!   tenant-wide store, with hourly usage rollups ([`rollup`], read by
//!   `GET /v1/usage`).
//!
//! `docs/worker.md` describes the design; `worker/openapi.json` the API.
#![forbid(unsafe_code)]

pub mod auth;
pub mod binary;
pub mod books;
pub mod clock;
pub mod customer;
pub mod forward;
pub mod http;
pub mod ingest;
pub mod log;
pub mod problem;
pub mod rollup;
pub mod routes;
pub mod stats;
pub mod tenant;
pub mod webhooks;

pub use customer::Customer;
pub use tenant::Tenant;

use worker::{event, Context, Env, MessageBatch, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    routes::handle(req, env).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> worker::Result<()> {
    forward::consume(batch, env).await
}
