from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"


def corpus_path(*parts: str) -> Path:
    """The one locator of the recorded corpus (tests/corpus, in the repository; see its README).
    A missing file is a test error, never a skip: the data ships with the checkout."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"corpus file missing: {path.relative_to(REPO)} (see tests/corpus/README.md)")
    return path


@pytest.fixture
def corpus() -> Callable[..., Path]:
    """`corpus_path` as a fixture, for tests that take their data at run time."""
    return corpus_path


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


def all_wires_providers(fake: FakeProvider) -> dict[str, Any]:
    """One provider per wire format, all pointing at the fake."""
    return {
        "anthropic": provider_entry(fake.hostport, "anthropic"),
        "openai": provider_entry(fake.hostport, "openai"),
        "openai_responses": provider_entry(fake.hostport, "openai_responses"),
        "gemini": provider_entry(fake.hostport, "gemini"),
    }


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def _start(config: dict[str, Any] | None = None, *, name: str = "cfg", **kw: Any) -> DaemonProcess:
        d = DaemonProcess(tmp_path / name, config or {"ccproxy": {}}, **kw)
        started.append(d.start())
        return d

    yield _start
    for d in started:
        d.stop()


@pytest.fixture
def daemon(fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]) -> DaemonProcess:
    """The real daemon with every wire format routed to the fake provider."""
    return start_daemon({"ccproxy": {"providers": all_wires_providers(fake)}})


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeProvider]:
    """A fake provider shared by a module's tests (they must not depend on a fresh one)."""
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_daemon(shared_fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One real daemon for a whole module, routed to `shared_fake`; starting one costs seconds."""
    d = DaemonProcess(tmp_path_factory.mktemp("daemon"), {"ccproxy": {"providers": all_wires_providers(shared_fake)}})
    d.start()
    yield d
    d.stop()
