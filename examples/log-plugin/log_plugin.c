/* An example plugin lambda: logs each message it is given and reports success.
 * Build it against include/sluice/plugin.h; point a lambda at the .so:
 *
 *   [lambda.handler]
 *   type = "plugin"
 *   path = "/usr/lib/sluice/examples/liblog_plugin.so"
 *   options = { prefix = "orders" }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"

typedef struct state {
  const sluice_host* host;
  char prefix[64];
} state;

static int init(const sluice_host* host, void** out) {
  state* s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  s->host = host;
  snprintf(s->prefix, sizeof s->prefix, "%s", host->lambda);
  for (size_t i = 0; i < host->option_count; ++i) {
    if (strcmp(host->options[i].name, "prefix") == 0) snprintf(s->prefix, sizeof s->prefix, "%s", host->options[i].value);
  }
  *out = s;
  return 0;
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  state* s = st;
  for (size_t i = 0; i < n; ++i) {
    const sluice_record* r = &records[i];
    char line[512];
    const int vlen = r->value == NULL ? 0 : (int)(r->value_len > 200 ? 200 : r->value_len);
    snprintf(line, sizeof line, "%s: %.*s[%d]@%lld key=%.*s value=%.*s", s->prefix, (int)r->topic_len, r->topic,
             r->partition, (long long)r->offset, r->key == NULL ? 6 : (int)r->key_len,
             r->key == NULL ? "(null)" : (const char*)r->key, r->value == NULL ? 6 : vlen,
             r->value == NULL ? "(null)" : (const char*)r->value);
    s->host->log(s->host, SLUICE_LOG_INFO, line);
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
  }
}

static void shutdown(void* st) { free(st); }

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};

const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
