//! TypeScript declarations added to the generated `.d.ts`: the JSON shapes
//! the methods take and return, which wasm-bindgen types only as `any`.
//! `ts/price_book.d.ts` is generated from the engine's JSON Schema (see
//! `tests/types.rs`); `ts/api.d.ts` is written from the engine's result
//! types, and the package's tests type-check real results against it.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const PRICE_BOOK_TS: &str = include_str!("../ts/price_book.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const API_TS: &str = include_str!("../ts/api.d.ts");
