"""Makes the packaged shapes (src/ccproxy/shapes/packaged/{wire}.mflow).

They are the requests of the official open-source SDKs (anthropic, openai, google-genai),
sent through the real daemon to the loopback fake provider and saved with
`ccproxy shapes save --mflow`, which removes every credential and id. No proprietary
client's identity is captured (DESIGN.md, "Declined on purpose").

    .venv/bin/python -m tests.shapes.packaged_capture            # rewrite the packaged shapes
    .venv/bin/python -m tests.shapes.packaged_capture OUT_DIR    # write them elsewhere
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from tests.conftest import all_wires_providers
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider

PACKAGED = Path(__file__).resolve().parents[2] / "src" / "ccproxy" / "shapes" / "packaged"
PROMPT = "Hello"


def send_sdk_requests(url: str) -> None:
    """One ordinary generation request from each SDK, as its README shows it."""
    anthropic.Anthropic(api_key="sk-ant-placeholder", base_url=url, max_retries=0).messages.create(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": PROMPT}]
    )
    oa = openai.OpenAI(api_key="sk-placeholder", base_url=url + "/v1", max_retries=0)
    oa.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": PROMPT}])
    oa.responses.create(model="gpt-4.1-mini", input=PROMPT)
    # Keep the client referenced: a collected genai.Client closes its transport mid-call.
    gemini = genai.Client(api_key="placeholder", http_options=gtypes.HttpOptions(base_url=url))
    gemini.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)


def capture(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fake = FakeProvider().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = {"ccproxy": {"providers": all_wires_providers(fake), "shaping": {"shapes_dir": str(out_dir)}}}
            daemon = DaemonProcess(Path(tmp), config).start(timeout=120)
            try:
                send_sdk_requests(daemon.url)
                written = []
                for wire in ("anthropic", "openai", "openai_responses", "gemini"):
                    done = daemon.cli("shapes", "save", wire, "--mflow")
                    if done.returncode != 0:
                        raise RuntimeError(f"shapes save {wire}: {done.stderr.strip()}")
                    written.append(out_dir / f"{wire}.mflow")
                return written
            finally:
                daemon.stop()
    finally:
        fake.stop()


if __name__ == "__main__":
    for path in capture(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGED):
        print(path)
