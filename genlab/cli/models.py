"""Foundation commands: ``models``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from genlab.cli.app import app
from genlab.cli.common import JsonOption, print_json, stdout_console
from genlab.errors import InvalidInputError
from genlab.terminal import safe_text


@app.command("models")
def models_command(
    roles: Annotated[list[str] | None, typer.Argument(help="Roles for --download (default: every role but embedding).")] = None,
    load: Annotated[
        list[str] | None,
        typer.Option("--load", help="Load the model of this role now (repeatable), e.g. to check it or fill the cache."),
    ] = None,
    download: Annotated[
        bool, typer.Option("--download", help="Download the roles' models into the Hugging Face cache (sizes first).")
    ] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit with code 2 when a role's server does not answer.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Show each role's backend, model and where it points, and whether it can be used."""
    if roles and not download:
        raise InvalidInputError("ROLE arguments go with --download (e.g. `genlab models --download image music`)")
    if download:
        _download(roles or None, json_output)
        return
    if load:
        _load(load, json_output)
        return
    from genlab.models.status import reranker_status, role_statuses

    rows = role_statuses()
    reranker = reranker_status()  # optional and off by default: shown apart from the roles
    down = [r for r in rows if r.backend != "local" and not r.available]
    if json_output:
        print_json({"roles": [r.model_dump() for r in rows], "reranker": reranker.model_dump()})
    else:
        _print_rows([*rows, reranker])
    if check and down:
        first = down[0]
        raise InvalidInputError(f"the {first.role} model's server does not answer at {first.where} ({first.detail})")


def _load(roles: list[str], json_output: bool) -> None:
    from genlab.models.status import load_roles

    loaded = load_roles(roles)
    if json_output:
        print_json({"loaded": [m.model_dump() for m in loaded]})
        return
    for m in loaded:
        print(f"{m.role}: loaded {m.source} ({m.kind}, {m.device}, {m.dtype}, {m.bytes / 1e6:.1f} MB) in {m.load_seconds:.1f} s")


def _download(roles: list[str] | None, json_output: bool) -> None:
    from genlab.models.download import add_sizes, fetch, human_size, plan_downloads

    plan = plan_downloads(roles)
    if not plan:
        print("nothing to download: the roles' models are folders, GGUF files or servers")
        return
    add_sizes(plan)
    total = sum(item.bytes or 0 for item in plan)
    for item in plan:
        sys.stderr.write(f"{', '.join(item.roles)}: {item.model} ({human_size(item.bytes)})\n")
    sys.stderr.write(f"downloading {len(plan)} model(s), {human_size(total)} in all, into the Hugging Face cache\n")
    fetch(plan)
    if json_output:
        print_json({"downloaded": [item.model_dump() for item in plan]})
        return
    for item in plan:
        print(f"{item.model}: {item.folder}")


def _print_rows(rows: list[Any]) -> None:
    console = stdout_console()
    if not console.is_terminal:
        # In a pipe, one line per role and one per fix: nothing is cut, whatever the width.
        for r in rows:
            state = "yes" if r.available else "no"
            print(safe_text(f"{r.role}\t{r.backend}\t{r.model}\t{state}\t{r.where}\t{r.detail}"))
            if r.fix:
                print(safe_text(f"\tfix: {r.fix}"))
        return
    from rich.table import Table

    table = Table("role", "backend", "model", "ok", "where / why not")
    for r in rows:
        why = r.detail if r.available else f"{r.detail}\nfix: {r.fix}" if r.fix else r.detail
        where = f"{r.where}\n{why}" if r.where not in (r.model,) else why
        table.add_row(r.role, r.backend, safe_text(r.model), "yes" if r.available else "no", safe_text(where))
    for column in table.columns:
        column.overflow = "fold"  # wrap long ids and paths, never cut them with an ellipsis
    console.print(table)
