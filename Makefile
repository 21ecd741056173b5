# wren — the two commands of the README, and their stages.
#   make demo   build wren and run the demo lab (root: it creates network namespaces)
#   make test   install what is missing, then lint and run every test (privileged ones included)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit-and-interop

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
	@.ci/stage "build"   $(CARGO) test --no-run --all-targets
	@.ci/stage "tests"   $(CARGO) test --all-targets -- --include-ignored
