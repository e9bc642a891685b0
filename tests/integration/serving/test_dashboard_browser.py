"""The dashboard in a real headless Chromium, against the service in a real uvicorn process.

Debian's chromium is driven by Playwright (its Python package, never its own browser download).
When ``/usr/bin/chromium`` is missing the set-up installs it with apt-get; the tests are skipped,
with the reason, only where that cannot be done (not root, no apt-get, no package mirror).

Every page load collects the browser's console errors and uncaught page errors; the only ones
allowed are the failed loads a test expects (a rollback with a wrong token is 401), named by URL
and status.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from dashboard_fixtures import CHUNKS, PROMOTED, Service, build_tree, uvicorn_service
from defectops.core.layout import METADATA, PRODUCTION_DIR
from paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "browser-test-token"
#: the README's picture; refreshed only when DEFECTOPS_SCREENSHOT=1 (``make test`` leaves the
#: work tree as it found it)
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"


def install_chromium() -> str | None:
    """Install Debian's chromium unless present; None when done, else why it cannot be.

    A file lock keeps two pytest-xdist workers from running apt-get at once.
    """
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available: install Chromium at /usr/bin/chromium by hand"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it: run `apt-get install -y chromium` as root"
    lock_path = Path(tempfile.gettempdir()) / "defectops-chromium-install.lock"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    output = ""
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        install = ["apt-get", "install", "-y", "chromium"]
        for command in (install, ["apt-get", "update"], install):
            if CHROMIUM.exists():
                break
            try:
                done = subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=900, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                output = str(exc)
                continue
            output = (done.stdout + done.stderr)[-800:]
    if CHROMIUM.exists():
        return None
    return f"`apt-get install -y chromium` failed: {output.strip()}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = install_chromium()
    if problem is not None:
        pytest.skip(f"BROWSER TESTS NOT RUN: Chromium cannot be installed here: {problem}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real run's tree (champion: version 6, previous: 5) behind a real uvicorn process."""
    tree = build_tree(tmp_path_factory.mktemp("browser-tree"))
    with uvicorn_service(tree.artifacts, tree.root / "service.log", token=TOKEN) as service:
        ready = _wait(lambda: httpx.get(f"{service.base}/ready").status_code == 200)
        assert ready, "the champion did not load"
        yield service


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The same service on an artifact directory with nothing in it yet."""
    root = tmp_path_factory.mktemp("browser-empty")
    artifacts = root / "artifacts"
    artifacts.mkdir()
    with uvicorn_service(artifacts, root / "service.log", token=TOKEN) as service:
        yield service


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if predicate():
                return True
        time.sleep(0.1)
    return False


class Console:
    """The console errors and page errors of one page, minus the expected failed loads."""

    def __init__(self, page: Page, base: str, allowed: tuple[tuple[str, int], ...]) -> None:
        self.base, self.allowed = base, allowed
        self.errors: list[str] = []
        page.on("console", self.on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        for path, status in self.allowed:
            if url == self.base + path and f"status of {status}" in message.text:
                return
        self.errors.append(f"console error: {message.text} ({url})")


@contextlib.contextmanager
def open_page(
    browser: Browser,
    service: Service,
    *,
    width: int = 1280,
    height: int = 900,
    allowed: tuple[tuple[str, int], ...] = (),
) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    console = Console(page, service.base, allowed)
    try:
        page.goto(service.base + "/")
        yield page, console
        assert console.errors == [], console.errors
    finally:
        context.close()


def part_records(service: Service, n: int) -> list[dict[str, Any]]:
    """``n`` hold-out rows as JSON records with the champion's feature columns."""
    features = httpx.get(f"{service.base}/model").json()["features"]
    columns = [*features["numeric"], *features["categorical"]]
    holdout = service.artifacts.parent / "data" / "holdout.csv"
    frame = pd.read_csv(holdout).iloc[:n][columns]
    return json.loads(frame.to_json(orient="records"))


# -- the page with a champion ---------------------------------------------------------------------


def test_champion_learning_curve_models_and_history(browser, champion):
    served = httpx.get(f"{champion.base}/model").json()["version"]
    registry = httpx.get(f"{champion.base}/api/registry").json()
    with open_page(browser, champion) as (page, _):
        expect(page.get_by_test_id("champion-version")).to_have_text(served)
        assert served == "6"
        expect(page.get_by_test_id("service-status")).to_have_text("serving version 6")
        expect(page.get_by_test_id("empty-state")).to_be_hidden()
        why = page.get_by_test_id("champion-why")
        expect(why).to_have_text(registry["champion"]["promoted"]["reason"])
        metrics = page.get_by_test_id("champion-metrics")
        expect(metrics.locator("tr[data-metric=pr_auc] td").nth(1)).to_have_text(
            f"{registry['champion']['metrics'][0]['value']:.3f}"
        )
        expect(metrics.locator("tr[data-metric=pr_auc] td").nth(2)).to_have_text(
            f"{registry['champion']['metrics'][0]['baseline']:.3f}"
        )

        # the learning curve: one point per chunk, the gate's promotions marked, drawn to scale
        points = page.locator("svg[data-testid=curve-svg] circle[data-testid=curve-point]")
        expect(points).to_have_count(CHUNKS)
        drawn = points.evaluate_all(
            """nodes => nodes.map(n => ({chunk: Number(n.dataset.chunk),
                promoted: n.dataset.promoted === "true",
                marked: n.classList.contains("promoted"),
                r: Number(n.getAttribute("r")), cy: Number(n.getAttribute("cy"))}))"""
        )
        assert [p["chunk"] for p in drawn] == list(range(1, CHUNKS + 1))
        assert [p["chunk"] for p in drawn if p["promoted"]] == PROMOTED
        assert [p["chunk"] for p in drawn if p["marked"]] == PROMOTED
        assert all(p["r"] > 5 for p in drawn if p["marked"])
        assert all(p["r"] < 5 for p in drawn if not p["marked"])
        values = [p["values"]["pr_auc"] for p in registry["learning_curve"]["points"]]
        for a, pa in zip(values, drawn, strict=True):
            for b, pb in zip(values, drawn, strict=True):
                if a > b + 1e-9:
                    assert pa["cy"] < pb["cy"], "a higher PR-AUC must be drawn higher"
        ring = page.locator("svg[data-testid=curve-svg] [data-testid=curve-champion]")
        expect(ring).to_have_attribute("data-chunk", "6")
        expect(page.get_by_test_id("curve-baseline")).to_have_count(1)
        page.get_by_test_id("curve-metric").select_option("f1")
        expect(points.first).to_have_attribute("data-chunk", "1")
        assert "F1" in points.first.locator("title").text_content()

        rows = page.get_by_test_id("model-row")
        expect(rows).to_have_count(CHUNKS)
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.version)") == [
            "6",
            "5",
            "4",
            "3",
            "2",
            "1",
        ]
        expect(page.locator("tr.is-champion")).to_have_attribute("data-version", "6")
        expect(page.locator("tr[data-version='3']")).to_contain_text("kept out")
        expect(page.locator("tr[data-version='3']")).to_contain_text("fails acceptance")

        history = page.get_by_test_id("history-entry")
        expect(history).to_have_count(len(PROMOTED))
        expect(history.first).to_contain_text("version 5 → version 6")
        expect(history.last).to_contain_text("first champion: version 1")
        expect(page.get_by_test_id("rollback-open")).to_have_text("Roll back to version 5…")
        expect(page.get_by_test_id("rollback-open")).to_be_enabled()

        expect(page.get_by_test_id("drift-empty")).to_have_text("No monitoring data yet.")


def test_live_figures_refresh_by_themselves_and_screenshot(browser, champion, tmp_path):
    with open_page(browser, champion) as (page, _):
        expect(page.get_by_test_id("champion-version")).to_have_text("6")
        bodies = part_records(champion, 100)
        flagged = 0
        with httpx.Client(base_url=champion.base) as client:
            for body in bodies[:20]:
                flagged += client.post("/predict", json=body).json()["defect_pred"]
            batch = client.post("/predict/batch", json={"records": bodies[20:]}).json()
            flagged += sum(p["defect_pred"] for p in batch["predictions"])
        # no reload: the page polls every 5 s
        predictions = page.get_by_test_id("live-predictions")
        expect(predictions.locator(".value")).to_have_text("100", timeout=15_000)
        expect(page.get_by_test_id("live-requests").locator(".value")).to_have_text("21")
        expect(page.get_by_test_id("live-flagged").locator(".value")).to_have_text(
            f"{100 * flagged / 100:.1f}%"
        )
        expect(page.get_by_test_id("live-flagged")).to_contain_text(f"{flagged} of 100")
        latency = page.get_by_test_id("live-latency").locator(".value")
        assert latency.text_content().endswith(" ms")
        bars = page.locator("svg[data-testid=live-chart] [data-testid=live-bar]")
        expect(bars).to_have_count(30)
        # the parts land in the current minute's bar, or the one before if a minute just ended
        heights = [float(bar.get_attribute("height")) for bar in bars.all()[-2:]]
        assert sum(heights) > 0, heights
        # the service's own drift window: 100 parts are enough to compare, every feature listed
        features = httpx.get(f"{champion.base}/model").json()["features"]
        drift = page.get_by_test_id("drift-window").locator("li")
        expect(drift).to_have_count(
            len(features["numeric"]) + len(features["categorical"]), timeout=15_000
        )
        expect(page.get_by_test_id("drift")).to_contain_text("Service window: last 100 of 5,000")
        shot = DOCS_SCREENSHOT if os.environ.get("DEFECTOPS_SCREENSHOT") else tmp_path / "d.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_drift_panel_renders_both_lists_worst_first(browser, champion):
    payload = {
        "status": "drift",
        "window": {"size": 1200, "capacity": 2000},
        "features": [
            {"feature": "Torque", "psi": 0.05, "status": "ok"},
            {"feature": "EnergyConsumption", "psi": 0.41, "status": "drift"},
            {"feature": "<img src=x onerror=alert(1)>", "psi": None, "status": "warn"},
            {"feature": "Temperature", "psi": 0.12, "status": "warn"},
        ],
        "report": {
            "batch": "line_2024-05-02.csv",
            "status": "warn",
            "created_at": "2024-05-02T06:00:00+00:00",
            "features": [
                {
                    "feature": "SupplierCountry",
                    "psi": 0.15,
                    "status": "warn",
                    "kind": "categorical",
                },
                {"feature": "Pressure", "psi": 0.01, "status": "ok", "kind": "numeric"},
            ],
        },
    }
    with open_page(browser, champion) as (page, _):
        expect(page.get_by_test_id("champion-version")).to_have_text("6")
        shown = page.evaluate(
            """payload => {
                const box = document.createElement("div");
                document.body.append(box);
                DefectopsDashboard.renderDrift(box, payload);
                const list = (id) => [...box.querySelectorAll(`[data-testid=${id}] li`)].map(
                    li => [li.dataset.feature, li.dataset.status,
                           li.querySelector(".psi").textContent]);
                const out = {
                    status: box.querySelector("[data-testid=drift-status]").textContent,
                    window: list("drift-window"), report: list("drift-report"),
                    headings: [...box.querySelectorAll("h3")].map(h => h.textContent),
                    images: box.querySelectorAll("img").length,
                };
                box.remove();
                return out;
            }""",
            payload,
        )
        assert shown["status"] == "drift"
        assert shown["window"] == [
            ["EnergyConsumption", "drift", "PSI 0.410"],
            ["Temperature", "warn", "PSI 0.120"],
            ["<img src=x onerror=alert(1)>", "warn", "PSI —"],
            ["Torque", "ok", "PSI 0.050"],
        ]
        assert shown["report"] == [
            ["SupplierCountry", "warn", "PSI 0.150"],
            ["Pressure", "ok", "PSI 0.010"],
        ]
        assert shown["images"] == 0  # a feature name is text, never markup
        assert shown["headings"][0] == "Service window: last 1,200 of 2,000 parts"
        assert shown["headings"][1].startswith("Latest report: line_2024-05-02.csv, ")
        assert shown["headings"][1].endswith("(warn)")

        for empty_payload in (
            None,
            {"status": "unknown", "window": {"size": 0, "capacity": 2000}, "features": []},
            {"status": "unknown", "features": [], "report": {"batch": "b", "features": []}},
        ):
            text = page.evaluate(
                """payload => {
                    const box = document.createElement("div");
                    DefectopsDashboard.renderDrift(box, payload);
                    return box.querySelector("[data-testid=drift-empty]")?.textContent;
                }""",
                empty_payload,
            )
            assert text == "No monitoring data yet."
        # only the window list when there is no report yet
        window_only = page.evaluate(
            """payload => {
                const box = document.createElement("div");
                DefectopsDashboard.renderDrift(box, payload);
                return [!!box.querySelector("[data-testid=drift-window]"),
                        !!box.querySelector("[data-testid=drift-report]")];
            }""",
            {**payload, "report": None},
        )
        assert window_only == [True, False]


def test_narrow_screen_has_no_horizontal_overflow(browser, champion):
    with open_page(browser, champion, width=390, height=844) as (page, _):
        expect(page.get_by_test_id("champion-version")).to_have_text("6")
        expect(page.get_by_test_id("model-row")).to_have_count(CHUNKS)
        expect(page.locator("[data-testid=curve-point]")).to_have_count(CHUNKS)
        width, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        assert inner == 390
        assert width <= inner, f"page is {width}px wide on a {inner}px screen"
        box = page.get_by_test_id("curve-svg").bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] > 150


# -- the page before any model exists -------------------------------------------------------------


def test_empty_state_then_a_champion_appears(browser, empty, champion):
    assert httpx.get(f"{empty.base}/ready").status_code == 503
    with open_page(browser, empty) as (page, _):
        expect(page.get_by_test_id("empty-state")).to_be_visible()
        expect(page.get_by_test_id("empty-state")).to_contain_text("No model yet")
        expect(page.get_by_test_id("service-status")).to_have_text("no model: not ready")
        expect(page.get_by_test_id("champion")).to_have_text("No champion is being served.")
        expect(page.get_by_test_id("rollback-open")).to_be_disabled()
        expect(page.get_by_test_id("curve")).to_contain_text("No run yet")
        expect(page.get_by_test_id("models")).to_contain_text("No models yet")
        expect(page.get_by_test_id("history")).to_contain_text("No champion yet")
        expect(page.get_by_test_id("drift-empty")).to_be_visible()
        expect(page.get_by_test_id("live-predictions").locator(".value")).to_have_text("0")
        page.set_viewport_size({"width": 390, "height": 844})
        width, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        assert width <= inner == 390

        # a champion is committed to production/ (metadata last): the page shows it by itself
        source = champion.artifacts / PRODUCTION_DIR
        target = empty.artifacts / PRODUCTION_DIR
        target.mkdir()
        for path in source.iterdir():
            if path.name != METADATA:
                shutil.copy(path, target / path.name)
        shutil.copy(source / METADATA, target / METADATA)
        version = json.loads((source / METADATA).read_text())["version"]
        expect(page.get_by_test_id("champion-version")).to_have_text(version, timeout=15_000)
        expect(page.get_by_test_id("empty-state")).to_be_hidden()


# -- rollback (last: it changes the champion of the module's service) -----------------------------


def test_rollback_wrong_token_fails_visibly_right_token_goes_back(browser, champion):
    allowed = (("/admin/rollback", 401),)
    with open_page(browser, champion, allowed=allowed) as (page, _):
        version = page.get_by_test_id("champion-version")
        expect(version).to_have_text("6")
        message = page.get_by_test_id("rollback-message")

        page.get_by_test_id("rollback-open").click()
        expect(page.get_by_test_id("rollback-form")).to_be_visible()
        page.get_by_test_id("rollback-token").fill("not-the-token")
        page.get_by_test_id("rollback-confirm").click()
        expect(message).to_be_visible()
        expect(message).to_contain_text("Rollback refused")
        expect(message).to_contain_text("wrong admin token")
        expect(message).to_have_class("message error")
        expect(page.get_by_test_id("rollback-token")).to_have_value("")
        expect(version).to_have_text("6")
        assert httpx.get(f"{champion.base}/model").json()["version"] == "6"

        page.get_by_test_id("rollback-token").fill(TOKEN)
        page.get_by_test_id("rollback-reason").fill("bad supplier batch")
        page.get_by_test_id("rollback-confirm").click()
        expect(message).to_have_class("message ok")
        expect(message).to_contain_text("version 5 is serving (was 6)")
        expect(version).to_have_text("5")
        assert httpx.get(f"{champion.base}/model").json()["version"] == "5"
        expect(page.get_by_test_id("rollback-form")).to_be_hidden()
        expect(page.get_by_test_id("history-entry").first).to_contain_text("version 6 → version 5")
        expect(page.get_by_test_id("history-entry").first).to_contain_text("bad supplier batch")
        expect(page.locator("tr.is-champion")).to_have_attribute("data-version", "5")
        expect(page.get_by_test_id("rollback-open")).to_have_text("Roll back to version 4…")
        # the token went with the one request and nowhere else
        expect(page.get_by_test_id("rollback-token")).to_have_value("")
        kept = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
        assert kept == [0, 0, ""]
        assert TOKEN not in page.content()


# -- the API docs ---------------------------------------------------------------------------------


def test_api_docs_render_from_the_service_alone(browser, champion):
    """``/docs`` on a plant network: Swagger UI draws every operation, and the browser asks no
    host but the service for anything (no CDN, no favicon elsewhere, no online validator)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = Console(page, champion.base, ())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(champion.base + "/docs")
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible(timeout=20_000)
        paths = operations.evaluate_all(
            "nodes => nodes.map(n => n.querySelector('.opblock-summary-path')?.dataset.path)"
        )
        assert {"/predict", "/predict/batch", "/explain", "/admin/rollback"} <= set(paths), paths
        page.wait_for_load_state("networkidle")
        elsewhere = [url for url in requested if not url.startswith(champion.base + "/")]
        assert elsewhere == [], elsewhere
        assert champion.base + "/openapi.json" in requested
        assert console.errors == [], console.errors
    finally:
        context.close()
    html = httpx.get(f"{champion.base}/docs").text
    assert "cdn." not in html and "tiangolo" not in html and '"validatorUrl": null' in html
