"""Fail closed: an addon that routes, converts or injects and raises never lets the flow go on.

mitmproxy logs an exception in an addon hook and carries on, which would forward a request that
was never converted or checked (with an injected key, past the rules) or relay an unconverted
answer. `@fail_closed` on such an addon class turns any exception in its flow hooks into an
error in the client's format instead; the traceback goes to the log only.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from ccproxy.addons.faults import fault_response
from ccproxy.flows import meta

log = logging.getLogger(__name__)

_HOOKS = ("requestheaders", "request", "responseheaders", "response")


class _Replaced:
    """`flow.response.stream` of an answer replaced after its headers: drop upstream's bytes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __call__(self, chunk: bytes) -> list[bytes]:
        return [] if chunk else [self.body]


def refuse(flow: http.HTTPFlow, addon: str, hook: str, exc: BaseException) -> None:
    message = f"ccproxy: internal error in {addon}.{hook} ({type(exc).__name__}); the request was not forwarded"
    log.error("flow %s: %s", flow.id, message, exc_info=(type(exc), exc, exc.__traceback__))
    flow.metadata[meta.ERROR] = message
    answer = fault_response(flow, "internal_error", message)
    if hook == "responseheaders" and flow.response is not None:
        # the headers are not sent yet; the body is: replace both
        flow.response.status_code = answer.status_code
        flow.response.headers = answer.headers
        flow.response.headers.pop("content-length", None)
        flow.response.headers["transfer-encoding"] = "chunked"
        flow.response.stream = _Replaced(answer.content or b"")
    else:
        flow.response = answer


def _wrap(fn: Callable[..., Any], addon: str, hook: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_hook(self: Any, flow: http.HTTPFlow) -> None:
            try:
                await fn(self, flow)
            except Exception as e:
                refuse(flow, addon, hook, e)

        return async_hook

    @functools.wraps(fn)
    def hook_fn(self: Any, flow: http.HTTPFlow) -> None:
        try:
            fn(self, flow)
        except Exception as e:
            refuse(flow, addon, hook, e)

    return hook_fn


def fail_closed[T: type](cls: T) -> T:
    for hook in _HOOKS:
        fn = cls.__dict__.get(hook)
        if fn is not None:
            setattr(cls, hook, _wrap(fn, cls.__name__, hook))
    return cls
