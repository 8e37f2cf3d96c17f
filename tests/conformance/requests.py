"""Native client request bodies for the conformance features the shared builders do not cover
(documents, a second user turn, tool results carrying an image, a forced tool), written from
each provider's API reference."""

from __future__ import annotations

import base64
from typing import Any

from tests.lightllm.lightllm_builders import PNG, Call, Convo, request

PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
PLAIN = Convo(system=None, user="Say hello.", tools=False, temperature=None)
CALL = Call("call_1", "get_weather", {"city": "Paris"})


class NotExpressible(Exception):
    """The client's format has no way to say this; the cell is n/a."""


def plain(wire: str, **kw: Any) -> dict[str, Any]:
    c = Convo(**{**PLAIN.__dict__, **kw})
    return request(wire, c)


def with_document(wire: str) -> dict[str, Any]:
    body = plain(wire)
    if wire == "anthropic":
        doc: Any = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
        body["messages"][0]["content"].append(doc)
    elif wire == "openai":
        doc = {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}}
        body["messages"][0]["content"].append(doc)
    elif wire == "openai_responses":
        doc = {"type": "input_file", "filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}
        body["input"][0]["content"].append(doc)
    else:
        body["contents"][0]["parts"].append({"inlineData": {"mimeType": "application/pdf", "data": PDF}})
    return body


def multi_turn(wire: str) -> dict[str, Any]:
    body = plain(wire, assistant_text="It is sunny.")
    if wire in ("anthropic", "openai"):
        body["messages"].append({"role": "user", "content": "And tomorrow?"})
    elif wire == "openai_responses":
        body["input"].append({"role": "user", "content": "And tomorrow?"})
    else:
        body["contents"].append({"role": "user", "parts": [{"text": "And tomorrow?"}]})
    return body


def tool_result_with_image(wire: str) -> dict[str, Any]:
    body = request(wire, Convo(system=None, calls=[CALL], results=["18C"], temperature=None))
    if wire == "anthropic":
        body["messages"][-1]["content"][0]["content"] = [
            {"type": "text", "text": "18C"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        ]
    elif wire == "openai":
        raise NotExpressible("Chat tool messages carry text only")
    elif wire == "openai_responses":
        out = next(i for i in body["input"] if i.get("type") == "function_call_output")
        out["output"] = [
            {"type": "input_text", "text": "18C"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
        ]
    else:
        fr = body["contents"][-1]["parts"][0]["functionResponse"]
        fr["parts"] = [{"inlineData": {"mimeType": "image/png", "data": PNG}}]
    return body


def forced_tool(wire: str) -> dict[str, Any]:
    body = request(wire, Convo(system=None, temperature=None))
    if wire == "anthropic":
        body["tool_choice"] = {"type": "tool", "name": "get_weather"}
    elif wire == "openai":
        body["tool_choice"] = {"type": "function", "function": {"name": "get_weather"}}
    elif wire == "openai_responses":
        body["tool_choice"] = {"type": "function", "name": "get_weather"}
    else:
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    return body


def stop_sequences(wire: str) -> dict[str, Any]:
    if wire == "openai_responses":
        raise NotExpressible("the Responses API has no stop sequences")
    return plain(wire, stop=["END"])
