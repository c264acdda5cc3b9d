"""The TUI's view of versions and aliases, on its own: the cache, the traffic split, the text."""

from __future__ import annotations

import time

from workbench.engine import (
    Alias,
    FunctionReloaded,
    InvocationRecord,
    InvokeEnd,
    RegistryChanged,
    ResourceNotFound,
)
from workbench.engine.registry.versions import is_alias_qualifier
from workbench.tui.registry_view import (
    RECENT,
    RegistryView,
    configured_split,
    percent,
    short_split,
)


class FakeEngine:
    """Counts registry reads; ``gone`` functions raise as the engine does for unknown ones."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.gone: set[str] = set()
        self.store = None

    def versions(self, name: str) -> list[object]:
        self.reads.append(f"versions {name}")
        if name in self.gone:
            raise ResourceNotFound(f"Function not found: {name}")
        return [name + ":1"]

    def aliases(self, name: str) -> list[Alias]:
        self.reads.append(f"aliases {name}")
        if name in self.gone:
            raise ResourceNotFound(f"Function not found: {name}")
        return [Alias(name, "live", "1")]


def record(
    version: str, qualifier: str | None, at: float, status: str = "success", function: str = "f"
) -> InvocationRecord:
    return InvocationRecord(
        f"r{at}", function, version=version, qualifier=qualifier, started_at=at, status=status
    )


def test_registry_reads_are_cached_until_a_change_says_otherwise() -> None:
    engine = FakeEngine()
    view = RegistryView(engine)  # type: ignore[arg-type]
    for _ in range(3):
        assert view.versions("f") == ["f:1"]
        assert [a.name for a in view.aliases("f")] == ["live"]
    assert engine.reads == ["versions f", "aliases f"]
    view.take([RegistryChanged("g", "alias", time.time())])  # another function: f stays cached
    view.versions("f")
    assert len(engine.reads) == 2
    view.take([RegistryChanged("f", "version", time.time())])
    view.versions("f")
    assert engine.reads[-1] == "versions f"
    view.versions("g")
    view.take([RegistryChanged(None, "unknown", time.time())])  # another process: all of them
    reads = len(engine.reads)
    view.versions("f")
    view.versions("g")
    assert len(engine.reads) == reads + 2
    view.take([FunctionReloaded("f", "code", (), 2, None, time.time())])  # $LATEST only
    view.versions("f")
    assert len(engine.reads) == reads + 2
    view.take([FunctionReloaded("f", "removed", (), 3, None, time.time())])
    engine.gone.add("f")
    assert view.versions("f") == [] and view.aliases("f") == []


def test_the_live_split_counts_the_versions_that_ran_through_each_alias() -> None:
    view = RegistryView(FakeEngine())  # type: ignore[arg-type]
    assert view.live_split("f", "live") == "recent: no invocations through it yet"
    view.seed(
        [
            record("2", "live", 3.0),
            record("1", "live", 1.0),
            record("1", "live", 2.0, status="error"),
            record("1", None, 4.0),  # $LATEST-style call of a version: not the alias's
            record("1", "1", 5.0),
            record("1", "live", 6.0, function="g"),
        ]
    )
    split, n = view.recent_split("f", "live")
    assert n == 3
    assert split == [("1", 2 / 3), ("2", 1 / 3)]
    assert view.live_split("f", "live") == "recent: v1 66.7% · v2 33.3% (n=3)"
    # the newest by start time decides the last status, whatever order the store gave
    assert view.last_status("f", "live") == "success"
    assert view.last_status("f", "1") == "success"
    view.take([InvokeEnd(record("2", "live", 7.0, status="timeout"))])
    assert view.last_status("f", "live") == "timeout"
    assert view.last_status("f", "2") == "timeout"
    assert view.recent_split("f", "live")[1] == 4


def test_the_live_split_is_over_the_most_recent_invocations_only() -> None:
    view = RegistryView(FakeEngine())  # type: ignore[arg-type]
    view.take([InvokeEnd(record("1", "live", float(i))) for i in range(RECENT)])
    view.take([InvokeEnd(record("2", "live", float(RECENT + i))) for i in range(RECENT // 2)])
    split, n = view.recent_split("f", "live")
    assert n == RECENT
    assert dict(split) == {"1": 0.5, "2": 0.5}


def test_split_texts() -> None:
    plain = Alias("f", "live", "3")
    routed = Alias("f", "live", "1", routing={"4": 0.1})
    latest = Alias("f", "dev", "$LATEST")
    assert configured_split(plain) == "→ v3"
    assert configured_split(routed) == "→ v1 90% · v4 10%"
    assert configured_split(latest) == "→ $LATEST"
    assert short_split(plain) == "→ 3"
    assert short_split(routed) == "→ 1 +4 10%"
    assert [percent(x) for x in (0.0, 0.1, 0.125, 1 / 3, 1.0)] == [
        "0%",
        "10%",
        "12.5%",
        "33.3%",
        "100%",
    ]
    assert [is_alias_qualifier(q) for q in ("live", "3", "$LATEST", None, "")] == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_the_response_header_names_the_version_that_ran() -> None:
    from workbench.engine import InvokeResult
    from workbench.tui.widgets.response import metrics_line

    def line(version: str) -> str:
        record = InvocationRecord(request_id="r", function="f", version=version)
        return metrics_line(InvokeResult(b"{}", None, version, record)).plain

    assert line("$LATEST").endswith("  $LATEST")
    assert line("3").endswith("  v3")
