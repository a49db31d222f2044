"""Postal-code faults of real feeds (SPEC §4) on a generated population, for the national channel's
benchmark (bench/bench_national.py): a blank code, a typo that moves the actor to another
département, a lost leading zero, a CEDEX suffix, "n/a". Coordinates, names and addresses are kept.
Deterministic for a seed; vectorized."""
from __future__ import annotations

import numpy as np
import pandas as pd

FAULT_KINDS = ["blank", "typo_departement", "zero_lost", "cedex", "na"]
DEFAULT_RATE = 0.12
# metropolitan prefixes a typo can land on (2A/2B are written 20)
_PREFIXES = np.array([f"{d:02d}" for d in range(1, 96) if d != 20], dtype=object)


def postal_code_faults(acteurs: pd.DataFrame, rate: float = DEFAULT_RATE, seed: int = 0
                       ) -> tuple[pd.DataFrame, pd.Series]:
    """A copy of `acteurs` with `rate` of its rows given one postal-code fault each (kinds drawn
    uniformly; a lost zero needs a code starting with 0, else the row gets a typo), and the fault kind
    per row ('' = untouched)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1] (got {rate})")
    rng = np.random.default_rng(seed)
    out = acteurs.copy()
    cp = out["code_postal"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    n = len(out)
    hit = np.flatnonzero((rng.random(n) < rate) & (pd.Series(cp).str.fullmatch(r"\d{5}").to_numpy()))
    kind = np.array(FAULT_KINDS, dtype=object)[rng.integers(0, len(FAULT_KINDS), len(hit))]
    kind = np.where((kind == "zero_lost") & ~pd.Series(cp[hit]).str.startswith("0").to_numpy(),
                    "typo_departement", kind)
    code = pd.Series(cp[hit])
    prefix = _PREFIXES[rng.integers(0, len(_PREFIXES), len(hit))]
    same = prefix == code.str[:2].to_numpy()
    prefix[same] = np.where(code.str[:2].to_numpy()[same] == "75", "13", "75")
    faulted = np.select(
        [kind == "blank", kind == "typo_departement", kind == "zero_lost", kind == "cedex", kind == "na"],
        [np.full(len(hit), "", dtype=object), (pd.Series(prefix) + code.str[2:]).to_numpy(dtype=object),
         code.str[1:].to_numpy(dtype=object), (code + " CEDEX").to_numpy(dtype=object),
         np.full(len(hit), "n/a", dtype=object)], default=code.to_numpy(dtype=object))
    cp[hit] = faulted
    out["code_postal"] = cp
    kinds = np.full(n, "", dtype=object)
    kinds[hit] = kind
    return out, pd.Series(kinds, index=out.index, name="fault")
