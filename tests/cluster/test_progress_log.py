"""The clustering says how far it is: one log line per partition (the Airflow task's log)."""
from __future__ import annotations

import logging
import re

from data_platform.cluster.partition import cluster_frame


def test_one_progress_line_per_partition(make_selection, caplog):
    rows = [{"identifiant_unique": f"{src}_{dep}", "source": src, "nom_norm": "garage martin",
             "adresse_norm": "3 avenue foch", "ville_norm": "lyon", "code_postal_norm": "69002", "departement": dep}
            for dep in ("69", "75", "") for src in ("cma", "refashion")]
    with caplog.at_level(logging.INFO, logger="data_platform.cluster.partition"):
        cluster_frame(make_selection(rows))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("partition ")]
    assert [re.match(r"partition (\d+/\d+) \((\w+)\), 2 actors, 1 clusters, [\d.]+ s \([\d.]+ s elapsed\)$", m)
            .groups() for m in lines] == [("1/3", "69"), ("2/3", "75"), ("3/3", "inconnu")]
