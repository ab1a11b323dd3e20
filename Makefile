# Developer entry points; CI runs `make test` (through .ci/run).

.PHONY: dev test build bench fmt clippy setup page

# Builds everything and runs the Worker under `wrangler dev` on
# 127.0.0.1:${PORT:-8787} with local state, the example price book and the
# dev keys loaded (scripts/dev prints the URLs and keys).
dev:
	scripts/dev

# Everything CI checks: setup, fmt, clippy, tests.
test:
	scripts/ci

# Release build of every artifact: the crates, and the npm package
# (npm/pkg-web, npm/pkg-node; scripts/wasm). Like every target, it first
# installs what it needs (scripts/setup skips what is there).
build:
	scripts/setup
	cargo build --release --workspace
	scripts/wasm

bench:
	scripts/setup
	cargo bench -p rating

# Serves the pricing page (npm/examples/pricing-page, <rating-calculator>)
# on http://127.0.0.1:${PORT:-8080}/ and the price book playground on
# /playground, with the package built by `make build`.
page:
	@test -f npm/pkg-web/rating_wasm.js || { scripts/setup && scripts/wasm; }
	node npm/examples/serve.js

# Checks formatting; `cargo fmt --all` applies it.
fmt:
	scripts/fmt

clippy:
	scripts/clippy

setup:
	scripts/setup
