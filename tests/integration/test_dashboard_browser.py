"""The dashboard in a real headless Chromium, served by waitress: each flow clicked.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the ``selenium`` pip package.
Skipped with the reason when they are missing, unless ``EUREKA_EMBED_REQUIRE`` lists
``chromium`` (CI does): then missing is a failure. Selenium is given the driver's path, so its
driver manager never downloads anything.

The browser is started once for the module (a Chromium start costs a second or two) and each
test opens its own server. Phone size is Chrome's mobile emulation, switched on per test
through the DevTools protocol.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from eureka_embed.config import RegistryConfig
from eureka_embed.model import InstanceInfo, PortInfo
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.auth.support import USERS, basic_auth
from tests.integration.requirements import require

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

PHONE_WIDTH, PHONE_HEIGHT, PIXEL_RATIO = 390, 844, 2

LONG_ID = "a-rather-long-host-name-that-wraps.eu-west-1.compute.internal:inventory-service:8443"
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT_APP = "<SCRIPT>ALERT(2)</SCRIPT>"

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def _browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if importlib.util.find_spec("selenium") is None:
        return "the selenium pip package is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install {package})"
    return None


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    missing = _browser_missing()
    require("chromium", missing is None, missing or "")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: WebDriver) -> Iterator[WebDriver]:
    yield chromium
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chromium.get("about:blank")  # ends the page's watch before its server stops


def _serve(**options: Any) -> Iterator[EurekaServer]:
    registry = Registry(config=RegistryConfig(self_preservation=False))
    with EurekaServer(registry, host="127.0.0.1", port=0, maintenance=False, **options) as running:
        yield running
    registry.close()


@pytest.fixture
def server() -> Iterator[EurekaServer]:
    yield from _serve()


@pytest.fixture
def secured() -> Iterator[EurekaServer]:
    yield from _serve(auth=basic_auth())


def _call(
    server: EurekaServer, method: str, path: str, body: bytes | None = None, user: str = ""
) -> None:
    headers = {"Content-Type": "application/json"}
    if user:
        import base64

        token = base64.b64encode(f"{user}:{USERS[user][0]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(
        f"{server.base_url}{path}", data=body, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 204)


def _register(
    server: EurekaServer, app: str, instance_id: str, user: str = "", **fields: object
) -> None:
    doc = {
        "instanceId": instance_id,
        "hostName": instance_id.split(":", maxsplit=1)[0],
        "app": app,
        "ipAddr": "10.0.0.5",
        "status": "UP",
        "port": {"$": 8080, "@enabled": "true"},
        "dataCenterInfo": {"name": "MyOwn"},
        **fields,
    }
    _call(server, "POST", f"apps/{app}", orjson.dumps({"instance": doc}), user)


def _set_status(server: EurekaServer, app: str, instance_id: str, status: str) -> None:
    _call(server, "PUT", f"apps/{app}/{instance_id}/status?value={status}")


def _open(browser: WebDriver, url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element(By.ID, "live").text == "live", "the data never arrived"
    )


def _wait(browser: WebDriver, condition: Callable[[WebDriver], object], what: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 5, poll_frequency=0.05).until(condition, what)


def _ids(browser: WebDriver) -> list[str]:
    # Read in one script: the list is redrawn under a test that reads element by element.
    ids: list[str] = browser.execute_script(
        "return [...document.querySelectorAll('#list .iid')].map(e => e.textContent)"
    )
    return ids


def _showing(ids: list[str]) -> Callable[[WebDriver], bool]:
    return lambda browser: _ids(browser) == ids


def _phone(browser: WebDriver) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": PHONE_WIDTH,
            "height": PHONE_HEIGHT,
            "deviceScaleFactor": PIXEL_RATIO,
            "mobile": True,
        },
    )


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _no_alert(browser: WebDriver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is what raises


def test_on_a_phone_everything_is_shown_as_text(
    browser: WebDriver, server: EurekaServer, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _register(server, "ORDERS", "orders-1:orders:8080", statusPageUrl="http://orders-1:8080/info")
    _register(server, "ORDERS", "orders-2:orders:8080")
    _register(server, "INVENTORY-SERVICE", LONG_ID, status="STARTING")
    _register(server, "PAYMENTS", "payments-1:payments:8080", metadata={"note": HOSTILE})
    _register(server, "PAYMENTS", f"payments-2{HOSTILE}")
    # A name no URL path can carry: put in directly.
    server.registry.register(
        InstanceInfo("s-1", SCRIPT_APP, "s", "10.0.0.9", home_page_url="javascript:alert(3)")
    )
    _set_status(server, "ORDERS", "orders-2:orders:8080", "DOWN")
    _set_status(server, "PAYMENTS", "payments-1:payments:8080", "OUT_OF_SERVICE")
    _phone(browser)

    _open(browser, f"{server.root_url}/")

    text = browser.find_element(By.TAG_NAME, "body").text
    for expected in ("ORDERS", "INVENTORY-SERVICE", "PAYMENTS", LONG_ID, SCRIPT_APP):
        assert expected in text
    facts = browser.find_element(By.ID, "facts").text
    assert "Server\nwaitress" in facts and "Store\nMemoryStore" in facts, facts
    assert f"payments-2{HOSTILE}" in text
    colours = {
        status: browser.find_element(By.CSS_SELECTOR, f".status-{status}").value_of_css_property(
            "background-color"
        )
        for status in ("UP", "DOWN", "STARTING", "OUT_OF_SERVICE")
    }
    assert len(set(colours.values())) == 4, colours
    # Nothing the registry sent became markup, and no handler ran.
    assert browser.find_elements(By.CSS_SELECTOR, "#list img, #apps img, script") == [
        browser.find_element(By.TAG_NAME, "script")
    ]
    _no_alert(browser)

    width = browser.execute_script("return window.innerWidth")
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width == PHONE_WIDTH  # the viewport meta tag is honoured
    assert scroll_width <= width, "the page scrolls sideways on a phone"
    png = browser.get_screenshot_as_png()
    (tmp_path / "dashboard-phone.png").write_bytes(png)
    assert _png_size(png) == (PHONE_WIDTH * PIXEL_RATIO, PHONE_HEIGHT * PIXEL_RATIO)


def test_search_filter_and_expand(browser: WebDriver, server: EurekaServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    _register(
        server,
        "ORDERS",
        "orders-1",
        ipAddr="10.1.1.1",
        metadata={"zone": "eu-1a", "build": "b-77"},
        statusPageUrl="http://orders-1:8080/info",
        healthCheckUrl="javascript:alert(1)",
        homePageUrl="https://orders-1/",
    )
    _register(server, "ORDERS", "orders-2", ipAddr="10.1.1.2")
    _register(server, "BILLING", "billing-1", ipAddr="10.2.2.2")
    _set_status(server, "ORDERS", "orders-2", "DOWN")
    _open(browser, f"{server.root_url}/")
    assert _ids(browser) == ["billing-1", "orders-1", "orders-2"]
    search = browser.find_element(By.ID, "q")

    for query, expected in (
        ("billing", ["billing-1"]),  # application
        ("orders-2", ["orders-2"]),  # id
        ("10.1.1.1", ["orders-1"]),  # ip
        ("build=b-77", ["orders-1"]),  # metadata
    ):
        search.clear()
        search.send_keys(query)
        _wait(browser, _showing(expected), f"search {query!r}")
    search.clear()
    search.send_keys(Keys.BACKSPACE)  # an input event: the list comes back whole
    _wait(browser, lambda b: len(_ids(b)) == 3, "cleared search")

    Select(browser.find_element(By.ID, "status")).select_by_value("DOWN")
    _wait(browser, lambda b: _ids(b) == ["orders-2"], "status filter")
    Select(browser.find_element(By.ID, "status")).select_by_value("")
    _wait(browser, lambda b: len(_ids(b)) == 3, "every status")

    # By keyboard: Tab to the first instance, Enter opens it.
    summary = browser.find_elements(By.CSS_SELECTOR, "#list summary")[1]
    browser.execute_script("arguments[0].focus()", summary)
    summary.send_keys(Keys.ENTER)
    details = browser.find_elements(By.CSS_SELECTOR, "#list details")[1]
    _wait(browser, lambda b: details.get_attribute("open") is not None, "expanded")
    body = details.text
    for shown in ("orders-1", "10.1.1.1:8080", "eu-1a", "metadata build", "b-77", "Registered"):
        assert shown in body
    links = {a.text: a.get_attribute("href") for a in details.find_elements(By.TAG_NAME, "a")}
    assert links == {"status page": "http://orders-1:8080/info", "home page": "https://orders-1/"}


def test_a_registration_shows_within_a_second(browser: WebDriver, server: EurekaServer) -> None:
    _register(server, "ORDERS", "orders-1")
    _open(browser, f"{server.root_url}/")
    time.sleep(0.2)  # the page is now holding its watch

    started = time.monotonic()
    _register(server, "ORDERS", "orders-2")
    _wait(browser, lambda b: "orders-2" in _ids(b), "the new instance")

    assert time.monotonic() - started < 1.0


def _confirm(browser: WebDriver, instance: str, action: str) -> None:
    from selenium.webdriver.common.by import By

    row = next(
        d
        for d in browser.find_elements(By.CSS_SELECTOR, "#list details")
        if d.find_element(By.CSS_SELECTOR, ".iid").text == instance
    )
    if row.get_attribute("open") is None:
        row.find_element(By.TAG_NAME, "summary").click()
    row.find_element(By.CSS_SELECTOR, f'button[data-action="{action}"]').click()
    dialog = browser.find_element(By.ID, "confirm")
    assert dialog.is_displayed()
    assert instance in dialog.text
    browser.find_element(By.ID, "confirm-ok").click()


def _status_of(browser: WebDriver, instance: str) -> str:
    status: str = browser.execute_script(
        "const row = [...document.querySelectorAll('#list details')]"
        ".find(d => d.querySelector('.iid').textContent === arguments[0]);"
        "return row ? row.querySelector('.status').textContent : 'gone'",
        instance,
    )
    return status


def _status_is(instance: str, status: str) -> Callable[[WebDriver], bool]:
    return lambda browser: _status_of(browser, instance) == status


def _every_action(browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    # A cancelled dialog does nothing.
    row = browser.find_element(By.CSS_SELECTOR, "#list details")
    row.find_element(By.TAG_NAME, "summary").click()
    row.find_element(By.CSS_SELECTOR, 'button[data-action="out_of_service"]').click()
    browser.find_element(By.ID, "confirm-cancel").click()
    time.sleep(0.3)
    assert _status_of(browser, "orders-1") == "UP"

    for action, expected in (
        ("out_of_service", "OUT_OF_SERVICE"),
        ("in_service", "UP"),
        ("out_of_service", "OUT_OF_SERVICE"),
        ("remove_override", "UNKNOWN"),
        ("deregister", "gone"),
    ):
        _confirm(browser, "orders-1", action)
        _wait(browser, _status_is("orders-1", expected), action)
    assert "cancelled ORDERS orders-1" in browser.find_element(By.ID, "ended").text


def test_every_action_without_auth(browser: WebDriver, server: EurekaServer) -> None:
    _register(server, "ORDERS", "orders-1")
    _open(browser, f"{server.root_url}/")

    _every_action(browser)


def _secured_url(server: EurekaServer, user: str) -> str:
    return server.root_url.replace("://", f"://{user}:{USERS[user][0]}@") + "/"


def test_with_auth_actions_are_for_admin_only(browser: WebDriver, secured: EurekaServer) -> None:
    from selenium.webdriver.common.by import By

    _register(secured, "ORDERS", "orders-1", user="ops")

    _open(browser, _secured_url(secured, "reader"))
    browser.find_element(By.CSS_SELECTOR, "#list summary").click()
    assert browser.find_elements(By.CSS_SELECTOR, "#list button[data-action]") == []
    # Even a hand-made request from the page (the reader's credentials) is refused.
    status = browser.execute_script(
        "return fetch(location.origin + '/dashboard/actions', {method: 'POST',"
        " headers: {'X-Eureka-Dashboard': '1'},"
        " body: JSON.stringify({action: 'deregister', app: 'ORDERS', id: 'orders-1'})})"
        ".then(r => r.status)"
    )
    assert status == 403

    _open(browser, _secured_url(secured, "ops"))
    _every_action(browser)


def test_ten_thousand_instances(browser: WebDriver, server: EurekaServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    registry = server.registry
    for n in range(10_000):
        registry.register(
            InstanceInfo(
                f"host-{n}.eu-west-1.internal:orders-{n % 40}:8080",
                f"ORDERS-{n % 40}",
                f"host-{n}.eu-west-1.internal",
                f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
                port=PortInfo(8080, True),
                metadata={"zone": f"eu-west-1{'abc'[n % 3]}", "version": "1.4.2"},
                status_page_url=f"http://host-{n}.eu-west-1.internal:8080/actuator/info",
                health_check_url=f"http://host-{n}.eu-west-1.internal:8080/actuator/health",
                home_page_url=f"http://host-{n}.eu-west-1.internal:8080/",
            )
        )

    _open(browser, f"{server.root_url}/")

    drawn_ms = browser.execute_script(
        "return performance.getEntriesByName('dashboard-drawn')[0].startTime"
    )
    transferred = browser.execute_script(
        "return performance.getEntriesByType('navigation')[0].transferSize + performance"
        ".getEntriesByType('resource').reduce((sum, r) => sum + r.transferSize, 0)"
    )
    assert drawn_ms <= 1000, f"first render took {drawn_ms:.0f} ms"
    assert transferred <= 2_000_000, f"{transferred} bytes transferred"
    assert len(_ids(browser)) == 100  # a page of them, not 10,000 rows
    assert "of 10000" in browser.find_element(By.ID, "count").text

    # Still responsive: a search and a filter over all of them answer at once.
    started = time.monotonic()
    browser.find_element(By.ID, "q").send_keys("host-9999.")
    _wait(browser, lambda b: len(_ids(b)) == 1, "search over 10,000")
    Select(browser.find_element(By.ID, "status")).select_by_value("DOWN")
    _wait(browser, lambda b: "No instance matches" in b.find_element(By.ID, "list").text, "none")
    assert time.monotonic() - started < 2.0
    browser.find_element(By.ID, "next")  # the pager is there
    print(f"10k: first render {drawn_ms:.0f} ms, {transferred} bytes")


def test_remote_regions_show_how_following_them_goes(browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    from eureka_embed.remote_regions import RemoteRegion, following

    remote = EurekaServer(Registry(), host="127.0.0.1", port=0, maintenance=False).start()
    try:
        _register(remote, "BILLING", "b1:billing:8080")
        regions = following([RemoteRegion("eu-west-1", remote.base_url)], fetch_interval_s=0.2)
        with EurekaServer(
            Registry(), host="127.0.0.1", port=0, maintenance=False, remote_regions=regions
        ) as local:
            _open(browser, local.root_url + "/")
            block = browser.find_element(By.ID, "regions")
            _wait(browser, lambda b: "OK" in block.text and "1 instances" in block.text, "OK")
            assert "eu-west-1" in block.text and remote.base_url in block.text

            remote.stop()

            # The page redraws on a change of the registry or after its watch's wait; reload.
            def failing(b: WebDriver) -> bool:
                _open(b, local.root_url + "/")
                return "FAILING" in b.find_element(By.ID, "regions").text

            _wait(browser, failing, "the region shown as failing")
            text = browser.find_element(By.ID, "regions").text
            assert "1 instances" in text and "serving that copy" in text
    finally:
        remote.stop()
