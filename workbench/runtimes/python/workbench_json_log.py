"""JSON application logs (``AWS_LAMBDA_LOG_FORMAT=JSON``), exactly as AWS's Python runtime
writes them: standard library only, loaded by ``bootstrap`` only under the JSON format.

Follows awslambdaric 4.2.2's ``lambda_runtime_log_utils.JsonFormatter`` (the version the test
extras pin; github.com/aws/aws-lambda-python-runtime-interface-client): one object per line from
``json.JSONEncoder(ensure_ascii=False, default=str)`` (its default ``", "`` / ``": "``
separators), keys in its order, ``None`` values dropped, levels folded onto
DEBUG/INFO/WARNING/ERROR/CRITICAL, a dict message kept as an object, every attribute a record
gains through ``extra=`` kept, ``timestamp`` in whole seconds (``%Y-%m-%dT%H:%M:%SZ``; UNVERIFIED:
a revision of AWS's repository adds milliseconds, which 4.2.2 does not). ``print`` is not
touched: AWS's runtime writes it to stdout as it is, under either format.
"""

import json
import logging
import traceback

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # bootstrap sets logging.Formatter.converter = gmtime
# LogRecord attributes that are not a user's extra fields (awslambdaric's _RESERVED_FIELDS)
RESERVED_FIELDS = frozenset(
    {
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    }
)
# default=str: a value JSON cannot hold is written as its str, not the record lost
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _level(record):
    return min(50, max(0, record.levelno)) // 10 * 10


class JsonFormatter(logging.Formatter):
    """The root logger's records as AWS's JSON lines."""

    def __init__(self):
        super().__init__(datefmt=DATETIME_FORMAT)

    def format(self, record):
        record.levelno = _level(record)
        record.levelname = logging.getLevelName(record.levelno)
        exc_info = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": (
                record.msg
                if isinstance(record.msg, dict) and not record.args
                else record.getMessage()
            ),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": (
                f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None
            ),
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in RESERVED_FIELDS and key not in result
        )
        return _encode({k: v for k, v in result.items() if v is not None}) + "\n"
