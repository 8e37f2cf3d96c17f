"""`GET /v1/models` (and Gemini's `/v1beta/models`) on the reverse listener: a synthetic list
of the models ccproxy can route, in the asker's format (see ccproxy.lightllm.models_list)."""

from __future__ import annotations

import json

from mitmproxy import http

from ccproxy.addons.failsafe import fail_closed
from ccproxy.addons.listener import is_reverse
from ccproxy.config.models import Config
from ccproxy.flows import meta
from ccproxy.lightllm import models_list
from ccproxy.lightllm.detect import classify


@fail_closed  # routes, converts or injects: an exception answers an error, never forwards
class ModelsEndpointAddon:
    def __init__(self, config: Config) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not is_reverse(flow):
            return
        req = flow.request
        bare = req.path.split("?", 1)[0].rstrip("/")
        if bare not in ("/v1/models", "/v1beta/models"):
            return  # before classifying: every proxied request passes here
        ep = classify(req.method, req.path, req.headers)
        if ep is None or ep.kind != "models":
            return
        models = models_list.collect(self.config.ccproxy.transform_rules, self.config.ccproxy.providers)
        payload = models_list.render(models, req.headers, req.path)
        flow.metadata[meta.CONTROL] = True
        flow.response = http.Response.make(200, json.dumps(payload).encode(), {"content-type": "application/json"})
