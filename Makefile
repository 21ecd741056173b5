# wren — the two commands of the README, and their stages.
#   make demo   build wren and run the demo lab
#   make test   install what is missing, then lint and run every test (privileged ones included)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit-and-interop

deps:
	@.ci/deps

demo: deps
	$(CARGO) build --release --bin wren
	target/release/wren demo

# Each stage prints how long it took.
test: deps
	@.ci/stage "format"  $(CARGO) fmt --check
	@.ci/stage "clippy"  $(CARGO) clippy --all-targets -- -D warnings
	@.ci/stage "build"   $(CARGO) test --no-run --all-targets
	@.ci/stage "tests"   $(CARGO) test --all-targets -- --include-ignored
