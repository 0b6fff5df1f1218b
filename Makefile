# The README's two commands: `make dev` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PIP       := $(VENV)/bin/pip
LAMBDA    := $(VENV)/bin/cargo-lambda
export SAM_CLI_TELEMETRY := 0

.PHONY: help dev test tools build bench lint fmt clean-data

help:
	@echo "make dev    start DynamoDB (dynoxide), seed it, and serve every function at http://127.0.0.1:9000"
	@echo "make test   run every test: unit, integration (real local DynamoDB), end-to-end (cargo lambda watch)"
	@echo "make bench  measure cold start, warm latency per endpoint and binary sizes"
	@echo "make build  release binaries for AWS Lambda (arm64) with cargo lambda"

# cargo-lambda (and the zig it brings) from PyPI, into a git-ignored virtual environment.
$(LAMBDA):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check cargo-lambda

tools: $(LAMBDA)

dev: tools
	cargo build --workspace
	cargo run --quiet -p devstack -- --db .local/dynamodb.sqlite --port 8000 --api-port 9000

test: tools
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --workspace --all-targets
	cargo test --workspace --all-targets

build: tools
	rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
	cargo lambda build --release --arm64 $(foreach f,$(notdir $(wildcard functions/*)),--bin $(f))
	@ls -l target/lambda/*/bootstrap

bench: tools
	cargo build --release --bins -p register -p login -p refresh -p logout -p items -p devstack
	target/release/bench | tee target/bench.md

clean-data:
	rm -rf .local
