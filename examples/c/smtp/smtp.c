/* smtp: a mail server greets, answers EHLO with the extensions it should offer, and, with
 * `starttls = true`, upgrades to TLS with a certificate that verifies, like
 * `check_smtp -S` or the seed runbooks' `openssl s_client -starttls smtp` cron.
 *
 * It speaks SMTP itself over picket's `tcp` capability, so it reaches only the check's
 * `target` (and its `allow` list); picket does the TLS handshake and certificate checks.
 * Metrics: banner_time and response_time (s), max_size (B, from the SIZE extension) and,
 * after STARTTLS, cert_expiry (days, lower is worse), for the check's thresholds.
 */
#include "picket.h"

#define MAX_LINE 512

/* One SMTP conversation: the connection, unread input, and a transcript for diagnostics. */
struct smtp {
  picket_plugin_tcp_own_connection_t conn;
  picket_plugin_tcp_borrow_connection_t io;
  uint64_t deadline_ns;
  char in[4096];
  size_t in_len;
  char transcript[2048];
  size_t t_len;
  char error[300];
};

static uint64_t now_ns(void) { return picket_plugin_clock_monotonic_ns(); }

static uint32_t remaining_ms(const struct smtp *s) {
  uint64_t now = now_ns();
  return now >= s->deadline_ns ? 1 : (uint32_t)((s->deadline_ns - now) / 1000000) + 1;
}

static void note(struct smtp *s, const char *prefix, const char *line) {
  int n = snprintf(s->transcript + s->t_len, sizeof s->transcript - s->t_len, "%s%s\n", prefix, line);
  if (n > 0) s->t_len = s->t_len + (size_t)n < sizeof s->transcript ? s->t_len + (size_t)n : sizeof s->transcript - 1;
}

static bool failed(struct smtp *s, const char *what, picket_plugin_tcp_error_t *err) {
  snprintf(s->error, sizeof s->error, "%s: %s: %.*s", what, pk_error_kind(err->kind), (int)err->message.len, (char *)err->message.ptr);
  picket_plugin_tcp_error_free(err);
  return false;
}

static bool send_line(struct smtp *s, const char *line) {
  char buf[MAX_LINE + 2];
  int n = snprintf(buf, sizeof buf, "%s\r\n", line);
  plugin_list_u8_t data = {(uint8_t *)buf, (size_t)n};
  picket_plugin_tcp_error_t err;
  note(s, "> ", line);
  if (!picket_plugin_tcp_method_connection_send(s->io, &data, remaining_ms(s), &err)) return failed(s, "send", &err);
  return true;
}

/* The next CRLF-terminated line into `line` (without the CRLF). */
static bool read_line(struct smtp *s, char *line, size_t cap) {
  for (;;) {
    char *nl = memchr(s->in, '\n', s->in_len);
    if (nl) {
      size_t len = (size_t)(nl - s->in);
      size_t keep = len > 0 && s->in[len - 1] == '\r' ? len - 1 : len;
      if (keep >= cap) keep = cap - 1;
      memcpy(line, s->in, keep);
      line[keep] = 0;
      memmove(s->in, nl + 1, s->in_len - len - 1);
      s->in_len -= len + 1;
      note(s, "< ", line);
      return true;
    }
    if (s->in_len == sizeof s->in) {
      snprintf(s->error, sizeof s->error, "a reply line longer than %zu bytes", sizeof s->in);
      return false;
    }
    plugin_list_u8_t got;
    picket_plugin_tcp_error_t err;
    if (!picket_plugin_tcp_method_connection_receive(s->io, (uint32_t)(sizeof s->in - s->in_len), remaining_ms(s), &got, &err))
      return failed(s, "receive", &err);
    if (got.len == 0) {
      snprintf(s->error, sizeof s->error, "the server closed the connection");
      return false;
    }
    memcpy(s->in + s->in_len, got.ptr, got.len);
    s->in_len += got.len;
    plugin_list_u8_free(&got);
  }
}

/* A whole (possibly multi-line) reply: its code, its first line's text, and on request each
 * line's text. Returns false on I/O errors or a malformed reply. */
static bool read_reply(struct smtp *s, int *code, char *first, size_t first_cap, char (*lines)[MAX_LINE], size_t *n_lines,
                       size_t max_lines) {
  char line[MAX_LINE];
  size_t n = 0;
  for (;;) {
    if (!read_line(s, line, sizeof line)) return false;
    if (strlen(line) < 3 || line[0] < '1' || line[0] > '5' || (line[3] != ' ' && line[3] != '-' && line[3] != 0)) {
      snprintf(s->error, sizeof s->error, "not an SMTP reply: \"%.80s\"", line);
      return false;
    }
    const char *text = line[3] ? line + 4 : "";
    if (n == 0) {
      *code = atoi(line);
      snprintf(first, first_cap, "%s", text);
    }
    if (lines && n < max_lines) snprintf(lines[n], MAX_LINE, "%s", text);
    n++;
    if (line[3] != '-') break;
  }
  if (n_lines) *n_lines = n < max_lines ? n : max_lines;
  return true;
}

/* Does the EHLO reply list `keyword` (case-insensitively, as its first word)? */
static const char *offered(char (*ext)[MAX_LINE], size_t n, const char *keyword) {
  size_t k = strlen(keyword);
  for (size_t i = 1; i < n; i++) /* line 0 is the server's name */
    if (strncasecmp(ext[i], keyword, k) == 0 && (ext[i][k] == 0 || ext[i][k] == ' ')) return ext[i];
  return NULL;
}

void exports_picket_plugin_check_describe(pk_info_t *ret) {
  pk_info(ret, "smtp", "0.1.0", "an SMTP server greets, offers the EHLO extensions it should, and STARTTLS verifies");
  pk_info_param(ret, "helo", PK_STRING, false, "the name to give in EHLO (default picket.invalid)");
  pk_info_param(ret, "expect", PK_STRING, false, "text the 220 greeting must contain");
  pk_info_param(ret, "require", PK_LIST, false, "EHLO extensions that must be offered, e.g. [\"STARTTLS\", \"SIZE\"]");
  /* A list of strings: `picket validate` refuses require = ["SIZE", 8] at the 8. The list
   * node first: a child is made after its parent (and C does not order the arguments). */
  uint32_t require = pk_shape_node(ret, PK_V_LIST);
  pk_shape_items(ret, require, pk_shape_node(ret, PK_V_STRING));
  pk_info_param(ret, "starttls", PK_BOOL, false, "upgrade with STARTTLS and verify the certificate (default false)");
  pk_info_param(ret, "server", PK_STRING, false, "talk to this host:port instead of the target (it must be granted)");
  pk_info_metric(ret, "banner_time", "s", "from connecting to the 220 greeting", false);
  pk_info_metric(ret, "response_time", "s", "the whole conversation, QUIT included", false);
  pk_info_metric(ret, "max_size", "B", "the largest message accepted, from the SIZE extension", true);
  pk_info_metric_when(ret, "when the server offers SIZE with a limit");
  pk_info_metric(ret, "cert_expiry", "days", "until the STARTTLS certificate expires", true);
  pk_info_metric_when(ret, "with starttls = true");
  /* "mail.example.com:587", or "smtp://mail.example.com" meaning port 25. */
  pk_info_target_host_port(ret);
  pk_info_target_url(ret, "smtp://mail.example.com:25", false);
  pk_info_target_scheme(ret, "smtp", 25);
}

/* The `server` param: "host:port" or "[::1]:port"; port 25 when absent. (The target itself
 * arrives parsed, in config->endpoint.) */
static void split_server(const char *target, char *host, size_t cap, uint16_t *port) {
  const char *colon = strrchr(target, ':');
  if (colon && strchr(target, ']') > colon) colon = NULL;
  size_t len = colon ? (size_t)(colon - target) : strlen(target);
  if (len > 1 && target[0] == '[' && target[len - 1] == ']') target++, len -= 2;
  if (len >= cap) len = cap - 1;
  memcpy(host, target, len);
  host[len] = 0;
  *port = colon ? (uint16_t)atoi(colon + 1) : 25;
}

static void conversation(struct smtp *s, const char *params, const pk_config_t *config, pk_report_t *ret) {
  char host[256], reply[MAX_LINE], ehlo[16][MAX_LINE], line[MAX_LINE];
  uint16_t port;
  int code = 0;
  size_t n_ext = 0;
  char *server = pk_param_string(params, "server");
  if (server) {
    split_server(server, host, sizeof host, &port);
  } else {
    char *target_host = pk_target_host(config);
    snprintf(host, sizeof host, "%s", target_host ? target_host : "");
    port = (uint16_t)pk_target_port(config);
    free(target_host);
  }
  free(server);
  char *helo = pk_param_string(params, "helo");
  char *expect = pk_param_string(params, "expect");
  char **require = NULL;
  size_t n_require = pk_param_strings(params, "require", &require);
  bool starttls = pk_param_bool(params, "starttls", false);
  uint64_t start = now_ns();

  plugin_string_t h;
  plugin_string_set(&h, host);
  picket_plugin_tcp_error_t err;
  if (!picket_plugin_tcp_connect(&h, port, remaining_ms(s), &s->conn, &err)) {
    failed(s, "connect", &err);
    pk_report(ret, PK_CRITICAL, "%s", s->error);
    goto out;
  }
  s->io = picket_plugin_tcp_borrow_connection(s->conn);

  if (!read_reply(s, &code, reply, sizeof reply, NULL, NULL, 0)) goto broken;
  pk_metric(ret, "banner_time", (double)(now_ns() - start) / 1e9, "s");
  if (code != 220) {
    pk_report(ret, PK_CRITICAL, "greeted with %d %s", code, reply);
    goto transcript;
  }
  if (expect && !strstr(reply, expect)) {
    pk_report(ret, PK_CRITICAL, "the greeting \"%s\" lacks \"%s\"", reply, expect);
    goto transcript;
  }
  snprintf(line, sizeof line, "EHLO %s", helo ? helo : "picket.invalid");
  if (!send_line(s, line) || !read_reply(s, &code, line, sizeof line, ehlo, &n_ext, 16)) goto broken;
  if (code != 250) {
    pk_report(ret, PK_CRITICAL, "EHLO answered %d %s", code, line);
    goto transcript;
  }
  for (size_t i = 0; i < n_require; i++) {
    if (!offered(ehlo, n_ext, require[i])) {
      pk_report(ret, PK_CRITICAL, "does not offer %s", require[i]);
      goto transcript;
    }
  }
  const char *size = offered(ehlo, n_ext, "SIZE");
  if (size && strlen(size) > 5) pk_metric(ret, "max_size", strtod(size + 5, NULL), "B");

  char extensions[256] = "";
  for (size_t i = 1; i < n_ext; i++) {
    size_t used = strlen(extensions);
    snprintf(extensions + used, sizeof extensions - used, "%s%.*s", i > 1 ? " " : "", (int)strcspn(ehlo[i], " "), ehlo[i]);
  }
  char tls_note[64] = "";
  if (starttls) {
    if (!offered(ehlo, n_ext, "STARTTLS")) {
      pk_report(ret, PK_CRITICAL, "does not offer STARTTLS");
      goto transcript;
    }
    if (!send_line(s, "STARTTLS") || !read_reply(s, &code, line, sizeof line, NULL, NULL, 0)) goto broken;
    if (code != 220) {
      pk_report(ret, PK_CRITICAL, "STARTTLS answered %d %s", code, line);
      goto transcript;
    }
    if (!picket_plugin_tcp_method_connection_start_tls(s->io, remaining_ms(s), &err)) {
      failed(s, "STARTTLS", &err);
      goto broken;
    }
    note(s, "", "(TLS established)");
    int64_t expires_s;
    if (picket_plugin_tcp_method_connection_cert_expires_in_s(s->io, &expires_s)) {
      double days = (double)expires_s / 86400.0;
      pk_metric(ret, "cert_expiry", days, "days");
      snprintf(tls_note, sizeof tls_note, "; TLS, certificate valid %.0f more days", days);
    }
    /* After the upgrade the server forgets the session: say EHLO again, as clients must. */
    snprintf(line, sizeof line, "EHLO %s", helo ? helo : "picket.invalid");
    if (!send_line(s, line) || !read_reply(s, &code, line, sizeof line, NULL, NULL, 0)) goto broken;
    if (code != 250) {
      pk_report(ret, PK_CRITICAL, "EHLO after STARTTLS answered %d %s", code, line);
      goto transcript;
    }
  }
  /* A polite goodbye; a server that drops the line here is still up. */
  if (send_line(s, "QUIT")) read_reply(s, &code, line, sizeof line, NULL, NULL, 0);
  pk_metric(ret, "response_time", (double)(now_ns() - start) / 1e9, "s");
  pk_report(ret, PK_OK, "%s; offers %s%s", reply, n_ext > 1 ? extensions : "no extensions", tls_note);
  goto out;

broken:
  pk_report(ret, PK_CRITICAL, "%s", s->error);
transcript:
  pk_diagnostics(ret, s->transcript, s->t_len);
out:
  if (s->conn.__handle) picket_plugin_tcp_connection_drop_own(s->conn);
  for (size_t i = 0; i < n_require; i++) free(require[i]);
  free(require);
  free(helo);
  free(expect);
}

void exports_picket_plugin_check_check(pk_config_t *config, pk_report_t *ret) {
  memset(ret, 0, sizeof *ret);
  struct smtp *s = calloc(1, sizeof *s);
  s->deadline_ns = now_ns() + (uint64_t)config->timeout_ms * 1000000;
  char *params = pk_cstr(&config->params);
  conversation(s, params, config, ret);
  free(params);
  free(s);
  exports_picket_plugin_check_config_free(config);
}
