#!/usr/bin/env python3
"""Bare pyzmq JSON relay: the transport floor that routilux-bench compares against.

It moves messages shaped like Routilux's wire messages between real processes
with ZeroMQ PUSH/PULL. It has no routing logic, registry, leases, retries or
persistence. What it does:

* One coordinator (this process) binds a PULL inbox and has one PUSH per worker.
* ``--workers`` worker processes each bind a PULL inbox and connect a PUSH to
  the coordinator's inbox.
* Every message has three frames:
    0. tag      b"RTX5 TASK" / b"RTX5 RESULT"
    1. header   JSON, e.g. {"v":5,"job_id":..,"task_id":N,"flow_id":"bench",
                "routine_id":"stage1","routine_type":"Mapper","slot":"input",
                "attempt":1,"token":".."}
    2. payload  JSON, {"data": {"i": N, "text": "hello world"}}
* A worker json-decodes header and payload, does the stage's small piece of
  work and answers a RESULT (header JSON + the emitted payload JSON).
* The coordinator json-decodes every RESULT and sends the next stage's TASK,
  round-robin over the workers, with at most ``--in-flight`` TASKs
  outstanding (credit).

Scenarios:
  linear    source -> stage1 (len) -> stage2 (upper) -> sink: 3 deliveries per item
  fanout    source -> 4 branches -> sink (per branch result): 8 deliveries per item
  pingpong  latency floor: two processes, one PUSH/PULL pair each way, one
            message in flight; reports one-way hop percentiles (round trip / 2)

Output: exactly one JSON line on stdout. Diagnostics and errors go to stderr,
and an error exits non-zero. Child processes are stopped on every exit path.

Usage:
  relay.py --scenario linear|fanout|pingpong --link tcp|ipc [--items N]
           [--workers 2] [--in-flight 64] [--warmup N] [--timeout S]

Workers are this script re-run with a hidden --worker-index.

Needs only pyzmq (and the standard library).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque

try:
    import zmq
except ImportError as e:  # the only dependency
    print(f"relay.py: error: pyzmq is required ({e})", file=sys.stderr)
    sys.exit(2)

TAG_TASK = b"RTX5 TASK"
TAG_RESULT = b"RTX5 RESULT"
TAG_STOP = b"RTX5 STOP"  # relay-private: tells a worker to exit

PROTOCOL_VERSION = 5
FLOW_ID = "bench"
TOKEN = "6f1c0b2e7a414c3d9e581f2a3b4c5d6e"
ITEM_TEXT = "hello world"

FANOUT_BRANCHES = ("branch0", "branch1", "branch2", "branch3")

# How often blocked processes wake up to check that their peers are alive.
POLL_MS = 200


def log(msg: str) -> None:
    print(f"relay.py: {msg}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """An expected failure (a stall, a dead worker, a protocol error)."""


# --------------------------------------------------------------------------
# Stage work (runs in the workers)
# --------------------------------------------------------------------------


def do_work(routine_id: str, data: dict) -> dict:
    """The small per-stage transform. Returns the emitted data."""
    if routine_id == "stage1":
        return {"i": data["i"], "text": data["text"], "length": len(data["text"])}
    if routine_id == "stage2":
        return {"i": data["i"], "text": data["text"].upper(), "length": data["length"]}
    if routine_id == "sink":
        # The sink emits nothing downstream; its RESULT is the acknowledgement
        # the coordinator counts.
        return {"i": data["i"]}
    if routine_id == "branch0":
        return {"i": data["i"], "branch": 0, "value": len(data["text"])}
    if routine_id == "branch1":
        return {"i": data["i"], "branch": 1, "value": data["text"].upper()}
    if routine_id == "branch2":
        return {"i": data["i"], "branch": 2, "value": data["text"][::-1]}
    if routine_id == "branch3":
        return {"i": data["i"], "branch": 3, "value": len(data["text"].split())}
    if routine_id == "echo":
        return data
    raise ValueError(f"unknown routine_id {routine_id!r}")


def answer(header: dict, emitted: dict, worker_id: str, handler_us: int) -> list[bytes]:
    """Build the RESULT frames for a TASK header and the data it emitted."""
    result_header = {
        "v": PROTOCOL_VERSION,
        "worker_id": worker_id,
        "job_id": header["job_id"],
        "task_id": header["task_id"],
        "attempt": header["attempt"],
        "outcome": "ok",
        "emissions": ["output"],
        "handler_us": handler_us,
        "credit": 1,
        "token": header["token"],
    }
    return [
        TAG_RESULT,
        json.dumps(result_header).encode(),
        json.dumps({"data": emitted}).encode(),
    ]


def parent_gone(ppid: int) -> bool:
    # Reparenting (to init or a subreaper) means the coordinator died without
    # stopping us: exit instead of lingering.
    return os.getppid() != ppid


# --------------------------------------------------------------------------
# Worker process (this script re-run with --worker-index)
# --------------------------------------------------------------------------


def worker_main(index: int, link: str, ipc_dir: str | None, coord_endpoint: str) -> int:
    """A worker: PULL inbox (bound here) + PUSH to the coordinator.

    It reports its inbox endpoint as one line on its stdout (a pipe to the
    coordinator), then serves TASKs until it gets a STOP or its parent dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    ppid = os.getppid()
    worker_id = f"relay-w{index}-{os.getpid()}"
    ctx = zmq.Context()
    inbox = ctx.socket(zmq.PULL)
    out = ctx.socket(zmq.PUSH)
    for s in (inbox, out):
        s.setsockopt(zmq.LINGER, 0)
    try:
        endpoint = bind_inbox(inbox, link, ipc_dir, f"w{index}")
        out.connect(coord_endpoint)
        sys.stdout.write(endpoint + "\n")
        sys.stdout.close()

        poller = zmq.Poller()
        poller.register(inbox, zmq.POLLIN)
        while True:
            if not poller.poll(POLL_MS):
                if parent_gone(ppid):
                    return 1
                continue
            frames = inbox.recv_multipart()
            tag = frames[0]
            if tag == TAG_STOP:
                return 0
            if tag != TAG_TASK or len(frames) != 3:
                log(f"worker {index}: unexpected message {frames[:1]!r} with {len(frames)} frames")
                return 1
            t0 = time.perf_counter_ns()
            header = json.loads(frames[1])
            payload = json.loads(frames[2])
            emitted = do_work(header["routine_id"], payload["data"])
            handler_us = (time.perf_counter_ns() - t0) // 1000
            out.send_multipart(answer(header, emitted, worker_id, handler_us))
    finally:
        inbox.close()
        out.close()
        ctx.term()


# --------------------------------------------------------------------------
# Process management
# --------------------------------------------------------------------------


class Children:
    """Spawned worker processes; stop() is idempotent and safe on any path."""

    def __init__(self) -> None:
        self.procs: list[tuple[int, subprocess.Popen]] = []

    def spawn(self, index: int, link: str, ipc_dir: str | None, coord_endpoint: str,
              timeout: float = 30.0) -> str:
        """Start one worker and return the endpoint its inbox is bound to."""
        cmd = [sys.executable, os.path.abspath(__file__), "--worker-index", str(index),
               "--link", link, "--connect", coord_endpoint]
        if ipc_dir:
            cmd += ["--ipc-dir", ipc_dir]
        # stdout: a pipe for the endpoint line; stderr: inherited, so a
        # worker's traceback reaches the bench's stderr.
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.procs.append((index, p))
        ready, _, _ = select.select([p.stdout], [], [], timeout)
        line = p.stdout.readline().decode().strip() if ready else ""
        p.stdout.close()
        if not line:
            raise BenchError(f"worker {index} did not report its endpoint "
                             f"(exit code {p.poll()})")
        return line

    def check_alive(self) -> None:
        for index, p in self.procs:
            if p.poll() is not None:
                raise BenchError(f"worker {index} (pid {p.pid}) died, exit code {p.returncode}")

    def stop(self, grace: float = 2.0) -> None:
        deadline = time.monotonic() + grace
        for _, p in self.procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for _, p in self.procs:
            if p.poll() is None:
                p.terminate()
        for _, p in self.procs:
            try:
                p.wait(1.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


def new_socket(ctx: zmq.Context, kind: int, send_timeout_s: float | None = None) -> zmq.Socket:
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    if send_timeout_s is not None:
        # A PUSH whose peer is gone blocks once its queue is full; fail instead.
        s.setsockopt(zmq.SNDTIMEO, int(send_timeout_s * 1000))
    return s


def bind_inbox(sock: zmq.Socket, link: str, ipc_dir: str | None, name: str) -> str:
    if link == "tcp":
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        return f"tcp://127.0.0.1:{port}"
    endpoint = f"ipc://{ipc_dir}/{name}.sock"
    sock.bind(endpoint)
    return endpoint


# --------------------------------------------------------------------------
# Coordinator for linear / fanout
# --------------------------------------------------------------------------

# routine_id -> routine_type, as a real flow's TASK header would carry it
ROUTINE_TYPES = {"stage1": "Mapper", "stage2": "Mapper", "sink": "Sink",
                 "branch0": "Mapper", "branch1": "Mapper", "branch2": "Mapper",
                 "branch3": "Mapper", "echo": "Echo"}


class Coordinator:
    def __init__(self, scenario: str, pushes: list[zmq.Socket], inbox: zmq.Socket,
                 children: Children, in_flight: int, stall_timeout: float) -> None:
        self.scenario = scenario
        self.pushes = pushes
        self.inbox = inbox
        self.children = children
        self.in_flight = in_flight
        self.stall_timeout = stall_timeout
        self.job_id = f"bench-{os.getpid()}"
        self.next_task_id = 1
        self.rr = 0
        # task_id -> routine_id of every TASK sent and not yet answered
        self.outstanding: dict[int, str] = {}
        self.poller = zmq.Poller()
        self.poller.register(inbox, zmq.POLLIN)

    def send_task(self, routine_id: str, data: dict) -> None:
        task_id = self.next_task_id
        self.next_task_id += 1
        header = {
            "v": PROTOCOL_VERSION,
            "job_id": self.job_id,
            "task_id": task_id,
            "flow_id": FLOW_ID,
            "routine_id": routine_id,
            "routine_type": ROUTINE_TYPES[routine_id],
            "slot": "input",
            "attempt": 1,
            "token": TOKEN,
        }
        sock = self.pushes[self.rr]
        self.rr = (self.rr + 1) % len(self.pushes)
        sock.send_multipart([TAG_TASK, json.dumps(header).encode(),
                             json.dumps({"data": data}).encode()])
        self.outstanding[task_id] = routine_id

    def recv_result(self) -> tuple[str, dict]:
        """Wait for one RESULT; return (routine_id it answers, emitted data)."""
        waited = 0.0
        while not self.poller.poll(POLL_MS):
            self.children.check_alive()
            waited += POLL_MS / 1000
            if waited >= self.stall_timeout:
                raise BenchError(f"no RESULT for {self.stall_timeout}s with "
                                 f"{len(self.outstanding)} task(s) outstanding")
        frames = self.inbox.recv_multipart()
        if frames[0] != TAG_RESULT or len(frames) != 3:
            raise BenchError(f"unexpected message {frames[:1]!r} with {len(frames)} frames")
        header = json.loads(frames[1])
        payload = json.loads(frames[2])
        routine_id = self.outstanding.pop(header["task_id"], None)
        if routine_id is None:
            raise BenchError(f"RESULT for unknown task {header['task_id']}")
        if header["outcome"] != "ok":
            raise BenchError(f"task {header['task_id']} failed: {header}")
        return routine_id, payload["data"]

    def run(self, first_item: int, count: int) -> None:
        """Push `count` items through the scenario's graph and wait for all."""
        ready: deque[tuple[str, dict]] = deque()  # follow-up tasks, sent first
        next_item = first_item
        end_item = first_item + count
        done = 0
        # sinks still expected per item (fanout); linear needs one
        pending_sinks: dict[int, int] = {}
        fanout = self.scenario == "fanout"
        while done < count:
            # Spend the credit: follow-up tasks before new items keeps the
            # pipeline shallow, like a real scheduler draining in-flight work.
            while len(self.outstanding) < self.in_flight:
                if ready:
                    self.send_task(*ready.popleft())
                elif next_item < end_item:
                    data = {"i": next_item, "text": ITEM_TEXT}
                    if fanout:
                        pending_sinks[next_item] = len(FANOUT_BRANCHES)
                        # the source's one emission is delivered to 4 branches
                        for b in FANOUT_BRANCHES:
                            ready.append((b, data))
                        self.send_task(*ready.popleft())
                    else:
                        self.send_task("stage1", data)
                    next_item += 1
                else:
                    break
            routine_id, data = self.recv_result()
            if routine_id == "stage1":
                ready.append(("stage2", data))
            elif routine_id == "stage2":
                ready.append(("sink", data))
            elif routine_id.startswith("branch"):
                ready.append(("sink", data))
            elif routine_id == "sink":
                if fanout:
                    left = pending_sinks[data["i"]] - 1
                    if left:
                        pending_sinks[data["i"]] = left
                    else:
                        del pending_sinks[data["i"]]
                        done += 1
                else:
                    done += 1
            else:
                raise BenchError(f"result from unexpected routine {routine_id!r}")
        if self.outstanding or ready:
            raise BenchError(f"finished with {len(self.outstanding)} outstanding, {len(ready)} unsent")


def run_pipeline(args, link_dir: str | None, children: Children) -> dict:
    ctx = zmq.Context()
    socks: list[zmq.Socket] = []
    try:
        inbox = new_socket(ctx, zmq.PULL)
        socks.append(inbox)
        coord_endpoint = bind_inbox(inbox, args.link, link_dir, "coordinator")
        pushes = []
        for w in range(args.workers):
            endpoint = children.spawn(w, args.link, link_dir, coord_endpoint)
            push = new_socket(ctx, zmq.PUSH, args.timeout)
            socks.append(push)
            push.connect(endpoint)
            pushes.append(push)

        coord = Coordinator(args.scenario, pushes, inbox, children, args.in_flight, args.timeout)
        per_item = 3 if args.scenario == "linear" else 2 * len(FANOUT_BRANCHES)
        warmup = args.warmup if args.warmup is not None else min(2000, max(200, args.items // 10))
        if warmup:
            coord.run(0, warmup)
        t0 = time.perf_counter()
        coord.run(warmup, args.items)
        seconds = time.perf_counter() - t0

        for push in pushes:
            push.send_multipart([TAG_STOP, b"{}", b"{}"])
        deliveries = args.items * per_item
        return {
            "peer": "pyzmq-relay",
            "scenario": args.scenario,
            "link": args.link,
            "items": args.items,
            "deliveries": deliveries,
            "seconds": round(seconds, 6),
            "items_per_s": round(args.items / seconds, 1),
            "deliveries_per_s": round(deliveries / seconds, 1),
            "workers": args.workers,
            "in_flight": args.in_flight,
            "warmup_items": warmup,
            "pyzmq": zmq.pyzmq_version(),
            "libzmq": zmq.zmq_version(),
        }
    finally:
        for s in socks:
            s.close()
        ctx.term()


# --------------------------------------------------------------------------
# Ping-pong (latency floor)
# --------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def run_pingpong(args, link_dir: str | None, children: Children) -> dict:
    ctx = zmq.Context()
    socks: list[zmq.Socket] = []
    try:
        inbox = new_socket(ctx, zmq.PULL)
        socks.append(inbox)
        coord_endpoint = bind_inbox(inbox, args.link, link_dir, "coordinator")
        endpoint = children.spawn(0, args.link, link_dir, coord_endpoint)
        push = new_socket(ctx, zmq.PUSH, args.timeout)
        socks.append(push)
        push.connect(endpoint)
        poller = zmq.Poller()
        poller.register(inbox, zmq.POLLIN)

        header = {"v": PROTOCOL_VERSION, "job_id": f"bench-{os.getpid()}", "task_id": 0,
                  "flow_id": FLOW_ID, "routine_id": "echo", "routine_type": "Echo",
                  "slot": "input", "attempt": 1, "token": TOKEN}

        def round_trip(n: int) -> int:  # nanoseconds
            # Encode, send, wait for the answer, decode: one message in flight.
            header["task_id"] = n + 1
            t0 = time.perf_counter_ns()
            push.send_multipart([TAG_TASK, json.dumps(header).encode(),
                                 json.dumps({"data": {"i": n, "text": ITEM_TEXT}}).encode()])
            waited = 0
            while not poller.poll(POLL_MS):
                children.check_alive()
                waited += POLL_MS
                if waited >= args.timeout * 1000:
                    raise BenchError(f"no answer to ping {n} for {args.timeout}s")
            frames = inbox.recv_multipart()
            h = json.loads(frames[1])
            p = json.loads(frames[2])
            rtt = time.perf_counter_ns() - t0
            if frames[0] != TAG_RESULT or h["task_id"] != n + 1 or p["data"]["i"] != n:
                raise BenchError(f"bad answer to ping {n}: {frames!r}")
            return rtt

        warmup = args.warmup if args.warmup is not None else min(1000, max(100, args.items // 10))
        for n in range(warmup):
            round_trip(n)
        rtts = [round_trip(warmup + n) for n in range(args.items)]
        push.send_multipart([TAG_STOP, b"{}", b"{}"])

        hops = sorted(r / 2 / 1000 for r in rtts)  # one-way hop, microseconds
        return {
            "peer": "pyzmq-pingpong",
            "scenario": "pingpong",
            "link": args.link,
            "round_trips": args.items,
            "hop_us_p50": round(percentile(hops, 0.50), 2),
            "hop_us_p99": round(percentile(hops, 0.99), 2),
            "hop_us_p999": round(percentile(hops, 0.999), 2),
            "hop_us_min": round(hops[0], 2),
            "hop_us_mean": round(sum(hops) / len(hops), 2),
            "warmup_round_trips": warmup,
            "pyzmq": zmq.pyzmq_version(),
            "libzmq": zmq.zmq_version(),
        }
    finally:
        for s in socks:
            s.close()
        ctx.term()


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def positive(value: str) -> int:
    n = int(value)
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {n}")
    return n


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=("linear", "fanout", "pingpong"), default="linear")
    ap.add_argument("--link", choices=("tcp", "ipc"), default="tcp")
    ap.add_argument("--items", type=positive, default=20000,
                    help="items to time (pingpong: round trips), default 20000")
    ap.add_argument("--workers", type=positive, default=2, help="worker processes (linear/fanout)")
    ap.add_argument("--in-flight", type=positive, default=64, help="max outstanding TASKs (credit)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed items (round trips) first; default items/10 within [200, 2000] "
                         "([100, 1000] for pingpong)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="fail if no message arrives for this many seconds (default 30)")
    # internal: how the coordinator starts a worker process
    ap.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--connect", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--ipc-dir", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.worker_index is not None:
        return worker_main(args.worker_index, args.link, args.ipc_dir, args.connect)

    # SIGTERM (e.g. the Swift bench killing us on timeout) takes the normal
    # cleanup path below instead of orphaning the workers.
    def on_term(signum, frame):
        log(f"terminated by signal {signum}")
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    link_dir = tempfile.mkdtemp(prefix="rtx-relay-") if args.link == "ipc" else None
    children = Children()
    ok = False
    try:
        if args.scenario == "pingpong":
            result = run_pingpong(args, link_dir, children)
        else:
            result = run_pipeline(args, link_dir, children)
        ok = True
    except BenchError as e:
        log(f"error: {e}")
        return 1
    except zmq.Again:
        log(f"error: a send blocked for {args.timeout}s (peer gone?)")
        return 1
    except zmq.ZMQError as e:
        log(f"error: zmq: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        # After a clean run the workers got a STOP and exit by themselves;
        # otherwise do not wait for them.
        children.stop(grace=2.0 if ok else 0.0)
        if link_dir:
            shutil.rmtree(link_dir, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
