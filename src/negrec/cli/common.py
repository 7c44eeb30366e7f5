"""Shared pieces of the command-line modules: the console and the handler for errors a user can cause."""

from __future__ import annotations

import errno
import inspect
from contextlib import contextmanager
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional, get_args, get_type_hints

import typer
from rich.console import Console
from rich.markup import escape

from negrec.errors import DataError

console = Console(emoji=False)  # `:M:` in a sampler spec is not an emoji
UserColOpt = Annotated[str, typer.Option(help="Generic table: the user column.")]
ItemColOpt = Annotated[str, typer.Option(help="Generic table: the item column.")]
RatingColOpt = Annotated[
    Optional[str], typer.Option(help="Generic table: the rating column (the ratio protocol keeps ratings ≥ 4).")
]
TimeColOpt = Annotated[Optional[str], typer.Option(help="Generic table: the timestamp column (leave-last-out order).")]
SepOpt = Annotated[str, typer.Option(help="Generic table: field separator.")]
ItemsOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="Generic table: item file with columns id, title[, genres] "
        "(genres separated by '|'): titles, and genres for the cluster strategies."
    ),
]
OverwriteOpt = Annotated[
    bool, typer.Option(help="Replace an existing output (a folder only when this kind of command wrote it).")
]


def options_from(ctx: typer.Context, path: Path) -> dict:
    """A YAML mapping of the command's options (names as on the command line, dashes or underscores, with or without
    the leading --), keyed by parameter name; an unknown name is refused by name."""
    from negrec.data.io import read_yaml_mapping
    from negrec.sampling.registry import suggestion

    try:
        data = read_yaml_mapping(path, "a config file (option names to values)")
    except DataError as exc:
        raise typer.BadParameter(str(exc)) from None
    names = [p.name for p in ctx.command.params if p.name not in ("config", "ctx")]
    options = {}
    for key, item in data.items():
        name = str(key).lstrip("-").replace("-", "_")
        if name not in names:
            raise typer.BadParameter(f"{path}: unknown option {key!r}{suggestion(name, names)}")
        options[name] = item
    return options


def _options_file(ctx: typer.Context, param, value: Optional[Path]) -> Optional[Path]:
    """--config: the file's options (`options_from`) become the command's defaults, so options given on the command
    line still win."""
    if value is not None:
        ctx.default_map = {**(ctx.default_map or {}), **options_from(ctx, value)}
    return value


ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        is_eager=True,
        callback=_options_file,
        help="YAML file of this command's options (e.g. a run folder's options.yaml); options given here win.",
    ),
]


def config_path(value: str | Path) -> str:
    """A path as a config file keeps it: absolute when it names an existing file or folder, so `--config` replays the
    same data from any working folder (a relative one read another folder's file of the same name)."""
    path = Path(value)
    return str(path.resolve()) if path.exists() else str(value)


def write_options(
    folder: Path, ctx: typer.Context, *, name: str = "options.yaml", leave_out: tuple[str, ...] = ("overwrite", "out")
) -> Path:
    """The options a command ran with, as a file `--config` reads back (the run is reproduced by one option)."""
    import yaml

    from negrec.data.io import write_text

    options = {k.replace("_", "-"): option_value(k, v) for k, v in ctx.params.items() if k not in ("config", *leave_out)}
    return write_text(folder / name, yaml.safe_dump(options, sort_keys=False, allow_unicode=True))


def option_value(name: str, value):
    """An option's value as an options file keeps it (enums by value, paths as `config_path` writes them)."""
    from enum import Enum

    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path) or (name == "dataset" and isinstance(value, str)):
        return config_path(value)
    return value


def table_block(*, ratings: bool = True, time_help: str | None = None) -> list[inspect.Parameter]:
    """The generic-table options (columns, separator, item file) every command reading a dataset shares."""
    time = TimeColOpt if time_help is None else Annotated[Optional[str], typer.Option(help=time_help)]
    block = [keyword("user_col", UserColOpt, "user"), keyword("item_col", ItemColOpt, "item")]
    block += [keyword("rating_col", RatingColOpt, None)] if ratings else []
    return block + [keyword("time_col", time, None), keyword("sep", SepOpt, ","), keyword("items", ItemsOpt, None)]


def option_parameter(f, hint: Any, default: Any) -> inspect.Parameter:
    """A declared settings field (`negrec.settings.setting`) as a keyword parameter of a generated command: its help,
    command-line name and choices from the declaration, its default the caller's."""
    meta = f.metadata
    optional = type(None) in get_args(hint)
    kind = next(a for a in get_args(hint) if a is not type(None)) if optional else hint
    if meta.get("choices"):
        kind = Enum(f"{f.name.title().replace('_', '')}Choice", {c.replace("-", "_"): c for c in meta["choices"]}, type=str)
        default = None if default is None else kind(default)
    name = "--" + (meta.get("option") or f.name.replace("_", "-"))
    decls = (f"{name}/--no-{name[2:]}",) if kind is bool else (name,)
    annotation = Annotated[Optional[kind] if optional else kind, typer.Option(*decls, help=meta.get("help", ""))]
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def settings_parameters(cls, command: str | None = None, defaults: Any = None) -> list[inspect.Parameter]:
    """The options of a settings class's fields that `command` shows (their declared `commands`), in field order;
    defaults from `defaults` (an instance) or the class."""
    hints = get_type_hints(cls)
    shown = [f for f in fields(cls) if f.metadata.get("cli", True) and command in (f.metadata.get("commands") or (command,))]
    return [option_parameter(f, hints[f.name], getattr(defaults, f.name) if defaults is not None else f.default) for f in shown]


def plain_values(options: dict) -> dict:
    """Option values as the library takes them (choices by their value)."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in options.items()}


def generated(name: str, doc: str, params: list[inspect.Parameter], body: Callable[..., None]) -> Callable[..., None]:
    """A command function with the signature `params` (typer reads the options from it) whose call runs
    `body(**options)`."""

    def command(**options) -> None:
        body(**options)

    command.__signature__ = inspect.Signature(params)
    command.__name__, command.__doc__ = f"{name}_command", doc
    return command


def keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """One hand-declared keyword parameter of a generated command."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def relaunch_on_processes(ctx: typer.Context, group: str, out: Path, processes: int, *, overwrite: bool) -> None:
    """`negrec GROUP train --processes N`: this command, its options written to a file, run on N processes under
    torchrun (experiments/launches.py); exits with their status."""
    import shutil
    import tempfile

    from negrec.experiments.launches import train_on_processes

    root = ctx.find_root().params
    scratch = Path(tempfile.mkdtemp(prefix=f"negrec-{group}-"))
    try:
        options = write_options(scratch, ctx)
        threads, verbose = root.get("threads"), bool(root.get("verbose"))
        status, log = train_on_processes(group, options, out, processes, overwrite=overwrite, threads=threads, verbose=verbose)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if status:
        typer.echo(f"the {processes} processes stopped (exit {status}); the launcher's report is in {log}", err=True)
    raise typer.Exit(status)


def command_group(help: str) -> typer.Typer:
    """A Typer app whose help prints literally: rich markup would eat `[...]` and turn `:M:` into an emoji, so the
    sampler syntax `mixed[:M:hard:random]` (and every other option's text) is shown as click writes it."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def table_options(user_col: str, item_col: str, rating_col: str | None, time_col: str | None, sep: str, items: Path | None):
    """The generic-table options of a command that reads a dataset."""
    from negrec.data.tabular import TableOptions

    return TableOptions(user_col=user_col, item_col=item_col, rating_col=rating_col, time_col=time_col, sep=sep, items=items)


ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}  # the machine's fault, not negrec's


def fail(exc: Exception) -> None:
    """Print the error in one red line and exit with code 2."""
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors a user can cause (bad data, missing files, bad values) into one red line and exit code 2."""
    try:
        yield
    except (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        # an output (or input) location that is a file, under a file, a folder, or not writable
        fail(DataError(exc.strerror or str(exc), path=exc.filename) if exc.filename else exc)
    except (DataError, FileNotFoundError, ValueError) as exc:
        fail(exc)
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:  # anything else is negrec's fault: keep the traceback
            raise
        # a full disk or a file system gone read-only: writers are atomic, so what was there before is whole
        place = f" (writing {exc.filename})" if exc.filename else ""
        fail(DataError(f"{exc.strerror or exc}{place}; nothing already written was replaced — free space and run again"))


def progress_bar(description: str):
    """A wrapper that shows a rich progress bar while iterating a sized collection."""
    from rich.progress import track

    return lambda items: track(items, description=description, console=console)


def log_line(message: str) -> None:
    """A plain progress line: brackets such as `[sft]` print literally (not as rich markup)."""
    console.print(escape(message), highlight=False)


def print_llm_summary(summary: dict, title: str) -> None:
    """One table per protocol of an LLM recipe's results, a row per system with the protocol's metrics; NDCG@10,
    HR@10 and HR@1 with their 95 % bootstrap CI over users (`ci` in the summary) under the value."""
    from rich.table import Table

    from negrec.report.columns import LLM_TERMINAL, LLM_TERMINAL_CI

    def cell(m: dict, c: str) -> str:
        if m.get(c) is None:
            return "–"
        low, high = m.get("ci", {}).get(c, (None, None))
        return f"{m[c]:.4f}" if low is None else f"{m[c]:.4f}\n[{low:.3f}, {high:.3f}]"

    for protocol, systems in summary.items():
        cols = [c for c in LLM_TERMINAL if any(m.get(c) is not None for m in systems.values())]
        shown = ", ".join(c for c in LLM_TERMINAL_CI if c in cols)
        table = Table(title=f"{title} — protocol {protocol}\n({shown}: 95 % bootstrap CI over users below the value)")
        for c in ["system", *cols]:
            # names fold onto a second line rather than lose their ends ("clusterin_high_clu…") in a narrow terminal
            # and a long header folds too, so a narrow terminal keeps every column (values need 6 characters)
            table.add_column(
                c, justify="left" if c == "system" else "right", overflow="fold", min_width=None if c == "system" else 6
            )
        for name, m in systems.items():
            table.add_row(escape(name), *(cell(m, c) for c in cols))
        console.print(table)
