"""A reviewer in headless Chromium: logs in, filters, opens a suggestion, approves it; the apply
step runs (what the apply_suggestions DAG's tasks call) and the parent appears on the map layer.

Skipped when selenium, chromium or chromedriver is missing (`apt-get install chromium chromium-driver`).
"""
from __future__ import annotations

import shutil
import tempfile
import threading

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover
    HAVE_SELENIUM = False

pytestmark = pytest.mark.skipif(
    not (HAVE_SELENIUM and CHROMIUM and CHROMEDRIVER),
    reason="browser test needs selenium, chromium and chromedriver (apt-get install chromium chromium-driver)")

PASSWORD = "browser-test-password"


@pytest.fixture
def live_admin(db):
    """The admin served by a threaded WSGI server on 127.0.0.1 (random port), static files included."""
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
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_reviewer_approves_in_browser_and_parent_is_displayed(db, live_admin, browser):
    from django.contrib.auth.models import Group, User
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from data_platform.reference import REVIEWER_GROUP
    from data_platform.suggestions import sample
    from data_platform.suggestions.apply import (
        apply_approved,
        displayed_models_exist,
        rebuild_displayed_layer,
    )

    # data: two clusters, one strong (the one approved), one weak
    strong = [sample.acteur("ecosystem_br1", "Repair Café Belleville", source="ecosystem", adresse="3 rue Ramponeau"),
              sample.acteur("refashion_br2", "Repair Cafe Belleville", source="refashion", adresse="3 r Ramponeau")]
    weak = [sample.acteur("cma_br3", "Cordonnerie du Marché", source="cma"),
            sample.acteur("sinoe_br4", "Déchèterie Paris 20", source="sinoe")]
    sample.insert_acteurs(db, strong + weak)
    cid = sample.create_cohorte(db, "manual__browser")
    spec_strong = sample.cluster_spec(strong, score=0.96, departement="75")
    sid, sid_weak = sample.add_suggestions(db, cid, [spec_strong, sample.cluster_spec(weak, score=0.76)])
    db.commit()
    User.objects.filter(username="relecteur").delete()
    user = User.objects.create_user("relecteur", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=REVIEWER_GROUP))

    wait = WebDriverWait(browser, 30)
    browser.get(live_admin + "/admin/suggestions/suggestion/")
    wait.until(ec.presence_of_element_located((By.ID, "id_username"))).send_keys("relecteur")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "result_list")))
    assert "Repair Café Belleville" in browser.page_source and "Cordonnerie" in browser.page_source

    # filter: score ≥ 0.9 → only the strong cluster
    browser.find_element(By.CSS_SELECTOR, "a[href*='score_band=ge90']").click()
    wait.until(ec.url_contains("score_band=ge90"))
    assert "Cordonnerie" not in browser.page_source

    # open it: side by side, then approve
    browser.find_element(By.CSS_SELECTOR, f"#result_list a[href*='/suggestion/{sid}/change/']").click()
    wait.until(ec.presence_of_element_located((By.ID, "cluster-table")))
    assert "refashion_br2" in browser.find_element(By.ID, "cluster-table").text.lower()  # headers in capitals (CSS)
    browser.find_element(By.ID, "btn-approuver").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "statut-suggestion"), "Approuvée"))
    assert "approuvée" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert not browser.find_elements(By.ID, "btn-approuver")

    # the apply step, as the apply_suggestions DAG runs it
    counts = apply_approved()
    assert counts["applied"] == 1
    parent_id = spec_strong["contexte"]["parent"]["identifiant_unique"]
    with db.cursor() as cur:
        cur.execute("select statut from suggestion where id = any(%s) order by id", ([sid, sid_weak],))
        assert [r[0] for r in cur.fetchall()] == ["applied", "to_review"]
    db.commit()
    # the reviewer sees it applied, and can no longer decide on it
    browser.get(live_admin + f"/admin/suggestions/suggestion/{sid}/change/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "statut-suggestion"), "Appliquée"))
    assert not browser.find_elements(By.ID, "btn-approuver")
    if not displayed_models_exist():
        pytest.skip("dbt models vue_acteur/displayed_acteur absent: displayed layer not checked")
    assert rebuild_displayed_layer()["rebuilt"]
    with db.cursor() as cur:
        cur.execute("select identifiant_unique, nom from dbt.displayed_acteur where identifiant_unique = any(%s)",
                    ([parent_id, "ecosystem_br1", "refashion_br2"],))
        shown = cur.fetchall()
    db.commit()
    assert shown == [(parent_id, "Repair Café Belleville")]
