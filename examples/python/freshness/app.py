"""freshness: the JSON API answers, and a timestamp in it is recent.

The check the seed runbooks do with `curl | jq` in a cron: "the feed's `updated_at` is no
older than 10 minutes". Built with componentize-py against picket's `wit/` contract; it
reaches the network only through picket's `http` capability, so only what the check's
TOML grants.
"""

import json
from datetime import datetime

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import clock, http, log, types

def excerpt(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace")


class Check(exports.Check):
    def describe(self) -> types.Info:
        return types.Info(
            name="freshness",
            version="0.1.0",
            description="a JSON API answers and a timestamp in it is recent",
            params=[
                # A duration param: picket parses "10m" and hands over 600000 (milliseconds).
                types.ParamInfo("max_age", types.ParamKind.DURATION, True, "older than this is critical", []),
                types.ParamInfo("field", types.ParamKind.STRING, False, "dotted path of the timestamp (default updated_at)", []),
                types.ParamInfo("url", types.ParamKind.STRING, False, "fetch this instead of the target (it must be granted)", []),
            ],
            metrics=[
                types.MetricInfo("age", "s", "how old the timestamp is", False, None),
                types.MetricInfo("response_time", "s", "time to the full response", False, None),
            ],
            targets=[
                types.TargetShape_Url(
                    types.UrlShape([types.UrlScheme("http", 80), types.UrlScheme("https", 443)], False, "https://api.example.com/feed")
                )
            ],
            forecasts=[],
        )

    def check(self, config: types.Config) -> types.Report:
        params = json.loads(config.params or "{}")
        field = params.get("field", "updated_at")
        max_age = params["max_age"] / 1000
        url = params.get("url", config.target)
        request = http.Request("GET", url, [("accept", "application/json")], None, config.timeout_ms, False, 1 << 20)
        try:
            resp = http.send(request)
        except Err as e:
            err: types.Error = e.value
            return types.Report(types.Status.CRITICAL, f"{err.kind.name.lower()}: {err.message}", [], None)
        rt = types.Metric("response_time", resp.elapsed_us / 1e6, "s")
        if resp.status != 200:
            return types.Report(types.Status.CRITICAL, f"HTTP {resp.status}", [rt], excerpt(resp.body))
        try:
            value = json.loads(resp.body)
            for part in field.split("."):
                value = value[part]
            stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                raise ValueError(f"{value!r} has no time zone")
        except (ValueError, KeyError, TypeError) as e:
            return types.Report(types.Status.CRITICAL, f"no usable {field}: {e}", [rt], excerpt(resp.body))
        age = clock.wall_ms() / 1000 - stamp.timestamp()
        log.log(log.Level.DEBUG, f"{field} = {value}, {age:.0f}s old")
        status = types.Status.CRITICAL if age > max_age else types.Status.OK
        summary = f"{field} is {age:.0f}s old (max {max_age:g}s)"
        return types.Report(status, summary, [types.Metric("age", age, "s"), rt], None)
