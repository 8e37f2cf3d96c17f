"""extract_session_id: record the client's session id from Anthropic `metadata.user_id`.

Claude Code has sent `metadata.user_id` in three shapes over time:
- a JSON object serialised into the string: `{"device_id": ..., "session_id": "<uuid>", ...}`;
- the legacy `user_<hash>_account_<uuid>_session_<uuid>`;
- any other plain string, which then is the id itself.
"""

from __future__ import annotations

import json
import re

from ccproxy.pipeline import Context, hook

USER_ID = "request.body.metadata.user_id"
_LEGACY = re.compile(r"_session_([0-9A-Za-z-]+)$")


def session_id_from_user_id(user_id: str) -> str | None:
    user_id = user_id.strip()
    if not user_id:
        return None
    if user_id.startswith("{"):
        try:
            data = json.loads(user_id)
        except ValueError:
            return user_id
        value = data.get("session_id") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None
    m = _LEGACY.search(user_id)
    return m.group(1) if m else user_id


def _json_post(ctx: Context) -> bool:
    # Jailed clients send all their traffic through; only JSON POSTs can carry metadata.user_id.
    return ctx.request.method == "POST" and "json" in ctx.headers.get("content-type", "json")


@hook(reads=[USER_ID], writes=["metadata.session_id"], guard=_json_post)
def extract_session_id(ctx: Context) -> None:
    """Parses metadata.user_id -> stores ccproxy.session_id on the flow."""
    user_id = ctx.get(USER_ID)
    if isinstance(user_id, str) and (session := session_id_from_user_id(user_id)):
        ctx.set("metadata.session_id", session)
