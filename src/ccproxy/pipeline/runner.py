"""One stage of the hook pipeline: ordered levels and their execution on a flow."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

from ccproxy.flows import meta
from ccproxy.pipeline import overrides
from ccproxy.pipeline.context import Context, Phase
from ccproxy.pipeline.dag import CycleError, Edge, edges_of, levels_of
from ccproxy.pipeline.errors import HookAbort
from ccproxy.pipeline.loader import ConfiguredHook, HookConfigError, load_stage
from ccproxy.pipeline.spec import Handler

log = logging.getLogger("ccproxy.pipeline")

STAGES = ("inbound", "outbound")
ERRORS_KEY = meta.HOOK_ERRORS


@dataclass(slots=True)
class Plan:
    """Levels and edges for one phase (request or response) of a stage."""

    hooks: list[ConfiguredHook]
    levels: list[list[ConfiguredHook]]
    edges: list[tuple[str, str, str]]

    @classmethod
    def build(cls, stage: str, hooks: list[ConfiguredHook], phase: Phase) -> Plan:
        handlers = [_handler(h, phase) for h in hooks]
        members = [h for h, hd in zip(hooks, handlers, strict=True) if hd is not None]
        rw = [(hd.reads, hd.writes) for hd in handlers if hd is not None]
        edges: list[Edge] = edges_of(rw)
        try:
            layers = levels_of([h.name for h in members], edges)
        except CycleError as e:
            where = f"hooks.{stage}" if phase == "request" else f"hooks.{stage} (response handlers)"
            raise HookConfigError(f"{where}: {e}") from e
        return cls(
            members,
            [[members[i] for i in layer] for layer in layers],
            [(members[e.src].name, members[e.dst].name, e.reason) for e in edges],
        )


def _handler(h: ConfiguredHook, phase: Phase) -> Handler | None:
    return h.spec.request if phase == "request" else h.spec.response


@dataclass(slots=True)
class Pipeline:
    stage: str
    hooks: list[ConfiguredHook]
    request_plan: Plan
    response_plan: Plan

    @classmethod
    def from_config(cls, stage: str, entries: Sequence[Any] | None) -> Pipeline:
        hooks = load_stage(stage, list(entries or []))
        return cls(stage, hooks, Plan.build(stage, hooks, "request"), Plan.build(stage, hooks, "response"))

    @property
    def levels(self) -> list[list[ConfiguredHook]]:
        return self.request_plan.levels

    def active(self, ov: overrides.Overrides) -> frozenset[str]:
        """Names of hooks that run for a flow with these overrides."""
        on = {h.name for h in self.hooks if h.enabled}
        if not ov:
            return frozenset(on)
        for h in self.hooks:
            if any(h.matches(t) for t in ov.enable):
                on.add(h.name)
            if any(h.matches(t) for t in ov.disable):
                on.discard(h.name)
        return frozenset(on)

    async def run(self, flow: http.HTTPFlow, services: Mapping[str, Any] | None = None) -> Context:
        """Run the request phase; HookAbort (e.g. AuthConfigError) propagates, every other hook error is logged.
        `services` are the daemon's shared objects hooks may use (ctx.services)."""
        return await self._run(flow, "request", self.request_plan, services)

    async def run_response(self, flow: http.HTTPFlow, services: Mapping[str, Any] | None = None) -> Context:
        return await self._run(flow, "response", self.response_plan, services)

    async def _run(
        self, flow: http.HTTPFlow, phase: Phase, plan: Plan, services: Mapping[str, Any] | None = None
    ) -> Context:
        ctx = Context(flow, phase, services)
        ov = overrides.take(flow)
        if not plan.hooks:
            return ctx
        active = self.active(ov)
        try:
            for level in plan.levels:
                ready = [h for h in level if h.name in active and self._guard_passes(h, ctx)]
                if not ready:
                    continue
                async_hooks = [h for h in ready if _handler(h, phase).is_async]  # type: ignore[union-attr]
                for h in ready:
                    if h not in async_hooks:
                        self._call_sync(h, ctx, phase)
                if len(async_hooks) == 1:
                    await self._call_async(async_hooks[0], ctx, phase)
                elif async_hooks:
                    # Eager tasks: a hook that never suspends finishes without a trip through the loop.
                    loop = asyncio.get_running_loop()
                    tasks = [asyncio.eager_task_factory(loop, self._call_async(h, ctx, phase)) for h in async_hooks]
                    if not all(t.done() for t in tasks):
                        try:
                            await asyncio.wait(tasks)
                        except asyncio.CancelledError:
                            # The flow was killed: take its hooks down with it.
                            for t in tasks:
                                t.cancel()
                            raise
                    for t in tasks:
                        if (exc := t.exception()) is not None:
                            raise exc
        finally:
            ctx.commit()
        return ctx

    def _guard_passes(self, h: ConfiguredHook, ctx: Context) -> bool:
        guard = h.spec.guard
        if guard is None:
            return True
        try:
            return bool(guard(ctx))
        except Exception as e:
            self._record(h, ctx, e, "guard")
            return False

    def _call_sync(self, h: ConfiguredHook, ctx: Context, phase: Phase) -> None:
        handler = _handler(h, phase)
        assert handler is not None
        started = time.time()
        try:
            handler.fn(ctx, *h.args, **h.kwargs)
        except HookAbort:
            raise
        except Exception as e:
            self._record(h, ctx, e, phase)
        finally:
            self._timed(h, ctx, phase, started)
            for w in handler.writes:
                ctx.mark_written(w)

    async def _call_async(self, h: ConfiguredHook, ctx: Context, phase: Phase) -> None:
        handler = _handler(h, phase)
        assert handler is not None
        started = time.time()
        try:
            await handler.fn(ctx, *h.args, **h.kwargs)  # type: ignore[misc]
        except HookAbort:
            raise
        except Exception as e:
            self._record(h, ctx, e, phase)
        finally:
            self._timed(h, ctx, phase, started)
            for w in handler.writes:
                ctx.mark_written(w)

    def _timed(self, h: ConfiguredHook, ctx: Context, phase: Phase, started: float) -> None:
        """Wall-clock run of one hook, for the flow's telemetry span (child spans)."""
        timings = ctx.flow.metadata.setdefault(meta.HOOK_TIMINGS, [])
        if isinstance(timings, list):
            timings.append({"stage": self.stage, "phase": phase, "hook": h.name, "start": started, "end": time.time()})

    def _record(self, h: ConfiguredHook, ctx: Context, exc: Exception, where: str) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        log.error("hook %s (%s %s) failed on flow %s: %s", h.name, self.stage, where, ctx.flow.id, msg)
        log.debug("hook %s traceback", h.name, exc_info=exc)
        errors = ctx.flow.metadata.setdefault(ERRORS_KEY, [])
        if isinstance(errors, list):
            errors.append({"stage": self.stage, "phase": where, "hook": h.name, "error": msg})


def build_pipelines(hooks_config: Any) -> dict[str, Pipeline]:
    """Both stages from the `hooks:` config (a mapping or the config model)."""
    if hooks_config is None:
        hooks_config = {}
    if hasattr(hooks_config, "model_dump"):
        hooks_config = hooks_config.model_dump()
    if not isinstance(hooks_config, Mapping):
        raise HookConfigError("hooks: expected a mapping with 'inbound' and 'outbound' lists")
    unknown = [k for k in hooks_config if k not in STAGES]
    if unknown:
        raise HookConfigError(f"hooks.{unknown[0]}: unknown stage (valid: {', '.join(STAGES)})")
    out: dict[str, Pipeline] = {}
    for stage in STAGES:
        entries = hooks_config.get(stage) or []
        if not isinstance(entries, list | tuple):
            raise HookConfigError(f"hooks.{stage}: expected a list of hooks")
        out[stage] = Pipeline.from_config(stage, entries)
    return out
