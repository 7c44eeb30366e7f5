"""The `negrec` command: thin Typer wrappers, one module per command group."""

from negrec.cli.main import app

__all__ = ["app"]
