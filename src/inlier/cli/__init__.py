"""The ``inlier`` command: set up, serve, and the admin and owner actions of the API."""

from __future__ import annotations

from inlier.cli.main import app


def main() -> None:
    app()


__all__ = ["app", "main"]
