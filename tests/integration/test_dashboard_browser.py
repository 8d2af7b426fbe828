"""The dashboard in a real headless Chromium, at phone size, served by waitress.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the ``selenium`` pip package.
Skipped with the reason when they are missing, unless ``EUREKA_EMBED_REQUIRE`` lists
``chromium`` (CI does): then missing is a failure. Selenium is given the driver's path, so its
driver manager never downloads anything.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from eureka_embed.config import RegistryConfig
from eureka_embed.registry import Registry
from eureka_embed.server import EurekaServer
from tests.integration.requirements import require

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

PHONE_WIDTH, PHONE_HEIGHT, PIXEL_RATIO = 390, 844, 2

LONG_ID = "a-rather-long-host-name-that-wraps.eu-west-1.compute.internal:inventory-service:8443"
HOSTILE = "<img src=x onerror=alert(1)>"

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
)


def _browser_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if importlib.util.find_spec("selenium") is None:
        return "the selenium pip package is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install {package})"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    missing = _browser_missing()
    require("chromium", missing is None, missing or "")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    # A phone: the page only fits if it declares a device-width viewport and wraps long ids.
    options.add_experimental_option(
        "mobileEmulation",
        {
            "deviceMetrics": {
                "width": PHONE_WIDTH,
                "height": PHONE_HEIGHT,
                "pixelRatio": PIXEL_RATIO,
            }
        },
    )
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server() -> Iterator[EurekaServer]:
    registry = Registry(config=RegistryConfig(self_preservation=False))
    with EurekaServer(registry, host="127.0.0.1", port=0, maintenance=False) as running:
        yield running
    registry.close()


def _register(server: EurekaServer, app: str, instance_id: str, **fields: object) -> None:
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
    request = urllib.request.Request(
        f"{server.base_url}apps/{app}",
        data=orjson.dumps({"instance": doc}),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 204


def _set_status(server: EurekaServer, app: str, instance_id: str, status: str) -> None:
    request = urllib.request.Request(
        f"{server.base_url}apps/{app}/{instance_id}/status?value={status}", method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_dashboard_on_a_phone(browser: WebDriver, server: EurekaServer, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    _register(server, "ORDERS", "orders-1:orders:8080", statusPageUrl="http://orders-1:8080/info")
    _register(server, "ORDERS", "orders-2:orders:8080")
    _register(server, "INVENTORY-SERVICE", LONG_ID, status="STARTING")
    _register(server, "PAYMENTS", "payments-1:payments:8080", metadata={"note": HOSTILE})
    _register(server, "PAYMENTS", f"payments-2{HOSTILE}")
    _set_status(server, "ORDERS", "orders-2:orders:8080", "DOWN")
    _set_status(server, "PAYMENTS", "payments-1:payments:8080", "OUT_OF_SERVICE")

    browser.get(f"{server.root_url}/")

    text = browser.find_element(By.TAG_NAME, "body").text
    for expected in ("ORDERS", "INVENTORY-SERVICE", "PAYMENTS", LONG_ID, "orders-2:orders:8080"):
        assert expected in text
    for status in ("UP", "DOWN", "STARTING", "OUT_OF_SERVICE"):
        assert browser.find_elements(By.CSS_SELECTOR, f".status-{status}"), status
    colours = {
        status: browser.find_element(By.CSS_SELECTOR, f".status-{status}").value_of_css_property(
            "background-color"
        )
        for status in ("UP", "DOWN", "STARTING", "OUT_OF_SERVICE")
    }
    assert len(set(colours.values())) == 4, colours
    link = browser.find_element(By.LINK_TEXT, "orders-1:orders:8080")
    assert link.get_attribute("href") == "http://orders-1:8080/info"
    # The hostile id is shown as text; no handler ran.
    assert f"payments-2{HOSTILE}" in text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is what raises

    width = browser.execute_script("return window.innerWidth")
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width == PHONE_WIDTH  # the viewport meta tag is honoured
    assert scroll_width <= width, "the page scrolls sideways on a phone"

    screenshot = tmp_path / "dashboard-phone.png"
    png = browser.get_screenshot_as_png()
    screenshot.write_bytes(png)
    assert _png_size(png) == (PHONE_WIDTH * PIXEL_RATIO, PHONE_HEIGHT * PIXEL_RATIO)


def test_dashboard_of_an_empty_registry(browser: WebDriver, server: EurekaServer) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server.root_url}/")

    text = browser.find_element(By.TAG_NAME, "body").text
    assert "No instances are registered" in text
    assert "Renews threshold" in text
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
