"""A JSON Schema of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), written from the spec.

Custom fields must start with an underscore, so every object forbids other extra keys.
"""

from __future__ import annotations

from typing import Any


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {**required, **(optional or {}), "comment": {"type": "string"}}
    return {
        "type": "object",
        "required": list(required),
        "properties": props,
        "patternProperties": {"^_": {}},
        "additionalProperties": False,
    }


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
OPT_TIME = {"type": "number", "minimum": -1}
TIME = {"type": "number", "minimum": 0}
DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"}

NAME_VALUE = _obj({"name": STR, "value": STR})
COOKIE = _obj(
    {"name": STR, "value": STR},
    {
        "path": STR,
        "domain": STR,
        "expires": {"type": ["string", "null"]},
        "httpOnly": {"type": "boolean"},
        "secure": {"type": "boolean"},
    },
)
PARAM = _obj({"name": STR}, {"value": STR, "fileName": STR, "contentType": STR})
POST_DATA = _obj({"mimeType": STR}, {"params": {"type": "array", "items": PARAM}, "text": STR})
CONTENT = _obj({"size": INT, "mimeType": STR}, {"compression": INT, "text": STR, "encoding": STR})

REQUEST = _obj(
    {
        "method": STR,
        "url": {"type": "string", "format": "uri"},
        "httpVersion": STR,
        "cookies": {"type": "array", "items": COOKIE},
        "headers": {"type": "array", "items": NAME_VALUE},
        "queryString": {"type": "array", "items": NAME_VALUE},
        "headersSize": INT,
        "bodySize": INT,
    },
    {"postData": POST_DATA},
)
RESPONSE = _obj(
    {
        "status": INT,
        "statusText": STR,
        "httpVersion": STR,
        "cookies": {"type": "array", "items": COOKIE},
        "headers": {"type": "array", "items": NAME_VALUE},
        "content": CONTENT,
        "redirectURL": STR,
        "headersSize": INT,
        "bodySize": INT,
    }
)
TIMINGS = _obj(
    {"send": TIME, "wait": TIME, "receive": TIME},
    {"blocked": OPT_TIME, "dns": OPT_TIME, "connect": OPT_TIME, "ssl": OPT_TIME},
)
CACHE_STATE = _obj({"lastAccess": STR, "eTag": STR, "hitCount": INT}, {"expires": STR})
ENTRY = _obj(
    {
        "startedDateTime": DATE,
        "time": TIME,
        "request": REQUEST,
        "response": RESPONSE,
        "cache": _obj(
            {},
            {
                "beforeRequest": {"oneOf": [{"type": "null"}, CACHE_STATE]},
                "afterRequest": {"oneOf": [{"type": "null"}, CACHE_STATE]},
            },
        ),
        "timings": TIMINGS,
    },
    {"pageref": STR, "serverIPAddress": STR, "connection": STR},
)
PAGE = _obj(
    {
        "startedDateTime": DATE,
        "id": STR,
        "title": STR,
        "pageTimings": _obj({}, {"onContentLoad": OPT_TIME, "onLoad": OPT_TIME}),
    }
)
CREATOR = _obj({"name": STR, "version": STR})

HAR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **_obj(
        {
            "log": _obj(
                {
                    "version": {"const": "1.2"},
                    "creator": CREATOR,
                    "entries": {"type": "array", "items": ENTRY},
                },
                {"browser": CREATOR, "pages": {"type": "array", "items": PAGE}},
            )
        }
    ),
}
