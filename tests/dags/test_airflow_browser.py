"""The whole flow in headless Chromium (issue 10), against a real `data-platform airflow standalone` (bare
PATH) and the review admin: a data engineer triggers `cluster_acteurs` from Airflow's form with its defaults,
waits for the run, opens the DAG run's "Cohorte (revue)" tab (the admin, framed by Airflow's UI) and logs in
there as a reviewer; follows the cohort page's link to its suggestions and reviews three of them with the
keyboard only (a = approve and next, r + reason + Enter = reject and next, a again); the database holds
exactly those three decisions, by that reviewer; back on the cohort tab, follows the cohort page's link to
the run report and checks its charts. Prints the time per keyboard decision (mean, max).

Screenshots (PNG) of each step go to $DP_SCREENSHOT_DIR (default: the test's tmp dir): the form, the run,
the cohort page, each suggestion before its decision (and the reject dialog), the cohort page after the
review, the report. Skipped without selenium, chromium and chromedriver. Slow (Airflow start-up and one DAG
run on 1,500 generated actors: a few minutes on a loaded 2-core machine); the waits are bounds, never
assertions on time. The keyboard's other keys (j / k, u, ?) are tests/webapp/test_browser_keyboard.py.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from urllib.parse import quote

import pytest

from tests.dags.test_airflow_standalone import DATA_PLATFORM, _free_port, _healthy, bare_env
from tests.webapp.browser_helpers import (  # noqa: F401 (fixtures)
    PASSWORD,
    KeyboardReview,
    browser,
    log_in,
    make_reviewer,
    needs_browser,
    screens,
    screenshot,
    serve_admin,
)

pytestmark = [needs_browser, pytest.mark.skipif(not DATA_PLATFORM.exists(),
                                                reason="needs the installed data-platform script")]

REVIEWER = "relecteur"
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
def ports(monkeypatch):
    """Airflow's port is known before the admin starts: the admin lets that origin frame it."""
    api = _free_port()
    monkeypatch.setenv("DP_AIRFLOW_URL", f"http://127.0.0.1:{api}")
    return {"api": api, "worker_logs": _free_port(), "trigger_logs": _free_port()}


@pytest.fixture
def admin_url(db, ports):
    """The admin, started after `ports` told it Airflow's origin (the one allowed to frame it)."""
    with serve_admin() as url:
        yield url


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



def test_trigger_review_by_keyboard_and_report(db, airflow_url, admin_url, browser, screens):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate
    from data_platform.webapp.suggestions.models import Suggestion, SuggestionDecision

    load_database(db, generate(1500, 11))
    db.commit()
    make_reviewer(REVIEWER, PASSWORD)

    _wait("the DAG parsed by the dag-processor", lambda: _dag_ready(airflow_url), STARTUP_TIMEOUT)
    _api(airflow_url, "/dags/cluster_acteurs", "PATCH", {"is_paused": False})
    wait = WebDriverWait(browser, 120)

    def shot(name: str, whole_page: bool = False) -> None:
        screenshot(browser, screens / f"flow-{name}.png", whole_page)

    # 1. the trigger form, submitted with its defaults
    browser.get(airflow_url + "/dags/cluster_acteurs")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=trigger-dag-button]"))).click()
    submit = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid=trigger-dag-submit]")))
    shot("01-trigger-form")

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
    assert counts["suggestions"] >= 4  # three to decide on, and one to land on after the third

    # 2. the DAG run, with its two tabs
    run_page = f"{airflow_url}/dags/cluster_acteurs/runs/{quote(run_id, safe='')}"
    browser.get(run_page)
    wait.until(ec.presence_of_element_located((By.XPATH, "//*[normalize-space()='Cohorte (revue)']")))
    assert browser.find_elements(By.XPATH, "//*[normalize-space()='Rapport du run']")
    wait.until(ec.presence_of_element_located((By.XPATH, "//*[normalize-space()='Success']")))  # its state
    shot("02-dag-run")

    # 3. the cohort tab frames the admin: log in there (a reviewer), then the cohort page
    def cohort_tab():
        browser.switch_to.default_content()
        browser.get(run_page + "/plugin/cohorte-revue")
        frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
        src = frame.get_attribute("src")
        assert "suggestioncohorte/par-run/" in src and quote(run_id, safe="") in src
        browser.switch_to.frame(frame)

    review = KeyboardReview(browser, wait)  # its URLs are the frame's (current_url is the top document's)
    cohort_tab()
    log_in(browser, wait, REVIEWER, PASSWORD)
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.lien-rapport")))
    assert f"/suggestioncohorte/{cohort_id}/change/" in review.here()
    shot("03-cohort-page")

    # 4. the cohort page's link to its suggestions (score descending), the first one opened
    browser.find_element(By.XPATH, "//div[contains(@class, 'field-lien_suggestions')]//a").click()
    first = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#result_list a[href*='/suggestion/']")))
    assert f"cohorte__id__exact={cohort_id}" in review.here()
    first.click()
    wait.until(lambda d: review.current() is not None)
    review.on_page(review.current())
    assert f"1 / {counts['suggestions']}" in browser.find_element(By.ID, "position").text

    # 5. three decisions with the keyboard only, each landing on the list's next suggestion
    expected = {}
    for step, (decision, motif) in enumerate([("approve", None), ("reject", "autre_site"), ("approve", None)], 1):
        pk, following = review.current(), review.next_in_list()
        assert following is not None
        wait.until(ec.text_to_be_present_in_element((By.ID, "statut-suggestion"), "À revoir"))
        shot(f"{3 + step:02d}-suggestion-{step}")
        if decision == "approve":
            review.decide(["a"], following)
            assert f"Suggestion {pk} approuvée" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
        else:  # reason 2 of the dialog: « Même enseigne, autre établissement »
            review.reject(2, following, shot=lambda: shot("05b-reject-dialog"))
            assert f"Suggestion {pk} rejetée" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
        expected[pk] = (decision, motif)
    assert review.current() not in expected  # on the fourth suggestion, still to review

    decided = {d.suggestion_id: (d.decision, d.motif, d.username, d.annulee_le) for d in
               SuggestionDecision.objects.filter(suggestion__cohorte_id=cohort_id)}
    assert decided == {pk: (decision, motif, REVIEWER, None) for pk, (decision, motif) in expected.items()}
    statuts = dict(Suggestion.objects.filter(cohorte_id=cohort_id).values_list("pk", "statut"))
    after = {"approve": "approved", "reject": "rejected"}
    assert {pk: statuts[pk] for pk in expected} == {pk: after[d] for pk, (d, _) in expected.items()}
    assert {statuts[pk] for pk in statuts if pk not in expected} == {"to_review"}

    # 6. back on the cohort tab: the cohort page counts the decisions; its link to the run report
    cohort_tab()
    link = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.lien-rapport")))
    live = browser.find_element(By.CSS_SELECTOR, "div.field-compteurs_live")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", live)
    live = live.text
    assert "Approuvée : 2" in live and "Rejetée : 1" in live and f"À revoir : {len(statuts) - 3}" in live, live
    browser.switch_to.default_content()
    shot("07-cohort-after-review")
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe"))
    link.click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#fig-scores .main-svg")))
    assert "rapports/run/" in review.here()
    for fig in ("fig-scores", "fig-map", "fig-names", "fig-pr"):  # the generator's ground truth: a PR curve
        assert browser.find_elements(By.CSS_SELECTOR, f"#{fig} .main-svg"), fig
    report_url = review.here()
    browser.switch_to.default_content()
    shot("08-report-in-tab")

    # the report on its own page (the cohort list's link), whole
    browser.get(report_url)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#fig-map .main-svg")))
    shot("09-report", whole_page=True)
    print("\n" + review.summary("the cohort tab of Airflow's DAG run, the admin framed"))
