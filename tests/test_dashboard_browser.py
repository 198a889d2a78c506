"""Issue 18 (tool 20): the dashboard in a real headless browser: Debian's chromium and its
chromedriver driven by selenium (no browser download). Traffic is driven with httpx; every
wait is a bounded WebDriverWait poll, never a sleep. Each test ends by reading the browser's
console: no Content-Security-Policy violation and no script error."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockstatus.types import ManualClock

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
        "/usr/bin/chromedriver): apt-get install chromium chromium-driver",
    ),
]

SCENARIO = """
name: shop
routes:
  - name: orders
    match: {path: /orders}
    respond: {status: 200, body: ok}
  - name: limited
    match: {path: /limited}
    rate_limit: {limit: 2, window: 60s, key: global}
    respond: {status: 200}
  - name: login
    match: {path: /login}
    state: {machine: auth, set: in}
    respond: {status: 200}
  - name: flaky
    match: {path: /flaky}
    outage: [{every: 60s, duration: 10s, offset: 30s}]
    respond: {status: 200}
"""
TOKEN = "browser-s3cret"
WAIT = 15  # seconds a poll may take at most (the feed's tick is 50 ms)


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="mockstatus-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(driver, make_server):
    """Open the dashboard of a fresh server; after the test, the console must be clean."""
    opened = []

    def open_page(token: str | None = None):
        clock = ManualClock()
        server = make_server(
            {"shop.yaml": SCENARIO}, clock=clock, clock_controllable=True, admin_token=token
        )
        driver.get(server.url("/__mockstatus/ui"))
        driver.execute_script("sessionStorage.clear()")
        driver.get_log("browser")  # start from a clean console
        driver.refresh()
        opened.append(server)
        return server, clock

    yield open_page
    logs = driver.get_log("browser")
    driver.get("about:blank")  # close the feed before the server stops
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs
    # 4xx answers a test provokes (a refused token, a rejected upload) are "network" entries;
    # a script error or a blocked resource would be another source
    assert not [e for e in logs if e["level"] == "SEVERE" and e["source"] != "network"], logs


def wait_for(driver, condition, message: str = ""):
    def check(d):
        try:
            return condition(d)
        except StaleElementReferenceException:  # the page re-rendered meanwhile: ask again
            return False

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(check, message)


def text_of(driver, css: str) -> str:
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def click(driver, css: str) -> None:
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True, css)


def live(driver) -> None:
    wait_for(driver, lambda d: d.find_element(By.ID, "conn").text == "live", "feed not live")


def test_rows_states_and_buckets_update_live(driver, page):
    server, _ = page()
    live(driver)
    for path in ("/orders", "/login", "/limited", "/limited", "/limited", "/missing"):
        httpx.get(server.url(path))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#journal-rows tr")) == 6)
    statuses = [
        row.find_elements(By.TAG_NAME, "td")[4].text
        for row in driver.find_elements(By.CSS_SELECTOR, "#journal-rows tr")
    ]
    assert statuses == ["404", "429", "200", "200", "200", "200"]  # newest first
    wait_for(driver, lambda d: "default → in" in text_of(d, "[data-machine=auth]"))
    wait_for(driver, lambda d: "0/2 left" in text_of(d, "[data-route=limited] .bucket"))

    # filter, then the detail of the unmatched request with its near-miss explanation
    driver.find_element(By.ID, "filter").send_keys("missing")
    visible = [
        r for r in driver.find_elements(By.CSS_SELECTOR, "#journal-rows tr") if r.is_displayed()
    ]
    assert len(visible) == 1
    visible[0].click()
    wait_for(driver, lambda d: "GET /missing → 404" in d.find_element(By.ID, "detail").text)
    assert "Why no route matched" in driver.find_element(By.ID, "detail").text


def test_reset_button_resets_the_server(driver, page):
    server, _ = page()
    live(driver)
    for _ in range(3):
        last = httpx.get(server.url("/limited"))
    assert last.status_code == 429
    click(driver, "#reset-all")
    wait_for(driver, lambda d: "every session reset" in d.find_element(By.ID, "steer-result").text)
    assert httpx.get(server.url("/limited")).status_code == 200


def test_advance_button_moves_the_manual_clock(driver, page):
    server, clock = page()
    live(driver)
    before = clock.monotonic()
    field = driver.find_element(By.ID, "advance-seconds")
    field.clear()
    field.send_keys("40")
    click(driver, "#advance")
    wait_for(driver, lambda d: clock.monotonic() == before + 40)
    # windows are [30, 40) and [90, 100) on the scenario clock: up again at 40
    assert httpx.get(server.url("/flaky")).status_code == 200
    field.clear()
    field.send_keys("55")  # 95 s: the second window, 90-100 s
    click(driver, "#advance")
    wait_for(driver, lambda d: clock.monotonic() == before + 95)
    assert httpx.get(server.url("/flaky")).status_code == 503
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-route=flaky].down"))


def test_override_buttons_force_and_cancel_an_outage(driver, page):
    server, clock = page()
    live(driver)
    assert httpx.get(server.url("/orders")).status_code == 200
    click(driver, "[data-route=orders] button[data-action=outage]")
    wait_for(driver, lambda d: httpx.get(server.url("/orders")).status_code == 503)
    wait_for(driver, lambda d: "outage 503" in text_of(d, "[data-route=orders] .override"))
    click(driver, "[data-route=orders] button[data-action=cancel]")
    wait_for(driver, lambda d: httpx.get(server.url("/orders")).status_code == 200)
    # a fault override: the connection is reset
    click(driver, "[data-route=orders] button[data-action=fault]")
    wait_for(driver, lambda d: "fault reset" in text_of(d, "[data-route=orders] .override"))
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url("/orders"))
    clock.advance(30)  # the override follows the server clock
    assert httpx.get(server.url("/orders")).status_code == 200


def test_upload_errors_are_shown_inline(driver, page):
    server, _ = page()
    live(driver)
    driver.find_element(By.ID, "upload-name").send_keys("extra")
    driver.find_element(By.ID, "upload-text").send_keys("routes:\n  - match: {path: /x}\n")
    click(driver, "#upload")
    wait_for(driver, lambda d: "line 2" in text_of(d, "#upload-errors li"))
    area = driver.find_element(By.ID, "upload-text")
    area.clear()
    area.send_keys("routes:\n  - match: {path: /x}\n    respond: {status: 204}\n")
    click(driver, "#upload")
    wait_for(driver, lambda d: "created extra" in d.find_element(By.ID, "upload-result").text)
    assert httpx.get(server.url("/x")).status_code == 204
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-scenario=extra]"))


def test_token_prompt_then_live_and_mutations_carry_it(driver, page):
    server, _ = page(token=TOKEN)
    wait_for(driver, lambda d: d.find_element(By.ID, "token-panel").is_displayed())
    field = driver.find_element(By.ID, "token-input")
    field.send_keys("wrong")
    click(driver, "#token-submit")
    wait_for(driver, lambda d: "refused" in d.find_element(By.ID, "token-error").text)
    driver.find_element(By.ID, "token-input").send_keys(TOKEN)
    click(driver, "#token-submit")
    live(driver)
    assert not driver.find_element(By.ID, "token-panel").is_displayed()
    assert driver.execute_script("return sessionStorage.getItem('mockstatus-admin-token')") == TOKEN
    for _ in range(3):
        httpx.get(server.url("/limited"))
    click(driver, "#reset-all")
    wait_for(driver, lambda d: "every session reset" in d.find_element(By.ID, "steer-result").text)
    assert httpx.get(server.url("/limited")).status_code == 200


def test_the_console_check_sees_a_csp_violation(driver, make_server):
    """Guards the console assertion: the page's CSP really blocks inline script, and chromium
    reports it where the other tests look."""
    server = make_server()
    driver.get(server.url("/__mockstatus/ui"))
    driver.get_log("browser")
    driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        "document.body.append(s);"
    )
    assert driver.execute_script("return window.ran === undefined")
    logs = wait_for(
        driver,
        lambda d: [e for e in d.get_log("browser") if "Content Security Policy" in e["message"]],
    )
    assert "script-src 'self'" in logs[0]["message"]
    driver.get("about:blank")
