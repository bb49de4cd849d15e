"""mixjax's version, written once: the package face, the reports and pyproject.toml read it."""

__version__ = "0.1.0"
