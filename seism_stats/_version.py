"""The package's version (imported by the report and the command line without the package root)."""

__version__ = "0.1.0"
