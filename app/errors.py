"""Domain exceptions, and the one place that maps them to HTTP status codes and CLI messages."""

__all__ = [
    "BadImage",
    "BadParameter",
    "BadTarget",
    "BadWeights",
    "Busy",
    "Cancelled",
    "ImageTooLarge",
    "JobNotFinished",
    "JobTimeout",
    "LanternError",
    "NotSignedIn",
    "RateLimited",
    "RequestTooLarge",
    "StaleForm",
    "UnknownAsset",
    "UnknownAttack",
    "UnknownDataset",
    "UnknownExperiment",
    "UnknownImage",
    "UnknownJob",
    "UnknownMethod",
    "UnknownModel",
    "UnknownRecipe",
    "UnknownRun",
    "UnsupportedImage",
    "UnsupportedMethod",
    "http_headers",
    "http_status",
]


class LanternError(Exception):
    """Base of every error a user can cause. Its message is written for a person."""

    status_code = 400


class BadImage(LanternError):
    status_code = 422


class UnsupportedImage(LanternError):
    status_code = 415


class ImageTooLarge(LanternError):
    status_code = 413


class UnknownMethod(LanternError):
    status_code = 404


class UnknownAttack(LanternError):
    status_code = 404


class UnknownExperiment(LanternError):
    status_code = 404


class UnknownModel(LanternError):
    status_code = 404


class UnknownRecipe(LanternError):
    status_code = 404


class UnknownDataset(LanternError):
    status_code = 404


class UnknownRun(LanternError):
    """No saved compression run (or file of one) by that id."""

    status_code = 404


class UnsupportedMethod(LanternError):
    """The method exists but cannot run on this model."""

    status_code = 422


class BadTarget(LanternError):
    status_code = 422


class BadParameter(LanternError):
    status_code = 422


class BadWeights(LanternError):
    """A weights file that is unsafe, unreadable or does not fit the architecture."""

    status_code = 422


class Cancelled(LanternError):
    status_code = 409


class UnknownAsset(LanternError):
    status_code = 404


class UnknownImage(LanternError):
    status_code = 404


class UnknownJob(LanternError):
    status_code = 404


class JobNotFinished(LanternError):
    """A job's result was asked for before it finished, or of the wrong kind of job."""

    status_code = 409


class JobTimeout(LanternError):
    """A job ran past its deadline (LANTERN_JOB_TIMEOUT_SECONDS)."""

    status_code = 504


class NotSignedIn(LanternError):
    """The server has an API token and the request did not carry it (or a session cookie)."""

    status_code = 401


class StaleForm(LanternError):
    """A state-changing request signed in by cookie without the page's CSRF token."""

    status_code = 403


class UnknownHost(LanternError):
    """A Host header this server does not answer to (DNS rebinding)."""

    status_code = 421


class CrossOrigin(LanternError):
    """A state-changing request sent by another site's page."""

    status_code = 403


class RequestTooLarge(LanternError):
    status_code = 413


class RateLimited(LanternError):
    """Too many requests from one client (HTTP 429 with Retry-After)."""

    status_code = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Busy(LanternError):
    """The job queue is full: try again later (HTTP 503 with Retry-After)."""

    status_code = 503
    retry_after_seconds = 5


def http_status(error: LanternError) -> int:
    return error.status_code


def http_headers(error: LanternError) -> dict[str, str]:
    if isinstance(error, (Busy, RateLimited)):
        return {"Retry-After": str(error.retry_after_seconds)}
    if isinstance(error, NotSignedIn):
        return {"WWW-Authenticate": 'Bearer realm="lantern"'}
    return {}
