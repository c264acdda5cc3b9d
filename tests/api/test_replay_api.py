"""An invocation that came through the Lambda API replays with the client context it was given.

Lambda hands the runtime ``X-Amz-Client-Context`` decoded (base64 → JSON text); the record keeps
that text, so a replay gives the handler the same ``context.client_context``.
"""

from __future__ import annotations

import base64
import json

from .live_server import LiveServer


def test_an_api_invocations_client_context_is_stored_and_replayed(live: LiveServer, client) -> None:
    context = {"custom": {"user": "ada"}, "env": {"locale": "en_GB"}}
    text = json.dumps(context)
    response = client.invoke(
        FunctionName="echo",
        Payload=b'{"order": 7}',
        ClientContext=base64.b64encode(text.encode()).decode(),
    )
    first = json.loads(response["Payload"].read())
    assert first["client_context"] == context
    request_id = response["ResponseMetadata"]["RequestId"]

    stored = live.sync(lambda engine: engine.store.get(request_id))
    assert stored is not None and stored.client_context == text  # decoded, as the runtime got it
    assert stored.trigger == "api"

    again = live.call(lambda engine: engine.replay(request_id))
    replayed = json.loads(again.payload)
    assert replayed["client_context"] == context and replayed["event"] == {"order": 7}
    assert again.record.replay_of == request_id and again.record.trigger == "replay"
