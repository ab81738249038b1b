"""The Models tab: each role's model and whether it can be loaded (:func:`genlab.models.status.role_statuses`).

The columns are :class:`~genlab.models.status.RoleStatus`'s fields, so what ``genlab models``
learns to report (a backend, a server) shows here too.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.models.status import RoleStatus, role_statuses
from genlab.ui.errors import shows_errors


def _columns() -> list[str]:

    return list(RoleStatus.model_fields)


@shows_errors
def statuses() -> list[list[Any]]:
    """One row per role (``/models``): the configured model, whether it is available, and where from or why not."""
    columns = _columns()
    rows = [row.model_dump() for row in role_statuses()]
    return [[_cell(row[c]) for c in columns] for row in rows]


def _cell(value: Any) -> Any:
    return "yes" if value is True else "no" if value is False else value


def build() -> dict[str, Any]:
    """Lay out the Models tab inside the current ``gr.Blocks``; it fills itself when the page loads."""
    table = gr.Dataframe(headers=_columns(), label="Models by role", interactive=False, wrap=True, elem_id="models-table")
    refresh = gr.Button("Refresh")
    refresh.click(statuses, outputs=table, api_name="models")
    return {"table": table, "load": statuses}
