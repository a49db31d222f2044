"""Airflow assets shared by the DAGs (ingestion produces, clustering consumes).

The asset names the platform's `acteur` table, not a server: the same DAGs run against the embedded
server, DATABASE_URL's or the deployment's, and an event means "acteur changed" on whichever it is.
"""
from airflow.sdk import Asset

ACTEURS_INGESTED = Asset(name="acteurs_ingested", uri="data-platform://acteur")
