"""Why a run proposes nothing: one sentence from its counts (`suggestion_cohorte.compteurs`), for the
task log, the report and the cohort page."""
from __future__ import annotations

from collections.abc import Mapping


def _n(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def zero_suggestions_warning(counts: Mapping | None) -> str | None:
    """None when the run wrote suggestions (or is a dry run / an empty selection); else why it wrote none."""
    counts = counts or {}
    if counts.get("dry_run") or counts.get("empty") or _n(counts.get("suggestions")):
        return None
    clusters = _n(counts.get("clusters"))
    skipped = counts.get("skipped") or {}
    pending, rejected, = _n(skipped.get("pending")), _n(skipped.get("rejected"))
    if not clusters:
        return "0 suggestion écrite : aucun cluster trouvé (aucune paire au-dessus du seuil)."
    reasons = []
    if pending:
        reasons.append(f"{pending} déjà en attente de revue (mêmes membres, mêmes données)")
    if rejected:
        reasons.append(f"{rejected} déjà rejetés (mêmes membres, mêmes données)")
    other = clusters - pending - rejected
    if other > 0:
        reasons.append(f"{other} sans changement à proposer")
    return f"0 suggestion écrite : {clusters} clusters ignorés — " + ", ".join(reasons) + "."
