# The two commands a fresh machine needs: `make run` and `make test`.
SWIFT ?= swift
BIN := .build/debug
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run test bench clean

## Installs Debian's libczmq-dev when pkg-config cannot find CZMQ.
deps:
	@pkg-config --exists libczmq || { \
		echo "installing libczmq-dev (CZMQ, the ZeroMQ binding Routilux uses)"; \
		$(SUDO) apt-get install -y libczmq-dev || { $(SUDO) apt-get update && $(SUDO) apt-get install -y libczmq-dev; }; }

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

## The throughput benchmark (release build).
bench: deps
	$(SWIFT) run -c release routilux-bench

clean:
	rm -rf .build Examples/custom-worker/.build
