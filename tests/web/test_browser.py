"""The main flows in headless Chromium against the real app on a loopback port: development
sign-in, classify, answer questions, upload a list and download its results, Hebrew, API keys.

Skipped (with the reason) when Debian's chromium is not installed."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
from playwright.async_api import Page, expect
from tests.helpers import drain_jobs
from tests.web.conftest import BETA_ORG_ID, BETA_USER_ID, SCREENSHOTS, LiveServer

from sivug.accounts.service import DEMO_ORGANIZATION_ID, DEMO_USER_ID
from sivug.books.importers.hs_builtin import load_hs2022
from sivug.engine import ClassificationResult, Engine

_ENGINE: Engine | None = None


def offline_engine() -> Engine:
    """The same engine and book the server uses, to know what the pages should show."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(load_hs2022())
    return _ENGINE


def shown(code: str) -> str:
    """How the pages write a code: 610910 -> 6109.10."""
    return (
        code
        if len(code) <= 4
        else code[:4] + "." + ".".join(code[i : i + 2] for i in range(4, len(code), 2))
    )


def at(path: str) -> re.Pattern[str]:
    """The page's URL is this path (and query) on the server."""
    return re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(path) + "$")


async def sign_in(page: Page, user_id: str, organization_id: str, start: str = "/classify") -> None:
    await page.goto(start)
    await expect(page).to_have_url(at(f"/dev/sign-in?next={start.replace('/', '%2F')}"))
    await expect(page.get_by_role("heading", name="Development sign-in")).to_be_visible()
    await page.get_by_test_id(f"sign-in-{user_id}-{organization_id}").click()
    await expect(page).to_have_url(at(start))


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_development_sign_in_shows_who_and_which_organization(page: Page) -> None:
    await sign_in(page, DEMO_USER_ID, DEMO_ORGANIZATION_ID)
    await expect(page.get_by_test_id("account")).to_contain_text("Dana Demo")
    await expect(page.get_by_test_id("organization")).to_have_text("Demo Imports Ltd")
    await page.get_by_test_id("account").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(at("/dev/sign-in?next=%2Fclassify"))
    await page.goto("/history")
    await expect(page).to_have_url(at("/dev/sign-in?next=%2Fhistory"))  # signed out for real


async def test_classify_shows_code_rationale_and_engine_then_confirm(page: Page) -> None:
    description = "men's cotton knitted t-shirt"
    expected = offline_engine().classify(description, None, organization_id=DEMO_ORGANIZATION_ID)
    assert expected.code is not None
    await sign_in(page, DEMO_USER_ID, DEMO_ORGANIZATION_ID)
    await page.get_by_label("Product description").fill(description)
    await page.get_by_role("button", name="Classify", exact=True).click()

    result = page.get_by_test_id("result")
    await expect(result).to_have_attribute("data-status", expected.status)
    await expect(page.get_by_test_id("result-code")).to_have_text(shown(expected.code))
    await expect(result).to_contain_text(expected.description.split(" > ")[-1])
    await expect(result).to_contain_text("Why this code")
    await expect(result).to_contain_text("GRI 1")
    await expect(page.get_by_test_id("engine")).to_have_text(expected.engine)
    await expect(page).to_have_url(at("/classify"))  # updated in place by htmx
    await screenshot(page, "classify")

    await page.get_by_role("button", name="Confirm this code").click()
    await expect(page.get_by_test_id("confirmed")).to_contain_text(shown(expected.code))

    await page.get_by_role("navigation").get_by_role("link", name="History").click()
    await expect(page.get_by_test_id("history")).to_contain_text(description)
    await expect(page.get_by_test_id("history")).to_contain_text(shown(expected.code))
    await screenshot(page, "history")


def _asks_questions() -> tuple[str, ClassificationResult]:
    """A description the engine asks about ("t-shirt": what is it made of?)."""
    engine = offline_engine()
    for description in ("t-shirt", "knife", "shirt", "table"):
        result = engine.classify(description, None, organization_id=BETA_ORG_ID)
        if result.status == "needs_info" and result.questions:
            return description, result
    raise AssertionError("the engine asks no question for any of the sample descriptions")


async def test_answering_questions_updates_the_result_until_classified(page: Page) -> None:
    description, first = _asks_questions()
    await sign_in(page, BETA_USER_ID, BETA_ORG_ID)
    await page.get_by_label("Product description").fill(description)
    await page.get_by_role("button", name="Classify", exact=True).click()
    await expect(page.get_by_test_id("result")).to_have_attribute("data-status", "needs_info")
    await expect(page.get_by_test_id("questions")).to_contain_text(first.questions[0].text)
    await screenshot(page, "question")

    engine = offline_engine()
    answers: dict[str, str] = {}
    result = first
    for _ in range(6):
        if result.status != "needs_info" or not result.questions:
            break
        question = result.questions[0]
        labels = [option.label for option in question.options]
        option = next((o for o in question.options if o.label == "cotton"), question.options[0])
        questions = page.get_by_test_id("questions")
        await expect(questions).to_contain_text(question.text)
        for label in labels:
            await expect(questions).to_contain_text(label)
        await questions.locator(f"button.option[value='{option.value}']").click()
        answers[question.id] = option.value
        result = engine.classify(description, None, answers=answers, organization_id=BETA_ORG_ID)
        await expect(page.get_by_test_id("result")).to_have_attribute("data-status", result.status)
    assert result.status == "classified"
    assert result.code is not None
    await expect(page.get_by_test_id("result-code")).to_have_text(shown(result.code))
    await expect(page.get_by_test_id("questions")).to_have_count(0)
    if description == "t-shirt" and "material:6109" in answers:
        assert result.code == "610910"


async def test_upload_a_list_watch_progress_and_download_results(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    await sign_in(page, DEMO_USER_ID, DEMO_ORGANIZATION_ID, start="/lists")
    wrong = tmp_path / "items.txt"
    wrong.write_text("not a list")
    await page.get_by_label("File").set_input_files(wrong)
    await page.get_by_role("button", name="Upload and classify").click()
    await expect(page.get_by_test_id("error")).to_contain_text("expected a .csv, .xlsx or .jsonl")

    items = tmp_path / "imports.csv"
    items.write_text(
        "id,description,material\n"
        "A-1,Men's knitted T-shirt,cotton\n"
        "A-2,Stainless steel kitchen knife with plastic handle,\n"
        "A-3,,\n",
        encoding="utf-8",
    )
    await page.get_by_label("File").set_input_files(items)
    await page.get_by_role("button", name="Upload and classify").click()
    status = page.get_by_test_id("list-status")
    await expect(status).to_have_attribute("data-status", "queued")
    await expect(page.get_by_test_id("list-progress")).to_contain_text("0 of 3 items")

    await drain_jobs(live_server.database_url, live_server.settings)  # the worker, once

    await expect(status).to_have_attribute("data-status", "done")  # htmx polled the progress
    await expect(page.get_by_test_id("list-progress")).to_contain_text("3 of 3 items")
    await screenshot(page, "lists")
    async with page.expect_download() as downloading:
        await page.get_by_test_id("download").click()
    download = await downloading.value
    assert download.suggested_filename == "imports-results.csv"
    saved = await download.path()
    rows = list(csv.DictReader(io.StringIO(Path(saved).read_text(encoding="utf-8-sig"))))
    assert [row["id"] for row in rows] == ["A-1", "A-2", "A-3"]
    assert rows[0]["code"].startswith("6109")
    assert rows[1]["code"].startswith("82")
    assert "line 4" in rows[2]["error"]


async def test_switch_to_hebrew_right_to_left_and_back(page: Page) -> None:
    await sign_in(page, BETA_USER_ID, BETA_ORG_ID, start="/history")
    await page.get_by_test_id("lang-he").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("html")).to_have_attribute("lang", "he")
    await expect(page).to_have_url(at("/history"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("היסטוריה")
    menu = page.get_by_role("navigation", name="תפריט")
    await expect(menu.get_by_role("link", name="היסטוריה")).to_have_attribute(
        "aria-current", "page"
    )
    await menu.get_by_role("link", name="סיווג").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("סיווג מוצר")
    await screenshot(page, "classify-hebrew")

    await page.reload()  # remembered
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await page.get_by_test_id("lang-en").click()
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Classify a product")


async def test_admin_creates_and_revokes_an_api_key(page: Page, live_server: LiveServer) -> None:
    await sign_in(page, DEMO_USER_ID, DEMO_ORGANIZATION_ID, start="/api-keys")
    await page.get_by_label("Key name").fill("Customs ERP")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_test_id("new-key")).to_contain_text("Customs ERP")
    key = (await page.get_by_test_id("new-key-value").inner_text()).strip()
    assert key.startswith("sk_sivug_")
    await page.get_by_test_id("copy-key").click()
    await expect(page.get_by_test_id("copy-key")).to_have_text("Copied")
    await screenshot(page, "api-keys")

    async with httpx.AsyncClient(base_url=live_server.url) as api:
        headers = {"authorization": f"Bearer {key}"}
        assert (await api.get("/api/v1/books", headers=headers)).status_code == 200

        await page.goto("/api-keys")
        await expect(page.get_by_test_id("new-key")).to_have_count(0)  # shown once
        row = page.locator("tr[data-key='Customs ERP']")
        await expect(row).to_contain_text("Active")
        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Revoke").click()
        await expect(row).to_contain_text("Revoked")
        assert (await api.get("/api/v1/books", headers=headers)).status_code == 401


async def test_book_browser_and_main_pages_render(page: Page) -> None:
    await sign_in(page, DEMO_USER_ID, DEMO_ORGANIZATION_ID, start="/books")
    await page.get_by_role("link", name="HS2022").first.click()
    await page.get_by_role(
        "link", name="Apparel and clothing accessories; knitted or crocheted"
    ).click()
    await expect(page.get_by_test_id("breadcrumbs")).to_contain_text("61")
    await page.get_by_role(
        "link", name="T-shirts, singlets and other vests; knitted or crocheted"
    ).click()
    await expect(page.get_by_test_id("breadcrumbs")).to_contain_text("6109")
    await expect(page.get_by_test_id("children")).to_contain_text("6109.10")
    await screenshot(page, "book-line")
    await page.get_by_role("searchbox").fill("cotton t-shirts")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_test_id("search-results")).to_contain_text("6109")

    for path, name in [("/settings", "settings"), ("/books/HS2022", "book")]:
        response = await page.goto(path)
        assert response is not None
        assert response.status == 200
        await screenshot(page, name)
    await expect(page.get_by_test_id("members")).to_have_count(0)  # on /books/HS2022 now
    await page.goto("/settings")
    await expect(page.get_by_test_id("members")).to_contain_text("demo@example.com")
    await page.get_by_label("Time zone").fill("Asia/Jerusalem")
    await page.get_by_label("Currency").fill("ILS")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_test_id("saved")).to_be_visible()
    await expect(page.get_by_label("Currency")).to_have_value("ILS")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_test_id("error")).to_contain_text("not an IANA time zone")

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto("/classify")
    await screenshot(page, "classify-phone")
