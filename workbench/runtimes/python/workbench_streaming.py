"""Response streaming for our Python runtime: a handler that returns a generator streams.

Each item the generator yields (``bytes``, or ``str`` sent as UTF-8) goes to the Runtime API at
once as one chunk of a chunked ``/response`` in streaming mode
(``Lambda-Runtime-Function-Response-Mode: streaming``), so the caller of
InvokeWithResponseStream reads it while the handler still runs. An exception mid-way ends the
body with Lambda's error trailers (``Lambda-Runtime-Function-Error-Type`` / ``-Body``, base64).

AWS's own Python runtime does not stream (only Node.js and custom runtimes do): this is the
workbench's, documented in README ("Response streaming"). Imported only by handlers that
stream, so other cold starts do not pay for it.
"""

import binascii

TRAILERS = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"


def send(conn, path, chunks, on_error, content_type="application/octet-stream"):
    """Stream ``chunks`` as the response at ``path``; ``on_error(exc)`` → (type, JSON bytes)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {conn.host.decode()}\r\n"
        "User-Agent: workbench-python\r\n"
        f"Content-Type: {content_type}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n"
        f"Trailer: {TRAILERS}\r\n\r\n"
    ).encode("latin-1")
    conn.send(head)
    try:
        for chunk in chunks:
            if isinstance(chunk, str):
                chunk = chunk.encode()
            elif not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"a streaming handler yields bytes or str, not {type(chunk).__name__}"
                )
            if chunk:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), bytes(chunk)))
    except Exception as e:  # noqa: BLE001 - the handler's error, told in the trailers
        error_type, body = on_error(e)
        encoded = binascii.b2a_base64(body, newline=False)
        conn.send(
            b"0\r\nLambda-Runtime-Function-Error-Type: %s\r\n"
            b"Lambda-Runtime-Function-Error-Body: %s\r\n\r\n" % (error_type.encode(), encoded)
        )
        return
    conn.send(b"0\r\n\r\n")
