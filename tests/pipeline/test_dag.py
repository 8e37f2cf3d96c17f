"""Ordering by declared reads/writes, levels, and cycle errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ccproxy.pipeline import HookConfigError, Pipeline
from ccproxy.pipeline.dag import CycleError, edges_of, levels_of
from ccproxy.pipeline.paths import canonical

RW = tuple[list[str], list[str]]


def layers(spec: dict[str, RW]) -> list[list[str]]:
    names = list(spec)
    rw = [(tuple(map(canonical, r)), tuple(map(canonical, w))) for r, w in spec.values()]
    return [[names[i] for i in level] for level in levels_of(names, edges_of(rw))]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # independent hooks share one level
        ({"a": (["model"], []), "b": (["messages"], [])}, [["a", "b"]]),
        # a writer runs before a reader even when listed after it
        (
            {"reader": (["request.model"], []), "writer": ([], ["request.body.model"])},
            [["writer"], ["reader"]],
        ),
        # overlapping paths: writing the whole body orders before reading one field
        ({"reader": (["messages.0"], []), "writer": ([], ["request.body"])}, [["writer"], ["reader"]]),
        # two writers of one path keep list order, whichever reads what
        ({"w1": (["model"], ["model"]), "w2": (["model"], ["model"])}, [["w1"], ["w2"]]),
        ({"w2": ([], ["model"]), "w1": ([], ["request.model"])}, [["w2"], ["w1"]]),
        # disjoint header paths do not depend on each other
        (
            {"a": ([], ["request.headers.x-a"]), "b": (["request.headers.x-b"], ["request.headers.x-b"])},
            [["a", "b"]],
        ),
        # chain with a side branch: c reads what b writes, d is independent
        (
            {
                "a": ([], ["metadata.provider"]),
                "b": (["provider"], ["request.headers.authorization"]),
                "c": (["request.headers"], []),
                "d": (["system"], []),
            },
            [["a", "d"], ["b"], ["c"]],
        ),
        ({}, []),
    ],
)
def test_levels(spec: dict[str, RW], expected: list[list[str]]) -> None:
    assert layers(spec) == expected


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"a": (["model"], ["messages"]), "b": (["messages"], ["model"])}, {"a", "b"}),
        (
            {
                "x": (["metadata.c"], ["metadata.a"]),
                "ok": ([], []),
                "y": (["metadata.a"], ["metadata.b"]),
                "z": (["metadata.b"], ["metadata.c"]),
            },
            {"x", "y", "z"},
        ),
    ],
)
def test_cycle_names_the_hooks(spec: dict[str, RW], named: set[str]) -> None:
    with pytest.raises(CycleError) as err:
        layers(spec)
    msg = str(err.value)
    head, _, steps = msg.partition(": ")
    assert head == "hook dependency cycle between " + ", ".join(sorted(named))
    assert all(f"{n} ->" in steps for n in named)


def test_cycle_is_a_startup_error_naming_stage_and_hooks(user_module: Callable[[str], str]) -> None:
    mod = user_module(
        """
        from ccproxy.pipeline import hook

        @hook(reads=["model"], writes=["messages"])
        def first(ctx): ...

        @hook(reads=["messages"], writes=["model"])
        def second(ctx): ...
        """
    )
    with pytest.raises(HookConfigError, match=r"^hooks\.outbound: hook dependency cycle between first, second"):
        Pipeline.from_config("outbound", [f"{mod}.first", f"{mod}.second"])


def test_pipeline_levels_follow_declarations(user_module: Callable[[str], str]) -> None:
    mod = user_module(
        """
        from ccproxy.pipeline import hook

        @hook(reads=["request.model"])
        def log_model(ctx): ...

        @hook(writes=["request.model"])
        def set_model(ctx): ...

        @hook(reads=["system"])
        def other(ctx): ...
        """
    )
    p = Pipeline.from_config("inbound", [f"{mod}.log_model", f"{mod}.set_model", f"{mod}:other"])
    assert [[h.name for h in level] for level in p.levels] == [["set_model", "other"], ["log_model"]]
    assert p.request_plan.edges == [("set_model", "log_model", "writes request.body.model")]


def test_response_handler_cycle_is_named(user_module: Callable[[str], str]) -> None:
    mod = user_module(
        """
        from ccproxy.pipeline import hook

        @hook
        def a(ctx): ...

        @a.on_response(reads=["response.headers.x-b"], writes=["response.headers.x-a"])
        def a_resp(ctx): ...

        @hook
        def b(ctx): ...

        @b.on_response(reads=["response.headers.x-a"], writes=["response.headers.x-b"])
        def b_resp(ctx): ...
        """
    )
    with pytest.raises(
        HookConfigError, match=r"^hooks\.inbound \(response handlers\): hook dependency cycle between a, b"
    ):
        Pipeline.from_config("inbound", [f"{mod}.a", f"{mod}.b"])
