"""The chat page of ``pilotfish serve --ui``, driven in headless Chromium (Debian's ``chromium``
with Playwright's Python package; no browser download)."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")

import pilotfish  # noqa: E402
from pilotfish.server.app import ServerThread, create_app  # noqa: E402

CHROMIUM = os.environ.get("PILOTFISH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _reply(messages):
    return "Mobile phone sales grew strongly [1]. Analysts expect more growth [2]."


def test_chat_page_streams_answer_with_citations_and_verdicts(browser, retriever_plugin):
    from pf_integration_helpers import MiniLMClaimVerifier

    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(_reply), plugins=[retriever_plugin, MiniLMClaimVerifier()],
                            top_k=2, use_entrypoints=False)
    with ServerThread(create_app(pilot, ui=True)) as srv:
        page = browser.new_page()
        page.goto(srv.base_url + "/")
        assert page.title() == "pilotfish chat"
        page.fill("#question", "How are mobile phone sales doing?")
        page.click("#send")
        page.wait_for_selector(".turn.assistant[data-done='true']", timeout=20_000)
        answer = page.inner_text(".turn.assistant .answer")
        assert answer == _reply(None)
        # numbered citations, in the text and in the list
        assert page.locator(".turn.assistant a.cite").count() == 2
        assert page.locator(".turn.assistant a.citation").count() == 2
        first_title = retriever_plugin.retrieve(pilot.make_request("How are mobile phone sales doing?"), 2)[0].title
        assert page.inner_text(".turn.assistant a.citation >> nth=0") == first_title
        # a citation opens its passage
        page.click(".turn.assistant a.cite >> nth=0")
        assert page.is_visible("#passage")
        assert page.inner_text("#passage-title").startswith("[1]")
        assert len(page.inner_text("#passage-text")) > 50
        page.click("#passage-close")
        # one verdict badge per claim
        badges = page.locator(".turn.assistant .verdict")
        assert badges.count() == 2
        assert "Mobile phone sales grew strongly" in badges.nth(0).inner_text()
        assert page.locator(".turn.assistant .route").inner_text().startswith("answered by")
        page.close()


def test_chat_page_reports_a_missing_key(browser):
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False)
    with ServerThread(create_app(pilot, ui=True, api_key="sk-ui")) as srv:
        page = browser.new_page()
        page.goto(srv.base_url + "/")
        page.fill("#question", "hello")
        page.click("#send")
        page.wait_for_selector(".turn.assistant[data-done='error']", timeout=10_000)
        assert "401" in page.inner_text(".turn.assistant .error")
        # with the key (settings), the same page works
        page.click("#settings summary")
        page.fill("#api-key", "sk-ui")
        page.dispatch_event("#api-key", "change")
        page.fill("#question", "hello again")
        page.click("#send")
        page.wait_for_selector(".turn.assistant[data-done='true']", timeout=10_000)
        assert page.inner_text(".turn.assistant[data-done='true'] .answer") == "echo: hello again"
        page.close()
