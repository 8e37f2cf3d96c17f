"""The hook pipeline: `@hook(reads=..., writes=...)`, the flow Context, DAG ordering and execution."""

from ccproxy.pipeline.context import Context, ContextError
from ccproxy.pipeline.loader import ConfiguredHook, HookConfigError
from ccproxy.pipeline.runner import Pipeline, build_pipelines
from ccproxy.pipeline.spec import HookDefinitionError, HookSpec, hook

__all__ = [
    "ConfiguredHook",
    "Context",
    "ContextError",
    "HookConfigError",
    "HookDefinitionError",
    "HookSpec",
    "Pipeline",
    "build_pipelines",
    "hook",
]
