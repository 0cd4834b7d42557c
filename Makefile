# The two commands a fresh machine needs: `make run` and `make test`.
SWIFT ?= swift
BIN := .build/debug
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test bench fuzz clean

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

## The throughput benchmark (release build).
bench: deps
	$(SWIFT) run -c release routilux-bench

clean:
	rm -rf .build Examples/custom-worker/.build
