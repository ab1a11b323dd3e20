//! # rating
//!
//! An exact, deterministic pricing engine. It reads a `price-book/v1`
//! catalogue, quotes plans, compares them, and (in `meter`) rates usage
//! events as they arrive. It is pure: no I/O, no clock ("now" is always a
//! parameter), no floating point in money or quantities. The same code
//! runs natively, in WebAssembly in browsers and Node, and in a
//! Cloudflare Worker, and gives the same strings everywhere.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod entitlements;
pub mod error;
pub mod event;
pub mod json;
pub mod meter;
pub mod money;
pub mod period;
pub mod pretty;
pub mod price;
pub mod price_book;
pub mod quote;
pub mod quote_json;
pub mod quoter;
pub mod replay;
pub mod resolve;
pub mod subscription;
pub mod text;

pub use error::{Error, Problem};
pub use price_book::PriceBook;
