"""Screenshots of every viewer view for docs/img/, from the test fixtures: `python -m tests.viewer.screenshots`.

A fake provider and the real daemon; the official SDKs make the flows (tests/viewer/scenario.py);
headless chromium over the DevTools protocol takes the pictures.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from urllib.parse import quote

from ccproxy.addons.viewer import viewer_url
from tests.support.fake_provider import FakeProvider
from tests.viewer import scenario
from tests.viewer.cdp import CHROMIUM, SKIP_REASON, Browser, Page

OUT = Path(__file__).resolve().parents[2] / "docs" / "img"


async def settle(page: Page, hash_: str) -> None:
    before = int(await page.evaluate("Number(document.body.dataset.rendered || 0)"))
    await page.evaluate(f"location.hash = {json.dumps(hash_)}")
    await page.wait_for(f"Number(document.body.dataset.rendered || 0) > {before}")


async def shoot(tmp: Path) -> None:
    fake = FakeProvider().start()
    daemon = scenario.start_daemon(fake, tmp / "config")
    browser = await Browser(tmp / "profile").start()
    try:
        await asyncio.to_thread(scenario.make_all, daemon, fake)
        page = await browser.new_page()
        await page.navigate(viewer_url(daemon.url, daemon.token_headers()["x-ccproxy-token"]))
        await page.wait_for("document.querySelectorAll('tr.session').length >= 3")
        await page.wait_for("document.getElementById('status').textContent.includes('live')")
        await page.screenshot(OUT / "viewer-sessions.png")
        await settle(page, "#/s/" + quote(scenario.SESSION, safe=""))
        await page.evaluate("document.querySelector('#turn-0 details.thinking').open = true")
        await page.evaluate("document.querySelector('#turn-0 details.tools').open = true")
        await page.screenshot(OUT / "viewer-conversation.png")
        await settle(page, "#/")
        key = await page.evaluate(
            "[...document.querySelectorAll('tr.session')].find((r) => r.children[1].textContent === 'OpenAI/Python')"
            ".dataset.key"
        )
        await settle(page, "#/s/" + quote(key, safe=""))
        await page.evaluate("document.querySelector('#turn-0 .upstream-toggle').click()")
        await page.evaluate("document.querySelectorAll('details.system').forEach((d) => (d.open = true))")
        await page.screenshot(OUT / "viewer-upstream.png")
        export = tmp / "session.html"
        done = daemon.cli("flows", "view", "--session", scenario.SESSION, "--html", str(export))
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        await page.navigate(export.as_uri() + "#/s/" + quote(scenario.SESSION, safe=""))
        await page.wait_for("document.querySelectorAll('section.turn').length === 3")
        await page.evaluate("document.querySelector('#turn-2 details.system').open = true")
        await page.evaluate("document.getElementById('turn-2').scrollIntoView()")
        await page.screenshot(OUT / "viewer-export.png")
    finally:
        await browser.close()
        daemon.stop()
        fake.stop()


def main() -> None:
    if CHROMIUM is None:
        raise SystemExit(SKIP_REASON)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(shoot(Path(tmp)))
    print("\n".join(str(p) for p in sorted(OUT.glob("viewer-*.png"))))


if __name__ == "__main__":
    main()
