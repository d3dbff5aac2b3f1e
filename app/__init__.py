"""Lantern: what an image classifier looks at, how it is fooled, what compression does to it."""

__version__ = "0.1.0"
