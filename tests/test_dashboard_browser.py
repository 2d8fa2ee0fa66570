"""The run dashboard in a real headless Chromium: every figure renders, no JavaScript errors.

Skipped only where Chromium or chromedriver is missing (install: apt-get install -y chromium
chromium-driver); the screenshot lands in the test's tmp dir for a human to look at.
"""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest

from simulator import dashboard, simulate
from tests.browser import (
    chromium_or_skip,
    full_page_screenshot,
    headless_chromium,
    severe_console_entries,
    wait_for,
)
from tests.test_dashboard import EVENTS, TINY_SCENARIO

RENDERED_PLOTS_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(plot => plot.querySelector('svg.main-svg') && plot.querySelector('g.trace'))
  .length;
"""

LEGEND_CLICK_JS = """
// click the legend entry of the first firm trace in the price figure, as a user would
const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
const price = plots[1];
const index = price.data.findIndex(trace => trace.legendgroup === arguments[0]);
price.emit('plotly_legendclick', {data: price.data, curveNumber: index});
return plots.map(plot => plot.data
  .filter(trace => trace.legendgroup === arguments[0] && trace.visible !== false)
  .map(trace => trace.visible));
"""


@pytest.mark.browser
def test_dashboard_renders_every_figure_without_javascript_errors(tmp_path):
    chromium_or_skip()
    result = simulate(copy.deepcopy(TINY_SCENARIO))
    # Lab enters late, so the entry marker is drawn too
    firms = result.firms[~((result.firms["firm"] == "Lab") & (result.firms["step"] < 4))]
    result = dataclasses.replace(result, firms=firms)
    result.edges = pd.DataFrame(
        {
            "step": [3, 4, 20],
            "source": ["Big", "Big", "Lab"],
            "target": ["Lab", "Lab", "Cheap"],
            "type": ["joint_rd", "joint_rd", "alliance"],
            "start_step": [3, 3, 20],
        }
    )
    figures = dashboard.run_figures(result, events=EVENTS)
    page = dashboard.write_run_dashboard(result, tmp_path / "dashboard.html", events=EVENTS)

    with headless_chromium(tmp_path) as driver:
        driver.get(page.resolve().as_uri())
        rendered = wait_for(lambda: driver.execute_script(RENDERED_PLOTS_JS) >= len(figures))
        count = driver.execute_script(RENDERED_PLOTS_JS)
        total = driver.execute_script("return document.querySelectorAll('.js-plotly-plot').length")
        assert rendered and count == total == len(figures)
        assert "tiny" in driver.find_element("css selector", "header h1").text

        visibility = driver.execute_script(LEGEND_CLICK_JS, "Big")
        firm_panels = [v for v in visibility if v]
        assert len(firm_panels) >= 4  # share, price, quality, profit/cash all draw Big
        assert all(v == "legendonly" for panel in firm_panels for v in panel)

        screenshot = full_page_screenshot(driver, tmp_path / "dashboard.png")
        errors = severe_console_entries(driver)
    assert screenshot.stat().st_size > 10_000
    assert errors == [], errors
