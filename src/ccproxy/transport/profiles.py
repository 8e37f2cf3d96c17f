"""curl-cffi impersonation targets: the names a provider's `fingerprint_profile` may take."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def valid_profiles() -> tuple[str, ...]:
    """Every target the installed curl-cffi knows (its BrowserType enum), sorted."""
    try:
        from curl_cffi.requests import BrowserType
    except ImportError as e:  # a broken install: say which package
        raise ValueError(f"fingerprint_profile needs curl-cffi (pip package curl-cffi): {e}") from e
    return tuple(sorted(b.value for b in BrowserType))


def check_profile(name: str) -> str:
    profiles = valid_profiles()
    if name not in profiles:
        raise ValueError(f"fingerprint_profile: unknown curl-cffi target {name!r} (valid: {', '.join(profiles)})")
    return name
