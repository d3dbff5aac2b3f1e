"""Lantern: what an image classifier looks at, how it is fooled, what compression does to it."""

from importlib import metadata

try:
    __version__ = metadata.version("lantern")  # one source: pyproject.toml, as installed
except metadata.PackageNotFoundError:  # a checkout on sys.path that was never installed
    __version__ = "unknown"
