//! Errors thrown to JS: instances of the `RatingError` class (a subclass of
//! `Error`, defined in `js/rating_error.js` and re-exported by the
//! package), so `e instanceof RatingError` works and `e.code`, `e.path`
//! and `e.errors` carry the engine's error.

use rating::error::Problem;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/rating_error.js")]
extern "C" {
    /// An error from the rating engine (see `js/rating_error.js`; its
    /// TypeScript declaration is in `ts/api.d.ts`).
    #[wasm_bindgen(reexport, extends = js_sys::Error)]
    pub type RatingError;

    #[wasm_bindgen(constructor)]
    fn new(code: &str, message: &str, path: Option<String>, errors: JsValue) -> RatingError;
}

/// Converts an engine error into a `RatingError`.
pub fn to_js(e: &rating::Error) -> JsValue {
    let errors = problems_to_js(&e.errors);
    RatingError::new(e.code.as_str(), &e.message, e.path.clone(), errors).into()
}

/// Converts one problem into a `RatingError` (its `errors` lists it).
pub fn problem_to_js(p: Problem) -> JsValue {
    to_js(&rating::Error::one(p))
}

/// `[{code, message, path?}]` as a JS array.
fn problems_to_js(problems: &[Problem]) -> JsValue {
    let text = serde_json::to_string(problems).unwrap_or_else(|_| "[]".to_string());
    js_sys::JSON::parse(&text).unwrap_or_else(|_| js_sys::Array::new().into())
}
