"""A data engineer in headless Chromium, against a real `data-platform airflow standalone` (bare PATH)
and the review admin: triggers `cluster_acteurs` from Airflow's form with its defaults, waits for the
run, opens the DAG run's "Cohorte (revue)" tab (the admin, framed by Airflow's UI), logs in there,
follows the cohort page's link to the run report, and checks the report's charts.

Screenshots (PNG) go to $DP_SCREENSHOT_DIR (default: the test's tmp dir). Skipped without selenium,
chromium and chromedriver. Slow (Airflow start-up and one DAG run on 1,500 generated actors: a few
minutes on a loaded 2-core machine); the waits are bounds, never assertions on time.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.dags.test_airflow_standalone import DATA_PLATFORM, _free_port, _healthy, bare_env
from tests.webapp.test_browser import CHROMEDRIVER, CHROMIUM, HAVE_SELENIUM, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    not (HAVE_SELENIUM and CHROMIUM and CHROMEDRIVER and DATA_PLATFORM.exists()),
    reason="needs selenium, chromium, chromedriver and the installed data-platform script")

PASSWORD = "airflow-browser-password"
RUN_TIMEOUT = 900
STARTUP_TIMEOUT = 300


def _api(base: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    req = urllib.request.Request(base + "/api/v2" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def _wait(what: str, predicate, timeout: float, every: float = 2.0, diagnostics=lambda: ""):
    """Poll `predicate` until it is truthy; a request that times out (a loaded API server) is a "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except TimeoutError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{diagnostics()}")
        time.sleep(every)


@pytest.fixture
def screens(tmp_path) -> Path:
    out = Path(os.environ.get("DP_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def ports(monkeypatch):
    """Airflow's port is known before the admin starts: the admin lets that origin frame it."""
    api = _free_port()
    monkeypatch.setenv("DP_AIRFLOW_URL", f"http://127.0.0.1:{api}")
    return {"api": api, "worker_logs": _free_port(), "trigger_logs": _free_port()}


@pytest.fixture
def admin_url(db, ports):
    from data_platform.webapp.setup import setup_django

    setup_django()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        from django.db import connections

        connections.close_all()


@pytest.fixture
def airflow_url(airflow_env, admin_url, ports, tmp_path):
    """`data-platform airflow standalone` from a bare PATH, every user an admin (no Airflow login)."""
    env = bare_env(AIRFLOW__API__PORT=str(ports["api"]), AIRFLOW__API__HOST="127.0.0.1",
                   AIRFLOW__API__WORKERS="1",
                   AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(ports["worker_logs"]),
                   AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(ports["trigger_logs"]),
                   AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
                   DP_ADMIN_URL=admin_url + "/admin/", DP_AIRFLOW_URL=f"http://127.0.0.1:{ports['api']}",
                   DP_AIRFLOW_STOP_TIMEOUT="20", PYTHONUNBUFFERED="1")
    log = tmp_path / "standalone.log"

    def tail() -> str:
        return log.read_text(errors="replace")[-4000:]

    with open(log, "wb") as out:
        proc = subprocess.Popen([str(DATA_PLATFORM), "airflow", "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait("Airflow's API server", lambda: proc.poll() is not None or _healthy(ports["api"]),
                  STARTUP_TIMEOUT, diagnostics=tail)
            assert proc.poll() is None, tail()
            yield f"http://127.0.0.1:{ports['api']}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _dag_ready(base: str) -> bool:
    try:
        return _api(base, "/dags/cluster_acteurs").get("dag_id") == "cluster_acteurs"
    except (OSError, TimeoutError):
        return False


def test_trigger_from_the_form_then_cohort_and_report(db, airflow_url, admin_url, browser, screens):  # noqa: F811
    from django.contrib.auth.models import User
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate

    load_database(db, generate(1500, 11))
    db.commit()
    User.objects.filter(username="ingenieur").delete()
    User.objects.create_superuser("ingenieur", password=PASSWORD, email="")

    _wait("the DAG parsed by the dag-processor", lambda: _dag_ready(airflow_url), STARTUP_TIMEOUT)
    _api(airflow_url, "/dags/cluster_acteurs", "PATCH", {"is_paused": False})
    wait = WebDriverWait(browser, 120)

    # 1. the trigger form, submitted with its defaults
    browser.get(airflow_url + "/dags/cluster_acteurs")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=trigger-dag-button]"))).click()
    submit = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=trigger-dag-submit]")))
    browser.save_screenshot(str(screens / "airflowux-1-trigger-form.png"))

    def runs() -> dict:
        return {r["dag_run_id"]: r for r in _api(airflow_url, "/dags/cluster_acteurs/dagRuns?limit=100")["dag_runs"]}

    before = set(runs())  # the metadata database may hold runs of earlier sessions
    submit.click()
    new = _wait("a DAG run created by the form", lambda: [r for k, r in runs().items() if k not in before], 120)
    assert len(new) == 1
    run = new[0]
    assert run["run_type"] == "manual" and run["conf"]["threshold"] == 0.75  # the form's defaults
    run_id = run["dag_run_id"]

    def finished():
        state = _api(airflow_url, f"/dags/cluster_acteurs/dagRuns/{quote(run_id, safe='')}")["state"]
        return state if state in ("success", "failed") else None

    def task_states():
        try:
            tis = _api(airflow_url, f"/dags/cluster_acteurs/dagRuns/{quote(run_id, safe='')}/taskInstances")
        except OSError as err:
            return f"(task states unavailable: {err})"
        return json.dumps({t["task_id"]: t["state"] for t in tis["task_instances"]})

    assert _wait("the DAG run", finished, RUN_TIMEOUT, every=5, diagnostics=task_states) == "success", task_states()
    with db.cursor() as cur:
        cur.execute("select id, compteurs from suggestion_cohorte where run_id = %s", (run_id,))
        cohort_id, counts = cur.fetchone()
    db.commit()
    assert counts["suggestions"] > 0

    # 2. the DAG run shows the tabs; the cohort tab frames the admin (login, then the cohort page)
    run_page = f"{airflow_url}/dags/cluster_acteurs/runs/{quote(run_id, safe='')}"
    browser.get(run_page)
    wait.until(ec.presence_of_element_located((By.XPATH, "//*[normalize-space()='Cohorte (revue)']")))
    assert browser.find_elements(By.XPATH, "//*[normalize-space()='Rapport du run']")
    browser.get(run_page + "/plugin/cohorte-revue")
    frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
    assert "suggestioncohorte/par-run/" in frame.get_attribute("src") and quote(run_id, safe="") in frame.get_attribute("src")
    browser.switch_to.frame(frame)
    wait.until(ec.presence_of_element_located((By.ID, "id_username"))).send_keys("ingenieur")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    link = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.lien-rapport")))
    def here() -> str:  # the current frame's URL (current_url is the top document's)
        return browser.execute_script("return window.location.href")

    assert f"/suggestioncohorte/{cohort_id}/change/" in here()
    browser.switch_to.default_content()
    browser.save_screenshot(str(screens / "airflowux-2-dag-run-cohort-tab.png"))

    # 3. from the cohort page to the run report (inside the tab too)
    browser.switch_to.frame(frame)
    link.click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#fig-scores .main-svg")))
    assert "rapports/run/" in here()
    for fig in ("fig-scores", "fig-map", "fig-names", "fig-pr"):  # the generator's ground truth: a PR curve
        assert browser.find_elements(By.CSS_SELECTOR, f"#{fig} .main-svg"), fig
    report_url = here()
    browser.switch_to.default_content()
    browser.save_screenshot(str(screens / "airflowux-3-report-in-tab.png"))

    # the report on its own page (the cohort list's link), whole
    browser.get(report_url)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#fig-map .main-svg")))
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 100, 8000))
    browser.save_screenshot(str(screens / "airflowux-4-report.png"))
    browser.set_window_size(1400, 1000)
