"""{{name}}: a picket check in Python.

GETs the check's target through picket's `http` capability, so it reaches only what the
check's TOML grants, and reports critical unless the status is `expect_status` (default
200) and the body contains `contains` (when given). Edit `check` to test what you need;
`describe` tells picket your parameters and metrics.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import http, log, types


class Check(exports.Check):
    def describe(self) -> types.Info:
        return types.Info(
            name="{{name}}",
            version="0.1.0",
            description="the target answers HTTP with the expected status",
            params=[
                types.ParamInfo("expect_status", types.ParamKind.INTEGER, False, "the status that means up (default 200)", []),
                types.ParamInfo("contains", types.ParamKind.STRING, False, "text the body must contain", []),
            ],
            metrics=[types.MetricInfo("response_time", "s", "time to the full response", False, None)],
            # The targets this check takes: `picket validate` refuses others, and the target
            # grants the `http` capability its origin.
            targets=[
                types.TargetShape_Url(
                    types.UrlShape([types.UrlScheme("http", 80), types.UrlScheme("https", 443)], False, "http://localhost:8080/health")
                )
            ],
            forecasts=[],
        )

    def check(self, config: types.Config) -> types.Report:
        params = json.loads(config.params or "{}")
        expect = int(params.get("expect_status", 200))
        contains = params.get("contains")
        request = http.Request("GET", config.target, [], None, config.timeout_ms, True, 1 << 20)
        try:
            resp = http.send(request)
        except Err as e:
            err: types.Error = e.value
            return types.Report(types.Status.CRITICAL, f"{err.kind.name.lower()}: {err.message}", [], None)
        rt = types.Metric("response_time", resp.elapsed_us / 1e6, "s")
        body = resp.body.decode("utf-8", "replace")
        log.log(log.Level.DEBUG, f"{config.target} answered {resp.status}")
        if resp.status != expect:
            return types.Report(types.Status.CRITICAL, f"HTTP {resp.status}, expected {expect}", [rt], body[:300])
        if contains and contains not in body:
            return types.Report(types.Status.CRITICAL, f"HTTP {resp.status} but the body lacks {contains!r}", [rt], body[:300])
        return types.Report(types.Status.OK, f"HTTP {resp.status} in {rt.value * 1000:.0f} ms", [rt], None)
