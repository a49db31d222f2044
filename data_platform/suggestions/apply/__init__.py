"""Apply approved suggestions to the revision layer (SPEC §3.1 step 6, §3.2).

- `statements`: the SQL, one set-based statement per change type, the claim and the status update;
- `changes`: a suggestion's changes read as `data_platform.changes.records`, grouped by type, applied;
- `runner`: the claim (`FOR UPDATE SKIP LOCKED`, one transaction per suggestion), stale / failed
  outcomes, recovery and the loop (`apply_approved`), then the displayed layer's rebuild.
"""
from data_platform.suggestions.apply.changes import ApplyError, apply_changes, group_changes
from data_platform.suggestions.apply.runner import (
    apply_approved,
    apply_one,
    displayed_models_exist,
    rebuild_displayed_layer,
    recover_interrupted,
)

__all__ = [
    "ApplyError", "apply_approved", "apply_changes", "apply_one", "displayed_models_exist", "group_changes",
    "rebuild_displayed_layer", "recover_interrupted",
]
