"""The package version, in one place."""

__version__ = "0.1.0"
"""densespace's version (``importlib.metadata.version("densespace")`` once installed)."""
