/* {{name}}: a picket check in C.
 *
 * GETs the check's target through picket's `http` capability, so it reaches only what the
 * check's TOML grants, and reports critical unless the status is `expect_status` (default
 * 200) and the body contains `contains` (when given). Edit the check function to test what
 * you need; describe tells picket your parameters and metrics.
 *
 * plugin.h is generated from wit/plugin.wit; picket.h has helpers for parameters and
 * reports. Both are written to bindings/ by `picket plugin build`.
 */
#include "picket.h"

void exports_picket_plugin_check_describe(pk_info_t *ret) {
  pk_info(ret, "{{name}}", "0.1.0", "the target answers HTTP with the expected status");
  pk_info_param(ret, "expect_status", PK_INTEGER, false, "the status that means up (default 200)");
  pk_info_param(ret, "contains", PK_STRING, false, "text the body must contain");
  pk_info_metric(ret, "response_time", "s", "time to the full response", false);
  /* The targets this check takes: `picket validate` refuses others, and the target grants
   * the `http` capability its origin. */
  pk_info_target_url(ret, "http://localhost:8080/health", false);
  pk_info_target_scheme(ret, "http", 80);
  pk_info_target_scheme(ret, "https", 443);
}

void exports_picket_plugin_check_check(pk_config_t *config, pk_report_t *ret) {
  memset(ret, 0, sizeof *ret);
  char *params = pk_cstr(&config->params);
  int expect = (int)pk_param_number(params, "expect_status", 200);
  char *contains = pk_param_string(params, "contains");

  picket_plugin_http_request_t req = {0};
  plugin_string_set(&req.method, "GET");
  req.url = config->target;
  req.timeout_ms = config->timeout_ms;
  req.follow_redirects = true;
  req.max_body_bytes = 1 << 20;
  picket_plugin_http_response_t resp;
  picket_plugin_http_error_t err;
  if (!picket_plugin_http_send(&req, &resp, &err)) {
    pk_report(ret, PK_CRITICAL, "%s: %.*s", pk_error_kind(err.kind), (int)err.message.len, (char *)err.message.ptr);
    picket_plugin_http_error_free(&err);
    goto done;
  }
  double seconds = (double)resp.elapsed_us / 1e6;
  pk_metric(ret, "response_time", seconds, "s");
  char *body = pk_cstrn(resp.body.ptr, resp.body.len);
  pk_log(PICKET_PLUGIN_LOG_LEVEL_DEBUG, "answered %u", resp.status);
  if (resp.status != expect) {
    pk_report(ret, PK_CRITICAL, "HTTP %u, expected %d", resp.status, expect);
    pk_diagnostics(ret, body, strlen(body));
  } else if (contains && !strstr(body, contains)) {
    pk_report(ret, PK_CRITICAL, "HTTP %u but the body lacks \"%s\"", resp.status, contains);
    pk_diagnostics(ret, body, strlen(body));
  } else {
    pk_report(ret, PK_OK, "HTTP %u in %.0f ms", resp.status, seconds * 1000);
  }
  free(body);
  picket_plugin_http_response_free(&resp);
done:
  free(params);
  free(contains);
  exports_picket_plugin_check_config_free(config);
}
