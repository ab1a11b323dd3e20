//! # rating-wasm
//!
//! WebAssembly bindings of the [`rating`] engine, published on npm as
//! `rating-engine` (built by wasm-pack into `npm/`). Thin conversions
//! only: every price, allowance and invoice comes from the engine, so the
//! package gives the same strings as the `rating` CLI.
//!
//! JSON crosses the boundary as text. An argument that is a JS string is
//! read as JSON text; any other value is passed through `JSON.stringify`
//! first, so a JS number is read by its shortest round-trip text (`0.005`
//! is exactly 0.005) and never through `f64` arithmetic. Results are JSON
//! text from the engine parsed by `JSON.parse`: money and quantities are
//! always decimal strings.
//!
//! The `meter` feature (default) adds the stateful API: `Meter` and
//! `validateEvent`. Without it only `PriceBook` (parse, quote, compare, quoter)
//! is built: the package's smaller `rating-engine/quote` browser bundle.
//!
//! One module per JS-facing area, as in `ywasm`: `price_book`, `quote`, `quoter`,
//! `meter`, `event`, `error`; `convert` holds the JSON and timestamp
//! conversions they share and `types` the TypeScript declarations.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allocator;
mod convert;
pub mod error;
#[cfg(feature = "meter")]
pub mod event;
#[cfg(feature = "meter")]
pub mod meter;
pub mod price_book;
pub mod quote;
pub mod quoter;
mod types;
