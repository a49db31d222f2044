"""One call that draws a whole population: records, existing clusters, ground truth."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_platform.generate.entities import build_entities
from data_platform.generate.geography import load_geography
from data_platform.generate.records import build_records
from data_platform.generate.revisions import build_revisions


@dataclass
class Population:
    acteurs: pd.DataFrame       # ACTEUR_COLUMNS + entity_id, kind
    revisions: pd.DataFrame     # REVISION_COLUMNS: parents, children, corrections
    ground_truth: pd.DataFrame  # identifiant_unique, entity_id, kind (records and parents)
    entities: pd.DataFrame      # one row per place (entity_id, kind, size, true values)
    scenarios: pd.Series        # entity_id -> complete / partial / split, for entities with a parent

    def summary(self) -> dict:
        sizes = self.entities["size"]
        return {
            "actors": len(self.acteurs), "entities": len(self.entities),
            "single_record_entities": round(float((sizes == 1).mean()), 3),
            "entities_by_size": {str(k): int(v) for k, v in sizes.clip(upper=5).value_counts().sort_index().items()},
            "parents": int(self.revisions["identifiant_unique"].str.startswith("parent_").sum()),
            "children": int(self.revisions["parent_id"].notna().sum()),
            "existing_clusters": {str(k): int(v) for k, v in self.scenarios.value_counts().sort_index().items()},
            "statut": {str(k): int(v) for k, v in self.acteurs["statut"].value_counts().sort_index().items()},
        }


def generate(n_actors: int, seed: int) -> Population:
    if n_actors < 1:
        raise ValueError(f"--actors must be at least 1 (got {n_actors})")
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer (got {seed})")
    rng = np.random.default_rng(seed)
    ent = build_entities(n_actors, rng, load_geography(), seed)
    acteurs = build_records(ent, rng, seed)
    revisions, parent_truth, scenarios = build_revisions(ent, acteurs, rng)
    truth = pd.concat([acteurs[["identifiant_unique", "entity_id", "kind"]], parent_truth], ignore_index=True)
    return Population(acteurs=acteurs, revisions=revisions, ground_truth=truth, entities=ent, scenarios=scenarios)
