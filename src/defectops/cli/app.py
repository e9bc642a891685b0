"""The Typer app: ``defectops simulate | validate | demo | ...``, each verb from its group.

Each verb is a typed function. A user mistake ends with one line on stderr and exit code 2, an
internal fault with exit code 1 (``DEFECTOPS_DEBUG=1`` shows the traceback), so schedulers and CI
can tell "fix your input" from "file a bug".
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import typer

from defectops import __version__
from defectops.cli.data import simulate, validate
from defectops.cli.monitor import monitor
from defectops.cli.predict import predict
from defectops.cli.registry import history, models, promote, rollback
from defectops.cli.results import evaluate, report
from defectops.cli.serve import serve
from defectops.cli.train import demo, ingest, label, run
from defectops.core.errors import UserError

app = typer.Typer(
    name="defectops",
    help="Keep a manufacturing defect classifier trained, honestly evaluated, promoted and served.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"defectops {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep a manufacturing defect classifier trained, honestly evaluated, promoted and served."""


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A verb whose errors end with the documented exit codes, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("DEFECTOPS_DEBUG"):
                traceback.print_exc()
            typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper


# `defectops --help` lists the verbs in this order
VERBS = (
    simulate,
    validate,
    run,
    predict,
    ingest,
    label,
    monitor,
    serve,
    evaluate,
    demo,
    models,
    promote,
    rollback,
    history,
    report,
)
for _verb in VERBS:
    app.command()(guarded(_verb))
