"""The interactive explorer in a real headless Chromium: the page loads and draws its figures,
moving a slider re-runs the model and changes the share chart, an invalid combination shows
the validation's message instead of new figures, and the console stays free of errors.

Skipped where Chromium or chromedriver is missing (tests/browser.py) or Dash is not installed
(the ``explore`` extra). With ``SCREENSHOT_DIR`` set, the screenshots of the baseline's
explorer and dashboard are also written there: ``SCREENSHOT_DIR=docs python -m pytest
tests/test_explore_browser.py`` refreshes the README's pictures.
"""

from __future__ import annotations

import copy
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulator import dashboard, simulate
from simulator.config import load_scenario, parse_scenario
from tests.browser import (
    chromium_or_skip,
    headless_chromium,
    severe_console_entries,
    wait_for,
)
from tests.test_dashboard import TINY_SCENARIO

pytest.importorskip("dash", reason="the explorer needs the 'explore' extra (Dash)")

from simulator.explore import scenario_controls  # noqa: E402
from simulator.explore.app import FIGURES, explorer_server  # noqa: E402

SHARE_DATA_JS = """
// the share chart's firm traces of the 'all segments' view, as the page drew them
const plot = document.querySelector('#share .js-plotly-plot');
if (!plot || !plot._fullData) return null;
return plot._fullData
  .filter(trace => trace.stackgroup && trace.visible === true)
  .map(trace => [trace.name, Array.from(trace.y)]);
"""
RENDERED_JS = """
return arguments[0].filter(id => {
  const plot = document.querySelector('#' + id + ' .js-plotly-plot');
  return plot && plot.querySelector('svg.main-svg') && plot.querySelector('g.trace');
}).length;
"""
LOAD_TIMEOUT_S = 90  # the first run also reads the zoo; the machine may be busy


def _scenario():
    """TINY_SCENARIO with a price cap (1.5) on Big, so its cost slider can break validation."""
    data = copy.deepcopy(TINY_SCENARIO)
    data["companies"][0]["price_cap"] = 1.5
    return parse_scenario(data)


@contextmanager
def running_explorer(scenario) -> Iterator[str]:
    """The explorer of ``scenario`` served on a free local port; yields its URL."""
    server = explorer_server(scenario, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _control_element(driver, key: int):
    """A control's element: its id is Dash's JSON of the pattern-matching id."""
    element_id = f'{{"key":{key},"type":"control"}}'
    return driver.execute_script("return document.getElementById(arguments[0])", element_id)


def _slider_root(driver, scenario, canonical: str):
    (control,) = [c for c in scenario_controls(scenario) if c.path.canonical == canonical]
    element = _control_element(driver, control.key)
    return control, element.find_element("css selector", ".dash-slider-root")


def _click_at(driver, element, fraction: float) -> None:
    """Click ``element`` (a slider track) at ``fraction`` of its width, as a user would."""
    from selenium.webdriver import ActionChains

    driver.execute_script("arguments[0].closest('details').open = true", element)
    width = element.size["width"]
    ActionChains(driver).move_to_element_with_offset(
        element, int((fraction - 0.5) * width), 0
    ).click().perform()


def _open_page(driver, url: str) -> dict[str, list[float]]:
    driver.get(url)
    shares = wait_for(lambda: driver.execute_script(SHARE_DATA_JS), LOAD_TIMEOUT_S)
    assert shares, "the share chart never drew"
    rendered = wait_for(
        lambda: driver.execute_script(RENDERED_JS, list(FIGURES)) == len(FIGURES), 30
    )
    assert rendered, driver.execute_script(RENDERED_JS, list(FIGURES))
    return dict(shares)


@pytest.mark.browser
def test_moving_a_cost_slider_reruns_and_changes_the_share_chart(tmp_path):
    chromium_or_skip()
    scenario = _scenario()
    with running_explorer(scenario) as url, headless_chromium(tmp_path) as driver:
        before = _open_page(driver, url)
        status_before = driver.find_element("id", "status").text
        control, track = _slider_root(driver, scenario, "companies.Cheap.unit_cost")
        _click_at(driver, track, 0.8)  # Cheap's unit cost from 0.5 to about 1.2
        after = wait_for(
            lambda: (data := dict(driver.execute_script(SHARE_DATA_JS) or [])) != before and data,
            LOAD_TIMEOUT_S,
        )
        assert after, "the share chart did not change after the slider moved"
        thumb = _control_element(driver, control.key).find_element("css selector", "[role=slider]")
        value = float(thumb.get_attribute("aria-valuenow"))
        errors = severe_console_entries(driver)
        status_after = driver.find_element("id", "status").text
    assert value > 2 * control.value  # the slider moved right
    # a dearer Cheap sells less: its share of inside sales falls at the end of the run
    assert after["Cheap"][-1] < before["Cheap"][-1] - 0.01
    assert set(after) == set(before)
    assert status_after != status_before
    assert errors == [], errors


@pytest.mark.browser
def test_an_invalid_combination_shows_the_validation_message_and_keeps_the_figures(tmp_path):
    chromium_or_skip()
    scenario = _scenario()
    with running_explorer(scenario) as url, headless_chromium(tmp_path) as driver:
        before = _open_page(driver, url)
        _control, track = _slider_root(driver, scenario, "companies.Big.unit_cost")
        _click_at(driver, track, 0.95)  # Big's unit cost above its price cap of 1.5
        problems = wait_for(lambda: driver.find_element("id", "problems").text, LOAD_TIMEOUT_S)
        shares = dict(driver.execute_script(SHARE_DATA_JS))
        errors = severe_console_entries(driver)
    assert "companies.Big" in problems and "price_cap" in problems, problems
    assert shares == before
    assert errors == [], errors


def _keep(screenshot: Path) -> None:
    """Copy ``screenshot`` into SCREENSHOT_DIR when that is set (the README's pictures)."""
    target = os.environ.get("SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, Path(target) / screenshot.name)


@pytest.mark.browser
def test_the_baseline_explorer_and_dashboard_render_without_errors(tmp_path):
    """The shipped baseline (six firms, four segments) in both pages; their top screenshots
    are the README's pictures."""
    chromium_or_skip()
    scenario = load_scenario("scenarios/baseline.yaml")
    result = simulate(scenario)
    page = dashboard.write_run_dashboard(result, tmp_path / "page.html")
    figures = dashboard.run_figures(result)
    with headless_chromium(tmp_path, width=1400, height=900) as driver:
        driver.get(page.resolve().as_uri())
        count_js = """return Array.from(document.querySelectorAll('.js-plotly-plot'))
          .filter(plot => plot.querySelector('g.trace')).length"""
        drawn = wait_for(lambda: driver.execute_script(count_js) == len(figures), 60)
        dashboard_png = tmp_path / "dashboard.png"
        driver.save_screenshot(str(dashboard_png))
        dashboard_errors = severe_console_entries(driver)
        with running_explorer(scenario) as url:
            shares = _open_page(driver, url)
            explorer_png = tmp_path / "explorer.png"
            driver.save_screenshot(str(explorer_png))
            explorer_errors = severe_console_entries(driver)
    assert drawn, "the dashboard did not draw every figure"
    assert set(shares) == {company.name for company in scenario.companies}
    assert dashboard_errors == explorer_errors == []
    for screenshot in (dashboard_png, explorer_png):
        assert screenshot.stat().st_size > 50_000  # a drawn page, not a blank one
        _keep(screenshot)
