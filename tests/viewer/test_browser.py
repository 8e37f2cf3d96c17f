"""The conversation viewer in a real chromium, against flows the SDKs made through the real daemon."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from ccproxy.addons.viewer import viewer_url
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider
from tests.viewer import scenario
from tests.viewer.cdp import CHROMIUM, SKIP_REASON, Browser, Page

pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]


@pytest.fixture(scope="module")
def daemon(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = scenario.start_daemon(shared_fake, tmp_path_factory.mktemp("viewer"))
    try:
        scenario.make_all(d, shared_fake)
        yield d
    finally:
        d.stop()


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    b = await Browser(tmp_path / "profile").start()
    try:
        yield b
    finally:
        await b.close()


def url_of(d: DaemonProcess) -> str:
    return viewer_url(d.url, d.token_headers()["x-ccproxy-token"])


async def rendered(page: Page, at_least: int = 1) -> None:
    await page.wait_for(f"Number(document.body.dataset.rendered || 0) >= {at_least}")


async def open_viewer(page: Page, d: DaemonProcess, hash_: str = "") -> None:
    await page.navigate(url_of(d))  # trades ?token= for the cookie, then lands on /ui/
    assert await page.evaluate("location.pathname + location.search") == "/ui/"
    await rendered(page)
    if hash_:
        before = int(await page.evaluate("Number(document.body.dataset.rendered)"))
        await page.evaluate(f"location.hash = {json.dumps(hash_)}")
        await rendered(page, before + 1)


async def texts(page: Page, selector: str) -> list[str]:
    return list(
        await page.evaluate(f"[...document.querySelectorAll({json.dumps(selector)})].map((e) => e.textContent)")
    )


async def set_control(page: Page, element_id: str, value: str, event: str) -> None:
    """Set a filter control as a user would, and let the page hear it."""
    script = f"(() => {{ const c = document.getElementById({json.dumps(element_id)}); c.value = {json.dumps(value)};"
    await page.evaluate(script + f" c.dispatchEvent(new Event({json.dumps(event)})); }})()")


async def session_key_where(page: Page, condition: str) -> str:
    """The key of the listed session whose row `r` satisfies the JS `condition`."""
    rows = "[...document.querySelectorAll('tr.session')]"
    return str(await page.evaluate(f"{rows}.find((r) => {condition}).dataset.key"))


def session_hash(key: str) -> str:
    from urllib.parse import quote

    return "#/s/" + quote(key, safe="")


async def test_sessions_list_filters_and_sorts(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon)
    keys = await page.evaluate("[...document.querySelectorAll('tr.session')].map((r) => r.dataset.key)")
    assert scenario.SESSION in keys and len(keys) >= 3
    clients = await texts(page, "tr.session td:nth-child(2)")
    assert {"Anthropic/Python", "OpenAI/Python", "google-genai-sdk"} <= set(clients)
    # filter by provider: only the Gemini session stays
    await set_control(page, "filter-provider", "gemini", "change")
    assert await texts(page, "tr.session td:nth-child(3)") == ["gemini"] * len(await texts(page, "tr.session"))
    await set_control(page, "filter-provider", "", "change")
    # text filter on the opening prompt
    await set_control(page, "filter-text", "proxy do", "input")
    assert await texts(page, "tr.session td:nth-child(2)") == ["OpenAI/Python"]
    await set_control(page, "filter-text", "", "input")
    # sort by turns, descending: the 3-turn tool loop first
    await page.evaluate("document.querySelector('th[data-sort=turns]').click()")
    turns = [int(t) for t in await texts(page, "tr.session td:nth-child(5)")]
    assert turns == sorted(turns, reverse=True) and turns[0] == 3
    await page.evaluate("document.querySelector('th[data-sort=turns]').click()")
    assert [int(t) for t in await texts(page, "tr.session td:nth-child(5)")] == sorted(turns)


async def test_tool_loop_turns_pairing_and_system_prompt_flag(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon, session_hash(scenario.SESSION))
    assert len(await texts(page, "section.turn")) == 3
    # turn 1: thinking (collapsible), the tool call, an image and a named document
    assert await page.evaluate(
        "document.querySelector('#turn-0 .response details.thinking summary').textContent.startsWith('Thinking')"
    )
    call = "#turn-0 .response .tool-use[data-tool-id=toolu_01readme]"
    assert await page.evaluate(f"document.querySelector('{call}').classList.contains('paired')")
    assert await page.evaluate("document.querySelector('#turn-0 .image img').src.startsWith('data:image/png;base64,')")
    assert "design-notes.pdf" in "".join(await texts(page, "#turn-0 .document"))
    # turn 2: its tool result, named after the call it answers; a streamed response with a timeline
    result = await texts(page, "#turn-1 .client-view .tool-result[data-tool-id=toolu_01readme] .label")
    assert result and "result of read_file" in result[0]
    assert "+2 message(s) appended" in (await texts(page, "#turn-1 .changes"))[0]
    timeline = (await texts(page, "#turn-1 .timeline"))[0]
    assert "TTFB" in timeline and "events" in timeline
    assert scenario.ANSWER in "".join(await texts(page, "#turn-1 .response .text"))
    # the earlier history is collapsed, not repeated
    assert "1 earlier message(s), unchanged" in (await texts(page, "#turn-1 details.history summary"))[0]
    # only turn 3 changed the system prompt
    flags = [len(await texts(page, f"#turn-{i} .flag.system-changed")) for i in range(3)]
    assert flags == [0, 0, 1]
    # system prompt collapsed with its size; tools listed with their schema
    summary = (await texts(page, "#turn-2 details.system summary"))[0]
    assert summary == f"System prompt ({len(scenario.SYSTEM_CHANGED)} B)"
    await page.evaluate("document.querySelector('#turn-0 details.tools').open = true")
    await page.evaluate("document.querySelector('#turn-0 details.tool').open = true")
    schema = (await texts(page, "#turn-0 details.tool pre"))[0]
    assert json.loads(schema)["required"] == ["path"]
    # raw, redacted, one click away
    await page.evaluate("document.querySelector('#turn-0 details.raw').open = true")
    raw = await page.wait_for(
        "[...document.querySelectorAll('#turn-0 .raw-side pre')].map((p) => p.textContent).join('\\n')"
    )
    assert "<redacted>" in raw and "sk-ant-test" not in raw


async def test_captured_markup_renders_as_text_and_runs_nothing(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon, session_hash(scenario.SESSION))
    shown = (await texts(page, "#turn-0 .client-view .msg .text"))[0]
    assert "<script>window.__xss = 'script'</script>" in shown
    assert "[click me](javascript:window.__xss='link')" in shown
    assert "<img src=x onerror=" in shown
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert (
        await page.evaluate("document.querySelectorAll('#app script, #app img[onerror], #app [onerror]').length") == 0
    )
    assert (
        await page.evaluate(
            "[...document.querySelectorAll('a')].filter((a) => !/^(https?:|#)/.test(a.getAttribute('href'))).length"
        )
        == 0
    )
    assert await page.evaluate("document.querySelector('#turn-0 .msg .text strong').textContent") == "bold"
    # clicking what looks like a link runs nothing either
    await page.evaluate("[...document.querySelectorAll('#app a, #app p')].forEach((e) => e.click())")
    assert await page.evaluate("typeof window.__xss") == "undefined"
    csp = httpx.get(daemon.url + "/ui/viewer.js", trust_env=False).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


async def test_converted_flow_shows_the_upstream_view_on_toggle(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon)
    key = await session_key_where(page, "r.children[1].textContent === 'OpenAI/Python'")
    await page.evaluate(f"location.hash = {json.dumps(session_hash(key))}")
    await page.wait_for("document.querySelector('#turn-0 .upstream-toggle')")
    assert "openai → anthropic" in (await texts(page, "#turn-0 h3"))[0]
    assert await page.evaluate("document.querySelectorAll('.upstream-view').length") == 0
    await page.evaluate("document.querySelector('#turn-0 .upstream-toggle').click()")
    heading = (await texts(page, "#turn-0 .upstream-view h4"))[0]
    assert "(anthropic)" in heading
    # both sides parsed from their own wire: the same system prompt and question, each response
    for side in ("client-view", "upstream-view"):
        system = (await texts(page, f"#turn-0 .{side} details.system summary"))[0]
        assert system == f"System prompt ({len('You answer in one sentence.')} B)"
        assert "What does a proxy do?" in "".join(await texts(page, f"#turn-0 .{side} .msg.role-user"))
        assert "stop: end_turn" in (await texts(page, f"#turn-0 .{side} .stop"))[0]
    await page.evaluate("document.querySelector('#turn-0 .upstream-toggle').click()")
    assert await page.evaluate("document.querySelectorAll('.upstream-view').length") == 0


async def test_a_new_flow_appears_live(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon)
    await page.wait_for("document.getElementById('status').textContent.includes('live')")
    before = len(await texts(page, "tr.session"))
    await asyncio.to_thread(scenario.gemini_stream, daemon, "A brand new live conversation")
    rows = await page.wait_for(
        f"document.querySelectorAll('tr.session').length > {before} && document.querySelectorAll('tr.session').length"
    )
    assert rows == before + 1
    assert "brand new live" in "".join(await texts(page, "tr.session .hint"))


async def test_gemini_stream_turn(daemon: DaemonProcess, browser: Browser) -> None:
    page = await browser.new_page()
    await open_viewer(page, daemon)
    key = await session_key_where(page, "r.querySelector('.hint').textContent.includes('about streams')")
    await page.evaluate(f"location.hash = {json.dumps(session_hash(key))}")
    await page.wait_for("document.querySelector('#turn-0 .timeline')")
    assert "Hello from the fake provider." in "".join(await texts(page, "#turn-0 .response .text"))
    assert "stop: end_turn" in (await texts(page, "#turn-0 .stop"))[0]
    assert "in 12 · out 7" in (await texts(page, "#turn-0 .usage"))[0]


async def test_export_opens_from_disk_with_the_same_turns(
    daemon: DaemonProcess, browser: Browser, tmp_path: Path
) -> None:
    out = tmp_path / "session.html"
    r = daemon.cli("flows", "view", "--session", scenario.SESSION, "--html", str(out))
    assert r.returncode == 0, r.stderr
    page = await browser.new_page()
    await page.navigate(out.as_uri() + session_hash(scenario.SESSION))
    await rendered(page)
    assert len(await texts(page, "section.turn")) == 3
    flags = [len(await texts(page, f"#turn-{i} .flag.system-changed")) for i in range(3)]
    assert flags == [0, 0, 1]
    result = await texts(page, "#turn-1 .tool-result[data-tool-id=toolu_01readme] .label")
    assert "result of read_file" in result[0]
    assert await page.evaluate("typeof window.__xss") == "undefined"
    await page.evaluate("document.querySelector('#turn-0 details.raw').open = true")
    raw = await page.wait_for(
        "[...document.querySelectorAll('#turn-0 .raw-side pre')].map((p) => p.textContent).join('')"
    )
    assert "<redacted>" in raw
    # the inline script and style ran under the file's own CSP: no violation reported
    assert not [m for m in browser.messages() if "Content Security Policy" in m]
    # one session only, as asked
    await page.evaluate("location.hash = '#/'")
    await page.wait_for("document.querySelectorAll('tr.session').length")
    assert len(await texts(page, "tr.session")) == 1


async def test_a_new_turn_is_appended_live_and_keeps_what_was_opened(daemon: DaemonProcess, browser: Browser) -> None:
    first = [{"role": "user", "content": "Start a session that grows live."}]
    await asyncio.to_thread(scenario.anthropic_turn, daemon, "live-append", first)
    page = await browser.new_page()
    await open_viewer(page, daemon, session_hash("live-append"))
    await page.wait_for("document.getElementById('status').textContent.includes('live')")
    assert len(await texts(page, "section.turn")) == 1
    await page.evaluate("document.querySelector('#turn-0 details.system').open = true")
    more = [*first, {"role": "assistant", "content": canned_text()}, {"role": "user", "content": "And now?"}]
    await asyncio.to_thread(scenario.anthropic_turn, daemon, "live-append", more)
    await page.wait_for("document.getElementById('turn-1')")
    assert await page.evaluate("document.querySelector('#turn-0 details.system').open") is True
    assert "+2 message(s) appended" in (await texts(page, "#turn-1 .changes"))[0]
    assert "And now?" in "".join(await texts(page, "#turn-1 .msg.role-user"))


def canned_text() -> str:
    from tests.support.canned import TEXT

    return TEXT
