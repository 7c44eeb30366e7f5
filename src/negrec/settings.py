"""How negrec declares a settings field once: its default, its help, its command-line name and allowed values, and
the commands that show it. The settings classes (`cf/settings.py`, `llm/settings.py`, `seq/settings.py`) are built
from these fields; the CLI generates its options from them and recipes / config files are checked against them, so
the library, the commands and the files cannot drift."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    option: str | None = None,
    choices: tuple[str, ...] = (),
    commands: tuple[str, ...] | None = None,
    cli: bool = True,
) -> Any:
    """A documented field: its help, the command-line name where it is not the field's, its allowed values, the
    commands that offer it (None: every command built from the class) and whether a command shows it at all."""
    return field(default=default, metadata={"help": help, "option": option, "choices": choices, "commands": commands, "cli": cli})


def check_tracker(name: str, option: str = "--report-to") -> None:
    """Refuse a tracker whose package is not installed, before any model loads (it failed after, in a traceback)."""
    import importlib.util

    if name != "none" and importlib.util.find_spec(name) is None:
        raise ValueError(f"{option} {name}: the {name} package is not installed here (pip install {name}), or use none")
