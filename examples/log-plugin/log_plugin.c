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

/* Record bytes are anyone's: printable ASCII as it is, anything else as \xNN, so a key
 * or value can never end the line (or start a forged one). At most `max` bytes. */
static void printable(char* out, size_t out_size, const void* bytes, size_t len, size_t max) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  if (bytes == NULL) {
    snprintf(out, out_size, "(null)");
    return;
  }
  for (size_t i = 0; i < len && i < max && o + 5 < out_size; ++i) {
    const unsigned char c = ((const unsigned char*)bytes)[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out[o++] = (char)c;
    } else {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  state* s = st;
  for (size_t i = 0; i < n; ++i) {
    const sluice_record* r = &records[i];
    char line[1200], key[256], value[820];
    printable(key, sizeof key, r->key, r->key_len, 60);
    printable(value, sizeof value, r->value, r->value_len, 200);
    snprintf(line, sizeof line, "%s: %.*s[%d]@%lld key=%s value=%s", s->prefix, (int)r->topic_len, r->topic,
             r->partition, (long long)r->offset, key, value);
    s->host->log(s->host, SLUICE_LOG_INFO, line);
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
  }
}

static void shutdown(void* st) { free(st); }

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};

const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
