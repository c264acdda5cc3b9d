"""A minimal Debug Adapter Protocol client, to attach to debugpy as an IDE does.

DAP messages are JSON bodies framed by a ``Content-Length`` header, over the socket debugpy
listens on. Attaching is ``initialize`` → ``attach`` → (the ``initialized`` event) →
``configurationDone``; debugpy's ``wait_for_client()`` returns after the last one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class DAPClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seq = 0
        self.seen: list[dict[str, Any]] = []  # every message read, in order

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> DAPClient:
        """Connect as soon as debugpy listens (its adapter starts a few hundred ms after the
        environment is announced), as an IDE retrying its attach would."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except ConnectionRefusedError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.01)
                continue
            return cls(reader, writer)

    async def send(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        self.seq += 1
        message = {"seq": self.seq, "type": "request", "command": command}
        message["arguments"] = arguments or {}
        body = json.dumps(message).encode()
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.writer.drain()
        return self.seq

    async def read(self) -> dict[str, Any]:
        length = None
        while True:
            line = await self.reader.readline()
            if not line:
                raise EOFError("the debug adapter closed the connection")
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        assert length is not None, "a DAP message without Content-Length"
        message = json.loads(await self.reader.readexactly(length))
        self.seen.append(message)
        return message

    async def until(self, kind: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """Read up to the first ``response`` to command ``name`` (or ``event`` ``name``)."""
        key = "command" if kind == "response" else "event"

        async def scan() -> dict[str, Any]:
            for message in self.seen:
                if message.get("type") == kind and message.get(key) == name:
                    return message
            while True:
                message = await self.read()
                if message.get("type") == kind and message.get(key) == name:
                    return message

        return await asyncio.wait_for(scan(), timeout)

    async def attach(self, breakpoints: dict[str, list[int]] | None = None) -> None:
        """Attach as VS Code does, setting ``breakpoints`` (file -> lines) on the way; debugpy
        lets the program go on once this returns."""
        await self.send(
            "initialize",
            {
                "clientID": "workbench-tests",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
            },
        )
        response = await self.until("response", "initialize")
        assert response["success"], response
        await self.send("attach", {"justMyCode": True})
        await self.until("event", "initialized")
        for path, lines in (breakpoints or {}).items():
            await self.send(
                "setBreakpoints",
                {"source": {"path": path}, "breakpoints": [{"line": n} for n in lines]},
            )
            response = await self.until("response", "setBreakpoints")
            assert response["success"], response
            self.seen.remove(response)
        await self.send("configurationDone")
        response = await self.until("response", "configurationDone")
        assert response["success"], response
        response = await self.until("response", "attach")
        assert response["success"], response

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
