"""The deployment files: docker-compose validates offline; no secret is committed."""
import os
import shutil
import subprocess
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
