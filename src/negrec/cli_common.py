"""Shared pieces of the command-line modules: the console and the handler for errors a user can cause."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from negrec.errors import DataError

console = Console()


def fail(exc: Exception) -> None:
    """Print the error in one red line and exit with code 2."""
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors a user can cause (bad data, missing files, bad values) into one red line and exit code 2."""
    try:
        yield
    except (DataError, FileNotFoundError, ValueError) as exc:
        fail(exc)


def progress_bar(description: str):
    """A wrapper that shows a rich progress bar while iterating a sized collection."""
    from rich.progress import track

    return lambda items: track(items, description=description, console=console)
