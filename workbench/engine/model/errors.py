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


class AccessDenied(LambdaError):
    """A resource of another account (or a foreign ARN) the caller has no permission on: Lambda
    checks authorization before it looks the resource up, so there is nothing to find here.

    The wording is IAM's (``User: <principal> is not authorized to perform: lambda:<Action> on
    resource: <arn> because no resource-based policy allows the lambda:<Action> action``, from
    public error reports); the principal, locally the account's root as there is no IAM, and
    that Lambda answers this rather than a 404 for a function that does not exist in that
    account, are UNVERIFIED.
    """

    code = "AccessDeniedException"
    status = 403

    def __init__(self, resource: str, principal: str, action: str = "lambda:InvokeFunction"):
        self.resource, self.principal, self.action = resource, principal, action
        super().__init__(
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            f"because no resource-based policy allows the {action} action"
        )

    def for_action(self, action: str) -> AccessDenied:
        """The same refusal, named for the operation that was called."""
        return AccessDenied(self.resource, self.principal, action)


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
        return cls.of([violation(value, field, constraint)])

    @classmethod
    def of(cls, violations: list[str]) -> ValidationError:
        """All of a request's violations (``violation``) in one error, as Lambda reports them:
        ``2 validation errors detected: <one>; <other>``."""
        count = len(violations)
        plural = "error" if count == 1 else "errors"
        return cls(f"{count} validation {plural} detected: " + "; ".join(violations))


def violation(value: object, field: str, constraint: str) -> str:
    """One broken constraint, in the model's words. A map's (``value`` None) names no value:
    ``Value at 'environment.variables' failed to satisfy constraint: Map keys must ...``."""
    shown = "Value" if value is None else f"Value '{value}'"
    return f"{shown} at '{field}' failed to satisfy constraint: {constraint}"


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
