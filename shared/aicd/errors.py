"""The errors aicd raises, and what each means for the person running a step.

    AicdError                 base of everything aicd raises on purpose
    ├── UserError             the input is wrong: fix the file, key or value named in the message
    │   ├── ConfigError       aicd.yml (or an action input) is invalid; carries file and line
    │   ├── NotSupported      the deploy target does not offer the command asked for
    │   ├── DataError         a data file cannot be read or lacks what the config asks for
    │   └── EntrypointFailed  the user's own training code (``model.entrypoint``) raised or returned
    │                         something that is not a fitted model
    ├── ServiceError          an outside service (MLflow, a model server, ...) failed;
    │   │                     ``retryable`` says whether trying again can help
    │   ├── KubeError         the Kubernetes API answered with an error (``status``: its HTTP status)
    │   ├── GitHubError       the GitHub REST API answered with an error (``status``; ``read_only``: the
    │   │                     token may read but not write, as a fork's pull request gets it)
    │   └── RolloutFailed     a new revision never became ready and was taken away; ``result``
    │                         (a deploy Result, when known) says what serves again
    └── GateFailed            the inputs were fine but a gate said no (data check, model threshold)

Every error carries a one-line ``message`` and an optional ``hint`` (what to do). The CLI turns
them into one annotation and a non-zero exit, never a traceback: a traceback means a bug in aicd.
Errors of the libraries underneath (MLflow, pandas, HTTP) never escape: adapters translate them.
"""

from __future__ import annotations

__all__ = ["AicdError", "ConfigError", "DataError", "EntrypointFailed", "GateFailed", "GitHubError", "KubeError",
           "NotSupported", "RolloutFailed", "ServiceError", "UserError"]


class AicdError(Exception):
    """Base class. ``file``/``line`` locate the error when it has a place."""

    def __init__(self, message: str, *, hint: str = "", file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        self.summarized = False  # the step wrote its own job summary for it

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{where}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class UserError(AicdError):
    """Something the user gave is wrong; retrying without changing it cannot help."""


class ConfigError(UserError):
    """aicd.yml or an action input is invalid."""


class DataError(UserError):
    """A data file is missing, unreadable, or does not match the config."""


class EntrypointFailed(UserError):
    """``model.entrypoint`` raised, exited or returned something other than a fitted model."""


class NotSupported(UserError):
    """A command the deploy target does not offer: one line naming the target, the command and what to
    do instead."""

    def __init__(self, target: str, verb: str, hint: str):
        super().__init__(f"input `command`: {verb} is not offered by the {target} target", hint=hint)


class ServiceError(AicdError):
    """An outside service failed. ``service`` names it; ``retryable`` tells whether a retry can help."""

    def __init__(self, service: str, message: str, *, retryable: bool, hint: str = ""):
        super().__init__(f"{service}: {message}", hint=hint)
        self.service = service
        self.retryable = retryable


class KubeError(ServiceError):
    """The Kubernetes API at ``server`` answered ``status`` (0: no answer); 429 and 5xx are retryable."""

    def __init__(self, server: str, status: int, message: str, hint: str = ""):
        super().__init__(f"Kubernetes API at {server}", message, retryable=status in (0, 429) or status >= 500,
                         hint=hint)
        self.status = status


class GitHubError(ServiceError):
    """The GitHub API at ``api_url`` answered ``status`` (0: no answer). ``read_only`` is True for GitHub's
    403 "Resource not accessible by integration": the token may read, not write (a fork's pull request)."""

    def __init__(self, service: str, status: int, message: str, *, retryable: bool, hint: str = ""):
        super().__init__(service, message, retryable=retryable, hint=hint)
        self.status = status
        self.read_only = status == 403 and "not accessible by integration" in message.lower()


class RolloutFailed(ServiceError):
    """A new revision never became ready and was taken away; ``result`` (an aicd.deploy.target.Result,
    None when nothing served before) says what serves again."""

    def __init__(self, service: str, message: str, result: object = None, *, hint: str = ""):
        super().__init__(service, message, retryable=False, hint=hint)
        self.result = result


class GateFailed(AicdError):
    """A gate refused its input. The step fails; the report and summary say why. ``outputs`` are the
    step outputs already published (the production gate's decision and evidence)."""

    def __init__(self, message: str, *, outputs: dict[str, str] | None = None, annotated: bool = False, **where):
        super().__init__(message, **where)
        self.outputs = outputs or {}
        self.annotated = annotated  # each failed check was annotated where it is configured
