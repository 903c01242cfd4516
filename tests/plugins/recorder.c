/* Test handler: appends "topic partition offset attempt outcome key value\n" for each
 * record to <log_dir>/<lambda>.<pid>.log before it returns (TESTING.md's oracle log),
 * optionally sleeping per record to keep records in flight. One write() per record, so a
 * SIGKILL never leaves half a line that claims an outcome. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/plugin.h"

typedef struct state {
  int fd;
  long sleep_us;
} state;

static const char* option(const sluice_host* h, const char* name) {
  for (size_t i = 0; i < h->option_count; ++i)
    if (strcmp(h->options[i].name, name) == 0) return h->options[i].value;
  return NULL;
}

static int init(const sluice_host* host, void** out) {
  const char* dir = option(host, "log_dir");
  if (dir == NULL) return 2;
  state* s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  const char* sl = option(host, "sleep_us");
  s->sleep_us = sl ? atol(sl) : 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%d.log", dir, host->lambda, (int)getpid());
  s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    free(s);
    return 3;
  }
  *out = s;
  return 0;
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  state* s = st;
  for (size_t i = 0; i < n; ++i) {
    const sluice_record* r = &records[i];
    if (s->sleep_us > 0) {
      struct timespec ts = {s->sleep_us / 1000000, (s->sleep_us % 1000000) * 1000};
      nanosleep(&ts, NULL);
    }
    char line[512];
    const int klen = r->key ? (int)(r->key_len > 64 ? 64 : r->key_len) : 1;
    const int vlen = r->value ? (int)(r->value_len > 64 ? 64 : r->value_len) : 1;
    int len = snprintf(line, sizeof line, "%.*s %d %lld %u ok %.*s %.*s\n", (int)r->topic_len, r->topic, r->partition,
                       (long long)r->offset, r->attempt, klen, r->key ? (const char*)r->key : "-", vlen,
                       r->value ? (const char*)r->value : "-");
    if (write(s->fd, line, (size_t)len) != len) {
      results[i].outcome = SLUICE_RETRY;
      results[i].error = "cannot write the outcome log";
      continue;
    }
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
  }
}

static void shutdown(void* st) {
  state* s = st;
  close(s->fd);
  free(s);
}

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};
const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
