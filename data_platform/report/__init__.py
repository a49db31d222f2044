"""Per-run HTML report of a clustering run."""
from data_platform.report.run_report import UnknownRunError, default_path, safe_run_id, write_report

__all__ = ["UnknownRunError", "default_path", "safe_run_id", "write_report"]
