"""Typed change records of a cluster (SPEC §3.1 step 6) and their loading from `dbt.cluster_changes`."""
from data_platform.changes import load as _load
from data_platform.changes import records as _records
from data_platform.changes.load import *  # the package exports its two modules' __all__
from data_platform.changes.records import *

__all__ = [*_records.__all__, *_load.__all__]
