"""Entry point of the ``sketchkit`` command: builds the typer app from the command modules.

Each command module defines ``register(app)``. Modules import heavy libraries (torch) inside the
command functions, so ``sketchkit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from sketchkit.errors import InputError

COMMAND_MODULES = ("render", "data", "convert", "train", "sample", "reconstruct", "vectorize", "eval")

app = typer.Typer(
    name="sketchkit",
    help="Vector sketches: render, convert, train BézierSketch / Cloud2Curve / SketchODE, sample, vectorise PNGs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input ends with a one-line ``error: ...`` on stderr and exit code 2."""
    try:
        # With standalone_mode=False click returns (rather than raises) the code of typer.Exit.
        code = app(args=argv, standalone_mode=False)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc.filename or exc}: no such file", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except SystemExit as exc:  # typer/click exits (e.g. --help) pass through
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
