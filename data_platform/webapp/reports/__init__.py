"""The run reports, served by the admin: rendered on demand from the database for a run id
(`data_platform.report`), login-protected, with one shared plotly.js; links to them from the cohort
pages, the Airflow DAG run (plugins/review_admin.py) and the report task's log."""
