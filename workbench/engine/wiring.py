"""The engine's composition root: each service built with its collaborators, in layer order.

``Engine`` (the facade) calls ``compose`` once and then only delegates; tests and benchmarks may
build the same graph. Nothing here runs anything: starting is ``Engine.start``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

from .config.api_functions import API_DIR, ApiFunctions
from .config.catalog import Catalog
from .config.source_filter import SourceFilter
from .invoke.concurrency import Concurrency
from .invoke.invoker import Invoker
from .invoke.pool import EnvironmentPool
from .invoke.replay import Replay
from .invoke.scaling import ScalingRate
from .registry.control_plane import ControlPlane
from .registry.service import RegistryService
from .reload.auto_publish import AutoPublish
from .reload.hot_reload import HotReload
from .runtime.debug_attach import DebugPorts
from .runtime.debugger import Debugger
from .runtime.interpreters import Interpreters
from .sources.host import SourceHost
from .sources.manager import Sources


class Parts(SourceHost, Protocol):
    """What the graph is built from: the engine's own parts (``Engine`` is one)."""

    tmp_root: Path
    source_filter: SourceFilter
    debugger: Debugger
    debug_ports: DebugPorts


class Services(NamedTuple):
    catalog: Catalog
    concurrency: Concurrency
    versioning: RegistryService
    pool: EnvironmentPool
    invoker: Invoker
    replayer: Replay
    sources: Sources
    hot_reload: HotReload
    control: ControlPlane
    interpreters: Interpreters


def compose(host: Parts) -> Services:
    roots, settings, state_dir, bus = host.roots, host.settings, host.state_dir, host.bus
    records = lambda: host.store  # noqa: E731 - opened by Engine.start, read at each call
    catalog = Catalog(settings.arn)
    rate = settings.scaling_rate
    scaling = ScalingRate(rate, settings.time_scale) if rate is not None else None
    concurrency = Concurrency(catalog, settings.account_limit, bus, scaling)
    versioning = RegistryService(catalog=catalog, settings=settings, bus=bus, state_dir=state_dir)
    interpreters = Interpreters(python=settings.python, node=settings.node)
    pool = EnvironmentPool(
        catalog=catalog,
        interpreters=interpreters,
        concurrency=concurrency,
        settings=settings,
        bus=bus,
        registry=versioning.require,
        tmp_root=host.tmp_root,
        pycache_dir=state_dir / "pycache",
        debugger=host.debugger,
        debug_ports=host.debug_ports,
        state_dir=state_dir,
    )
    versioning.on_published.append(
        lambda version: pool.snapshots.prepare(version.config, str(version.number))
    )
    versioning.on_version_deleted.append(pool.version_deleted)
    invoker = Invoker(
        catalog=catalog,
        concurrency=concurrency,
        pool=pool,
        settings=settings,
        bus=bus,
        registry=versioning.require,
        records=records,
    )
    replayer = Replay(
        catalog=catalog, invoker=invoker, records=records, roots=roots, state_dir=state_dir
    )
    sources = Sources(host)
    hot_reload = HotReload(
        roots=roots,
        settings=settings,
        catalog=catalog,
        pool=pool,
        bus=bus,
        source_filter=host.source_filter,
        pycache_dir=state_dir / "pycache",
        on_change=sources.refresh,
        template_code_dir=state_dir / "template-code",
        auto_publish=AutoPublish(catalog=catalog, versioning=versioning, settings=settings),
        api=ApiFunctions(state_dir / API_DIR),
    )
    control = ControlPlane(
        catalog=catalog,
        registry=versioning,
        account_limit=settings.account_limit,
        apply=hot_reload.reload,
    )
    return Services(
        catalog,
        concurrency,
        versioning,
        pool,
        invoker,
        replayer,
        sources,
        hot_reload,
        control,
        interpreters,
    )
