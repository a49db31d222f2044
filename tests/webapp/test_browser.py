"""A reviewer in headless Chromium: logs in, filters, opens a suggestion, approves it; the apply
step runs (what the apply_suggestions DAG's tasks call) and the parent appears on the map layer.

Skipped when selenium, chromium or chromedriver is missing (`apt-get install chromium chromium-driver`).
"""
from __future__ import annotations

import pytest

from tests.webapp.browser_helpers import PASSWORD, browser, live_admin, log_in, make_reviewer, needs_browser  # noqa: F401

pytestmark = needs_browser


def test_reviewer_approves_in_browser_and_parent_is_displayed(db, live_admin, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

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
    make_reviewer("relecteur", PASSWORD)

    wait = WebDriverWait(browser, 30)
    browser.get(live_admin + "/admin/suggestions/suggestion/")
    log_in(browser, wait, "relecteur", PASSWORD)
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
