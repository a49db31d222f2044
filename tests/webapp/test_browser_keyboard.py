"""A reviewer in headless Chromium reviews three suggestions with the keyboard only (issue 10 item 3):
a = approve and next, r + 1–6 + Enter = reject with a reason and next, j / k = next / previous, ? = help,
u = undo; then removes a member (mouse, confirmation) and checks that the lists fit 1,400 px. Prints the
time per decision (key press → next suggestion shown); asserts behaviour, never time. The joined flow
(Airflow's form → run → cohort → three keyboard decisions → report) is tests/dags/test_airflow_browser.py;
this one covers what that flow does not: the help, j / k, undo, remove-member, the lists' widths.

Screenshots of each step go to $DP_SCREENSHOT_DIR (default: the test's tmp dir). Skipped like
test_browser.py when selenium, chromium or chromedriver is missing.
"""
from __future__ import annotations

from tests.webapp.browser_helpers import (  # noqa: F401 (fixtures)
    PASSWORD,
    KeyboardReview,
    browser,
    live_admin,
    log_in,
    make_reviewer,
    needs_browser,
    screens,
    screenshot,
)

pytestmark = needs_browser


def test_review_three_suggestions_with_the_keyboard(db, data, live_admin, browser, screens):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from data_platform.webapp.suggestions.models import Suggestion, SuggestionDecision

    ids = data["ids"]  # scores 0.95, 0.85, 0.78, 0.91: the list (score descending) is ids 0, 3, 1, 2
    make_reviewer("relecteur", PASSWORD)
    wait = WebDriverWait(browser, 30)
    review = KeyboardReview(browser, wait)
    press, on_page = review.press, review.on_page

    def shot(name):  # the whole page, 1,400 px wide
        screenshot(browser, screens / f"review-{name}.png", whole_page=True)

    browser.get(live_admin + "/admin/suggestions/suggestion/?statut__exact=to_review")
    log_in(browser, wait, "relecteur", PASSWORD)
    wait.until(ec.presence_of_element_located((By.ID, "result_list")))
    shot("0-liste")
    # the list's first row carries the list's filters into the page
    first = browser.find_element(By.CSS_SELECTOR, f"#result_list a[href*='/suggestion/{ids[0]}/change/']")
    assert "_changelist_filters=statut__exact" in first.get_attribute("href")
    browser.get(first.get_attribute("href"))
    on_page(ids[0])
    shot("1-page")
    assert "1 / 4" in browser.find_element(By.ID, "position").text

    # 1. approve and next
    review.decide(["a"], ids[3])
    assert "approuvée" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    # ? shows the help, ? hides it
    press("?")
    wait.until(lambda d: d.find_element(By.ID, "aide-clavier").is_displayed())
    shot("2-aide")
    press("?")
    wait.until(lambda d: not d.find_element(By.ID, "aide-clavier").is_displayed())
    # 2. reject with reason 2 (same chain, another site) and next
    review.reject(2, ids[1], shot=lambda: shot("3-rejet"))
    # j / k move in the list without deciding (what is left to review: ids 1, 2)
    press("j")
    on_page(ids[2])
    press("k")
    on_page(ids[1])
    # 3. approve and next
    review.decide(["a"], ids[2])
    shot("4-suivante")
    # u undoes the last decision (ids[1]): back on it, to review again
    press("u")
    on_page(ids[1])
    wait.until(ec.text_to_be_present_in_element((By.ID, "statut-suggestion"), "À revoir"))

    # remove-member asks first, with the score it will have (the mouse, here: a rarer action)
    browser.get(live_admin + f"/admin/suggestions/suggestion/{ids[2]}/change/")
    on_page(ids[2])
    retirer = "form.form-retirer input[type=submit]"
    browser.find_elements(By.CSS_SELECTOR, retirer)[0].click()
    alert = wait.until(ec.alert_is_present())
    assert "aliapur_a1" in alert.text and "Il restera 3 acteur(s) ; score recalculé : 0,780" in alert.text
    alert.dismiss()
    assert Suggestion.objects.get(pk=ids[2]).nb_acteurs == 4
    browser.find_elements(By.CSS_SELECTOR, retirer)[0].click()
    wait.until(ec.alert_is_present()).accept()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "ul.messagelist"), "score recalculé"))
    assert Suggestion.objects.get(pk=ids[2]).nb_acteurs == 3

    # the lists fit 1,400 px: no sideways scrolling
    for url, name in (("/admin/suggestions/suggestion/", "5-suggestions"),
                      ("/admin/suggestions/suggestioncohorte/", "6-cohortes")):
        browser.get(live_admin + url)
        wait.until(ec.presence_of_element_located((By.ID, "result_list")))
        shot(name)
        overflow = browser.execute_script(
            "var r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth;")
        assert overflow <= 0, (url, overflow)

    statuts = dict(Suggestion.objects.filter(pk__in=ids).values_list("pk", "statut"))
    assert [statuts[pk] for pk in ids] == ["approved", "to_review", "to_review", "rejected"]
    d = SuggestionDecision.objects.get(suggestion_id=ids[3])
    assert (d.decision, d.motif, d.username) == ("reject", "autre_site", "relecteur")
    assert SuggestionDecision.objects.get(suggestion_id=ids[1], decision="approve").annulee_le is not None
    print("\n" + review.summary("the admin, local server"))
