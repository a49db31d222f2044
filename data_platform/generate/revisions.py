"""Existing clusters and corrections in revision_acteur, as earlier runs and reviewers left them.

Some multi-record entities already have a parent (a revision row with no source, named
`parent_<entity_id>`, holding the place's data) and children (revision rows with only
identifiant_unique and parent_id). Three situations, each guaranteed at least once when the
population has enough multi-record entities:
- `complete`: every record of the entity is a child of its parent (a run only verifies them);
- `partial`: one record is still an orphan (a run adds it to the existing parent);
- `split`: the records are split between two parents (a run keeps one, deletes the other).
A few orphans also carry a human correction of their name (a revision row without parent).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.schema import BLANK_TEXT_COLUMNS, REVISION_COLUMNS

EXISTING_CLUSTER_P = 0.06
SCENARIOS = np.array(["complete", "partial", "split"], dtype=object)
SCENARIO_P = [0.5, 0.3, 0.2]
CORRECTION_P = 0.01


def _spaced_phone(n: str) -> str:
    return " ".join(n[i:i + 2] for i in range(0, len(n), 2))


def build_revisions(ent: pd.DataFrame, acteurs: pd.DataFrame, rng: np.random.Generator):
    """Returns (revisions, parent ground truth, scenario by entity_id); sets chosen records ACTIF."""
    size = ent["size"].to_numpy()
    eligible = size >= 2
    picked = eligible & (rng.random(len(ent)) < EXISTING_CLUSTER_P)
    picked[np.flatnonzero(eligible)[:3]] = True  # each situation at least once, even in small populations
    chosen = np.flatnonzero(picked)
    scenario = SCENARIOS[rng.choice(3, size=len(chosen), p=SCENARIO_P)]
    scenario[: min(3, len(chosen))] = SCENARIOS[: min(3, len(chosen))]  # the first three: one of each
    by_entity = pd.Series(scenario, index=ent["entity_id"].to_numpy()[chosen], dtype=object)

    # records of the chosen entities, ranked inside their entity by identifiant_unique
    rec = acteurs[["identifiant_unique", "entity_id"]]
    rec_scenario = rec["entity_id"].map(by_entity)
    members = rec[rec_scenario.notna()].sort_values(["entity_id", "identifiant_unique"])
    acteurs.loc[members.index, "statut"] = "ACTIF"
    m_scen = rec_scenario[members.index].to_numpy(dtype=object)
    rank = members.groupby("entity_id", sort=False).cumcount().to_numpy()
    k = members["entity_id"].map(ent.set_index("entity_id")["size"]).to_numpy()
    parent_a = "parent_" + members["entity_id"].to_numpy(dtype=object)
    parent = np.where(m_scen == "complete", parent_a,
                      np.where(m_scen == "partial", np.where(rank < k - 1, parent_a, None),
                               np.where(rank < (k + 1) // 2, parent_a, parent_a + "_b")))
    children = pd.DataFrame({"identifiant_unique": members["identifiant_unique"].to_numpy(), "parent_id": parent})
    children = children[children["parent_id"].notna()]

    # parents: the entity's true data, no source, ACTIF
    e = ent.set_index("entity_id").loc[by_entity.index]
    split = by_entity.to_numpy() == "split"
    pe = pd.concat([e, e[split]])
    pid = np.concatenate([("parent_" + e.index).to_numpy(dtype=object),
                          ("parent_" + e.index[split] + "_b").to_numpy(dtype=object)])
    parents = pd.DataFrame({
        "identifiant_unique": pid, "parent_id": None, "source": None, "acteur_type": pe["acteur_type"].to_numpy(),
        "statut": "ACTIF", "identifiant_externe": "", "nom": pe["nom"].to_numpy(),
        "nom_commercial": pe["nom_commercial"].to_numpy(), "siren": pe["siret"].str[:9].to_numpy(),
        "siret": pe["siret"].to_numpy(), "adresse": pe["adresse"].to_numpy(),
        "adresse_complement": pe["adresse_complement"].to_numpy(), "code_postal": pe["code_postal"].to_numpy(),
        "ville": pe["ville"].to_numpy(), "latitude": pe["latitude"].round(6).to_numpy(),
        "longitude": pe["longitude"].round(6).to_numpy(),
        "telephone": [_spaced_phone(t) for t in pe["telephone"]], "email": pe["email"].to_numpy(),
        "url": pe["url"].to_numpy(),
    })
    parent_truth = pd.DataFrame({"identifiant_unique": pid, "entity_id": pe.index.to_numpy(dtype=object),
                                 "kind": pe["kind"].to_numpy(dtype=object)})

    # corrections: an orphan's name fixed by a human to the place's true name
    free = acteurs.index[rec_scenario.isna().to_numpy() & (acteurs["statut"] == "ACTIF").to_numpy()]
    fixed = free[rng.random(len(free)) < CORRECTION_P]
    corrections = pd.DataFrame({
        "identifiant_unique": acteurs.loc[fixed, "identifiant_unique"].to_numpy(),
        "nom": acteurs.loc[fixed, "entity_id"].map(ent.set_index("entity_id")["nom"]).to_numpy(),
    })
    revisions = pd.concat([parents, children, corrections], ignore_index=True)
    for c in REVISION_COLUMNS:
        if c not in revisions:
            revisions[c] = None
    revisions[BLANK_TEXT_COLUMNS] = revisions[BLANK_TEXT_COLUMNS].astype(object).fillna("")
    return revisions[REVISION_COLUMNS], parent_truth, by_entity
