# One image for Airflow (api-server, scheduler, dag-processor, triggerer) and the review admin.
FROM python:3.11-slim
ENV UV_COMPILE_BYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1 \
    AIRFLOW_HOME=/opt/airflow AIRFLOW__CORE__DAGS_FOLDER=/app/dags AIRFLOW__CORE__PLUGINS_FOLDER=/app/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False DP_LOCAL_DIR=/var/lib/data-platform
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.8
COPY requirements.lock pyproject.toml README.md ./
RUN uv pip install --system --no-cache -r requirements.lock
COPY . .
RUN uv pip install --system --no-cache --no-deps -e . && mkdir -p /var/lib/data-platform /opt/airflow
