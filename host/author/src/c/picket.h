/* picket.h: small helpers for picket plugins written in C, written next to the generated
 * bindings by `picket plugin build` and `picket plugin bindgen`.
 *
 * Ownership, as the generated bindings expect it: everything a plugin returns from
 * `describe` and `check` must be allocated with malloc (picket's post-return frees it),
 * so build strings with pk_str() and reports with pk_report()/pk_metric(). The config
 * passed to `check` is the plugin's to free (exports_picket_plugin_check_config_free).
 */
#ifndef PICKET_HELPERS_H
#define PICKET_HELPERS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

typedef exports_picket_plugin_check_report_t pk_report_t;
typedef exports_picket_plugin_check_info_t pk_info_t;
typedef exports_picket_plugin_check_config_t pk_config_t;

#define PK_OK PICKET_PLUGIN_TYPES_STATUS_OK
#define PK_WARNING PICKET_PLUGIN_TYPES_STATUS_WARNING
#define PK_CRITICAL PICKET_PLUGIN_TYPES_STATUS_CRITICAL
#define PK_UNKNOWN PICKET_PLUGIN_TYPES_STATUS_UNKNOWN

/* A malloc'd copy of a C string, as the bindings' strings must be. */
static inline plugin_string_t pk_str(const char *s) {
  plugin_string_t r;
  plugin_string_dup(&r, s);
  return r;
}

/* A NUL-terminated malloc'd copy of `len` bytes (a response body, a received list). */
static inline char *pk_cstrn(const uint8_t *ptr, size_t len) {
  char *out = malloc(len + 1);
  if (len) memcpy(out, ptr, len);
  out[len] = 0;
  return out;
}

/* A NUL-terminated malloc'd copy of a bindings string. */
static inline char *pk_cstr(const plugin_string_t *s) { return pk_cstrn(s->ptr, s->len); }

static inline void pk_log(picket_plugin_log_level_t level, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  plugin_string_t msg;
  plugin_string_set(&msg, buf);
  picket_plugin_log_log(level, &msg);
}

/* ---- describe: what the plugin is, its parameters and metrics. ---- */

static inline void pk_info(pk_info_t *info, const char *name, const char *version, const char *description) {
  memset(info, 0, sizeof *info);
  info->name = pk_str(name);
  info->version = pk_str(version);
  info->description = pk_str(description);
}

/* Param kinds (`param-kind` in wit/plugin.wit). picket checks every value against its kind
 * before anything runs; PK_DURATION values ("1.5s", "10m") arrive as whole milliseconds and
 * PK_SIZE values ("64MiB") as bytes, both JSON integers; PK_SECRET values ({ env = "VAR" },
 * { file = "path" } or a string) arrive resolved, and picket scrubs them from every result. */
#define PK_STRING PICKET_PLUGIN_TYPES_PARAM_KIND_STRING
#define PK_INTEGER PICKET_PLUGIN_TYPES_PARAM_KIND_INTEGER
#define PK_NUMBER PICKET_PLUGIN_TYPES_PARAM_KIND_NUMBER
#define PK_BOOL PICKET_PLUGIN_TYPES_PARAM_KIND_BOOL
#define PK_DURATION PICKET_PLUGIN_TYPES_PARAM_KIND_DURATION
#define PK_SIZE PICKET_PLUGIN_TYPES_PARAM_KIND_SIZE
#define PK_LIST PICKET_PLUGIN_TYPES_PARAM_KIND_LIST
#define PK_TABLE PICKET_PLUGIN_TYPES_PARAM_KIND_TABLE
#define PK_SECRET PICKET_PLUGIN_TYPES_PARAM_KIND_SECRET
#define PK_ANY PICKET_PLUGIN_TYPES_PARAM_KIND_ANY

static inline void pk_info_param(pk_info_t *info, const char *name, picket_plugin_types_param_kind_t kind, bool required,
                                 const char *description) {
  info->params.ptr = realloc(info->params.ptr, (info->params.len + 1) * sizeof *info->params.ptr);
  picket_plugin_types_param_info_t *p = &info->params.ptr[info->params.len++];
  memset(p, 0, sizeof *p); /* no shape: only `kind` is checked */
  p->name = pk_str(name);
  p->kind = kind;
  p->required = required;
  p->description = pk_str(description);
}

/* ---- describe: the shape of the last param's value (`param-info.shape`), so that
 * `picket validate` checks its inside: a table's keys and their kinds, a list's items.
 * Nodes are numbered in the order they are made; the first one made for a param is the
 * param's value, and a node's children must be made after it. ---- */

/* Value kinds inside a shape (`value-kind`); PK_V_DURATION arrives as milliseconds and
 * PK_V_SIZE as bytes, at any depth. */
#define PK_V_STRING PICKET_PLUGIN_TYPES_VALUE_KIND_STRING
#define PK_V_INTEGER PICKET_PLUGIN_TYPES_VALUE_KIND_INTEGER
#define PK_V_NUMBER PICKET_PLUGIN_TYPES_VALUE_KIND_NUMBER
#define PK_V_BOOL PICKET_PLUGIN_TYPES_VALUE_KIND_BOOL
#define PK_V_DURATION PICKET_PLUGIN_TYPES_VALUE_KIND_DURATION
#define PK_V_SIZE PICKET_PLUGIN_TYPES_VALUE_KIND_SIZE
#define PK_V_TABLE PICKET_PLUGIN_TYPES_VALUE_KIND_TABLE
#define PK_V_LIST PICKET_PLUGIN_TYPES_VALUE_KIND_LIST
#define PK_V_ANY PICKET_PLUGIN_TYPES_VALUE_KIND_ANY

static inline picket_plugin_types_shape_node_t *pk_shape_at(pk_info_t *info, uint32_t node) {
  return &info->params.ptr[info->params.len - 1].shape.ptr[node];
}

/* A node of the last param's shape allowing `kind` (more with pk_shape_also); returns its number. */
static inline uint32_t pk_shape_node(pk_info_t *info, picket_plugin_types_value_kind_t kind) {
  picket_plugin_types_param_info_t *p = &info->params.ptr[info->params.len - 1];
  p->shape.ptr = realloc(p->shape.ptr, (p->shape.len + 1) * sizeof *p->shape.ptr);
  picket_plugin_types_shape_node_t *n = &p->shape.ptr[p->shape.len];
  memset(n, 0, sizeof *n);
  n->kinds.ptr = malloc(sizeof *n->kinds.ptr);
  n->kinds.ptr[0] = kind;
  n->kinds.len = 1;
  return (uint32_t)p->shape.len++;
}

/* Node `node` also allows `kind` (200 or "2xx": an integer or a string). */
static inline void pk_shape_also(pk_info_t *info, uint32_t node, picket_plugin_types_value_kind_t kind) {
  picket_plugin_types_shape_node_t *n = pk_shape_at(info, node);
  n->kinds.ptr = realloc(n->kinds.ptr, (n->kinds.len + 1) * sizeof *n->kinds.ptr);
  n->kinds.ptr[n->kinds.len++] = kind;
}

/* Every item of list node `list` must match node `items`. */
static inline void pk_shape_items(pk_info_t *info, uint32_t list, uint32_t items) {
  picket_plugin_types_shape_node_t *n = pk_shape_at(info, list);
  n->items.is_some = true;
  n->items.val = items;
}

/* Table node `table` may have the key `name`, whose value must match node `node`. Keys not
 * declared are errors ("unknown key; did you mean ...") unless pk_shape_other_keys is used. */
static inline void pk_shape_key(pk_info_t *info, uint32_t table, const char *name, uint32_t node, bool required,
                                const char *description) {
  picket_plugin_types_shape_node_t *n = pk_shape_at(info, table);
  n->keys.ptr = realloc(n->keys.ptr, (n->keys.len + 1) * sizeof *n->keys.ptr);
  picket_plugin_types_shape_key_t *k = &n->keys.ptr[n->keys.len++];
  k->name = pk_str(name);
  k->node = node;
  k->required = required;
  k->description = pk_str(description);
}

/* The value of any key of table node `table` not declared with pk_shape_key must match node `node`. */
static inline void pk_shape_other_keys(pk_info_t *info, uint32_t table, uint32_t node) {
  picket_plugin_types_shape_node_t *n = pk_shape_at(info, table);
  n->other_keys.is_some = true;
  n->other_keys.val = node;
}

/* ---- describe: the targets the plugin takes. With none declared, any target is taken. ---- */

static inline picket_plugin_types_target_shape_t *pk_info_target(pk_info_t *info, uint8_t tag) {
  info->targets.ptr = realloc(info->targets.ptr, (info->targets.len + 1) * sizeof *info->targets.ptr);
  picket_plugin_types_target_shape_t *t = &info->targets.ptr[info->targets.len++];
  memset(t, 0, sizeof *t);
  t->tag = tag;
  return t;
}

/* URL targets; add their schemes with pk_info_target_scheme. `example` is quoted when a
 * check's target does not fit. */
static inline void pk_info_target_url(pk_info_t *info, const char *example, bool user_required) {
  picket_plugin_types_target_shape_t *t = pk_info_target(info, PICKET_PLUGIN_TYPES_TARGET_SHAPE_URL);
  t->val.url.user_required = user_required;
  t->val.url.example = pk_str(example);
}

/* A scheme of the last pk_info_target_url, and the port a URL without one means (0: none,
 * the URL must name its port). */
static inline void pk_info_target_scheme(pk_info_t *info, const char *scheme, uint16_t default_port) {
  picket_plugin_types_url_shape_t *u = &info->targets.ptr[info->targets.len - 1].val.url;
  u->schemes.ptr = realloc(u->schemes.ptr, (u->schemes.len + 1) * sizeof *u->schemes.ptr);
  picket_plugin_types_url_scheme_t *s = &u->schemes.ptr[u->schemes.len++];
  s->name = pk_str(scheme);
  s->default_port.is_some = default_port != 0;
  s->default_port.val = default_port;
}

/* `host:port` targets (granting that address to the tcp capability). */
static inline void pk_info_target_host_port(pk_info_t *info) { pk_info_target(info, PICKET_PLUGIN_TYPES_TARGET_SHAPE_HOST_PORT); }

/* Absolute paths (granting disk stat under them). */
static inline void pk_info_target_path(pk_info_t *info) { pk_info_target(info, PICKET_PLUGIN_TYPES_TARGET_SHAPE_PATH); }

/* A derived metric every check gets under `picket run`: days until `metric`'s trend over
 * `window_s` seconds reaches `reaches` (in the metric's unit). */
static inline void pk_info_forecast(pk_info_t *info, const char *name, const char *metric, double reaches, uint32_t window_s,
                                    const char *description) {
  info->forecasts.ptr = realloc(info->forecasts.ptr, (info->forecasts.len + 1) * sizeof *info->forecasts.ptr);
  picket_plugin_types_forecast_info_t *f = &info->forecasts.ptr[info->forecasts.len++];
  f->name = pk_str(name);
  f->metric = pk_str(metric);
  f->reaches = reaches;
  f->window_s = window_s;
  f->description = pk_str(description);
}

/* unit: "s", "ms", "B", "%", "days" or "" for a count; lower_is_worse for e.g. days left. */
static inline void pk_info_metric(pk_info_t *info, const char *name, const char *unit, const char *description, bool lower_is_worse) {
  info->metrics.ptr = realloc(info->metrics.ptr, (info->metrics.len + 1) * sizeof *info->metrics.ptr);
  picket_plugin_types_metric_info_t *m = &info->metrics.ptr[info->metrics.len++];
  memset(m, 0, sizeof *m); /* reported by every run unless pk_info_metric_when says otherwise */
  m->name = pk_str(name);
  m->unit = pk_str(unit);
  m->description = pk_str(description);
  m->lower_is_worse = lower_is_worse;
}

/* The last metric is reported only under a condition, completing "reported only ...":
 * "when the server offers SIZE". A check whose threshold finds it missing says so. */
static inline void pk_info_metric_when(pk_info_t *info, const char *when) {
  picket_plugin_types_metric_info_t *m = &info->metrics.ptr[info->metrics.len - 1];
  m->when.is_some = true;
  m->when.val = pk_str(when);
}

/* ---- check: the target as picket parsed it. ---- */

/* The target's host as granted (lowercase, unicode names in punycode), malloc'd; NULL when
 * the target is not a URL or host:port. Pass it to picket_plugin_tcp_connect as it is. */
static inline char *pk_target_host(const pk_config_t *config) {
  return config->endpoint.is_some ? pk_cstr(&config->endpoint.val.host) : NULL;
}

/* The target's port (as written, else the scheme's declared default); -1 when none. */
static inline int pk_target_port(const pk_config_t *config) {
  return config->endpoint.is_some && config->endpoint.val.port.is_some ? config->endpoint.val.port.val : -1;
}

/* ---- check: the report. ---- */

/* The name of an error kind, as picket prints it ("denied", "timeout", ...). */
static inline const char *pk_error_kind(picket_plugin_types_error_kind_t kind) {
  static const char *names[] = {"denied", "timeout", "refused", "dns", "tls", "too-large", "invalid", "closed", "io"};
  return kind < sizeof names / sizeof names[0] ? names[kind] : "error";
}

/* Sets the report's status and summary (printf-style); metrics and diagnostics stay empty. */
static inline void pk_report(pk_report_t *r, picket_plugin_types_status_t status, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (r->summary.len) plugin_string_free(&r->summary);
  r->status = status;
  r->summary = pk_str(buf);
}

/* Appends a metric to the report. */
static inline void pk_metric(pk_report_t *r, const char *name, double value, const char *unit) {
  r->metrics.ptr = realloc(r->metrics.ptr, (r->metrics.len + 1) * sizeof *r->metrics.ptr);
  picket_plugin_types_metric_t *m = &r->metrics.ptr[r->metrics.len++];
  m->name = pk_str(name);
  m->value = value;
  m->unit = pk_str(unit);
}

/* Keeps `len` bytes of text with the result (a transcript, a body excerpt), capped at 1 KiB. */
static inline void pk_diagnostics(pk_report_t *r, const char *text, size_t len) {
  if (len > 1024) len = 1024;
  if (r->diagnostics.is_some) plugin_string_free(&r->diagnostics.val);
  r->diagnostics.is_some = true;
  plugin_string_dup_n(&r->diagnostics.val, text, len);
}

/* ---- Parameters: the check's own TOML keys, handed over as a JSON object. ---- */

static inline const char *pk_json_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Past one JSON string starting at its opening quote; NULL if unterminated. */
static inline const char *pk_json_skip_string(const char *p) {
  for (p++; *p; p++) {
    if (*p == '\\' && p[1]) p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* Past one JSON value of any kind; NULL if malformed. */
static inline const char *pk_json_skip(const char *p) {
  p = pk_json_ws(p);
  if (*p == '"') return pk_json_skip_string(p);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (*p) {
      if (*p == '"') {
        p = pk_json_skip_string(p);
        if (!p) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return NULL;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
  return p;
}

/* The value of a top-level key in a JSON object, or NULL if absent. */
static inline const char *pk_param(const char *json, const char *key) {
  const char *p = pk_json_ws(json);
  if (*p != '{') return NULL;
  p++;
  size_t klen = strlen(key);
  for (;;) {
    p = pk_json_ws(p);
    if (*p != '"') return NULL;
    const char *name = p + 1, *end = pk_json_skip_string(p);
    if (!end) return NULL;
    p = pk_json_ws(end);
    if (*p != ':') return NULL;
    p = pk_json_ws(p + 1);
    if ((size_t)(end - 1 - name) == klen && memcmp(name, key, klen) == 0) return p;
    p = pk_json_skip(p);
    if (!p) return NULL;
    p = pk_json_ws(p);
    if (*p != ',') return NULL;
    p++;
  }
}

/* A malloc'd, unescaped copy of the JSON string at p, or NULL if p is not a string. */
static inline char *pk_json_string(const char *p) {
  if (!p || *p != '"') return NULL;
  const char *end = pk_json_skip_string(p);
  if (!end) return NULL;
  char *out = malloc(end - p), *o = out;
  for (p++; p < end - 1; p++) {
    if (*p != '\\') {
      *o++ = *p;
      continue;
    }
    p++;
    switch (*p) {
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'u': {
        /* ASCII escapes as themselves; anything wider as '?' (enough for parameters). */
        unsigned v = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
        *o++ = v < 0x80 ? (char)v : '?';
        p += 4;
        break;
      }
      default: *o++ = *p;
    }
  }
  *o = 0;
  return out;
}

/* A string parameter (malloc'd), or NULL if absent or not a string. */
static inline char *pk_param_string(const char *json, const char *key) {
  return pk_json_string(pk_param(json, key));
}

/* A number parameter, or `fallback` if absent or not a number. */
static inline double pk_param_number(const char *json, const char *key, double fallback) {
  const char *p = pk_param(json, key);
  if (!p) return fallback;
  char *end;
  double v = strtod(p, &end);
  return end == p ? fallback : v;
}

/* A bool parameter, or `fallback` if absent or not a bool. */
static inline bool pk_param_bool(const char *json, const char *key, bool fallback) {
  const char *p = pk_param(json, key);
  if (p && strncmp(p, "true", 4) == 0) return true;
  if (p && strncmp(p, "false", 5) == 0) return false;
  return fallback;
}

/* A list-of-strings parameter: the count, and a malloc'd array of malloc'd strings in *out
 * (NULL when absent or empty). Elements that are not strings are skipped. */
static inline size_t pk_param_strings(const char *json, const char *key, char ***out) {
  *out = NULL;
  const char *p = pk_param(json, key);
  if (!p || *p != '[') return 0;
  size_t n = 0;
  p = pk_json_ws(p + 1);
  while (*p && *p != ']') {
    char *s = pk_json_string(p);
    if (s) {
      *out = realloc(*out, (n + 1) * sizeof **out);
      (*out)[n++] = s;
    }
    p = pk_json_skip(p);
    if (!p) break;
    p = pk_json_ws(p);
    if (*p == ',') p = pk_json_ws(p + 1);
  }
  return n;
}

#endif
