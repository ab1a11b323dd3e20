//! The global allocator on wasm32: talc rather than Rust's default
//! dlmalloc. The engine allocates a lot per quote, and talc is both faster
//! and smaller there (the quote-only bundle is about 3 KB smaller gzipped).

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
