"""Foundation commands: ``models``."""

from __future__ import annotations

from typing import Annotated

import typer

from genlab.cli.app import app
from genlab.cli.common import JsonOption, print_json, stdout_console


@app.command("models")
def models_command(
    load: Annotated[
        list[str] | None,
        typer.Option("--load", help="Load the model of this role now (repeatable), e.g. to check it or fill the cache."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show the model configured for each role and whether it is available offline."""
    from genlab.models.status import load_roles, reranker_status, role_statuses

    if load:
        loaded = load_roles(load)
        if json_output:
            print_json({"loaded": [m.model_dump() for m in loaded]})
        else:
            for m in loaded:
                print(f"{m.role}: loaded {m.source} ({m.kind}, {m.device}, {m.dtype}, {m.bytes / 1e6:.1f} MB) in {m.load_seconds:.1f} s")
        return
    rows = role_statuses()
    reranker = reranker_status()
    if json_output:
        print_json({"roles": [r.model_dump() for r in rows], "reranker": reranker.model_dump()})
        return
    from rich.table import Table

    table = Table("role", "model", "available", "where / why not")
    for r in [*rows, reranker]:
        table.add_row(r.role, r.model, "yes" if r.available else "no", r.detail)
    stdout_console().print(table)

