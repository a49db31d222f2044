"""Airflow assets shared by the DAGs (ingestion produces, clustering consumes)."""
from airflow.sdk import Asset

ACTEURS_INGESTED = Asset(name="acteurs_ingested", uri="postgres://localhost:5432/data_platform/public/acteur")
