"""The rxkg version: one place, read by the package, the CLI and every manifest."""

__version__ = "0.1.0"
