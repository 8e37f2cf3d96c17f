"""No drift between the Nix option declarations (nix/settings.nix) and ccproxy's pydantic config."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

from ccproxy.config.models import (
    AnthropicOAuth,
    CcproxySection,
    CodexOAuth,
    CommandAuth,
    FileAuth,
    GoogleOAuth,
    HookEntry,
    LogLevel,
    Provider,
    TransformRule,
)
from ccproxy.lightllm.ir import Wire
from tests.nix.nixeval import eval_modules, evaluate

AUTH_MODELS: list[type[BaseModel]] = [CommandAuth, FileAuth, AnthropicOAuth, GoogleOAuth, CodexOAuth]
PREFIXES = {"hmOptions": "services.ccproxy.settings.", "nixosOptions": "programs.ccproxy.service.settings."}


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types behind Optional / Union / Annotated."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in get_args(tp) if arg is not type(None) for t in _unwrap(arg)]
    return [tp]


def _step(tp: Any, part: str) -> list[Any]:
    """Where `part` of a Nix option path leads inside the pydantic type `tp` ([] = nowhere)."""
    origin = get_origin(tp)
    if part == "<name>":
        return _unwrap(get_args(tp)[1]) if origin is dict else []
    if part == "*":
        return _unwrap(get_args(tp)[0]) if origin is list else []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part)
        return _unwrap(field.annotation) if field is not None else []
    return []


def pydantic_has(path: str) -> bool:
    candidates: list[Any] = [CcproxySection]
    for part in path.split("."):
        candidates = [nxt for tp in candidates for nxt in _step(tp, part)]
        if not candidates:
            return False
    return True


def test_the_walk_itself_can_fail() -> None:
    assert pydantic_has("providers.<name>.auth.command") and pydantic_has("lightllm.transforms.*.dest_model")
    assert not pydantic_has("providers.<name>.auth.kommand") and not pydantic_has("inspector.*")


@pytest.mark.parametrize("which", sorted(PREFIXES))
def test_every_settings_option_path_exists_in_the_pydantic_config(which: str) -> None:
    prefix = PREFIXES[which]
    names = [o["name"] for o in eval_modules({}, which)]
    paths = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    assert len(paths) > 40  # the settings are really there
    assert [p for p in paths if not pydantic_has(p)] == []


def _literal_values(tp: Any) -> list[str]:
    [lit] = [t for t in _unwrap(tp) if get_origin(t) is Literal]
    return list(get_args(lit))


def test_enums_agree() -> None:
    vocab = evaluate("(import ./nix/settings.nix { inherit lib; }).vocab")
    assert vocab["logLevels"] == list(get_args(LogLevel))
    assert vocab["wires"] == list(get_args(Wire))
    assert vocab["schemes"] == _literal_values(Provider.model_fields["scheme"].annotation)
    assert vocab["transformActions"] == _literal_values(TransformRule.model_fields["action"].annotation)


def test_each_auth_type_has_exactly_its_own_fields() -> None:
    vocab = evaluate("(import ./nix/settings.nix { inherit lib; }).vocab")
    models = {_literal_values(m.model_fields["type"].annotation)[0]: m for m in AUTH_MODELS}
    assert set(vocab["authFields"]) == set(models)
    for name, model in models.items():
        fields = {f for f in model.model_fields if f != "type"}
        required = {f for f, info in model.model_fields.items() if f != "type" and info.is_required()}
        assert set(vocab["authFields"][name]) == fields, name
        assert set(vocab["authRequired"].get(name, [])) == required, name


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key, sub in value.items() for k, v in _leaves(sub, f"{path}.{key}" if path else key).items()}
    return {path: value}


def _agree(nix_defaults: dict[str, Any], model: BaseModel) -> list[str]:
    pydantic = _leaves(model.model_dump())
    wrong = {p: v for p, v in _leaves(nix_defaults).items() if v is not None and pydantic.get(p, "<absent>") != v}
    return [f"{p}: nix {v!r} != pydantic {pydantic.get(p, '<absent>')!r}" for p, v in wrong.items()]


def test_option_defaults_are_ccproxys_defaults() -> None:
    settings = eval_modules({}, "hm.settings")
    assert settings["providers"] is None and settings["hooks"] == {"inbound": None, "outbound": None}
    assert _agree(settings, CcproxySection()) == []
    nested = eval_modules(
        {"services": {"ccproxy": {"settings": {
            "providers": {"p": {"host": "h"}},
            "lightllm": {"transforms": [{}]},
            "hooks": {"inbound": [{"hook": "x"}]},
        }}}},
        "hm.settings",
    )  # fmt: skip
    assert _agree(nested["providers"]["p"], Provider(host="h")) == []
    assert _agree(nested["lightllm"]["transforms"][0], TransformRule()) == []
    assert _agree(nested["hooks"]["inbound"][0], HookEntry(hook="x")) == []
