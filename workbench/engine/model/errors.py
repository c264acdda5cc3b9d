"""Lambda's service errors, with the HTTP status and wire code the Invoke API gives them.

Function errors (a handler exception, a timeout, a crash) are not exceptions here: they are
results with ``function_error`` set, as in Lambda, where they still answer 200.
"""

from __future__ import annotations

import json


class LambdaError(Exception):
    """A service-level error: ``code`` is the ``x-amzn-ErrorType``, ``status`` the HTTP status."""

    code = "ServiceException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, object]:
        return {"Type": "User", "message": self.message}

    def to_json(self) -> bytes:
        return json.dumps(self.body()).encode()


class ResourceNotFound(LambdaError):
    code = "ResourceNotFoundException"
    status = 404

    def body(self) -> dict[str, object]:
        return {"Message": self.message, "Type": "User"}


class TooManyRequests(LambdaError):
    code = "TooManyRequestsException"
    status = 429

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason

    def body(self) -> dict[str, object]:
        return {"Reason": self.reason, "Type": "User", "message": self.message}


class RequestTooLarge(LambdaError):
    code = "RequestEntityTooLargeException"
    status = 413


class InvalidRequestContent(LambdaError):
    code = "InvalidRequestContentException"
    status = 400


class InvalidParameterValue(LambdaError):
    code = "InvalidParameterValueException"
    status = 400


class FunctionNotReady(LambdaError):
    """The function's ``function.toml`` is broken: like a Lambda function in state ``Failed``."""

    code = "ResourceConflictException"
    status = 409


class InvalidRuntime(LambdaError):
    code = "InvalidRuntimeException"
    status = 502


class ResourceConflict(LambdaError):
    """The resource already exists (e.g. an alias of that name), as Lambda's 409."""

    code = "ResourceConflictException"
    status = 409


class ValidationError(LambdaError):
    """A parameter broke the API model's constraint (pattern, range), as Lambda's 400.

    Lambda words these ``1 validation error detected: Value '...' at 'name' failed to satisfy
    constraint: ...``; ``constraint`` builds that message.
    """

    code = "ValidationException"
    status = 400

    @classmethod
    def constraint(cls, value: object, field: str, constraint: str) -> ValidationError:
        return cls(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: {constraint}"
        )


class PreconditionFailed(LambdaError):
    """The RevisionId given is not the resource's current one (Lambda's 412)."""

    code = "PreconditionFailedException"
    status = 412

    @classmethod
    def stale_revision(cls) -> PreconditionFailed:
        return cls(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id"
        )
