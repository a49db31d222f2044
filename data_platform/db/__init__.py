"""Database access: connections, bulk COPY, the embedded PostgreSQL server."""
from data_platform.db.connection import connect, copy_from_csv, copy_rows, execute, fetch_df  # noqa: F401
