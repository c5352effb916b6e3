"""The ``kst-match`` command. Each sub-command is a thin layer over the core modules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="kst-match: plan a community support hub's day.", no_args_is_help=True)
data_app = typer.Typer(help="The day's input data: generate a day, check input files.")
network_app = typer.Typer(help="Street networks for travel times.")
app.add_typer(data_app, name="data")
app.add_typer(network_app, name="network")


@data_app.command("check")
def data_check(
    directory: Annotated[
        Path, typer.Argument(help="Folder with needs, volunteers and optionally partners, sites.")
    ],
    date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Read only the needs of this date."),
    ] = None,
) -> None:
    """Check a day's input files: list every bad row (file, row, field, reason); exit 1 if any."""
    from kst_match.inputs import print_report

    ok = print_report(directory, date.date() if date else None)
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
