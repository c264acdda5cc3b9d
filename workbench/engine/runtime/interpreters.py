"""Which interpreter runs a declared runtime: ``python3.12`` on a Python 3.12, ``nodejs22.x`` on
a Node.js 22 — or, when that one is not installed, the nearest one that is, said plainly.

A function that declares ``python3.12`` and silently runs on the engine's own 3.11 hides exactly
the bugs a local run is for (3.12 syntax, removed modules), while ``INIT_START`` would claim
3.12. So each declared runtime is looked up where developers install interpreters: on ``PATH``
(``python3.12``; ``node`` and ``node22``), in pyenv and uv-managed installs for Python, in nvm,
fnm and volta for Node.js. The installed interpreters are listed once per engine (then every
cold start is a dict lookup), and what runs is named for what it is, in ``INIT_START`` and in the
notice ``list``, ``serve`` and the TUI show.

When the declared version is missing, the nearest minor (Python) or major (Node.js) runs; a tie
goes to the newer one: code written for 3.12 more likely runs on 3.13 than on 3.11 (new syntax
and APIs only ever appear in newer releases, and removals come after years of deprecation).

An interpreter the user named (``--python`` / ``--node``, ``EngineSettings.python`` / ``.node``)
runs every function of its family, whatever they declare; the notice then says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Family = Literal["python", "nodejs"]
Source = Literal["engine", "PATH", "pyenv", "uv", "nvm", "fnm", "volta", "--python", "--node"]
Version = tuple[int, ...]

# The oldest Python our runtime client (runtimes/python, standard library only) runs on; older
# interpreters are never chosen as "nearest" (python3.8 itself is still accepted in function.toml).
MIN_PYTHON: Version = (3, 8)
_PROBE_TIMEOUT_S = 10.0
_DECLARED = re.compile(r"^(?:python(\d+)\.(\d+)|nodejs(\d+)\.x)$")
_PYTHON_NAME = re.compile(r"^python(\d+)\.(\d+)$")
_NODE_NAME = re.compile(r"^node(\d+)$")
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")  # 3.12.1, v20.11.0; not 3.13.0t, 3.14-dev
_UV_NAME = re.compile(r"^cpython-(\d+)\.(\d+)\.(\d+)-")  # not cpython-3.13.0+freethreaded-…
INSTALL_HINTS: dict[Family, str] = {
    "python": "install it with pyenv or uv",
    "nodejs": "install it with nvm, fnm or volta",
}


def _text(version: Version) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True, slots=True)
class Interpreter:
    """The interpreter one declared runtime runs on, and what it really is."""

    declared: str  # the function's runtime id: "python3.12", "nodejs24.x"
    path: str  # the executable
    version: Version  # what it is: (3, 11, 7), (3, 12) when only the name tells, (20, 20, 2)
    source: Source  # where it was found (or who chose it)

    @property
    def family(self) -> Family:
        return "python" if self.declared.startswith("python") else "nodejs"

    @property
    def running(self) -> str:
        """The runtime id of what really runs (``python3.11``, ``nodejs20.x``): what INIT_START
        names, as ``python:3.11.v1``."""
        if self.family == "python":
            return f"python{_text(self.version[:2])}"
        return f"nodejs{self.version[0]}.x"

    @property
    def exact(self) -> bool:
        return self.running == self.declared

    @property
    def explicit(self) -> bool:
        """Chosen by the user for every function of its family (``--python`` / ``--node``)."""
        return self.source in ("--python", "--node")

    @property
    def description(self) -> str:
        """``python 3.11.7`` / ``node 20.20.2``: the interpreter as a person would name it."""
        return f"{'python' if self.family == 'python' else 'node'} {_text(self.version)}"

    @property
    def notice(self) -> str | None:
        """What to tell the user when the declared runtime is not what runs; None when it is."""
        if self.exact:
            return None
        if self.explicit:
            why = f"{self.source} {self.path}"
        else:
            wanted = self.declared if self.family == "python" else f"node {self.declared[6:-2]}"
            why = f"{wanted} not found: {INSTALL_HINTS[self.family]}"
        return f"{self.declared} → running on {self.description} ({why})"


class Interpreters:
    """The interpreters of one engine: found once, then looked up per declared runtime.

    ``python`` / ``node``: the user's override for the whole family (None: look for the declared
    version). ``environ`` and ``home`` are where the search looks (``PATH``, ``PYENV_ROOT``,
    ``UV_PYTHON_INSTALL_DIR``, ``NVM_DIR``, ``FNM_DIR``, ``VOLTA_HOME``); tests point them at a
    fake tree.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        node: str | None = None,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
    ) -> None:
        self.python = python
        self.node = node
        self._environ = dict(os.environ if environ is None else environ)
        self._home = Path.home() if home is None else home
        self._installed: dict[Family, dict[int, Interpreter]] = {}
        self._chosen: dict[str, Interpreter | None] = {}
        self._listing = threading.Lock()  # prepare()'s thread and the loop list once between them

    def prepare(self, families: Iterable[Family]) -> None:
        """List these families' interpreters in a thread now, so no cold start waits for it
        (finding ``node``'s version means running it: some 30 ms)."""
        wanted = [f for f in dict.fromkeys(families) if f not in self._installed]
        if wanted:
            work = lambda: [self.installed(f) for f in wanted]  # noqa: E731
            threading.Thread(target=work, name="workbench-interpreters", daemon=True).start()

    def find(self, runtime: str) -> Interpreter | None:
        """The interpreter ``runtime`` (``python3.X`` / ``nodejsNN.x``) runs on; None for a
        runtime that brings its own (``provided``), or when its family has no interpreter here
        (no Node.js at all: the launch then says so)."""
        if runtime in self._chosen:
            return self._chosen[runtime]
        chosen = self._choose(runtime)
        self._chosen[runtime] = chosen
        return chosen

    def installed(self, family: Family) -> dict[int, Interpreter]:
        """Minor (Python 3.X) or major (Node.js) -> the interpreter found for it, listed once."""
        found = self._installed.get(family)
        if found is None:
            with self._listing:
                found = self._installed.get(family)
                if found is None:
                    found = self._installed[family] = (
                        self._list_python() if family == "python" else self._list_node()
                    )
        return found

    # ----------------------------------------------------------------- choosing

    def _choose(self, runtime: str) -> Interpreter | None:
        m = _DECLARED.match(runtime)
        if m is None:
            return None
        if m[1] is not None:
            family: Family = "python"
            wanted = int(m[2]) if m[1] == "3" else -1
            override = self.python
        else:
            family, wanted, override = "nodejs", int(m[3]), self.node
        if override is not None:
            return self._override(runtime, family, override)
        installed = self.installed(family)
        if not installed:
            return None
        if wanted in installed:
            found = installed[wanted]
        else:  # the nearest; a tie goes to the newer one (see the module's docstring)
            found = installed[min(installed, key=lambda n: (abs(n - wanted), -n))]
        return Interpreter(runtime, found.path, found.version, found.source)

    def _override(self, runtime: str, family: Family, path: str) -> Interpreter:
        source: Source = "--python" if family == "python" else "--node"
        if family == "python" and _same_file(path, sys.executable):
            version: Version = tuple(sys.version_info[:3])
        else:
            version = probe_version(path, family) or _declared_version(runtime)
        return Interpreter(runtime, path, version, source)

    # ----------------------------------------------------------------- listing

    def _list_python(self) -> dict[int, Interpreter]:
        found: dict[int, Interpreter] = {}

        def add(path: str, version: Version, source: Source) -> None:
            if version[:1] != (3,) or version[:2] < MIN_PYTHON or not _is_executable(path):
                return
            minor = version[1]
            have = found.get(minor)
            # the first place wins (the engine's own, then PATH, pyenv, uv); within a place,
            # the highest patch
            if have is None or (have.source == source and version > have.version):
                found[minor] = Interpreter(f"python3.{minor}", path, version, source)

        add(sys.executable, tuple(sys.version_info[:3]), "engine")
        pyenv_root = Path(self._environ.get("PYENV_ROOT") or self._home / ".pyenv")
        for folder in self._path_dirs():
            if folder.name == "shims" or _under(folder, pyenv_root):
                continue  # pyenv's (asdf's, mise's) shims: slow, and fail for unselected versions
            for name, path in _executables(folder, _PYTHON_NAME):
                m = _PYTHON_NAME.match(name)
                assert m is not None
                known = (int(m[1]), int(m[2]))
                exact = tuple(sys.version_info[:3]) if _same_file(path, sys.executable) else known
                add(path, exact, "PATH")
        for m, folder in _versions(pyenv_root / "versions", _RELEASE):
            add(str(folder / "bin" / f"python{m[1]}.{m[2]}"), _numbers(m), "pyenv")
        uv_root = self._environ.get("UV_PYTHON_INSTALL_DIR") or self._xdg_data() / "uv" / "python"
        for m, folder in _versions(Path(uv_root), _UV_NAME):
            add(str(folder / "bin" / f"python{m[1]}.{m[2]}"), _numbers(m), "uv")
        return found

    def _list_node(self) -> dict[int, Interpreter]:
        found: dict[int, Interpreter] = {}

        def add(path: str, version: Version, source: Source) -> None:
            if not _is_executable(path):
                return
            have = found.get(version[0])
            if have is None or (have.source == source and version > have.version):
                found[version[0]] = Interpreter(f"nodejs{version[0]}.x", path, version, source)

        for folder in self._path_dirs():
            if folder.name == "shims":
                continue
            node = folder / "node"
            if _is_executable(str(node)) and (v := probe_version(str(node), "nodejs")):
                add(str(node), v, "PATH")
            for name, path in _executables(folder, _NODE_NAME):
                m = _NODE_NAME.match(name)
                assert m is not None
                add(path, (int(m[1]),), "PATH")
        nvm = Path(self._environ.get("NVM_DIR") or self._home / ".nvm")
        for m, folder in _versions(nvm / "versions" / "node", _RELEASE):
            add(str(folder / "bin" / "node"), _numbers(m), "nvm")
        fnm_dirs = [self._environ.get("FNM_DIR"), self._xdg_data() / "fnm", self._home / ".fnm"]
        for fnm in dict.fromkeys(Path(d) for d in fnm_dirs if d):
            for m, folder in _versions(fnm / "node-versions", _RELEASE):
                add(str(folder / "installation" / "bin" / "node"), _numbers(m), "fnm")
        volta = Path(self._environ.get("VOLTA_HOME") or self._home / ".volta")
        for m, folder in _versions(volta / "tools" / "image" / "node", _RELEASE):
            add(str(folder / "bin" / "node"), _numbers(m), "volta")
        return found

    def _path_dirs(self) -> Iterator[Path]:
        seen: set[str] = set()
        for entry in self._environ.get("PATH", "").split(os.pathsep):
            if entry and entry not in seen:
                seen.add(entry)
                yield Path(entry)

    def _xdg_data(self) -> Path:
        return Path(self._environ.get("XDG_DATA_HOME") or self._home / ".local" / "share")


# --------------------------------------------------------------------------- versions


def _numbers(m: re.Match[str]) -> Version:
    return tuple(int(part) for part in m.groups())


def _declared_version(runtime: str) -> Version:
    m = _DECLARED.match(runtime)
    assert m is not None
    return (int(m[1]), int(m[2])) if m[1] is not None else (int(m[3]),)


_PROBED: dict[tuple[str, Family], Version | None] = {}
_PROBES: dict[Family, list[str]] = {
    "python": ["-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
    "nodejs": ["--version"],
}


def probe_version(path: str, family: Family) -> Version | None:
    """Ask an interpreter its version (once per process): for one the user named, and ``node``
    on PATH, whose name does not tell."""
    key = (path, family)
    if key not in _PROBED:
        try:
            out = subprocess.run(
                [path, *_PROBES[family]],
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT_S,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        m = _RELEASE.match(out)
        _PROBED[key] = _numbers(m) if m else None
    return _PROBED[key]


def python_version(path: str) -> tuple[int, int]:
    """Major and minor of the Python at ``path``, for paths named by version (``python3.12``),
    the engine's own, or else by asking it once; layers' ``lib/pythonX.Y`` folders use it."""
    if _same_file(path, sys.executable):
        return sys.version_info[0], sys.version_info[1]
    m = _PYTHON_NAME.match(os.path.basename(path))
    if m is not None:
        return int(m[1]), int(m[2])
    probed = probe_version(path, "python")
    if probed is None:
        return sys.version_info[0], sys.version_info[1]
    return probed[0], probed[1]


# --------------------------------------------------------------------------- files


def _versions(folder: Path, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str], Path]]:
    """The entries of ``folder`` whose name ``pattern`` matches (none if it does not exist)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry.name)
        if m is not None:
            yield m, Path(entry.path)


def _executables(folder: Path, pattern: re.Pattern[str]) -> Iterator[tuple[str, str]]:
    for m, path in _versions(folder, pattern):
        if _is_executable(str(path)):
            yield m.string, str(path)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _same_file(a: str, b: str) -> bool:
    try:
        return a == b or os.path.samefile(a, b)
    except OSError:
        return False


def _under(folder: Path, root: Path) -> bool:
    try:
        return folder.resolve().is_relative_to(root.resolve())
    except OSError:
        return False
