"""Database access: connections, bulk COPY, the embedded PostgreSQL server."""
from data_platform.db.connection import connect, copy_rows, copy_from_csv, fetch_df, execute  # noqa: F401
