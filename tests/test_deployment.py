"""The deployment files: docker-compose validates offline; no secret is committed."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"POSTGRES_PASSWORD": "pw", "DJANGO_SECRET_KEY": "sk", "AIRFLOW_JWT_SECRET": "jwt"}


def _compose(extra, base=None):
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config"], env={**(os.environ if base is None else base), **extra},
                          capture_output=True, text=True)


def test_compose_file_is_valid_and_has_the_whole_stack():
    result = _compose(SECRETS)
    assert result.returncode == 0, result.stderr
    for service in ["postgres", "airflow-init", "airflow-api-server", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer", "admin"]:
        assert f"{service}:" in result.stdout


def test_compose_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = _compose({}, base=env)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in (result.stderr + result.stdout)


def _admin_env_of_compose() -> dict[str, str]:
    """The admin service's environment as docker-compose resolves it (with test secrets)."""
    import yaml

    result = _compose({**SECRETS, "DJANGO_SECRET_KEY": STRONG_KEY})
    assert result.returncode == 0, result.stderr
    env = yaml.safe_load(result.stdout)["services"]["admin"]["environment"]
    return {k: str(v) for k, v in env.items()}


STRONG_KEY = "compose-test-" + "Q7v!pL2#xR9@kM4$wZ8%nB3^tY6&jH1*cF5(gD0)sA-e"


def _django_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DP_SECURE", "DP_ENV"))}
    return subprocess.run([sys.executable, "-m", "django", "check", *args],
                          env={**base, **env, "DJANGO_SETTINGS_MODULE": "data_platform.webapp.settings"},
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_check_deploy_is_clean_in_the_compose_configuration():
    """Issue 13 item 14: `manage.py check --deploy` with the compose environment: no warning."""
    env = _admin_env_of_compose()
    assert env["DP_SECURE_COOKIES"] == "1"
    result = _django_check(env, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_admin_refuses_to_start_without_a_secret_key_outside_development():
    env = {k: v for k, v in _admin_env_of_compose().items() if k != "DJANGO_SECRET_KEY"}
    result = _django_check(env)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is not set" in result.stderr
    result = _django_check({**env, "DP_ENV": "development"})  # an explicit development environment may
    assert result.returncode == 0, result.stderr


def _config(extra: dict, *profiles: str) -> dict:
    """The compose file as docker-compose resolves it with these profiles (validated)."""
    import yaml

    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    args = [a for p in profiles for a in ("--profile", p)]
    result = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), *args, "config"],
                            env={**os.environ, **SECRETS, **extra}, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_default_profile_runs_tasks_with_the_local_executor():
    config = _config({"AIRFLOW_EXECUTOR": ""})
    assert config["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert config["services"]["redis"]["profiles"] == ["celery"]  # started only with --profile celery
    assert config["services"]["flower"]["profiles"] == ["flower"]


def test_the_celery_profile_has_a_broker_a_database_result_backend_and_two_workers():
    """Issue 14 item 1: Redis as broker, results in the Airflow database, two workers with the same
    image and environment as the other Airflow services, the same shared volumes (reports, logs)."""
    config = _config({"AIRFLOW_EXECUTOR": "CeleryExecutor"}, "celery", "flower")
    services = config["services"]
    scheduler = services["airflow-scheduler"]
    workers = {name: s for name, s in services.items() if "celery worker" in str(s.get("command"))}
    assert sorted(workers) == ["airflow-worker-1", "airflow-worker-2"]
    env = scheduler["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://platform:pw@postgres:5432/data_platform_airflow"
    hostnames = set()
    for name, worker in workers.items():
        assert worker["image"] == scheduler["image"] and worker["profiles"] == ["celery"]
        # the same environment as the scheduler's (the worker's name aside)
        assert {k: v for k, v in worker["environment"].items() if k != "CELERY_WORKER_NAME"} == env, name
        assert worker["volumes"] == scheduler["volumes"], name  # reports, dbt targets and logs shared
        assert set(worker["depends_on"]) == {"airflow-init", "redis"}
        hostnames.add(worker["command"].split("--celery-hostname ")[1].split("@")[0])
    assert hostnames == {"worker-1", "worker-2"}
    assert any(v.startswith("reports:/var/lib/data-platform") for v in scheduler["volumes"])
    assert services["redis"]["image"].startswith("redis:")
    assert "celery flower" in services["flower"]["command"]
