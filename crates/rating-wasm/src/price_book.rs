//! `PriceBook`: a parsed, validated `price-book/v1` catalogue.

use crate::convert::{json_in, json_out};
use crate::error;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A parsed and validated price book (`price-book/v1`). Create one with
/// `PriceBook.parse(json)`; quote, compare and meter with its methods.
/// Call `free()` when done with it to release its WebAssembly memory
/// early (it is also released when garbage-collected).
#[wasm_bindgen]
pub struct PriceBook {
    pub(crate) book: Rc<rating::PriceBook>,
}

#[wasm_bindgen]
impl PriceBook {
    /// Parses and validates a price book, given as JSON text or as an
    /// object. Parsing is strict: an unknown field is an error. Throws a
    /// `RatingError` listing every problem in `errors`, each with the JSON
    /// path of its field (`plans[0].items[2].price.tiers[1].up_to`).
    pub fn parse(
        #[wasm_bindgen(
            unchecked_param_type = "PriceBookDoc | string",
            param_description = "the price book: JSON text, or an object as JSON.parse returns it"
        )]
        json: JsValue,
    ) -> Result<PriceBook, JsValue> {
        let value = json_in(&json, "the price book")?;
        let book = rating::PriceBook::from_value(&value).map_err(|e| error::to_js(&e))?;
        Ok(PriceBook { book: Rc::new(book) })
    }

    /// `sha256:` of the book's canonical JSON. Every quote, receipt and
    /// invoice carries it as `price_book`.
    #[wasm_bindgen(getter)]
    pub fn hash(&self) -> String {
        self.book.hash().to_string()
    }

    /// The book's `id`.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.book.doc().id.clone()
    }

    /// The book as JSON (parses back to an equal book with the same hash).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "PriceBookDoc")]
    pub fn to_json(&self) -> Result<JsValue, JsValue> {
        json_out(self.book.doc())
    }
}
