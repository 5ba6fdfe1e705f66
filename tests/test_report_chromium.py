"""HTML reports opened in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

Checked in the browser, not by reading the file: the page loads with no console error and makes no
network request (Chromium's own network log, through ChromeDriver's performance log, and the
page's resource timing), the plots render, the table sorts, the outlier section names the injected
hosts, and no script planted in a host value runs (``window.__pwned`` stays undefined).  Control
tests show each check does fail on a page that misbehaves.  Screenshots are saved under
test-artifacts/ (git-ignored).

Chromium is started with networking features off and its own throw-away profile; the only traffic
is ChromeDriver on loopback and, in one control test, a request to a closed loopback port.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from report_samples import HOSTILE_IMG, HOSTILE_SCRIPT, baseline_analysis, hostile_analysis, peers_analysis

from diffy_analysis.findings import Analysis
from diffy_analysis.report import html as html_report
from diffy_analysis.report._escape import safe_text

webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (test extra)")

pytestmark = [pytest.mark.chromium]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--window-size=1280,1800",
)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Chromium and ChromeDriver: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="diffy-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager (which would download drivers) is never run.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Loaded:
    """A page opened in the browser, with what it logged and requested while loading."""

    def __init__(self, driver, path: Path) -> None:
        driver.get_log("browser")  # drop what earlier pages logged
        driver.get_log("performance")
        self.driver = driver
        self.url = path.resolve().as_uri()
        driver.get(self.url)
        self.js(
            "return new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r))"
        )
        self.console = driver.get_log("browser")
        self.requests = self._requests(driver.get_log("performance"))
        self.resources = self.js("return performance.getEntriesByType('resource').map(e => e.name)")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def _requests(self, perf_log) -> list[str]:
        urls = []
        for entry in perf_log:
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                urls.append(message["params"]["url"])
        return urls

    @property
    def errors(self) -> list[str]:
        return [e["message"] for e in self.console if e["level"] == "SEVERE"]

    @property
    def network(self) -> list[str]:
        """Every request but the page itself and its own data: images.

        The browser's own pages (chrome://new-tab-page and the like, which a fresh profile may still
        be loading in its first tab) are not network traffic and are left out."""
        internal = ("data:", "chrome:", "chrome-untrusted:", "chrome-search:", "devtools:")
        seen = [u for u in self.requests if u != self.url and not u.startswith(internal)]
        return seen + [u for u in self.resources if not u.startswith("data:")]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        height = self.js("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(int(height) + 40, 6000))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 1800)
        return path


def write_report(analysis: Analysis, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8") as stream:
        html_report.render(analysis, stream)
    return path


def outlier_names(page: Loaded) -> list[str]:
    return page.js(
        "return [...document.querySelectorAll('#outliers li.outlier-host .host-name')]"
        ".map(e => e.textContent)"
    )


def assert_clean_load(page: Loaded) -> None:
    assert page.errors == []
    assert page.network == []
    assert page.js("return typeof window.__pwned") == "undefined"
    assert page.js("return document.scripts.length") == 1


def test_peers_report_in_chromium(browser, tmp_path):
    page = Loaded(browser, write_report(peers_analysis(), tmp_path, "peers.html"))
    assert_clean_load(page)
    assert outlier_names(page) == ["i-0abc1234", "i-0def5678"]
    # Both plots decode and render as images under the page's CSP.
    sizes = page.js("return ['dendrogram', 'heatmap-img'].map(i => document.getElementById(i).naturalWidth)")
    assert all(width > 200 for width in sizes)
    # The sorting script runs: sort the ranked table by score, lowest first, then highest first.
    first = "return document.querySelector('#ranked tbody tr td:nth-child(2)').textContent"
    header = browser.find_element("css selector", "#ranked thead th:nth-child(3)")
    header.click()
    assert page.js(first) != "i-0abc1234"
    assert page.js(
        "return document.querySelector('#ranked thead th:nth-child(3)').getAttribute('aria-sort')"
    ) == ("ascending")
    header.click()
    assert page.js(first) == "i-0abc1234"
    assert page.errors == [] and browser.get_log("browser") == []
    assert page.screenshot("report-peers.png").stat().st_size > 10_000


def test_baseline_report_in_chromium(browser, tmp_path):
    page = Loaded(browser, write_report(baseline_analysis(), tmp_path, "baseline.html"))
    assert_clean_load(page)
    assert outlier_names(page) == ["i-0aaa1111"]
    assert page.js("return document.querySelectorAll('table.side-by-side').length") == 3
    changed = page.js("return [...document.querySelectorAll('td.changed-cell')].map(e => e.textContent)")
    assert changed == ["9f86d081" * 8, "e3b0c442" * 8]
    page.screenshot("report-baseline.png")


def test_hostile_report_runs_no_injected_script(browser, tmp_path):
    analysis = hostile_analysis()
    page = Loaded(browser, write_report(analysis, tmp_path, "hostile.html"))
    assert_clean_load(page)
    # The injected hosts are listed, their names shown as the text they are.
    assert outlier_names(page) == [safe_text(h.host, 120) for h in analysis.outliers]
    assert outlier_names(page) == [f"evil-{HOSTILE_SCRIPT}", f"quote-{HOSTILE_IMG}"]
    assert page.js("return document.title") == f"Diffy report — {HOSTILE_SCRIPT}"
    # No element carries an event handler, no image but the two plots, no injected element.
    assert not page.js(
        "return [...document.querySelectorAll('*')]"
        ".some(e => [...e.attributes].some(a => a.name.startsWith('on')))"
    )
    assert page.js("return document.images.length") == 2
    assert page.js("return document.querySelectorAll('svg, iframe, object, embed, link, base').length") == 0
    page.screenshot("report-hostile.png")


# --- controls: the checks above do catch a page that misbehaves ---------------------------------------


def test_control_unescaped_page_is_caught(browser, tmp_path):
    """A page that did not escape: the injected script runs and a request leaves the page."""
    path = tmp_path / "unsafe.html"
    path.write_text(
        f"<!DOCTYPE html><title>x</title><p>{HOSTILE_SCRIPT}</p><img src='http://127.0.0.1:9/x.png'>",
        encoding="utf-8",
    )
    page = Loaded(browser, path)
    assert page.js("return window.__pwned") == 1
    assert "http://127.0.0.1:9/x.png" in page.network


def test_control_csp_blocks_and_reports_a_planted_script(browser, tmp_path):
    """Were a value ever to slip through unescaped, the CSP would refuse it, with a console error
    that the clean-load check would report."""
    doc = html_report.render_string(peers_analysis()).replace("<body>", f"<body>{HOSTILE_SCRIPT}", 1)
    path = tmp_path / "planted.html"
    path.write_text(doc, encoding="ascii")
    page = Loaded(browser, path)
    assert page.js("return typeof window.__pwned") == "undefined"
    assert any("Content Security Policy" in error for error in page.errors)


# --- generated fleets analysed by the real engine -----------------------------------------------------


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    from report_fleets import baseline_fleet, hostile_fleet, peers_fleet

    root = tmp_path_factory.mktemp("fleets")
    return {
        "peers": peers_fleet(root / "peers"),
        "baseline": baseline_fleet(root / "baseline"),
        "hostile": hostile_fleet(root / "hostile"),
    }


@pytest.mark.parametrize("name", ["peers", "baseline", "hostile"])
def test_generated_fleet_report_in_chromium(browser, fleets, tmp_path, name):
    fleet = fleets[name]
    page = Loaded(browser, write_report(fleet.analysis, tmp_path, f"fleet-{name}.html"))
    assert_clean_load(page)
    listed = outlier_names(page)
    assert listed == [safe_text(h.host, 120) for h in fleet.analysis.outliers]
    # The hosts the generator injected attacker artifacts into are among those listed.
    assert set(fleet.truth.compromised) <= set(listed)
    if name == "peers":
        assert page.js("return document.getElementById('dendrogram').naturalWidth") > 200
    if name == "hostile":
        assert set(fleet.poisoned) <= set(listed)
        assert page.js("return document.body.textContent.includes('ssh: <script>window.__pwned=1</script>')")
    page.screenshot(f"report-fleet-{name}.png")
