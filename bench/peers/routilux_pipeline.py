#!/usr/bin/env python3
"""The relay's pipelines run by the Python routilux itself, in one process.

Works with routilux 0.10.0 (the legacy ``Flow.execute`` API) and with the
``routilux.core`` Runtime API of 0.11 and later, up to 1.1.0. The API is picked by
feature detection (``routilux.Runtime`` exists or not). The installed
version is reported.

Scenarios (same work as bench/peers/relay.py):
  linear  source -> stage1 (length of text) -> stage2 (upper-case) -> sink
          3 slot deliveries per item
  fanout  source -> branch0..3 (small transforms) -> sink (4 receipts per item)
          8 slot deliveries per item

The source gets one trigger and emits ``--items`` events, one per item
{"i": N, "text": "hello world"}. Timing starts just before the entry is
submitted and ends at the last sink receipt, which the sink timestamps
itself. The main thread waits on the sink's count with a short poll interval,
a stall timeout and an overall timeout. A lost or duplicated item fails the
run, so do items that arrive with the wrong data.

Concurrency: routilux's idiomatic concurrent mode, sized by ``--max-workers``
(default 4).
  * 0.10.0: ``Flow(execution_strategy="concurrent", max_workers=N)``. This is
    the documented concurrent strategy. One event-loop thread feeds a
    ThreadPoolExecutor(N), and every slot handler runs on that pool.
    "sequential" is the same machinery with N = 1.
  * 1.1.0: ``Runtime(thread_pool_size=N)``, one long-lived worker from
    ``runtime.exec`` and one job from ``runtime.post``. This is the only
    execution model 1.1.0 has; ``Flow`` no longer executes anything. Two
    things in that model matter here (read in the source and confirmed by this
    script):
      - The executors run tasks on the process-wide WorkerManager pool (100
        threads by default). The Runtime's own ``thread_pool`` is never used.
        So we also size that global pool to N before the first worker starts.
        Without that, ``--max-workers`` would mean nothing.
      - Only the posted activation (the source) runs on the pool. Every
        downstream routine's logic runs inline on the worker's single
        event-loop thread while it routes events. In 1.1.0 the pipeline is
        therefore effectively serial, whatever N is.

Output: one JSON line on stdout. Errors go to stderr, with a non-zero exit.

Standard library + routilux only.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

ITEM_TEXT = "hello world"
UPPER_TEXT = ITEM_TEXT.upper()

# ---------------------------------------------------------------------------
# The per-stage work: identical to relay.py's do_work
# ---------------------------------------------------------------------------


def t_stage1(d: dict) -> dict:
    return {"i": d["i"], "text": d["text"], "length": len(d["text"])}


def t_stage2(d: dict) -> dict:
    return {"i": d["i"], "text": d["text"].upper(), "length": d["length"]}


def t_branch0(d: dict) -> dict:
    return {"i": d["i"], "branch": 0, "value": len(d["text"])}


def t_branch1(d: dict) -> dict:
    return {"i": d["i"], "branch": 1, "value": d["text"].upper()}


def t_branch2(d: dict) -> dict:
    return {"i": d["i"], "branch": 2, "value": d["text"][::-1]}


def t_branch3(d: dict) -> dict:
    return {"i": d["i"], "branch": 3, "value": len(d["text"].split())}


TRANSFORMS = {
    "stage1": t_stage1,
    "stage2": t_stage2,
    "branch0": t_branch0,
    "branch1": t_branch1,
    "branch2": t_branch2,
    "branch3": t_branch3,
}

# What the sink must see, to catch cross-talk between concurrent activations
EXPECTED_BRANCH_VALUE = [len(ITEM_TEXT), UPPER_TEXT, ITEM_TEXT[::-1], len(ITEM_TEXT.split())]

# The transform routines of each scenario (their ids are also TRANSFORMS keys)
SCENARIOS = {
    "linear": ["stage1", "stage2"],  # chained
    "fanout": ["branch0", "branch1", "branch2", "branch3"],  # parallel
}
DELIVERIES_PER_ITEM = {"linear": 3, "fanout": 8}
SINK_RECEIPTS_PER_ITEM = {"linear": 1, "fanout": 4}


def wire(flow, scenario: str, collector, source, sink, transform_class) -> None:
    """Adds the source, the scenario's stages and the sink to `flow` and connects them
    (linear: a chain; fanout: the source to every branch, every branch to the sink).
    0.10.0 and 1.1.0 share this part of the API."""
    flow.add_routine(source, "source")
    sink.set_config(collector=collector)
    flow.add_routine(sink, "sink")
    stages = SCENARIOS[scenario]
    for rid in stages:
        r = transform_class()
        r.set_config(transform=rid)
        flow.add_routine(r, rid)
    if scenario == "linear":
        chain = ["source", *stages, "sink"]
        for a, b in zip(chain, chain[1:]):
            flow.connect(a, "output", b, "input")
    else:
        for rid in stages:
            flow.connect("source", "output", rid, "input")
            flow.connect(rid, "output", "sink", "input")


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"routilux_pipeline.py: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Sink-side counting and completion
# ---------------------------------------------------------------------------


class Collector:
    """Counts sink receipts per item, checks them and timestamps the last one.

    It lives outside routilux because both APIs discourage routine instance
    state, and the main thread needs to see the count.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset("linear", 0)

    def reset(self, scenario: str, n_items: int) -> None:
        with self.lock:
            self.scenario = scenario
            self.n_items = n_items
            self.per_item = SINK_RECEIPTS_PER_ITEM[scenario]
            self.expected = n_items * self.per_item
            self.counts = bytearray(n_items)
            self.count = 0
            self.bad: list[str] = []
            self.last_receipt = 0.0
            self.done = threading.Event()

    def record(self, d: dict) -> None:
        now = time.perf_counter()
        with self.lock:
            i = d.get("i")
            if not isinstance(i, int) or not 0 <= i < self.n_items:
                self.bad.append(f"unknown item {d!r}")
                return
            if self.scenario == "linear":
                ok = d.get("text") == UPPER_TEXT and d.get("length") == len(ITEM_TEXT)
            else:
                b = d.get("branch")
                ok = isinstance(b, int) and 0 <= b < 4 and d.get("value") == EXPECTED_BRANCH_VALUE[b]
            if not ok and len(self.bad) < 10:
                self.bad.append(f"wrong data {d!r}")
            self.counts[i] += 1
            self.count += 1
            self.last_receipt = now
            if self.count >= self.expected:
                self.done.set()

    def wait(self, timeout: float, stall_timeout: float, poll_interval: float = 0.002) -> None:
        """Wait until every expected receipt arrived; fail loudly otherwise."""
        deadline = time.monotonic() + timeout
        last_count, last_progress = -1, time.monotonic()
        while not self.done.wait(poll_interval):
            now = time.monotonic()
            count = self.count
            if count != last_count:
                last_count, last_progress = count, now
            elif now - last_progress > stall_timeout:
                raise BenchError(f"stalled: the sink got {count} of {self.expected} receipts, "
                                 f"none in the last {stall_timeout}s (items lost?)")
            if now > deadline:
                raise BenchError(f"timed out after {timeout}s: the sink got {count} of "
                                 f"{self.expected} receipts")

    def verify(self) -> None:
        with self.lock:
            if self.bad:
                raise BenchError("sink saw bad receipts: " + "; ".join(self.bad[:5]))
            if self.count != self.expected:
                raise BenchError(f"the sink got {self.count} receipts, expected {self.expected}")
            wrong = [i for i, c in enumerate(self.counts) if c != self.per_item]
            if wrong:
                raise BenchError(f"{len(wrong)} item(s) did not reach the sink exactly "
                                 f"{self.per_item} time(s), e.g. item {wrong[0]}: "
                                 f"{self.counts[wrong[0]]}")


# ---------------------------------------------------------------------------
# routilux 0.10.x: Flow.execute + JobState
# ---------------------------------------------------------------------------


class LegacyBench:
    """0.10.0: routines with slot handlers; Flow(execution_strategy="concurrent")."""

    def __init__(self, routilux, scenario: str, collector: Collector, max_workers: int,
                 timeout: float) -> None:
        from routilux import Flow, JobState, Routine

        self.JobState = JobState
        self.timeout = timeout

        # Slots keep the default "override" merge. That code
        # (`self._data = new.copy(); return self._data`) is racy in principle,
        # because one slot's handler can run on several pool threads at once.
        # Under CPython 3.11's GIL it did not misfire in testing, and the
        # sink's checks (Collector.verify) would fail the run if it ever did.
        class Source(Routine):
            def __init__(self):
                super().__init__()
                self.define_slot("trigger", handler=self.on_trigger)
                self.define_event("output", ["i", "text"])

            def on_trigger(self, count):  # one parameter named like the key: gets its value
                for i in range(count):
                    self.emit("output", i=i, text=ITEM_TEXT)

        class Transform(Routine):
            def __init__(self):
                super().__init__()
                self.define_slot("input", handler=self.on_input)
                self.define_event("output")

            def on_input(self, data):  # a parameter named `data` gets the whole dict
                self.emit("output", **TRANSFORMS[self.get_config("transform")](data))

        class Sink(Routine):
            def __init__(self):
                super().__init__()
                self.define_slot("input", handler=self.on_input)

            def on_input(self, data):
                self.get_config("collector").record(data)

        flow = Flow(flow_id=f"bench-{scenario}", execution_strategy="concurrent",
                    max_workers=max_workers)
        wire(flow, scenario, collector, Source(), Sink(), Transform)
        self.flow = flow
        self.concurrency = {"strategy": "concurrent", "max_workers": flow.max_workers}

    def submit(self, n_items: int):
        # execute() runs the source's trigger handler in this thread, so all
        # n emits are enqueued before it returns. The handlers downstream run
        # on the flow's thread pool, and the job is still "running" afterwards.
        return self.flow.execute("source", entry_params={"count": n_items})

    def settle(self, job_state) -> None:
        # routilux's own completion check: queue empty and no active futures,
        # stable over 5 checks. It costs at least 0.25 s, so it stays out of
        # the timed section.
        if not self.JobState.wait_for_completion(self.flow, job_state, timeout=self.timeout):
            raise BenchError("JobState.wait_for_completion timed out")
        if job_state.status != "completed":
            raise BenchError(f"job ended {job_state.status!r}")

    def close(self) -> None:
        self.flow.shutdown(wait=True, timeout=5.0)


# ---------------------------------------------------------------------------
# routilux >= 0.11 (1.1.0): routilux.core Runtime / WorkerState / JobContext
# ---------------------------------------------------------------------------


class RuntimeBench:
    """1.1.0: routines with an activation policy + logic, run by a Runtime."""

    def __init__(self, routilux, scenario: str, collector: Collector, max_workers: int,
                 timeout: float) -> None:
        from routilux.core import Flow, Routine, Runtime
        import routilux.core.manager as manager

        self.timeout = timeout

        # Size the pool that actually runs activations (see the module
        # docstring). This has to happen before the first worker is started.
        with manager._global_worker_manager_lock:
            if manager._global_worker_manager is None:
                manager._global_worker_manager = manager.WorkerManager(max_workers=max_workers)
        pool_size = manager.get_worker_manager().max_workers

        def immediate(slots, worker_state):
            """Activate on any new data and hand over everything that is new.

            1.1.0 has no default policy: a routine without one never runs."""
            data = {name: slot.consume_all_new() for name, slot in slots.items()}
            return any(data.values()), data, "immediate"

        class Source(Routine):
            def __init__(self):
                super().__init__()
                self.add_slot("trigger")
                self.add_event("output", ["i", "text"])
                self.set_activation_policy(immediate)
                self.set_logic(self.run)

            def run(self, triggers, policy_message=None, worker_state=None):
                for t in triggers:
                    for i in range(t["count"]):
                        self.emit("output", worker_state=worker_state, i=i, text=ITEM_TEXT)

        class Transform(Routine):
            def __init__(self):
                super().__init__()
                self.add_slot("input")
                self.add_event("output")
                self.set_activation_policy(immediate)
                self.set_logic(self.run)

            def run(self, inputs, policy_message=None, worker_state=None):
                fn = TRANSFORMS[self.get_config("transform")]
                for d in inputs:
                    # worker_state must be passed on: downstream logic runs on
                    # the event-loop thread, where no WorkerState is in context
                    # and a bare emit() raises "WorkerState is required".
                    self.emit("output", worker_state=worker_state, **fn(d))

        class Sink(Routine):
            def __init__(self):
                super().__init__()
                self.add_slot("input")
                self.set_activation_policy(immediate)
                self.set_logic(self.run)

            def run(self, inputs, policy_message=None, worker_state=None):
                record = self.get_config("collector").record
                for d in inputs:
                    record(d)

        # The worker's timeout counts from worker start (300 s by default),
        # not per job: leave room for the warm-up and the timed run.
        flow = Flow(flow_id=f"bench-{scenario}", execution_timeout=max(3600.0, 4 * timeout))
        wire(flow, scenario, collector, Source(), Sink(), Transform)
        problems = [p for p in flow.validate() if "error" in p.lower()]
        if problems:
            raise BenchError(f"flow.validate(): {problems}")

        self.flow = flow  # the FlowRegistry keeps only a weak reference
        self.runtime = Runtime(thread_pool_size=max_workers)
        # One long-lived worker (a flow instance); each run is a job posted to it.
        self.worker = self.runtime.exec(flow.flow_id)
        self.concurrency = {"strategy": "Runtime", "max_workers": max_workers,
                            "worker_pool": pool_size}

    def submit(self, n_items: int):
        _, job = self.runtime.post(self.flow.flow_id, "source", "trigger", {"count": n_items},
                                   worker_id=self.worker.worker_id)
        return job

    def settle(self, job) -> None:
        # Jobs never complete by themselves in 1.1.0: wait for the worker to
        # go idle (routilux's own check), then complete the job explicitly.
        if not self.runtime.wait_until_all_workers_idle(timeout=self.timeout, check_interval=0.01):
            raise BenchError(f"worker did not go idle (status {self.worker.status})")
        self.runtime.complete_job(job.job_id)
        status = getattr(self.worker.status, "value", self.worker.status)
        if status in ("failed", "cancelled"):
            raise BenchError(f"worker ended {status!r}: {self.worker.error}")

    def close(self) -> None:
        self.runtime.shutdown(wait=True, timeout=5.0)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def routilux_version(routilux) -> str:
    v = getattr(routilux, "__version__", None)
    if v:
        return v
    from importlib.metadata import version
    return version("routilux")


def run_once(bench, collector: Collector, scenario: str, n_items: int, args) -> float:
    collector.reset(scenario, n_items)
    t0 = time.perf_counter()
    job = bench.submit(n_items)
    collector.wait(args.timeout, args.stall_timeout)
    seconds = collector.last_receipt - t0
    bench.settle(job)  # untimed: let routilux finish and report its status
    collector.verify()  # no extra receipts arrived while settling either
    return seconds


def positive(value: str) -> int:
    n = int(value)
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {n}")
    return n


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="routilux in-process pipeline benchmark")
    ap.add_argument("--scenario", choices=tuple(SCENARIOS), default="linear")
    ap.add_argument("--items", type=positive, default=20000)
    ap.add_argument("--max-workers", type=positive, default=4,
                    help="routilux's thread-pool size (default 4)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="items in an untimed first run; default items/10 within [100, 1000]")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="overall limit of one run in seconds (default 300)")
    ap.add_argument("--stall-timeout", type=float, default=20.0,
                    help="fail if the sink sees nothing new for this long (default 20)")
    args = ap.parse_args(argv)

    try:
        import routilux
    except ImportError as e:
        log(f"error: cannot import routilux: {e}")
        return 2
    version = routilux_version(routilux)
    api = "runtime" if hasattr(routilux, "Runtime") else "flow-execute"

    collector = Collector()
    bench = None
    try:
        cls = RuntimeBench if api == "runtime" else LegacyBench
        bench = cls(routilux, args.scenario, collector, args.max_workers, args.timeout)
        warmup = args.warmup if args.warmup is not None else min(1000, max(100, args.items // 10))
        if warmup > 0:
            run_once(bench, collector, args.scenario, warmup, args)
        seconds = run_once(bench, collector, args.scenario, args.items, args)
    except BenchError as e:
        log(f"error: {e}")
        return 1
    finally:
        if bench is not None:
            try:
                bench.close()
            except Exception as e:  # shutting down must not hide the result or the error
                log(f"warning: shutdown: {e}")

    deliveries = args.items * DELIVERIES_PER_ITEM[args.scenario]
    print(json.dumps({
        "peer": f"routilux-{version}",
        "scenario": args.scenario,
        "items": args.items,
        "deliveries": deliveries,
        "seconds": round(seconds, 6),
        "items_per_s": round(args.items / seconds, 1),
        "deliveries_per_s": round(deliveries / seconds, 1),
        "api": api,
        **bench.concurrency,
        "warmup_items": warmup,
        "python": sys.version.split()[0],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
