"""A network of its own per environment (``netns.py``): its Runtime API at Lambda's
127.0.0.1:9001, the workbench's APIs at their ports, nothing else of the host's loopback, nothing
that can connect in; outbound traffic through slirp4netns where it is installed; the host's
network when asked (``network="host"``) or where it cannot be had, said so.

Every test runs twice: with the namespaces made by the engine (a root engine's way), and by
its maker process (``netns_helper.py``, an unprivileged engine's way, forced here with
``HELPER_VAR=1``: the environments join the maker's user namespace, then the network).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

from tests.api.live_server import LiveServer
from tests.helpers import add_function, body, make_function, tmp_of, until
from workbench.engine import Engine, EngineSettings, early_start
from workbench.engine.runtime import netns, netns_helper
from workbench.engine.runtime.namespaces import UIDS_VAR, probe
from workbench.engine.runtime.netns import Network

from .test_telemetry import _add as add_telemetry
from .test_telemetry import _of, _received

pytestmark = pytest.mark.skipif(
    bool(probe()) or bool(netns.probe()),
    reason=f"no network namespaces here: {probe() or netns.probe()}",
)
SLIRP = netns.Network.detect("auto", True, None).slirp

NET = """
import json, os, socket

def handler(event, context):
    kind = event["kind"]
    if kind == "where":
        return {"api": os.environ["AWS_LAMBDA_RUNTIME_API"],
                "ifaces": sorted(line.split(":")[0].strip()
                                 for line in open("/proc/net/dev").read().splitlines()[2:])}
    if kind == "connect":
        try:
            socket.create_connection((event["host"], event["port"]), timeout=3).close()
            return {"connected": True}
        except OSError as e:
            return {"errno": e.errno, "error": str(e)}
    if kind == "listen":
        global kept
        kept = socket.socket()
        kept.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        kept.bind(("0.0.0.0", event["port"]))
        kept.listen()
        return {"listening": event["port"]}
    if kind == "resolve":
        return {"resolv": open("/etc/resolv.conf").read()}
"""


@pytest.fixture(autouse=True, params=["engine", "maker"])
def made_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Who makes the namespaces: the engine itself, or its maker process."""
    if request.param == "maker":
        monkeypatch.setenv(netns_helper.HELPER_VAR, "1")
        monkeypatch.setenv(UIDS_VAR, "shared")  # (as an unprivileged engine's environments)
    return str(request.param)


def makers() -> list[psutil.Process]:
    """This process's network namespaces' makers still running."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:  # (another child, an environment of an engine closing, may end meanwhile)
            if p.status() != psutil.STATUS_ZOMBIE and any("netns_maker" in a for a in p.cmdline()):
                found.append(p)
        except psutil.Error:
            pass
    return found


def settings(tmp_path: Path, network: str) -> EngineSettings:
    return EngineSettings(
        keep_alive_s=30.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        isolation="auto",
        network=network,
    )


@pytest.fixture
async def private(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine([function_root], settings(tmp_path, "none")) as eng:
        add_function(eng, "net", NET)
        yield eng


@pytest.fixture
def host_listener() -> Iterator[socket.socket]:
    """A server on the host's loopback (a database a developer runs, the engine's own ports)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


async def call(engine: Engine, event: dict[str, object], name: str = "net") -> dict:
    result = await engine.invoke(name, json.dumps(event).encode())
    assert result.record.error_type is None, result.payload
    return body(result)


async def test_the_runtime_api_is_at_lambdas_address_in_a_network_of_its_own(
    private: Engine,
) -> None:
    seen = await call(private, {"kind": "where"})
    assert seen["api"] == "127.0.0.1:9001"
    assert seen["ifaces"] == ["lo"]  # (--network none: no outbound stack, even if installed)
    [env] = private.environments("net")
    assert env.netns is not None and env.api.port == 9001
    assert "network: a namespace of its own" in private.pool.isolation.network.describe()
    # what serve says it does not stop: nothing of the network, with no outbound traffic
    assert "nothing of the network" in private.pool.isolation.not_stopped()


async def test_auto_where_slirp4netns_is_missing_keeps_the_hosts_network(
    function_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    which = netns.shutil.which
    monkeypatch.setattr(
        netns.shutil, "which", lambda name, *a, **k: None if name == "slirp4netns" else which(name)
    )
    async with Engine([function_root], settings(tmp_path, "auto")) as engine:
        add_function(engine, "net", NET)
        seen = await call(engine, {"kind": "where"})
        assert seen["api"] != "127.0.0.1:9001"
        assert "install slirp4netns" in engine.pool.isolation.network.describe()


async def test_two_environments_each_have_9001_and_both_answer(private: Engine) -> None:
    import asyncio

    slow = add_function(
        private, "slow", "import time\ndef handler(e, c):\n    time.sleep(0.5)\n    return 1\n"
    )
    assert slow.is_dir()
    results = await asyncio.gather(*(private.invoke("slow", b"{}") for _ in range(2)))
    assert [r.record.error_type for r in results] == [None, None]
    envs = private.environments("slow")
    assert len(envs) == 2 and {e.api.port for e in envs} == {9001}


async def test_nothing_of_the_hosts_loopback_is_reachable(
    private: Engine, host_listener: socket.socket
) -> None:
    port = host_listener.getsockname()[1]
    seen = await call(private, {"kind": "connect", "host": "127.0.0.1", "port": port})
    assert seen["errno"] == 111, seen  # ECONNREFUSED: its own loopback has nothing there
    assert "Connection refused" in seen["error"]


async def test_nothing_outside_can_connect_in(private: Engine) -> None:
    with socket.socket() as probe_port:  # a port free on the host
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    assert await call(private, {"kind": "listen", "port": port}) == {"listening": port}
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 3):
        pass
    # inside, it is there: the same environment connects to it
    assert await call(private, {"kind": "connect", "host": "127.0.0.1", "port": port}) == {
        "connected": True
    }


async def test_an_extension_gets_its_telemetry_inside_the_network(
    function_root: Path, tmp_path: Path
) -> None:
    """The engine reaches the extension's listener (sandbox.localdomain) inside its namespace."""
    async with Engine([function_root], settings(tmp_path, "none")) as engine:
        add_telemetry(engine, function_root, "tel", Path("/tmp/ext.log"))
        result = await engine.invoke("tel", b"{}")
        assert result.record.error_type is None, result.payload
        [env] = engine.environments("tel")
        assert env.netns is not None
        log = tmp_of(env) / "ext.log"
        [report] = await until(lambda: _of(_received(log), "platform.report"), "the report")
        assert report["record"]["requestId"] == result.record.request_id


async def test_a_function_that_cannot_be_described_fails_init_through_its_own_runtime_api(
    private: Engine,
) -> None:
    (private.roots[0].parent / "lay\x1eer").mkdir()
    add_function(private, "bad", "def handler(e, c):\n    return 1\n", layers=["../../lay\x1eer"])
    result = await private.invoke("bad", b"{}")
    error = body(result)
    assert error["errorType"] == "Runtime.SandboxError", error
    assert "cannot describe the namespaces" in error["errorMessage"]


def test_the_workbenchs_api_is_reachable_at_its_own_address_inside(tmp_path: Path) -> None:
    """AWS_ENDPOINT_URL is the same inside: the engine relays its port from the namespace."""
    root = tmp_path / "functions"
    make_function(
        root,
        "caller",
        "import json, os, urllib.request\n"
        "def handler(event, context):\n"
        "    url = os.environ['AWS_ENDPOINT_URL_LAMBDA']\n"
        "    url += '/2015-03-31/functions/echo/invocations'\n"
        "    req = urllib.request.Request(url, data=b'{\"n\": 7}', method='POST')\n"
        "    with urllib.request.urlopen(req, timeout=30) as r:\n"
        "        echo = json.loads(r.read())\n"
        "    return {'api': os.environ['AWS_LAMBDA_RUNTIME_API'], 'echo': echo}\n",
    )
    make_function(root, "echo", "def handler(event, context):\n    return event\n")
    server = LiveServer(
        root, tmp_path / "state", isolation="auto", network="none", background=False
    ).start()
    try:
        url = f"{server.url}/2015-03-31/functions/caller/invocations"
        import urllib.request

        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=60) as r:
            out = json.loads(r.read())
        assert out == {"api": "127.0.0.1:9001", "echo": {"n": 7}}
    finally:
        server.stop()


async def test_the_host_network_when_asked(function_root: Path, tmp_path: Path) -> None:
    async with Engine([function_root], settings(tmp_path, "host")) as engine:
        add_function(engine, "net", NET)
        seen = await call(engine, {"kind": "where"})
        assert seen["api"] != "127.0.0.1:9001" and seen["api"].startswith("127.0.0.1:")
        [env] = engine.environments("net")
        assert env.netns is None
        network = engine.pool.isolation.network
        assert not network.private
        assert network.describe() == "network: the host's (asked for with --network host)"
        assert "the network" in engine.pool.isolation.not_stopped()


def test_auto_without_a_user_mode_stack_keeps_the_hosts_network_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no slirp4netns on it
    network = Network.detect("auto", True, tmp_path)
    assert not network.private
    assert "install slirp4netns" in network.describe()
    network = Network.detect("none", True, tmp_path)
    try:
        assert network.private  # (loopback only)
    finally:
        network.close()
    assert "no namespaces" in Network.detect("auto", False, tmp_path).why_host
    with pytest.raises(ValueError, match="must be one of auto, none, host"):
        Network.detect("bridge", True, tmp_path)


async def test_a_closed_engine_leaves_no_network_behind(
    function_root: Path, tmp_path: Path, made_by: str
) -> None:
    mode = "auto" if SLIRP else "none"
    async with Engine([function_root], settings(tmp_path, mode)) as engine:
        add_function(engine, "net", NET)
        await call(engine, {"kind": "where"})
        [env] = engine.environments("net")
        ns = env.netns
        assert ns is not None
        fd = ns.fd
        assert os.readlink(f"/proc/self/fd/{fd}").startswith("net:")
        assert (ns.helper is not None) == (made_by == "maker")
        assert bool(makers()) == (made_by == "maker")
    assert ns.closed and ns.fd == -1
    slirps = [p for p in psutil.Process().children(recursive=True) if "slirp4netns" in p.name()]
    await until(lambda: not any(p.is_running() and p.status() != "zombie" for p in slirps))
    await until(lambda: not makers())


async def test_a_makers_environment_is_in_the_makers_user_namespace(
    private: Engine, made_by: str
) -> None:
    """An unprivileged engine's environment: its network is in the maker's user namespace
    (which the engine's uid owns), its runtime in a user namespace of its own inside that, as
    sbx_user1051; the engine says who made the namespaces."""
    add_function(
        private,
        "ns",
        """
        import os
        def handler(event, context):
            return {"uid": os.getuid(), "map": open("/proc/self/uid_map").read().split()}
        """,
    )
    seen = body(await private.invoke("ns", b"{}"))
    assert seen["uid"] == 993
    described = private.pool.isolation.network.describe()
    [env] = private.environments("ns")
    assert env.netns is not None
    if made_by == "maker":
        assert "made in a user namespace of the workbench's own" in described
        assert env.netns.user_path is not None
        # its uid 993 is the maker's root (0), which is the engine's uid outside
        assert seen["map"] == ["993", "0", "1"]
    else:
        assert "user namespace" not in described and env.netns.user_path is None


@pytest.mark.parametrize("made_by", ["maker"], indirect=True)
async def test_a_handler_cannot_find_or_signal_the_maker(private: Engine) -> None:
    """A hostile handler looks through /proc for the maker and signals every process it can
    see: the maker is not among them (another pid namespace), and it goes on making."""
    add_function(
        private,
        "hunt",
        """
        import os, signal
        def handler(event, context):
            seen, makers = [], []
            for name in os.listdir("/proc"):
                if name.isdigit() and int(name) != os.getpid():
                    try:
                        cmdline = open(f"/proc/{name}/cmdline", "rb").read()
                    except OSError:
                        continue
                    seen.append(int(name))
                    if b"netns_maker" in cmdline:
                        makers.append(int(name))
            for pid in seen:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return {"makers": makers}
        """,
    )
    [maker] = makers()
    assert body(await private.invoke("hunt", b"{}")) == {"makers": []}
    assert maker.is_running() and maker.status() != psutil.STATUS_ZOMBIE
    add_function(private, "net2", NET)  # the next environment's network: made by the same maker
    assert (await call(private, {"kind": "where"}, name="net2"))["api"] == "127.0.0.1:9001"
    assert [p.pid for p in makers()] == [maker.pid]


@pytest.mark.parametrize("made_by", ["maker"], indirect=True)
async def test_a_killed_maker_is_replaced_and_environments_still_start(private: Engine) -> None:
    """The maker killed from outside (it is not the handlers' to reach: they cannot see it):
    the namespaces it made ahead are still joined (its user namespace is held), the next are
    made by a new maker, and the environment started before keeps answering."""
    first = await call(private, {"kind": "where"})
    [before] = makers()
    before.kill()
    before.wait(10)
    for n in range(2, 6):  # past the spares the killed one made ahead
        add_function(private, f"net{n}", NET)
        assert (await call(private, {"kind": "where"}, name=f"net{n}"))["api"] == "127.0.0.1:9001"
    [after] = makers()
    assert after.pid != before.pid
    assert await call(private, {"kind": "where"}) == first  # the first one, still there


@pytest.mark.parametrize("made_by", ["maker"], indirect=True)
async def test_the_maker_started_early_is_the_one_the_engine_takes(
    function_root: Path, tmp_path: Path
) -> None:
    """serve and the TUI start an unprivileged engine's maker first thing (early_start.py),
    so its ~30 ms start runs beside their imports: the engine takes that one."""
    await until(lambda: not makers())  # (an earlier test's engine's maker may still be ending)
    early_start.start_netns_maker()
    [early] = makers()
    async with Engine([function_root], settings(tmp_path, "none")) as engine:
        add_function(engine, "net", NET)
        assert (await call(engine, {"kind": "where"}))["api"] == "127.0.0.1:9001"
        assert [p.pid for p in makers()] == [early.pid]
    await until(lambda: not makers())


@pytest.mark.parametrize("made_by", ["maker"], indirect=True)
def test_a_maker_never_taken_is_gone_when_the_process_ends() -> None:
    """A command that ends before its engine starts leaves no maker running (killed and
    reaped at exit; the maker would also die with its parent, PR_SET_PDEATHSIG)."""
    code = (
        "import os; os.environ['WORKBENCH_NETNS_HELPER'] = '1'; "
        "from workbench.engine import early_start; early_start.start_netns_maker(); "
        "[(proc, _)] = early_start._makers; print(proc.pid, flush=True)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_an_unprivileged_engine_without_the_tun_device_keeps_the_hosts_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, made_by: str
) -> None:
    """slirp4netns opens /dev/net/tun as the engine's user: where that user may not (a mode
    of 0600, as on some hosts), ``auto`` keeps the host's network and says why; ``none``
    (no outbound traffic) still gives a network of its own. (A root engine's own namespaces:
    its slirp4netns runs as root, and the device's mode does not matter.)"""
    if SLIRP is None:
        pytest.skip("slirp4netns is not installed (apt install slirp4netns)")
    monkeypatch.setattr(netns, "TUN", str(tmp_path / "no-tun"))  # (root may open any device)
    network = Network.detect("auto", True, tmp_path)
    if made_by == "engine":
        try:
            assert network.private and network.slirp and network.helper is None
        finally:
            network.close()
        return
    assert not network.private
    assert "slirp4netns cannot open" in network.why_host and "--network none" in network.why_host
    network = Network.detect("none", True, tmp_path)
    try:
        assert network.private and network.helper is not None
    finally:
        network.close()


# ----------------------------------------------------------------- outbound (slirp4netns)


def _host_address() -> str | None:
    """One of this host's own addresses other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # (nothing is sent)
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.skipif(SLIRP is None, reason="slirp4netns is not installed (apt install slirp4netns)")
async def test_outbound_traffic_goes_through_slirp4netns_but_not_to_the_hosts_loopback(
    function_root: Path, tmp_path: Path, host_listener: socket.socket
) -> None:
    address = _host_address()
    if address is None:
        pytest.skip("this host has no address but its loopback")
    with socket.socket() as outside:
        outside.bind((address, 0))  # a server on the host's own address: "another host"
        outside.listen()
        async with Engine([function_root], settings(tmp_path, "auto")) as engine:
            add_function(engine, "net", NET)
            seen = await call(engine, {"kind": "where"})
            assert seen["api"] == "127.0.0.1:9001"
            assert "tap0" in seen["ifaces"]
            assert "slirp4netns" in engine.pool.isolation.network.describe()
            assert "outbound traffic to other hosts" in engine.pool.isolation.not_stopped()
            port = outside.getsockname()[1]
            assert await call(engine, {"kind": "connect", "host": address, "port": port}) == {
                "connected": True
            }
            loopback = host_listener.getsockname()[1]
            refused = await call(engine, {"kind": "connect", "host": "127.0.0.1", "port": loopback})
            assert refused["errno"] == 111
            # through slirp4netns's gateway to the host's loopback: refused too
            # (--disable-host-loopback)
            gateway = await call(engine, {"kind": "connect", "host": "10.0.2.2", "port": loopback})
            assert "errno" in gateway, gateway
            resolv = await call(engine, {"kind": "resolve"})
            assert resolv["resolv"] == f"nameserver {netns.SLIRP_DNS}\n"
