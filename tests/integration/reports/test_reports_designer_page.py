"""The designer page in a real headless Chromium (Debian's package, driven by Playwright): sign in with a
token, design a report (data set, dimension, period, columns with a total), see the live preview, save it
(a stored definition), export it as XLSX and open the file the page downloaded."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from reports_harness import ADMIN, METERS, World, district, served, usage

from emms_reports.app import create_app
from emms_reports.settings import ReportsSettings

pytestmark = [pytest.mark.integration]
CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
async def page_url(world: World, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The reports service under a real uvicorn (the browser needs a socket), on the same sources."""
    if not HAVE_CHROMIUM:
        pytest.skip("no Chromium at /usr/bin/chromium: `make test` installs Debian's chromium (apt unavailable here)")
    settings = ReportsSettings(
        _env_file=None, environment="test", instance_id=f"reports-page-{world.run}",
        database=world.state.settings.database, kafka=world.state.settings.kafka, shutdown_grace_s=5.0,
        upstream={"analytics_url": world.analytics_url, "archive_url": world.archive_url},
        delivery={"store_dir": tmp_path_factory.mktemp("rpt-page"), "tick_s": 3600})
    async with served(create_app(settings)) as url:
        yield f"{url}/designer"


async def test_design_preview_save_and_export_in_a_browser(page_url: str, world: World) -> None:
    from playwright.async_api import async_playwright

    token = ADMIN["Authorization"].split(" ", 1)[1]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            await page.goto(page_url)
            await page.fill("#token", token)
            await page.dispatch_event("#token", "change")
            await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
            await page.select_option("#dataset", "usage")
            await page.dispatch_event("#dataset", "change")
            await page.fill("#title", "浏览器设计 Browser report")
            await page.check(".dim[value='region']")
            await page.select_option("#interval", "month")
            await page.select_option("#period", "fixed")
            await page.fill("#from", "2026-02-01T00:00:00+08:00")
            await page.fill("#to", "2026-03-01T00:00:00+08:00")
            await page.fill("#filters", "regions=RPT-R")
            await page.check(".col[data-field='key']")
            usage_row = page.locator("#columns > div", has=page.locator(".col[data-field='usage']"))
            await usage_row.locator(".col").check()
            await usage_row.locator(".tot").select_option("sum")
            await page.click("#preview-btn")
            await page.wait_for_selector("#preview[data-rows='2']", timeout=15_000)
            assert await page.text_content("#error") == ""
            cells = await page.locator("#preview td").all_text_contents()
            preview = dict(zip(cells[0::2], cells[1::2], strict=True))
            d1 = usage([m for m in METERS if district(m) == "RPT-R-1"], date(2026, 2, 1), date(2026, 3, 1))
            assert float(preview["RPT-R-1"]) == pytest.approx(d1)

            # the live preview: a change of the form alone re-runs it (no click)
            await page.uncheck(".dim[value='region']")
            await page.check(".dim[value='category']")
            await page.wait_for_function("() => [...document.querySelectorAll('#preview td')]"
                                         ".some((td) => td.textContent === 'e_residential')", timeout=15_000)
            await page.check(".dim[value='region']")
            await page.uncheck(".dim[value='category']")
            await page.wait_for_function("() => [...document.querySelectorAll('#preview td')]"
                                         ".some((td) => td.textContent === 'RPT-R-2')", timeout=15_000)

            await page.click("#save-btn")
            await page.wait_for_selector("#saved[data-id]", timeout=15_000)
            did = await page.get_attribute("#saved", "data-id")
            stored = await world.reports.get(f"/api/v1/reports/definitions/{did}")
            assert stored.status_code == 200 and stored.json()["body"]["title"] == "浏览器设计 Browser report"
            assert stored.json()["body"]["columns"][1] == {"field": "usage", "label": None, "format": "decimal2",
                                                          "total": "sum", "width": None}

            # edit the stored definition: a second version
            await page.fill("#signature", "制表,审核")
            await page.click("#save-btn")
            await page.wait_for_function("() => document.getElementById('saved').textContent.endsWith(' v2')",
                                         timeout=15_000)
            versions = (await world.reports.get(f"/api/v1/reports/definitions/{did}/versions")).json()
            assert [v["body"]["signature"] for v in versions] == [["制表", "审核", "批准"], ["制表", "审核"]]

            await page.click("button.export[data-format='xlsx']")
            await page.wait_for_selector("#download:not([hidden])", timeout=30_000)
            async with page.expect_download() as download_info:
                await page.click("#download")
            download = await download_info.value
            assert download.suggested_filename == "浏览器设计 Browser report.xlsx"
            data = (await download.path()).read_bytes()
        finally:
            await browser.close()
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A1"].value == "浏览器设计 Browser report"
    figures = {r[0]: r[1] for r in ws.iter_rows(min_row=5, values_only=True) if r[0]}
    assert figures["RPT-R-1"] == pytest.approx(d1)
    assert figures["合计 Total"] == pytest.approx(usage(METERS, date(2026, 2, 1), date(2026, 3, 1)))
