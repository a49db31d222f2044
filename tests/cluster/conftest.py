"""Builders of selection-shaped frames (the columns of dbt.cluster_selection, docs/CONTRACTS.md)."""
from __future__ import annotations

import pandas as pd
import pytest

from data_platform.cluster.partition import SELECTION_COLUMNS


def selection_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows with only the given fields; every other column '' (est_parent 'f', departement '75')."""
    defaults = {c: "" for c in SELECTION_COLUMNS}
    defaults.update({"est_parent": "f", "nombre_enfants": "0", "departement": "75", "acteur_type": "commerce"})
    out = []
    for r in rows:
        row = dict(defaults)
        row.update({k: ("" if v is None else str(v)) for k, v in r.items()})
        out.append(row)
    return pd.DataFrame(out, columns=SELECTION_COLUMNS)


@pytest.fixture
def make_selection():
    return selection_frame
