# Developer entry points; CI runs `make test` (through .ci/run).

.PHONY: dev test build bench fmt clippy setup

RATING := target/release/rating
DEV_EXAMPLES := examples/hybrid.json examples/quote-starter.json examples/compare-usage.json

# Until the Worker exists: build the CLI and quote and compare the example book.
dev:
	@missing=""; for f in $(DEV_EXAMPLES); do [ -f "$$f" ] || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then echo "make dev: missing example file(s):$$missing" >&2; exit 1; fi
	cargo build --release -p rating-cli
	$(RATING) quote examples/hybrid.json examples/quote-starter.json
	$(RATING) compare examples/hybrid.json examples/compare-usage.json

# Everything CI checks: setup, fmt, clippy, tests.
test:
	scripts/ci

# Release build of every artifact.
build:
	cargo build --release --workspace

bench:
	cargo bench -p rating

# Checks formatting; `cargo fmt --all` applies it.
fmt:
	scripts/fmt

clippy:
	scripts/clippy

setup:
	scripts/setup
