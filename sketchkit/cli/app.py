"""Entry point of the ``sketchkit`` command: builds the typer app from the command modules.

Each command module defines ``register(app)``. Modules import heavy libraries (torch) inside the
command functions, so ``sketchkit --help`` stays fast.

Exit codes: 0 success; 1 an unexpected error (one line, plus a hint: ``sketchkit --debug ...`` or
``SKETCHKIT_DEBUG=1`` shows the traceback) or a failed training run; 2 bad input (``InputError``,
a missing file) or a usage error (typer prints the usage); 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from sketchkit.errors import InputError

COMMAND_MODULES = ("render", "data", "convert", "train", "sample", "reconstruct", "vectorize", "eval")
DEBUG_ENV = "SKETCHKIT_DEBUG"

app = typer.Typer(
    name="sketchkit",
    help="Vector sketches: render, convert, train BézierSketch / Cloud2Curve / SketchODE, sample, vectorise PNGs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help=f"Show the full traceback of an unexpected error (or set {DEBUG_ENV}=1)."),
) -> None:
    _state["debug"] = debug


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"sketchkit.cli.{name}_cmd")
        except ModuleNotFoundError as exc:  # a command still being written
            if exc.name != f"sketchkit.cli.{name}_cmd":
                raise
            continue
        module.register(app)


_register_commands()


def _debug_enabled() -> bool:
    return _state["debug"] or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (see the module docstring for the codes)."""
    _state["debug"] = False
    try:
        # Standalone mode: typer itself prints usage errors (exit 2) and turns typer.Exit into
        # SystemExit, whichever click (installed or vendored by typer) it runs on, so this
        # function never needs to name click's exception classes.
        app(args=argv, prog_name="sketchkit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        typer.echo(str(code), err=True)
        return 1
    except InputError as exc:
        if _debug_enabled():
            _print_traceback(exc)
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        return 2
    except FileNotFoundError as exc:
        if _debug_enabled():
            _print_traceback(exc)
        typer.echo(f"error: {exc.filename or exc}: no such file", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug or an environment problem: one line, the traceback on request
        if _debug_enabled():
            _print_traceback(exc)
            typer.echo(f"error: {type(exc).__name__}: {_one_line(str(exc))}", err=True)
        else:
            message = _one_line(str(exc))
            typer.echo(f"error: {type(exc).__name__}" + (f": {message}" if message else ""), err=True)
            typer.echo(f"(an unexpected error; re-run as `sketchkit --debug ...` or with {DEBUG_ENV}=1 "
                       f"to see the traceback)", err=True)
        return 1
    return 0


def _print_traceback(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
