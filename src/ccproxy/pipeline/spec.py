"""The `@hook` decorator and the HookSpec it produces.

A hook is a function `fn(ctx, **params)` (sync or async). Its params are the
parameters after `ctx`: either plain keyword parameters with annotations and
defaults, or a single pydantic model parameter. The spec records what the hook
reads and writes so the pipeline can order hooks without running them.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ccproxy.pipeline import paths

if TYPE_CHECKING:
    from ccproxy.pipeline.context import Context

HookFn = Callable[..., Awaitable[None] | None]
Guard = Callable[["Context"], bool]
# "kwargs": fn(ctx, **params); "model": fn(ctx, params_instance); "none": fn(ctx)
ParamsStyle = Literal["kwargs", "model", "none"]


class HookDefinitionError(ValueError):
    """A hook is declared wrongly (bad path, bad signature)."""


class ParamsError(ValueError):
    """Config params do not fit a hook's signature or model."""


@dataclass(frozen=True, slots=True)
class Handler:
    fn: HookFn
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    is_async: bool


@dataclass(slots=True)
class HookSpec:
    """A declared hook. Calling it calls the request handler (handy in tests)."""

    name: str
    request: Handler
    guard: Guard | None = None
    params_model: type[BaseModel] | None = None
    params_style: ParamsStyle = "none"
    response: Handler | None = None
    description: str = ""
    module: str = ""

    def __call__(self, ctx: Any, *args: Any, **kwargs: Any) -> Any:
        return self.request.fn(ctx, *args, **kwargs)

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.name}" if self.module else self.name

    @property
    def reads(self) -> tuple[str, ...]:
        return self.request.reads

    @property
    def writes(self) -> tuple[str, ...]:
        return self.request.writes

    def on_response(
        self, *, reads: list[str] | tuple[str, ...] = (), writes: list[str] | tuple[str, ...] = ()
    ) -> Callable[[HookFn], HookFn]:
        """Register a handler that runs on the flow's response, with the same params."""

        def register(fn: HookFn) -> HookFn:
            self.response = Handler(
                fn, _canon(self.name, reads), _canon(self.name, writes), inspect.iscoroutinefunction(fn)
            )
            return fn

        return register

    def validate_params(self, raw: Mapping[str, Any] | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn config params into call arguments; ParamsError names the offending param."""
        raw = dict(raw or {})
        if self.params_model is None:
            if raw:
                raise ParamsError(f"param {next(iter(raw))!r}: this hook takes no params")
            return (), {}
        try:
            model = self.params_model.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "<params>"
            raise ParamsError(f"param {loc!r}: {err['msg']}") from e
        if self.params_style == "model":
            return (model,), {}
        return (), {name: getattr(model, name) for name in type(model).model_fields}


def _canon(name: str, declared: list[str] | tuple[str, ...] | str) -> tuple[str, ...]:
    if isinstance(declared, str):
        declared = [declared]
    out: list[str] = []
    for p in declared:
        try:
            c = paths.canonical(p)
        except ValueError as e:
            raise HookDefinitionError(f"hook {name!r}: {e}") from e
        if c not in out:
            out.append(c)
    return tuple(out)


def _hints(fn: HookFn) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:
        # Annotations that only exist under TYPE_CHECKING: validate those params as Any.
        return {k: v for k, v in getattr(fn, "__annotations__", {}).items() if not isinstance(v, str)}


def _params_of(name: str, fn: HookFn, explicit: type[BaseModel] | None) -> tuple[type[BaseModel] | None, ParamsStyle]:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise HookDefinitionError(f"hook {name!r}: first parameter must be the Context (ctx)")
    rest = params[1:]
    if explicit is not None:
        if len(rest) != 1:
            raise HookDefinitionError(f"hook {name!r}: with params=Model the signature is fn(ctx, params)")
        return explicit, "model"
    if not rest:
        return None, "none"
    hints = _hints(fn)
    only = hints.get(rest[0].name) if len(rest) == 1 else None
    if isinstance(only, type) and issubclass(only, BaseModel):
        return only, "model"
    fields: dict[str, Any] = {}
    for p in rest:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise HookDefinitionError(f"hook {name!r}: *args/**kwargs cannot be validated, name each param")
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    model = create_model(f"{name}_params", __config__=ConfigDict(extra="forbid"), **fields)
    return model, "kwargs"


@overload
def hook(fn: HookFn, /) -> HookSpec: ...


@overload
def hook(
    *,
    reads: list[str] | tuple[str, ...] = (),
    writes: list[str] | tuple[str, ...] = (),
    guard: Guard | None = None,
    params: type[BaseModel] | None = None,
    name: str | None = None,
) -> Callable[[HookFn], HookSpec]: ...


def hook(
    fn: HookFn | None = None,
    /,
    *,
    reads: list[str] | tuple[str, ...] = (),
    writes: list[str] | tuple[str, ...] = (),
    guard: Guard | None = None,
    params: type[BaseModel] | None = None,
    name: str | None = None,
) -> HookSpec | Callable[[HookFn], HookSpec]:
    """Declare a pipeline hook.

    reads/writes: dotted Context paths (see ccproxy.pipeline.paths).
    guard: cheap predicate `guard(ctx) -> bool`; the hook is skipped when False.
    params: optional pydantic model; otherwise params come from the signature.
    """

    def build(f: HookFn) -> HookSpec:
        hook_name = name or f.__name__
        model, style = _params_of(hook_name, f, params)
        bad = [w for w in _canon(hook_name, writes) if w in paths.READ_ONLY]
        if bad:
            raise HookDefinitionError(f"hook {hook_name!r}: {bad[0]} is read-only")
        return HookSpec(
            name=hook_name,
            request=Handler(f, _canon(hook_name, reads), _canon(hook_name, writes), inspect.iscoroutinefunction(f)),
            guard=guard,
            params_model=model,
            params_style=style,
            description=(inspect.getdoc(f) or "").split("\n", 1)[0],
            module=getattr(f, "__module__", "") or "",
        )

    return build(fn) if fn is not None else build
