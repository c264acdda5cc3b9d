"""Request ids and trace headers: Lambda's formats, and never the same twice (also after a fork)."""

from __future__ import annotations

import os
import re

from workbench.engine.model.ids import new_trace_id, new_uuid

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TRACE = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")


def test_request_ids_are_version_4_uuids_and_unique() -> None:
    ids = [new_uuid() for _ in range(20_000)]
    assert all(UUID.fullmatch(i) for i in ids), [i for i in ids if not UUID.fullmatch(i)][:3]
    assert len(set(ids)) == len(ids)
    # the variant nibble takes all four of its values
    assert {i[19] for i in ids} == set("89ab")


def test_trace_headers_have_xrays_shape_and_differ() -> None:
    traces = [new_trace_id() for _ in range(5_000)]
    assert all(TRACE.fullmatch(t) for t in traces), traces[:3]
    assert len({t.split(";")[0] for t in traces}) == len(traces)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_uuid().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert UUID.fullmatch(child)
    assert child != new_uuid()
