"""Workbench's Python runtime: a Lambda Runtime API (2018-06-01) client, standard library only.

It runs inside the sandbox as ``python -I -S -c "...import bootstrap; bootstrap.start()"``
(imported, not run as a script, so its bytecode is cached: compiling it took ~6 ms of every
cold start; see ``engine/runtime/launch.py``; ``python bootstrap.py`` works too), in its
namespaces through ``workbench_sandbox.run``, and talks to the environment's own Runtime API
endpoint (``AWS_LAMBDA_RUNTIME_API``), exactly as AWS's Python runtime does, so the handler sees
the same event, context, logs and error shapes.

Cold start is import cost, so this module imports only built-in C modules at start-up: the HTTP
client sits on ``_socket`` and JSON on ``_json`` (``socket`` and ``json`` would pull in ``enum`` and
``re``, 10+ ms).  ``logging`` is configured the moment user code imports it, never before;
``breakpoint()`` and ``pdb.set_trace()`` load the workbench's pdb channel (``workbench_debug``)
only when one is hit; ``ctypes`` (for ``_X_AMZN_TRACE_ID``, see ``TraceIdVariable``) only in an
environment that lives long enough to need it.
"""

import _json
import _socket
import os
import sys
import time

_CRLF2 = b"\r\n\r\n"
_GENERATOR = type((lambda: (yield))())  # a handler returning one streams (workbench_streaming)
SPIN_S = 0.0002
_perf_counter = time.perf_counter
_API_PREFIX = "/2018-06-01/runtime"
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"
LAMBDA_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code."
)

_request_id = None  # the invocation being served, for log records
# AWS_LAMBDA_LOG_FORMAT=JSON: application logs as JSON lines (workbench_json_log.py); read in
# main(), not at import: a forked environment's zygote imported this module before its variables
_LOG_JSON = False
_breakpoint_at = (
    None  # time.monotonic() when breakpoint() was last called (workbench_debug reads it)
)


# --------------------------------------------------------------------------- JSON, via _json


class _DecodeContext:
    """The attributes ``_json.make_scanner`` reads (what ``json.JSONDecoder`` would hold)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan = _json.make_scanner(_DecodeContext())  # type: ignore[arg-type]  # duck-typed, as json does
_WS = " \t\n\r"


def json_loads(data):
    """``json.loads`` for the common case; on any problem ``json`` itself gives the exact error."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        idx = len(text) - len(text.lstrip(_WS))
        obj, end = _scan(text, idx)
        if text[end:].strip(_WS):
            raise ValueError("extra data")
        return obj
    except Exception:
        import json

        return json.loads(data)


def _default(o):
    # AWS's runtime serialises Decimal as a float; everything else unknown is an error.
    if type(o).__name__ == "Decimal" and type(o).__module__ in ("decimal", "_decimal"):
        return float(o)
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _ensure_ascii():
    """AWS's runtime escapes non-ASCII in responses up to python3.11, not from python3.12 on."""
    runtime = os.environ.get("AWS_EXECUTION_ENV", "").rpartition("_python3.")[2]
    return not (runtime.isdigit() and int(runtime) >= 12)


_encode_str = _json.encode_basestring_ascii if _ensure_ascii() else _json.encode_basestring


def json_dumps(obj):
    """``json.dumps(obj)`` with its default separators, as AWS's runtime serialises results."""
    if isinstance(obj, str):
        return _encode_str(obj)
    encoder = _json.make_encoder({}, _default, _encode_str, None, ": ", ", ", False, False, True)
    return "".join(encoder(obj, 0))


# --------------------------------------------------------------------------- HTTP client


class RuntimeAPIError(Exception):
    pass


class Connection:
    """A keep-alive HTTP/1.1 connection to the Runtime API, on raw sockets for speed."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = address.encode()
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.connect((host or "127.0.0.1", int(port)))
        self.sock = sock
        self.buf = b""
        self.spin = True  # did the last wait end soon enough for a spin to catch it?

    def request(self, method, path, body=b"", headers=()):
        return (
            b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: workbench-python\r\n"
            % (method, path.encode(), self.host)
            + b"".join(b"%s: %s\r\n" % (k, v.encode()) for k, v in headers)
            + (b"Content-Length: %d\r\n\r\n" % len(body) if method == b"POST" else b"\r\n")
            + body
        )

    def send(self, data):
        self.sock.sendall(data)

    def _recv_soon(self):
        """recv, polling briefly before sleeping, while polling pays.

        Back-to-back invocations answer within a fraction of a millisecond; catching the answer
        while still on the CPU spares a cross-CPU wake-up, which costs more than the wait
        (adaptive spinning, as in futex-based locks). Past the window, it sleeps in recv. When
        the answer comes later than the window (a client across HTTP, a human), the spin only
        takes a CPU the rest of the round trip needs, so it stops until a wait is short again.
        """
        recv = self.sock.recv
        if self.spin:
            deadline = _perf_counter() + SPIN_S
            while _perf_counter() < deadline:
                try:
                    return recv(65536, _socket.MSG_DONTWAIT)
                except BlockingIOError:
                    pass
            self.spin = False
            return recv(65536)
        start = _perf_counter()
        data = recv(65536)
        self.spin = _perf_counter() - start < SPIN_S
        return data

    def read_response(self):
        """Read one response: (status, {lower-case header: value}, body bytes)."""
        buf = self.buf
        recv = self.sock.recv
        while True:
            end = buf.find(_CRLF2)
            if end >= 0:
                break
            chunk = self._recv_soon() if not buf else recv(65536)
            if not chunk:
                raise RuntimeAPIError("the Runtime API closed the connection")
            buf += chunk
        head = buf[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        start = end + 4
        while len(buf) - start < length:
            chunk = recv(max(262144, length - (len(buf) - start)))
            if not chunk:
                raise RuntimeAPIError("the Runtime API closed the connection")
            buf += chunk
        self.buf = buf[start + length :]
        return status, headers, buf[start : start + length]


# --------------------------------------------------------------------------- the context object


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, data=None):
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self):
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __init__(self, data):
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self):
        fields = ",".join(f"{n}={getattr(self, n)}" for n in self.__slots__)
        return f"Client([{fields}])"


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if client is not None else None

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """The handler's ``context``, with every attribute AWS's Python runtime gives it."""

    # Fixed for the environment's life: read once, not per invocation.
    _ENV = None

    def __init__(self, request_id, client_context, identity, deadline_ms, arn, tenant_id):
        if LambdaContext._ENV is None:
            env = os.environ
            LambdaContext._ENV = (
                env.get("AWS_LAMBDA_LOG_GROUP_NAME"),
                env.get("AWS_LAMBDA_LOG_STREAM_NAME"),
                env.get("AWS_LAMBDA_FUNCTION_NAME"),
                env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                env.get("AWS_LAMBDA_FUNCTION_VERSION"),
            )
        self.aws_request_id = request_id
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = LambdaContext._ENV
        self.invoked_function_arn = arn
        self.tenant_id = tenant_id
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity)
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        # time at a debugger prompt does not count: the engine's timeout clock stops meanwhile
        debug = sys.modules.get("workbench_debug")
        paused = debug.paused_ms(self.aws_request_id) if debug is not None else 0
        return max(self._deadline_ms + paused - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )


# --------------------------------------------------------------------------- errors


class FaultException(Exception):
    """An error the runtime itself reports, with Lambda's ``Runtime.*`` type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def fault_from_exception(exc, request_id=None):
    """The error object for an exception from user code, bootstrap frames stripped."""
    import traceback

    frames = [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)
    ]
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame[0]:
            frames = frames[i:]
            break
    else:
        frames = []
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(error):
    """Print an error as AWS's runtime does: one log record, lines joined by CR (under JSON:
    the error object after ``timestamp`` and ``level``, as awslambdaric 4.2.2 does)."""
    if _LOG_JSON:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stdout.write(json_dumps({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        sys.stdout.flush()
        return
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    trace = error.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- logging, lazily


def _configure_logging(logging):
    """Give the root logger AWS's handler and format (called when user code imports logging)."""
    logging.Formatter.converter = time.gmtime

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id or ""
            return True

    handler = LambdaLoggerHandler()
    if _LOG_JSON:
        import workbench_json_log

        handler.setFormatter(workbench_json_log.JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


class _ImportHook:
    """A meta-path finder that adjusts a module right after its first import (``logging``: AWS's
    handler; ``pdb``: its ``set_trace`` goes to the workbench), then steps aside."""

    def __init__(self, hooks):
        self.hooks = hooks  # module name -> called with the module once it has run

    def find_spec(self, name, path=None, target=None):
        hook = self.hooks.pop(name, None)
        if hook is None:
            return None
        if not self.hooks:
            sys.meta_path.remove(self)
        path_finder = sys.modules["_frozen_importlib_external"].PathFinder
        spec = path_finder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_hook(module):
            exec_module(module)
            hook(module)

        spec.loader.exec_module = exec_then_hook
        return spec


CHECKED_SOURCES_VAR = "_WORKBENCH_CHECKED_SOURCES"


def pin_checked_sources(env):
    """Import the engine's checked copy of each source file it names, not the live file.

    Hot reload compiled those very bytes (``engine/config/checked_sources.py``); a save that is
    half-written as this cold start imports is never what runs. The module keeps the live
    file's name (``__file__``, tracebacks, debuggers). The variable is the workbench's own, so
    it is taken out of the environment the handler sees. Uses importlib's frozen loaders, which
    are always loaded: nothing is imported for it.
    """
    raw = env.pop(CHECKED_SOURCES_VAR, None)
    if not raw:
        return
    try:
        pinned = json_loads(raw)
    except ValueError:
        return
    if not isinstance(pinned, dict) or not pinned:
        return
    external = sys.modules["_frozen_importlib_external"]

    class CheckedSourceLoader(external.SourceFileLoader):
        def get_data(self, path):
            return super().get_data(pinned.get(path, path))

        def path_stats(self, path):  # the copy's, so bytecode is cached for the copy's bytes
            return super().path_stats(pinned.get(path, path))

    loaders = [
        (CheckedSourceLoader if loader is external.SourceFileLoader else loader, suffixes)
        for loader, suffixes in external._get_supported_file_loaders()
    ]
    sys.path_hooks.insert(0, external.FileFinder.path_hook(*loaders))
    sys.path_importer_cache.clear()


def install_import_hooks():
    hooks = {"logging": _configure_logging, "pdb": _route_pdb}
    for name in list(hooks):
        if name in sys.modules:
            hooks.pop(name)(sys.modules[name])
    if hooks:
        sys.meta_path.insert(0, _ImportHook(hooks))


# --------------------------------------------------------------------------- breakpoints, lazily


def _breakpointhook(*args, **kws):
    """``sys.breakpointhook`` as CPython's own, reading ``PYTHONBREAKPOINT`` (``-I`` hides it
    from CPython's): unset or empty is pdb, ``0`` disables, else ``module.callable``. The engine
    points it at ``workbench_debug.set_trace``; a function's own ``[environment]`` wins."""
    global _breakpoint_at
    _breakpoint_at = time.monotonic()  # importing the hook is the debugger's time too
    hookname = os.environ.get("PYTHONBREAKPOINT")
    if not hookname:
        hookname = "pdb.set_trace"
    elif hookname == "0":
        return None
    modname, dot, funcname = hookname.rpartition(".")
    if not dot:
        modname = "builtins"
    try:
        __import__(modname)
        hook = getattr(sys.modules[modname], funcname)
    except (ImportError, AttributeError, KeyError):
        import warnings

        warnings.warn(
            f'Ignoring unimportable $PYTHONBREAKPOINT: "{hookname}"', RuntimeWarning, stacklevel=2
        )
        return None
    return hook(*args, **kws)


def _pdb_set_trace(*, header=None, **kws):
    """``pdb.set_trace()``: the sandbox has no terminal, so it is the workbench's pdb too."""
    global _breakpoint_at
    _breakpoint_at = time.monotonic()
    import workbench_debug

    workbench_debug.set_trace(header=header)


def _route_pdb(pdb):
    pdb.set_trace = _pdb_set_trace


def _debug_ended():
    """Close a debugger session the handler left open (only if one was ever opened)."""
    debug = sys.modules.get("workbench_debug")
    if debug is not None:
        debug.invocation_ended()


# --------------------------------------------------------------------------- handler loading


def load_handler(handler):
    """Import the handler's module and find the function, with AWS's error types and messages."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}"
        ) from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultException(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        __import__(modname.replace("/", "."))
        module = sys.modules[modname.replace("/", ".")]
    except ImportError as e:
        raise FaultException(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from None


# --------------------------------------------------------------------------- the loop


TRACE_ID_VAR = "_X_AMZN_TRACE_ID"
# Invocations after which the trace id is written in place (see TraceIdVariable): by then
# setenv has kept ~144 KB, and ctypes costs ~260 KB of heap and 1-2 ms once.
TRACE_IN_PLACE_AFTER = 1000


class TraceIdVariable:
    """``_X_AMZN_TRACE_ID``, the invocation's X-Ray trace header, as AWS's runtime sets it.

    Handlers rely on it in two places: ``os.environ`` (AWS's X-Ray SDK reads it there) and the
    process's C environment, which a subprocess inherits. ``os.environ[...] = v`` writes the
    latter with glibc's ``setenv``, which keeps every value ever set (so that pointers handed out
    by ``getenv`` stay valid): one new trace id per invocation grew the runtime by ~144 bytes
    each time. ``in_place()`` switches to two buffers of our own, handed to ``putenv`` (which
    stores the pointer, copying nothing) in turn: a value is written into the buffer the
    environment does not point at, then swapped in, so a concurrent ``getenv`` sees one whole
    value or the other, and a pointer taken during one invocation stays good through the next.
    ``os.environ``'s own mapping is updated beside it, without a second ``setenv``.

    The switch needs ``ctypes``, which costs more than a short-lived environment's setenv
    ever keeps (1-2 ms, ~260 KB), so the loop makes it after ``TRACE_IN_PLACE_AFTER``
    invocations, between two of them: a burst of cold starts pays nothing, and memory stops
    growing from there on.
    """

    def __init__(self):
        self._set = self._set_os_environ

    def set(self, value):
        """Make ``value`` the variable's value for this invocation (None or empty: unset it)."""
        if not value or "\0" in value:
            self._unset()
        else:
            self._set(value)

    def in_place(self):
        """From now on write the value into our own buffers (see the class); False if ctypes
        cannot be had, and the variable is then set as before."""
        if self._set is not TraceIdVariable._set_os_environ:
            return True  # already
        try:
            import ctypes

            putenv = ctypes.CDLL(None, use_errno=True).putenv
            putenv.argtypes = (ctypes.c_void_p,)
            putenv.restype = ctypes.c_int
            environ = os.environ
            data, key, encode = environ._data, environ.encodekey(TRACE_ID_VAR), environ.encodevalue
        except (ImportError, OSError, AttributeError):
            return False
        buffers = [None, None]
        prefix = key + b"="
        memmove, addressof = ctypes.memmove, ctypes.addressof
        new_buffer = ctypes.create_string_buffer
        active = 0

        def set_in_place(value):
            nonlocal active
            encoded = encode(value)
            entry = prefix + encoded + b"\0"
            active ^= 1
            buf = buffers[active]
            if buf is None or len(buf) < len(entry):
                # the other buffer is the one in the environment: this one is free to replace
                buf = buffers[active] = new_buffer(max(len(entry), 256))
            memmove(buf, entry, len(entry))
            if putenv(addressof(buf)) != 0:
                raise OSError(ctypes.get_errno(), f"putenv({TRACE_ID_VAR}) failed")
            data[key] = encoded

        self._set = set_in_place
        return True

    @staticmethod
    def _set_os_environ(value):
        os.environ[TRACE_ID_VAR] = value

    @staticmethod
    def _unset():
        os.environ.pop(TRACE_ID_VAR, None)
        os.unsetenv(TRACE_ID_VAR)  # the C environment too, should a handler have gone around it


_trace_variable = TraceIdVariable()


def _context(request_id, headers):
    def parse(header, name):
        if not header:
            return None
        try:
            return json_loads(header)
        except Exception as e:
            raise FaultException(
                "Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {e}"
            ) from None

    return LambdaContext(
        request_id,
        parse(headers.get("lambda-runtime-client-context"), "Client Context"),
        parse(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity"),
        int(headers.get("lambda-runtime-deadline-ms") or 0),
        headers.get("lambda-runtime-invoked-function-arn"),
        headers.get("lambda-runtime-aws-tenant-id"),
    )


def handle(conn, handler, headers, body):
    """Run one invocation; return the bytes to send (its result or error post)."""
    global _request_id
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _request_id = request_id
    _trace_variable.set(headers.get("lambda-runtime-trace-id"))
    error = None
    try:
        context = _context(request_id, headers)
        if headers.get("content-type", "application/json") == "application/json":
            try:
                event = json_loads(body)
            except Exception as e:
                raise FaultException(
                    "Runtime.UnmarshalError", f"Unable to unmarshal input: {e}"
                ) from None
        else:
            event = body
        result = handler(event, context)
        if type(result) is _GENERATOR:
            import workbench_streaming

            path = f"{_API_PREFIX}/invocation/{request_id}/response"
            workbench_streaming.send(conn, path, result, _stream_fault)
            payload, content_type = None, ""
        elif isinstance(result, bytes):
            payload, content_type = result, "application/unknown"
        else:
            try:
                payload, content_type = json_dumps(result).encode(), "application/json"
            except Exception as e:
                raise FaultException(
                    "Runtime.MarshalError", f"Unable to marshal response: {e}"
                ) from None
    except FaultException as e:
        error = make_error(e.message, e.error_type, e.trace, request_id)
    except MemoryError:
        # Lambda's sandbox is killed by the kernel when it runs out of memory; the memory rlimit
        # makes Python raise instead, so finish the job as the OOM killer would, once the engine
        # has read our peak RSS (after the kill only wait4's figure is left, and that can be the
        # engine's own: a child's ru_maxrss starts at its parent's peak).
        sys.stdout.flush()
        try:
            conn.send(conn.request(b"POST", f"{_API_PREFIX}/workbench/exiting"))
            conn.read_response()
        except BaseException:  # noqa: BLE001 - dying anyway
            pass
        os.kill(os.getpid(), 9)
    except Exception as e:
        error = fault_from_exception(e, request_id)
    _debug_ended()
    sys.stdout.flush()
    sys.stderr.flush()
    _request_id = None
    if error is not None:
        log_error(error)
        return conn.request(
            b"POST",
            f"{_API_PREFIX}/invocation/{request_id}/error",
            json_dumps(error).encode(),
            (
                (b"Content-Type", "application/json"),
                (b"Lambda-Runtime-Function-Error-Type", error["errorType"]),
            ),
        )
    if payload is None:
        return b""  # streamed: the response is sent already
    return conn.request(
        b"POST",
        f"{_API_PREFIX}/invocation/{request_id}/response",
        payload,
        ((b"Content-Type", content_type),),
    )


def _stream_fault(exc):
    """A streaming handler failed mid-way: logged as any error, told in the trailers."""
    error = fault_from_exception(exc, _request_id)
    log_error(error)
    return error["errorType"], json_dumps(error).encode()


def init_error(conn, error):
    """Report a failed function init the way AWS's runtime does, then exit 1."""
    log_error(error)
    conn.send(
        conn.request(
            b"POST",
            f"{_API_PREFIX}/init/error",
            json_dumps(error).encode(),
            (
                (b"Content-Type", "application/json"),
                (b"Lambda-Runtime-Function-Error-Type", error["errorType"]),
            ),
        )
    )
    try:
        conn.read_response()
    except Exception:
        pass
    sys.exit(1)


def _read_pth_files(folders):
    """Lambda's bootstrap makes the task root (and the layers' folders) site directories
    (``site.addsitedir``): their ``.pth`` files add folders to the path and run their ``import``
    lines. ``site`` is imported only for a folder that has one."""
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        if any(name.endswith(".pth") for name in names):
            import site

            site.addsitedir(folder)


def _sitecustomize(paths):
    """Import ``sitecustomize`` as Python's ``site`` does at an interpreter's start, from the
    PYTHONPATH the runtime started with (the function's own, or what a wrapper script put
    there): the in-process hook that observability layers rely on (OpenTelemetry's
    ``otel-instrument`` wrapper adds its folders to PYTHONPATH and execs the runtime). The
    runtime starts with ``-S`` (no host site-packages), so ``site`` itself never runs; this is
    its ``execsitecustomize``, with its error handling: a failing one is reported on stderr and
    INIT goes on. Lambda's bootstrap adds the task root and the layers' folders to the path only
    after the interpreter started: a ``sitecustomize.py`` there is not a start hook."""
    found = False
    for folder in paths:
        base = folder + "/sitecustomize"
        if os.path.isfile(base + ".py") or os.path.isfile(base + "/__init__.py"):
            found = True
            break
    if not found:  # (the usual case: no import system work at all)
        return
    try:
        try:
            import sitecustomize  # type: ignore[import-not-found]  # noqa: F401
        except ImportError as exc:
            if exc.name != "sitecustomize":
                raise
    except Exception as err:
        sys.stderr.write(
            "Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
            f"{err.__class__.__name__}: {err}\n"
        )


def main(ready=False):
    """``ready``: the go-ahead was read and the process is in its namespaces already
    (``workbench_sandbox.run``)."""
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    # The engine applies the sandbox's rlimits to this process, then lets it go on: no user code
    # runs before the limits are in place.
    if not ready:
        try:
            os.read(0, 1)
        except OSError:
            pass
        _die_with_engine()
    global _LOG_JSON
    env = os.environ
    _LOG_JSON = (env.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    sandbox_error = env.pop(SANDBOX_ERROR_VAR, None)
    # an IDE attaches before anything of the function runs (runtime init ends after it has)
    debugger_error = _wait_for_debugger() if "_WORKBENCH_DEBUGPY" in env else None
    conn = Connection(env["AWS_LAMBDA_RUNTIME_API"])  # runtime init ends here
    if sandbox_error is not None:
        init_error(conn, make_error(sandbox_error, "Runtime.SandboxError", None))
    if debugger_error is not None:
        init_error(conn, make_error(debugger_error, "Runtime.DebuggerNotFound", None))
    task_root = env.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # The module path as Lambda's Python bootstrap makes it (``set_default_sys_path``,
    # ``add_default_site_directories``, ``set_default_pythonpath``): at the interpreter's start
    # the runtime's folder (the script's) and PYTHONPATH's entries, where ``site`` finds
    # sitecustomize; then the task root first, and the layers' folders after it only when
    # PYTHONPATH is not set (a wrapper such as OpenTelemetry's ``otel-instrument`` adds
    # /opt/python to PYTHONPATH itself for that reason), each a site directory (its .pth files
    # read); and PYTHONPATH, when not set, becomes the runtime's folder.
    ours = [p for p in env.pop(PYTHON_PATHS_VAR, "").split(":") if p]  # layers..., runtime's
    layers, runtime = ours[:-1], ours[-1:]
    pythonpath_set = "PYTHONPATH" in env
    user = [p for p in (env.get("PYTHONPATH") or "").split(":") if p]
    sys.path[0:0] = [*runtime, *user]
    _sitecustomize(user)
    site_dirs = [task_root] if pythonpath_set else [task_root, *layers]
    sys.path[0:0] = site_dirs
    _read_pth_files(site_dirs)
    if not pythonpath_set and runtime:
        env["PYTHONPATH"] = runtime[0]
    pin_checked_sources(env)
    install_import_hooks()
    if "debugpy" not in sys.modules:  # under an IDE's debugger, breakpoint() stops in the IDE
        sys.breakpointhook = _breakpointhook
    try:
        handler = load_handler(env.get("_HANDLER", ""))
    except FaultException as e:
        _init_warning()
        init_error(conn, make_error(e.message, e.error_type, e.trace))
    except Exception as e:
        _init_warning()
        init_error(conn, fault_from_exception(e))
    sys.stdout.flush()
    sys.stderr.flush()
    if "_WORKBENCH_SNAPSHOT" in env:  # SnapStart: become the version's snapshot
        conn = _snapshot(conn)  # (returns in each environment restored from it)

    next_request = conn.request(b"GET", f"{_API_PREFIX}/invocation/next")
    conn.send(next_request)
    read = conn.read_response
    served = 0
    while True:
        status, headers, body = read()
        if status != 200:
            sys.stderr.write(f"workbench runtime: /next answered {status}: {body!r}\n")
            sys.exit(1)
        # Post the result and ask for the next event in one write (HTTP pipelining).
        conn.send(handle(conn, handler, headers, body) + next_request)
        served += 1
        if served == TRACE_IN_PLACE_AFTER:  # between invocations: this response is sent
            _trace_variable.in_place()
        read()  # 202 for the result; any other answer is the engine's business


def _die_with_engine():
    """Die with the engine, even on ``kill -9`` (the engine's watchdog covers other runtimes).

    ``PR_SET_PDEATHSIG`` fires when the *thread* that started this process ends, and the engine
    may start runtimes from worker threads: so the signal is one we catch (SIGURG, ignored by
    default), and the process group dies only if our parent process changed (we were handed to
    a reaper: the engine is gone). ``_ctypes`` alone keeps it cheap (``ctypes`` costs ~2.5 ms).
    """
    engine = os.getppid()

    def on_parent_death(signum, frame):
        if os.getppid() != engine:
            os.killpg(0, 9)

    try:
        import _ctypes
        import _signal  # type: ignore[import-not-found]  # (signal would import enum)

        class ULong(_ctypes._SimpleCData):
            _type_ = "L"

        class Int(_ctypes._SimpleCData):
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int

        prctl = Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
        _signal.signal(_signal.SIGURG, on_parent_death)
        prctl(1, ULong(_signal.SIGURG), ULong(0), ULong(0), ULong(0))  # PR_SET_PDEATHSIG
    except (ImportError, OSError, AttributeError, ValueError):
        return  # not Linux, or no libc to call: the engine's watchdog still covers us
    if os.getppid() != engine:  # it died before the request took effect
        os.killpg(0, 9)


# why the environment's namespaces could not be entered (``workbench_sandbox.run``): INIT
# fails with it, so a function never runs outside the isolation it was given
SANDBOX_ERROR_VAR = "_WORKBENCH_SANDBOX_ERROR"
PYTHON_PATHS_VAR = "_WORKBENCH_PYTHON_PATHS"  # the layers' folders, then the runtime's


def _wait_for_debugger():
    """Start under debugpy (``workbench_debugpy.py``, beside this file); None, or why not."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import workbench_debugpy
    finally:
        sys.path.remove(here)
    try:
        workbench_debugpy.start()
    except workbench_debugpy.DebuggerUnavailable as e:
        return str(e)
    return None


def _snapshot(conn):
    """``workbench_snapstart.snapshot``, imported from beside this file only when asked for."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import workbench_snapstart  # type: ignore[import-not-found]  # beside this file
    finally:
        sys.path.remove(here)
    return workbench_snapstart.snapshot(conn, sys.modules[__name__])


def _init_warning():
    """AWS's runtime logs LAMBDA_WARNING through the root logger (``logging.warning``); the text
    line is written directly (importing logging costs a failed cold start ~5 ms)."""
    if _LOG_JSON:
        import logging

        logging.warning(LAMBDA_WARNING)
    else:
        sys.stdout.write(f"[WARNING]\t{_now_iso()}\t\t{LAMBDA_WARNING}\n")


def _now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def start(ready=False):
    """Run the runtime. Imported (the launch's ``-c``), this module becomes ``__main__``, as
    when it runs as a script: pdb's skip list and the debugger find it there; and ``sys.argv``
    is the script's, as on Lambda (``['/var/runtime/bootstrap.py']``; outside namespaces this
    file's own path, not the ``['-c']`` the launch and the fork server leave)."""
    sys.modules["__main__"] = sys.modules[__name__]
    if sys.argv == ["-c"]:
        sys.argv = [os.path.abspath(__file__)]
    try:
        main(ready)
    except RuntimeAPIError:
        sys.exit(0)


if __name__ == "__main__":
    start()
