"""Config entries -> hooks: import paths, params validation, clear errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from ccproxy.pipeline import HookConfigError, Pipeline, build_pipelines
from ccproxy.pipeline.loader import load_stage

ModuleWriter = Callable[[str], str]

USER = """
from typing import Literal
from pydantic import BaseModel, Field
from ccproxy.pipeline import hook

@hook(reads=["request.model"], writes=["request.model"])
def rewrite_model(ctx, *, to: str, only_from: str | None = None):
    ...

class Budget(BaseModel):
    max_tokens: int = Field(gt=0)
    mode: Literal["clamp", "reject"] = "clamp"

@hook(reads=["request.body.max_tokens"], writes=["request.body.max_tokens"])
def clamp(ctx, params: Budget):
    ...

@hook
def bare(ctx):
    ...
"""


@pytest.mark.parametrize(
    ("entry", "args", "kwargs"),
    [
        ({"hook": "{m}.rewrite_model", "params": {"to": "haiku"}}, (), {"to": "haiku", "only_from": None}),
        (
            {"hook": "{m}:rewrite_model", "params": {"to": "h", "only_from": "opus"}},
            (),
            {"to": "h", "only_from": "opus"},
        ),
        ("{m}.bare", (), {}),
        ({"hook": "{m}.bare", "params": {}, "enabled": False}, (), {}),
    ],
)
def test_params_bind(user_module: ModuleWriter, entry: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    m = user_module(USER)
    entry = entry.format(m=m) if isinstance(entry, str) else {**entry, "hook": entry["hook"].format(m=m)}
    [h] = load_stage("outbound", [entry])
    assert h.args == args and h.kwargs == kwargs


def test_pydantic_params_model(user_module: ModuleWriter) -> None:
    m = user_module(USER)
    [h] = load_stage("outbound", [{"hook": f"{m}.clamp", "params": {"max_tokens": "100"}}])
    (model,) = h.args
    assert (model.max_tokens, model.mode) == (100, "clamp")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"hook": "{m}.rewrite_model", "params": {}},
            "hooks.outbound[0].params: hook 'rewrite_model' ({m}.rewrite_model): param 'to': Field required",
        ),
        (
            {"hook": "{m}.rewrite_model", "params": {"to": "x", "too": 1}},
            "hooks.outbound[0].params: hook 'rewrite_model' ({m}.rewrite_model): param 'too': "
            "Extra inputs are not permitted",
        ),
        (
            {"hook": "{m}.rewrite_model", "params": {"to": 5}},
            "hooks.outbound[0].params: hook 'rewrite_model' ({m}.rewrite_model): param 'to': "
            "Input should be a valid string",
        ),
        (
            {"hook": "{m}.clamp", "params": {"max_tokens": 0}},
            "hooks.outbound[0].params: hook 'clamp' ({m}.clamp): param 'max_tokens': Input should be greater than 0",
        ),
        (
            {"hook": "{m}.clamp", "params": {"max_tokens": 5, "mode": "drop"}},
            "hooks.outbound[0].params: hook 'clamp' ({m}.clamp): param 'mode': Input should be 'clamp' or 'reject'",
        ),
        (
            {"hook": "{m}.bare", "params": {"x": 1}},
            "hooks.outbound[0].params: hook 'bare' ({m}.bare): param 'x': this hook takes no params",
        ),
        ("{m}", "hooks.outbound[0]: module '{m}' defines several hooks (rewrite_model, clamp, bare)"),
        (
            "{m}.nothing",
            "hooks.outbound[0]: cannot import hook '{m}.nothing': no module or attribute 'nothing' in {m}",
        ),
        (
            "no_such_pkg.hooks.x",
            "hooks.outbound[0]: cannot import hook 'no_such_pkg.hooks.x': No module named",
        ),
        (
            "{m}.Budget",
            "hooks.outbound[0]: '{m}.Budget' is not a hook (decorate it with @ccproxy.pipeline.hook)",
        ),
        (
            {"hook": "{m}.bare", "param": {}},
            "hooks.outbound[0].param: unknown key (valid: hook, params, enabled)",
        ),
        ({"params": {}}, "hooks.outbound[0].hook: required, a dotted import path"),
        (
            {"hook": "{m}.bare", "enabled": "no"},
            "hooks.outbound[0].enabled ({m}.bare): expected true or false",
        ),
        (
            {"hook": "{m}.bare", "params": [1]},
            "hooks.outbound[0].params ({m}.bare): expected a mapping, got list",
        ),
        (42, "hooks.outbound[0]: expected a dotted hook path or a mapping with 'hook', got 42"),
    ],
)
def test_config_errors_name_hook_and_param(user_module: ModuleWriter, entry: Any, message: str) -> None:
    m = user_module(USER)
    if isinstance(entry, str):
        entry = entry.format(m=m)
    elif isinstance(entry, dict) and "hook" in entry:
        entry = {**entry, "hook": entry["hook"].format(m=m)}
    with pytest.raises(HookConfigError) as err:
        load_stage("outbound", [entry])
    assert str(err.value).startswith(message.format(m=m))
    assert "\n" not in str(err.value)


def test_duplicate_hook(user_module: ModuleWriter) -> None:
    m = user_module(USER)
    with pytest.raises(
        HookConfigError,
        match=re.escape(f"hooks.inbound[1]: hook 'bare' ({m}.bare) is already listed at hooks.inbound[0]"),
    ):
        load_stage("inbound", [f"{m}.bare", f"{m}.bare"])


def test_module_failing_at_import_is_a_config_error(user_module: ModuleWriter) -> None:
    m = user_module("raise RuntimeError('broken user module')\n")
    with pytest.raises(HookConfigError, match=f"cannot import hook '{m}': RuntimeError: broken user module"):
        load_stage("inbound", [m])


def test_module_path_picks_its_only_hook(user_module: ModuleWriter) -> None:
    m = user_module("from ccproxy.pipeline import hook\n\n@hook\ndef only(ctx): ...\n")
    [h] = load_stage("inbound", [m])
    assert h.name == "only" and h.source == m


def test_bad_declared_path_is_reported(user_module: ModuleWriter) -> None:
    m = user_module("from ccproxy.pipeline import hook\n\n@hook(reads=['request.bogus'])\ndef x(ctx): ...\n")
    with pytest.raises(HookConfigError, match=r"hooks.inbound\[0\]: hook 'x': unknown path 'request.bogus'"):
        load_stage("inbound", [m])


def test_build_pipelines_from_plain_and_model_config(user_module: ModuleWriter) -> None:
    m = user_module(USER)
    cfg = {"inbound": [f"{m}.bare"], "outbound": [{"hook": f"{m}.rewrite_model", "params": {"to": "x"}}]}
    pipes = build_pipelines(cfg)
    assert [h.name for h in pipes["inbound"].hooks] == ["bare"]
    assert isinstance(pipes["outbound"], Pipeline)
    with pytest.raises(HookConfigError, match=r"^hooks.middle: unknown stage \(valid: inbound, outbound\)"):
        build_pipelines({"middle": []})


def test_builtin_modules_load_by_module_path() -> None:
    pipes = build_pipelines(
        {"inbound": ["ccproxy.hooks.extract_session_id"], "outbound": ["ccproxy.hooks.verbose_mode"]}
    )
    assert [h.name for h in pipes["inbound"].hooks] == ["extract_session_id"]
    assert [h.name for h in pipes["outbound"].hooks] == ["verbose_mode"]


def test_build_pipelines_from_config_model(user_module: ModuleWriter) -> None:
    from ccproxy.config.models import HookEntry, Hooks

    m = user_module(USER)
    hooks = Hooks(
        inbound=["ccproxy.hooks.extract_session_id"],
        outbound=[HookEntry(hook=f"{m}.rewrite_model", params={"to": "x"}, enabled=False)],
    )
    pipes = build_pipelines(hooks)
    [h] = pipes["outbound"].hooks
    assert (h.name, h.enabled, h.kwargs["to"]) == ("rewrite_model", False, "x")
