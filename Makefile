# wren — the commands of the README, and their stages.
#   make demo   build wren and run the demo lab (root: it creates network namespaces)
#   make test   install what is missing, then lint and run every test (privileged ones included)
#   make bench  the bgperf comparison, wren vs BIRD 2 vs GoBGP, every scenario (root; about 15 min)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test bench deps lint unit-and-interop

deps:
	@.ci/deps

# The codec round trip and the static lab on the embedded default (GoBGP "ToR router" + two wren
# nodes), then the Calico lab: a real etcd, three wren nodes in Calico mode and a ToR (root).
demo: deps
	@$(CARGO) run -q --bin wren -- demo
	@$(CARGO) test -q --test demo_lab the_demo_lab -- --include-ignored --nocapture
	@$(CARGO) test -q --test calico_cluster three_calico_nodes_in_a_mesh -- --include-ignored --nocapture

# Each stage prints how long it took.
test: deps
	@.ci/stage "format"  $(CARGO) fmt --check
	@.ci/stage "clippy"  $(CARGO) clippy --all-targets -- -D warnings
	@.ci/stage "docs"    env RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
	@.ci/stage "build"   $(CARGO) test --no-run --all-targets
	@.ci/stage "tests"   $(CARGO) test --all-targets -- --include-ignored

# bgperf: wren vs BIRD 2 vs GoBGP, every scenario at full size, 3 runs each (root: namespaces).
# Results in target/bgperf/<time>/ (results.md, results.json, bgperf.png); docs/benchmarks.md
# records the latest. BGPERF_ARGS adds options, e.g. BGPERF_ARGS="--scenario a,d --pin".
bench: deps
	@$(CARGO) bench --bench bgperf -- $(BGPERF_ARGS)
