"""The plan report: written beside the warehouse, self-contained, one chart per series, the CLI, and a real
browser (headless Chromium over the DevTools protocol): no console errors, every chart drawn, filters work."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from _outputs_warehouse import build
from typer.testing import CliRunner

from cli.main import app
from report.page import report_path, write_report
from warehouse.paths import latest_report_path

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
MAX_BYTES = 3_000_000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory)


@pytest.fixture(scope="module")
def base_report(built) -> Path:
    return write_report(built.warehouse, built.base_run)


def _series(built, sql: str) -> int:
    con = duckdb.connect(str(built.warehouse), read_only=True)
    try:
        return con.execute(sql, [built.base_run]).fetchone()[0]
    finally:
        con.close()


def test_the_report_is_written_beside_the_warehouse(built, base_report):
    assert base_report == built.warehouse.with_name(f"report-{built.base_run}.html")
    assert base_report == report_path(built.warehouse, built.base_run)
    # the latest plan of record is also report-latest.html
    assert latest_report_path(built.warehouse).read_text() == base_report.read_text()


def test_the_report_is_self_contained_and_small(base_report):
    html = base_report.read_text(encoding="utf-8")
    assert len(html.encode()) < MAX_BYTES
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "fetches something from the network"
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    assert "<script src" not in html and "<link rel=\"stylesheet\"" not in html
    for section in ("kpis", "shortages", "capacity", "forecast", "stock", "expiry"):
        assert f'<section id="{section}">' in html


def test_the_report_draws_one_chart_per_series(built, base_report):
    html = base_report.read_text(encoding="utf-8")
    forecasts = _series(built, "SELECT count(DISTINCT (product_id, site_id)) FROM forecast WHERE run_id = ?")
    assert html.count('data-kind="forecast"') == forecasts
    stock = _series(built, "SELECT count(*) FROM (SELECT i.product_id, i.site_id FROM plan_inventory i "
                           "LEFT JOIN plan_backlog b USING (run_id, product_id, site_id, week) WHERE i.run_id = ? "
                           "GROUP BY ALL HAVING max(i.closing) > 1e-9 OR max(i.safety_stock) > 1e-9 "
                           "OR max(coalesce(b.backlog, 0)) > 1e-9)")
    assert html.count('data-kind="stock"') == stock > 0
    plants = _series(built, "SELECT count(DISTINCT site_id) FROM plan_capacity WHERE run_id = ?")
    assert html.count('data-kind="capacity"') == plants
    shortages = _series(built, "SELECT count(*) FROM plan_shortages WHERE run_id = ?")
    assert html.count("<tr class=\"f\"") >= shortages


def test_a_scenario_report_compares_with_its_base(built):
    path = report_path(built.warehouse, built.lanes_run)  # written by the scenario flow
    html = path.read_text(encoding="utf-8")
    assert '<section id="comparison">' in html
    assert built.base_run in html and "close-eu-n" in html
    assert "Shortages that appear in B" in html


def test_plantwin_report_renders_a_past_run_again(built):
    runner = CliRunner()
    target = report_path(built.warehouse, built.early_run)
    target.unlink(missing_ok=True)
    result = runner.invoke(app, ["report", "--warehouse", str(built.warehouse), "--run", built.early_run])
    assert result.exit_code == 0, result.output
    assert target.exists() and str(target) in result.output
    bad = runner.invoke(app, ["report", "--warehouse", str(built.warehouse), "--run", "run-nope"])
    assert bad.exit_code == 2 and "run-nope" in bad.output


# ---------------------------------------------------------------------------------------------- browser
class DevTools:
    """A headless Chromium with a DevTools-protocol session on one page (a small websocket client)."""

    def __init__(self, binary: str):
        from websockets.sync.client import connect

        self.profile = Path(tempfile.mkdtemp(prefix="plantwin-chromium-"))
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "--window-size=1400,1000",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], proxy=None, max_size=None, open_timeout=10)
        self.next_id, self.events = 0, []
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:300])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args"))[:300])
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"].get("text", "")[:300])
        return out

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


_STATE = """(() => {
  const figs = [...document.querySelectorAll('figure.chart')];
  const shown = figs.filter(f => !f.hasAttribute('hidden'));
  const undrawn = shown.filter(f => {
    const svg = f.querySelector('svg'); if (!svg) return true;
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('polyline, polygon, rect')].filter(e => {
      const b = e.getBBox(); return b.width > 0 || b.height > 0; });
    return box.width < 50 || box.height < 50 || marks.length === 0;
  }).map(f => f.querySelector('figcaption').textContent);
  const rows = [...document.querySelectorAll('tr.f')].filter(r => !r.hasAttribute('hidden'));
  const attr = (els, k) => [...new Set(els.map(e => e.getAttribute('data-' + k)))];
  return {charts: figs.length, shown: shown.length, undrawn, hash: location.hash,
          families: attr(shown, 'family'), sites: attr(shown, 'site'), rowSites: attr(rows, 'site'),
          counter: document.getElementById('shown').textContent};
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); CI installs it")
def test_the_report_works_in_a_real_browser(built, base_report):
    browser = DevTools(CHROMIUM)
    try:
        url = base_report.resolve().as_uri()
        browser.open(url)
        state = browser.eval(_STATE)
        assert state["charts"] > 20 and state["shown"] == state["charts"]
        assert state["undrawn"] == []
        assert f"{state['charts']} charts" in state["counter"]
        # a filter chosen in the page hides the other families' charts and keeps the URL
        browser.eval("const s = document.getElementById('filter-family'); s.value = 'flu_vaccine';"
                     "s.dispatchEvent(new Event('change'));")
        state = browser.eval(_STATE)
        assert 0 < state["shown"] < state["charts"]
        assert set(state["families"]) <= {"flu_vaccine", None}
        assert state["hash"] == "#family=flu_vaccine" and state["undrawn"] == []
        # a link with a filter in its hash opens filtered
        browser.open("about:blank")
        browser.open(url + "#site=DC-EU-S")
        state = browser.eval(_STATE)
        assert 0 < state["shown"] < state["charts"]
        assert set(state["sites"]) == {"DC-EU-S"} and set(state["rowSites"]) <= {"DC-EU-S"}
        assert browser.eval("document.getElementById('filter-site').value") == "DC-EU-S"
        # the scenario report (with its comparison section) too
        browser.open(report_path(built.warehouse, built.capacity_run).resolve().as_uri())
        state = browser.eval(_STATE)
        assert state["charts"] > 20 and state["undrawn"] == []
        assert browser.errors() == []
    finally:
        browser.close()
