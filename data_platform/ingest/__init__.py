"""Nightly ingestion of ADEME's data-fair portals into `acteur` (issue 5).

config (sources/*.yml) -> client (data-fair API) -> cleaning -> staging (COPY) -> dbt diff -> apply.
"""
