# chorus — the front door. `make run` and `make test` work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
RELEASE := build/release
# ccache hits across clones of the repository (CI builds a fresh clone every time): paths are
# made relative to the checkout, and the working directory is left out of the hash.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build run test soak bench bench-log bench-raft bench-node bench-docstore bench-cluster format fuzz sim clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release

# A local 3-node cluster (clients on 7001-7003), in the foreground until Ctrl-C.
run: build
	@scripts/run-cluster.sh

# Every suite: release build (unit, sim, e2e, examples), then ASan+UBSan and TSan on the
# suites that matter most. Prints ctest's summary and a final "N passed, N failed" line.
test: deps
	@scripts/test.sh

# A long seeded fault campaign on real processes (tests/e2e/faults): SOAK_SECONDS of faults,
# then the checks; SEED=N replays one. Prints ops by outcome, faults by kind and the verdict.
SOAK_SECONDS ?= 1800
soak: build
	@/usr/bin/python3 tests/e2e/faults/campaign.py --seed $${SEED:-$$(date +%s)} \
	  --duration $(SOAK_SECONDS) --nodes $${NODES:-3} --chorusd $(RELEASE)/src/chorus/server/chorusd \
	  --chorus $(RELEASE)/src/chorus/cli/chorus --lincheck $(RELEASE)/tools/chorus-lincheck

bench: bench-log bench-raft bench-node bench-docstore bench-cluster

bench-log: build
	@$(RELEASE)/bench/log_bench --benchmark_counters_tabular=true $(BENCH_ARGS)

bench-raft: build
	@$(RELEASE)/bench/raft_bench --benchmark_counters_tabular=true $(BENCH_ARGS)

# chorus::docstore next to @backloghq/opslog 0.8.1 on Node (installed from npm into a temp dir).
bench-docstore: build
	@$(RELEASE)/bench/docstore_bench $(BENCH_ARGS)

# chorus (3 nodes) next to etcd (3 members) and redis-server, same load generator (`chorus bench`).
bench-cluster: build
	@scripts/bench-cluster.sh

# Three RaftNodes over mTLS on loopback, next to raw fdatasync and a loopback round trip.
bench-node: build
	@$(RELEASE)/bench/node_bench $(BENCH_ARGS)

# A long simulator campaign: `make sim SEEDS=100000 [FIRST=1]`; prints fault counts by kind.
SEEDS ?= 10000
FIRST ?= 1
sim: build
	@$(RELEASE)/tests/sim/chorus-sim --seeds=$(FIRST):$(SEEDS)

# Longer fuzzing than `make test` does: FUZZ_SECONDS per target (default 600).
fuzz: deps
	@cmake --preset fuzz >/dev/null && cmake --build --preset fuzz --target fuzzers
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} ctest --test-dir build/fuzz -L fuzz --output-on-failure

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
