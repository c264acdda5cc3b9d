"""The workbench's SQLite database (WAL): its schema, its migrations, how to connect.

One file, ``.workbench/workbench.db``, holds every table the workbench owns: the invocation
records (``store.py``) and the published versions and aliases (``versions.py``). Each opens its
own connection; ``migrate`` brings any database up to ``SCHEMA_VERSION`` first.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .db_file import StateDatabaseError, move_aside_hint

SCHEMA_VERSION = 13
BUSY_TIMEOUT_MS = 5000

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS invocations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id       TEXT    NOT NULL,
    function         TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    invocation_type  TEXT    NOT NULL,
    trigger          TEXT,
    started_at       REAL    NOT NULL,
    duration_ms      REAL    NOT NULL,
    billed_ms        INTEGER NOT NULL,
    init_duration_ms REAL,
    memory_size      INTEGER NOT NULL,
    max_memory_mb    INTEGER NOT NULL,
    cold             INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    error_type       TEXT,
    cost             REAL    NOT NULL,
    request          TEXT    NOT NULL,
    response         TEXT    NOT NULL,
    log_lines        TEXT    NOT NULL,
    env_id           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_invocations_function_started
    ON invocations (function, started_at);
CREATE INDEX IF NOT EXISTS ix_invocations_started ON invocations (started_at);
CREATE INDEX IF NOT EXISTS ix_invocations_request_id ON invocations (request_id);
"""

# Published versions are immutable rows; `config` is the version's FunctionConfig as JSON, with
# its folder and layers pointing into the content-addressed code store.
_SCHEMA_V2 = """
ALTER TABLE invocations ADD COLUMN qualifier TEXT;
CREATE TABLE IF NOT EXISTS versions (
    function     TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    description  TEXT    NOT NULL,
    code_sha256  TEXT    NOT NULL,
    code_size    INTEGER NOT NULL,
    config       TEXT    NOT NULL,
    created_at   REAL    NOT NULL,
    revision_id  TEXT    NOT NULL,
    PRIMARY KEY (function, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    function         TEXT NOT NULL,
    name             TEXT NOT NULL,
    function_version TEXT NOT NULL,
    description      TEXT NOT NULL,
    routing          TEXT NOT NULL,
    revision_id      TEXT NOT NULL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    PRIMARY KEY (function, name)
);
CREATE TABLE IF NOT EXISTS registry_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO registry_generation (id, value) VALUES (1, 0);
"""

# The durable async queue (``async_queue.py``): one row per accepted Event invocation, kept after
# it ends (its outcome, the destination it went to). A row is claimed by an engine for one
# attempt with a lease (owner, lease_until); an engine killed mid-attempt leaves a lease that a
# restart (or another engine, once it expires) takes back, so an accepted event is never lost.
# ``throttles`` counts the backoffs (not attempts); ``last_response``/``last_version`` keep the
# last failed attempt's error object for the on-failure destination's record.
_SCHEMA_V3 = """
ALTER TABLE invocations ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE invocations ADD COLUMN dwell_ms REAL;
CREATE TABLE IF NOT EXISTS async_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id     TEXT    NOT NULL UNIQUE,
    function       TEXT    NOT NULL,
    qualifier      TEXT,
    payload        BLOB    NOT NULL,
    trigger        TEXT,
    enqueued_at    REAL    NOT NULL,
    due_at         REAL    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    throttles      INTEGER NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL DEFAULT 'queued',
    lease_owner    TEXT,
    lease_until    REAL,
    last_error     TEXT,
    last_response  BLOB,
    last_version   TEXT,
    condition      TEXT,
    destination    TEXT,
    finished_at    REAL
);
CREATE INDEX IF NOT EXISTS ix_async_events_status_due ON async_events (status, due_at);
CREATE INDEX IF NOT EXISTS ix_async_events_function ON async_events (function, id);
"""

# Local queues (``queues.py``), SQS-like: a queue's settings, and its messages. A received
# message is invisible until ``visible_at``; ``receipt_handle`` is the latest receive's.
_SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS queues (
    name               TEXT    PRIMARY KEY,
    created_at         REAL    NOT NULL,
    visibility_timeout INTEGER NOT NULL DEFAULT 30,
    dead_letter_queue  TEXT,
    max_receive_count  INTEGER
);
CREATE TABLE IF NOT EXISTS queue_messages (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    queue              TEXT    NOT NULL,
    message_id         TEXT    NOT NULL UNIQUE,
    body               TEXT    NOT NULL,
    attributes         TEXT    NOT NULL DEFAULT '{}',
    md5_of_body        TEXT    NOT NULL,
    sent_at            REAL    NOT NULL,
    visible_at         REAL    NOT NULL,
    receive_count      INTEGER NOT NULL DEFAULT 0,
    first_received_at  REAL,
    receipt_handle     TEXT
);
CREATE INDEX IF NOT EXISTS ix_queue_messages_visible ON queue_messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS ix_queue_messages_receipt ON queue_messages (receipt_handle);
"""

# Debugging and replay: ``paused_ms`` is the time a handler sat at a debugger prompt (its timeout
# clock stopped, not billed); ``replay_of`` the request id a replay re-ran; ``client_context`` the
# invocation's ClientContext as sent (base64-decoded JSON); ``payload`` the whole event when the
# ``request`` excerpt had to be cut (NULL: ``request`` is the whole event), so any record replays.
_SCHEMA_V5 = """
ALTER TABLE invocations ADD COLUMN paused_ms REAL NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN replay_of TEXT;
ALTER TABLE invocations ADD COLUMN client_context TEXT;
ALTER TABLE invocations ADD COLUMN payload BLOB
"""

# Scale: ``start_wait_ms`` is how long a cold start waited for its turn to start a runtime
# (``invoke/start_gate.py``): shown, never billed, never counted against the timeout.
_SCHEMA_V6 = """
ALTER TABLE invocations ADD COLUMN start_wait_ms REAL NOT NULL DEFAULT 0
"""

# SQS fidelity: FIFO queues (``fifo``; a message's ``group_id`` and ``dedup_id``, and the
# deduplication window in ``queue_dedup``, kept after the message is deleted, as SQS keeps it
# for five minutes), the queue attributes beyond the columns (``attributes``: SQS's names and
# string values, only those set), the queue's tags, and when its attributes last changed.
_SCHEMA_V7 = """
ALTER TABLE queues ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE queues ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE queues ADD COLUMN modified_at REAL;
ALTER TABLE queue_messages ADD COLUMN group_id TEXT;
ALTER TABLE queue_messages ADD COLUMN dedup_id TEXT;
CREATE INDEX IF NOT EXISTS ix_queue_messages_group ON queue_messages (queue, group_id, seq);
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue       TEXT NOT NULL,
    key         TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    sequence    TEXT NOT NULL,
    sent_at     REAL NOT NULL,
    PRIMARY KEY (queue, key)
);
CREATE INDEX IF NOT EXISTS ix_queue_dedup_sent ON queue_dedup (queue, sent_at)
"""

# Local streams (``streams.py``), Kinesis-like: a stream's shards, its records (``id`` orders
# them and makes their sequence numbers; ``key_hash`` spreads a shard's partition keys over the
# lanes of a mapping with a parallelization factor), and each stream mapping's checkpoint per
# shard and lane: the last record it is done with.
_SCHEMA_V8 = """
CREATE TABLE IF NOT EXISTS streams (
    name             TEXT    PRIMARY KEY,
    created_at       REAL    NOT NULL,
    shard_count      INTEGER NOT NULL,
    retention_hours  INTEGER NOT NULL DEFAULT 24
);
CREATE TABLE IF NOT EXISTS stream_records (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    stream         TEXT    NOT NULL,
    shard          INTEGER NOT NULL,
    partition_key  TEXT    NOT NULL,
    key_hash       INTEGER NOT NULL,
    data           BLOB    NOT NULL,
    arrived_at     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_stream_records_shard ON stream_records (stream, shard, id);
CREATE INDEX IF NOT EXISTS ix_stream_records_arrival ON stream_records (stream, arrived_at);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    consumer  TEXT    NOT NULL,
    stream    TEXT    NOT NULL,
    shard     INTEGER NOT NULL,
    lane      INTEGER NOT NULL,
    done_id   INTEGER NOT NULL,
    PRIMARY KEY (consumer, stream, shard, lane)
)
"""

# Response streaming: how many chunks a streamed response came in (NULL: not streamed).
_SCHEMA_V9 = """
ALTER TABLE invocations ADD COLUMN stream_chunks INTEGER
"""

# Recursive loop detection: a message's X-Ray trace header as it was sent (SQS's
# ``AWSTraceHeader`` system attribute), which carries the chain's lineage to the next invocation.
# ``chain`` is the same for an Event invocation (an SNS publish's subscriber): the trace header
# of the chain it continues ("" a new one, NULL none: a direct Invoke).
_SCHEMA_V10 = """
ALTER TABLE queue_messages ADD COLUMN trace_header TEXT;
ALTER TABLE async_events ADD COLUMN chain TEXT
"""

# Extensions: an invocation's post-invocation time, the external extensions' time after the
# runtime's response (NULL: the environment had none). It is part of ``duration_ms``.
_SCHEMA_V11 = """
ALTER TABLE invocations ADD COLUMN extensions_ms REAL
"""

# INIT retried in the invocation (Lambda's Phase: invoke): how long the retried INIT took, a part
# of ``duration_ms`` (NULL: the invocation retried none).
_SCHEMA_V12 = """
ALTER TABLE invocations ADD COLUMN init_retry_ms REAL
"""

# The async dispatcher asks, every turn, which functions have events due: by (status,
# function, due_at) it finds each function with one index seek (async_queue.due_functions),
# where (status, due_at) had it read every due row, on the engine's loop: ~1 ms a turn with
# 5,000 queued, 24 ms with 100,000 (a backlog after an outage); now ~0.01 ms either way.
_SCHEMA_V13 = """
CREATE INDEX IF NOT EXISTS ix_async_events_status_function_due
    ON async_events (status, function, due_at)
"""

# MIGRATIONS[n] takes a database at user_version n-1 to n.
MIGRATIONS: dict[int, str] = {
    1: _SCHEMA_V1,
    2: _SCHEMA_V2,
    3: _SCHEMA_V3,
    4: _SCHEMA_V4,
    5: _SCHEMA_V5,
    6: _SCHEMA_V6,
    7: _SCHEMA_V7,
    8: _SCHEMA_V8,
    9: _SCHEMA_V9,
    10: _SCHEMA_V10,
    11: _SCHEMA_V11,
    12: _SCHEMA_V12,
    13: _SCHEMA_V13,
}


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread."""
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL and apply the migrations the database lacks, each in one transaction."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StateDatabaseError(
            path,
            f"{path}: could not enable WAL journal mode (got {mode!r}): is the file on a network "
            "file system? Put the state dir (--state-dir) on a local disk",
        )
    conn.execute("BEGIN IMMEDIATE")  # two processes opening a new database: one migrates
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise StateDatabaseError(
                path,
                f"{path} was written by a newer workbench (schema version {current}; this one "
                f"reads up to {SCHEMA_VERSION}): upgrade the workbench, or {move_aside_hint(path)}",
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
