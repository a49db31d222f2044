"""Typed change records of a cluster (SPEC §3.1 step 6) and their loading from `dbt.cluster_changes`."""
from data_platform.changes.load import (
    ChangeSetError,
    build_changes,
    load_changes,
    parent_of,
    validate_cluster,
)
from data_platform.changes.records import (
    CHANGE_CLASSES,
    CHANGE_ORDER,
    CHANGE_TYPES,
    COPYABLE_FIELDS,
    CREATE,
    DELETE,
    IDENTITY_FIELDS,
    KEEP,
    UPDATE,
    VERIFY,
    Change,
    ChangeValidationError,
    CreateAsParent,
    DeleteAsParent,
    KeepAsParent,
    UpdateParentId,
    VerifyInRevision,
    change_from_json,
    make_change,
)

__all__ = [
    "CHANGE_CLASSES", "CHANGE_ORDER", "CHANGE_TYPES", "COPYABLE_FIELDS", "CREATE", "DELETE", "IDENTITY_FIELDS",
    "KEEP", "UPDATE", "VERIFY", "Change", "ChangeSetError", "ChangeValidationError", "CreateAsParent",
    "DeleteAsParent", "KeepAsParent", "UpdateParentId", "VerifyInRevision", "build_changes",
    "change_from_json", "load_changes", "make_change", "parent_of", "validate_cluster",
]
