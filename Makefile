# The two commands a fresh machine needs: `make run` and `make test`.
SWIFT ?= swift
BIN := .build/debug
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test bench bench-peers fuzz clean

## Installs Debian's libczmq-dev when pkg-config cannot find CZMQ, and libsqlite3-dev
## (the coordinator's journal, through GRDB) when its header is missing.
deps:
	@pkg-config --exists libczmq || { \
		echo "installing libczmq-dev (CZMQ, the ZeroMQ binding Routilux uses)"; \
		$(SUDO) apt-get install -y libczmq-dev || { $(SUDO) apt-get update && $(SUDO) apt-get install -y libczmq-dev; }; }
	@[ -f /usr/include/sqlite3.h ] || { \
		echo "installing libsqlite3-dev (SQLite, the coordinator's journal)"; \
		$(SUDO) apt-get install -y libsqlite3-dev || { $(SUDO) apt-get update && $(SUDO) apt-get install -y libsqlite3-dev; }; }

build: deps
	$(SWIFT) build

## Runs Examples/pipeline.yaml on 4 worker processes and prints the result.
run: build
	$(BIN)/routilux run Examples/pipeline.yaml --params @Examples/pipeline-params.json --max-workers 4

## Builds everything (the integration tests start the real executables), then runs every test.
test: deps
	@echo "make test: building the package, its tests and the example worker (swift build --build-tests)"
	$(SWIFT) build --build-tests
	@echo "make test: running the tests: unit tests, then integration tests that start real coordinator, worker and routilux processes"
	$(SWIFT) test --skip-build
	@echo "make test: replaying the fuzz seed corpus (Tests/Fuzz/seeds) through the decoder and the coordinator core"
	$(BIN)/routilux-fuzz Tests/Fuzz/seeds

FUZZ_SECONDS ?= 60
FUZZ_BUILD := .build/fuzz
## libFuzzer + AddressSanitizer over the wire decoder and the coordinator core, for
## FUZZ_SECONDS, from a copy of the seeds in Tests/Fuzz/seeds; a crash fails (its input
## is kept in $(FUZZ_BUILD)/artifacts; replay it with `.build/debug/routilux-fuzz FILE`).
fuzz: deps
	$(SWIFT) build --build-path $(FUZZ_BUILD) --product routilux-fuzz \
		-Xswiftc -DFUZZING -Xswiftc -parse-as-library -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
	rm -rf $(FUZZ_BUILD)/corpus && mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	cp Tests/Fuzz/seeds/* $(FUZZ_BUILD)/corpus/
	$(FUZZ_BUILD)/debug/routilux-fuzz $(FUZZ_BUILD)/corpus -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/

## The benchmark suite (release build): ours and the peers (bench/peers: a pyzmq relay and, once
## `make bench-peers` has installed them, routilux 1.1.0 and 0.10.0 in one process), interleaved
## over BENCH_ROUNDS rounds; prints a table of medians and ratios, then one JSON line per row.
## BENCH_ARGS adds options (routilux-bench --help), e.g. BENCH_ARGS="--only linear,hop".
BENCH_ROUNDS ?= 3
BENCH_ARGS ?=
bench: deps
	$(SWIFT) build -c release
	.build/release/routilux-bench --scenario suite --rounds $(BENCH_ROUNDS) $(BENCH_ARGS)

PEERS := .build/peers
PYTHON ?= python3
## The peers' Python environments, from PyPI: routilux 1.1.0 with pyzmq (the relay runs there too), and 0.10.0.
bench-peers:
	@[ -x $(PEERS)/venv-1.1.0/bin/python ] || { $(PYTHON) -m venv $(PEERS)/venv-1.1.0 && \
		$(PEERS)/venv-1.1.0/bin/pip install -q "routilux==1.1.0" pyzmq; }
	@[ -x $(PEERS)/venv-0.10.0/bin/python ] || { $(PYTHON) -m venv $(PEERS)/venv-0.10.0 && \
		$(PEERS)/venv-0.10.0/bin/pip install -q "routilux==0.10.0"; }
	@$(PEERS)/venv-1.1.0/bin/python -c "import routilux, zmq; print('peers: routilux', getattr(routilux, '__version__', '1.1.0'), 'pyzmq', zmq.__version__)"
	@$(PEERS)/venv-0.10.0/bin/python -c "import routilux; print('peers: routilux', getattr(routilux, '__version__', '0.10.0'))"

clean:
	rm -rf .build Examples/custom-worker/.build
