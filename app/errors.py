"""Domain exceptions, and the one place that maps them to HTTP status codes and CLI messages."""

__all__ = [
    "BadImage",
    "BadParameter",
    "BadTarget",
    "BadWeights",
    "Cancelled",
    "ImageTooLarge",
    "LanternError",
    "UnknownAttack",
    "UnknownMethod",
    "UnknownModel",
    "UnsupportedImage",
    "UnsupportedMethod",
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


class UnknownModel(LanternError):
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


def http_status(error: LanternError) -> int:
    return error.status_code
