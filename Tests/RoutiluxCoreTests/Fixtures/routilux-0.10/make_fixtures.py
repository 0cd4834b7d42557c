"""Writes JobState files with the real routilux 0.10.0, for our loader tests.

    python3 -m venv /tmp/rx && /tmp/rx/bin/pip install routilux==0.10.0 serilux==0.3.1
    /tmp/rx/bin/python make_fixtures.py        # writes *.json next to this file

The files are committed; the tests never need Python.
"""
import os

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine

HERE = os.path.dirname(os.path.abspath(__file__))


class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.on_trigger)
        self.define_event("item", ["value"])

    def on_trigger(self, **kw):
        for v in kw.get("values", []):
            self.emit("item", value=v)


class Doubler(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("input", self.on_input)
        self.define_event("output", ["value"])

    def on_input(self, value=None, **kw):
        ctx = self.get_execution_context()
        if ctx:
            ctx.job_state.update_shared_data("last", value)
            ctx.job_state.append_to_shared_log({"seen": value})
        self.emit("output", value=value * 2)


class Sink(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("input", self.on_input, merge_strategy="append")

    def on_input(self, **kw):
        self.send_output("result", value=kw.get("value"))


class Boom(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", self.on_trigger)

    def on_trigger(self, **kw):
        raise ValueError("boom: " + str(kw.get("why", "no reason")))


def pipeline():
    flow = Flow(flow_id="py_pipeline", execution_strategy="sequential")
    flow.add_routine(Source(), "source")
    flow.add_routine(Doubler(), "double")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "item", "double", "input")
    flow.connect("double", "output", "sink", "input")
    return flow


def completed():
    flow = pipeline()
    js = flow.execute("source", entry_params={"values": [1, 2, 3]})
    JobState.wait_for_completion(flow, js, timeout=10)
    js.save(os.path.join(HERE, "completed.json"))
    flow.shutdown()


def paused():
    flow = pipeline()
    flow.pause(JobState(flow.flow_id), reason="warm-up")  # the flow is now paused: tasks park
    js = flow.execute("source", entry_params={"values": [5, 6]})
    flow.pause(js, reason="waiting for a human", checkpoint={"step": 2})
    js.add_deferred_event("source", "item", {"value": 99})
    js.save(os.path.join(HERE, "paused.json"))
    flow.shutdown()


def failed():
    flow = Flow(flow_id="py_failing")
    flow.add_routine(Boom(), "boom")
    js = flow.execute("boom", entry_params={"why": "testing"})
    js.save(os.path.join(HERE, "failed.json"))
    flow.shutdown()


def continued():
    flow = Flow(flow_id="py_optional")
    r = Boom()
    r.set_as_optional()
    flow.add_routine(r, "boom")
    js = flow.execute("boom", entry_params={})
    js.save(os.path.join(HERE, "error_continued.json"))
    flow.shutdown()


if __name__ == "__main__":
    completed()
    paused()
    failed()
    continued()
    # Each flow was shut down and each file saved before its function returned: nothing to wait for.
    print("wrote", sorted(f for f in os.listdir(HERE) if f.endswith(".json")))
