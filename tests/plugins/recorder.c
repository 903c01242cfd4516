/* Test handler: appends "topic partition offset attempt outcome key value\n" for each
 * record to <log_dir>/<lambda>.<pid>.log before it returns (the oracle's log, tests/integration/harness.hpp),
 * optionally sleeping per record to keep records in flight. One write() per record, so a
 * SIGKILL never leaves half a line that claims an outcome.
 *
 * Misbehaviour on chosen records, by the sequence number in their value ("s<seq>-..."),
 * each option a comma-separated list of sequence numbers:
 *   fail_seqs   outcome FAIL ("poison <seq>")         retry_seqs  outcome RETRY, always
 *   crash_seqs  raise(crash_signal), default SIGSEGV  hang_seqs   sleep forever
 *   oom_seqs    allocate and touch memory until malloc fails, then abort() as a C++
 *               handler's std::bad_alloc would
 *   produce_big_seqs  with produce_topic: produce a 20,000-byte value for these
 *   corrupt_seqs  damage shared memory as corrupt_mode says (tests/plugins/corrupt.cpp),
 *               on the first attempt only unless corrupt_always = "1"
 * hold_while = "<path>" keeps every record in its handler for as long as that file exists,
 * so a test decides when records finish instead of guessing a sleep long enough;
 * and init_fail = "1" makes init() fail, as a handler that cannot start; say = "text"
 * makes init() print "text" to stdout and "text (stderr)" to stderr, and a crash print
 * "recorder: crashing on <seq>" to stderr just before it, as a plugin's own output;
 * originals_to = "<path>" appends for each record "<offset> <value> <key> <past> <part>
 * <hex>\n": what host->original answers for its value, for its key, for an index past
 * the call and for a part that is neither, then the original value's bytes in hex. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stddef.h>

#include "sluice/plugin.h"

int sluice_test_corrupt(const char* mode, uint32_t slot, const sluice_record* r); /* corrupt.cpp */

typedef struct state {
  const sluice_host* host;
  char produce_topic[128]; /* if set: each ok record produces "out-<value>" there (and "extra-" for seq % 10 == 0) */
  int fd;
  int originals_fd; /* -1: not asked */
  long sleep_us;
  char hold_while[4096];
  char fail[256], retry[256], crash[256], hang[256], oom[256], corrupt[256], corrupt_mode[32], produce_big[256];
  int corrupt_always;
  int crash_signal;
  char* volatile hoard;
  char errors[1024][48]; /* one per record of a batch: sluice copies them after handle() */
} state;

/* Is seq in the comma-separated list? */
static int listed(const char* list, long long seq) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", seq);
  const size_t n = strlen(buf);
  for (const char* p = list; *p;) {
    const char* end = strchr(p, ',');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, buf, n) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static long long seq_of(const sluice_record* r) {
  if (r->value == NULL || r->value_len < 2 || ((const char*)r->value)[0] != 's') return -1;
  return atoll((const char*)r->value + 1);
}

static const char* option(const sluice_host* h, const char* name) {
  for (size_t i = 0; i < h->option_count; ++i)
    if (strcmp(h->options[i].name, name) == 0) return h->options[i].value;
  return NULL;
}

static int init(const sluice_host* host, void** out) {
  const char* dir = option(host, "log_dir");
  if (dir == NULL) return 2;
  const char* init_fail = option(host, "init_fail");
  if (init_fail != NULL && strcmp(init_fail, "1") == 0) return 4;
  state* s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  s->host = host;
  const char* pt = option(host, "produce_topic");
  snprintf(s->produce_topic, sizeof s->produce_topic, "%s", pt ? pt : "");
  if (pt != NULL && (host->struct_size < offsetof(sluice_host, produce) + sizeof host->produce || host->produce == NULL)) {
    free(s);
    return 5; /* this host cannot produce */
  }
  const char* sl = option(host, "sleep_us");
  s->sleep_us = sl ? atol(sl) : 0;
  const char* v;
  snprintf(s->hold_while, sizeof s->hold_while, "%s", (v = option(host, "hold_while")) ? v : "");
  snprintf(s->fail, sizeof s->fail, "%s", (v = option(host, "fail_seqs")) ? v : "");
  snprintf(s->retry, sizeof s->retry, "%s", (v = option(host, "retry_seqs")) ? v : "");
  snprintf(s->crash, sizeof s->crash, "%s", (v = option(host, "crash_seqs")) ? v : "");
  snprintf(s->hang, sizeof s->hang, "%s", (v = option(host, "hang_seqs")) ? v : "");
  snprintf(s->oom, sizeof s->oom, "%s", (v = option(host, "oom_seqs")) ? v : "");
  snprintf(s->corrupt, sizeof s->corrupt, "%s", (v = option(host, "corrupt_seqs")) ? v : "");
  snprintf(s->produce_big, sizeof s->produce_big, "%s", (v = option(host, "produce_big_seqs")) ? v : "");
  snprintf(s->corrupt_mode, sizeof s->corrupt_mode, "%s", (v = option(host, "corrupt_mode")) ? v : "");
  s->corrupt_always = (v = option(host, "corrupt_always")) != NULL && strcmp(v, "1") == 0;
  v = option(host, "crash_signal");
  s->crash_signal = v == NULL ? SIGSEGV : strcmp(v, "ABRT") == 0 ? SIGABRT : strcmp(v, "KILL") == 0 ? SIGKILL : SIGSEGV;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%d.log", dir, host->lambda, (int)getpid());
  s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    free(s);
    return 3;
  }
  s->originals_fd = -1;
  if ((v = option(host, "originals_to")) != NULL) {
    if (host->struct_size < offsetof(sluice_host, original) + sizeof host->original || host->original == NULL) {
      close(s->fd);
      free(s);
      return 6; /* this host has no originals to give */
    }
    s->originals_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  if ((v = option(host, "say")) != NULL) {
    printf("%s\n", v);
    fprintf(stderr, "%s (stderr)\n", v);
  }
  *out = s;
  return 0;
}

/* One line of originals_to for records[i] of a call of n. */
static void write_original(const state* s, const sluice_record* records, size_t n, size_t i) {
  const void* value = NULL;
  const void* other = NULL;
  size_t value_len = 0, other_len = 0;
  const int rv = s->host->original(s->host, i, SLUICE_PART_VALUE, &value, &value_len);
  const int rk = s->host->original(s->host, i, SLUICE_PART_KEY, &other, &other_len);
  const int past = s->host->original(s->host, n, SLUICE_PART_VALUE, &other, &other_len);
  const int part = s->host->original(s->host, i, 7, &other, &other_len);
  const size_t hex_len = rv == 1 ? 2 * value_len : 1;
  char* line = malloc(hex_len + 96);
  if (line == NULL) return;
  int len = snprintf(line, 96, "%lld %d %d %d %d ", (long long)records[i].offset, rv, rk, past, part);
  if (rv == 1) {
    for (size_t b = 0; b < value_len; ++b) len += sprintf(line + len, "%02x", ((const unsigned char*)value)[b]);
  } else {
    line[len++] = '-';
  }
  line[len++] = '\n';
  if (write(s->originals_fd, line, (size_t)len) != len) { /* the test sees the line missing */
  }
  free(line);
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  state* s = st;
  for (size_t i = 0; i < n; ++i) {
    const sluice_record* r = &records[i];
    struct stat gate;
    while (s->hold_while[0] != '\0' && stat(s->hold_while, &gate) == 0) {
      const struct timespec tick = {0, 10 * 1000 * 1000};
      nanosleep(&tick, NULL);
    }
    if (s->sleep_us > 0) {
      struct timespec ts = {s->sleep_us / 1000000, (s->sleep_us % 1000000) * 1000};
      nanosleep(&ts, NULL);
    }
    if (s->originals_fd >= 0) write_original(s, records, n, i);
    const long long seq = seq_of(r);
    const char* outcome = "ok";
    char* error = s->errors[i % 1024];
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
    if (seq >= 0 && listed(s->fail, seq)) {
      outcome = "fail";
      snprintf(error, sizeof s->errors[0], "poison %lld", seq);
      results[i].outcome = SLUICE_FAIL;
      results[i].error = error;
    } else if (seq >= 0 && listed(s->retry, seq)) {
      outcome = "retry";
      snprintf(error, sizeof s->errors[0], "busy %lld", seq);
      results[i].outcome = SLUICE_RETRY;
      results[i].error = error;
    } else if (seq >= 0 && listed(s->crash, seq)) {
      outcome = "crash";
    } else if (seq >= 0 && listed(s->hang, seq)) {
      outcome = "hang";
    } else if (seq >= 0 && listed(s->oom, seq)) {
      outcome = "oom";
    }
    char line[512];
    const int klen = r->key ? (int)(r->key_len > 64 ? 64 : r->key_len) : 1;
    const int vlen = r->value ? (int)(r->value_len > 64 ? 64 : r->value_len) : 1;
    int len = snprintf(line, sizeof line, "%.*s %d %lld %u %s %.*s %.*s\n", (int)r->topic_len, r->topic, r->partition,
                       (long long)r->offset, r->attempt, outcome, klen, r->key ? (const char*)r->key : "-", vlen,
                       r->value ? (const char*)r->value : "-");
    if (write(s->fd, line, (size_t)len) != len) {
      results[i].outcome = SLUICE_RETRY;
      results[i].error = "cannot write the outcome log";
      continue;
    }
    if (s->produce_topic[0] != '\0' && results[i].outcome == SLUICE_OK && r->value != NULL) {
      char value[600], source[96];
      const int sl = snprintf(source, sizeof source, "%.*s/%d/%lld", (int)r->topic_len, r->topic, r->partition,
                              (long long)r->offset);
      const sluice_header h = {"source", 6, source, (size_t)sl};
      for (int extra = 0; extra <= (seq % 10 == 0); ++extra) {
        const int vl = snprintf(value, sizeof value, "%s%.*s", extra ? "extra-" : "out-",
                                (int)(r->value_len > 512 ? 512 : r->value_len), (const char*)r->value);
        static char big[20000];
        const int is_big = seq >= 0 && listed(s->produce_big, seq);
        if (is_big) memset(big, 'x', sizeof big);
        const sluice_outbound o = {s->produce_topic, -1, r->key, r->key_len, is_big ? big : value,
                                   is_big ? sizeof big : (size_t)vl, &h, 1};
        if (s->host->produce(s->host, &o) != 0) {
          results[i].outcome = SLUICE_RETRY;
          results[i].error = "host refused a record to produce";
        }
      }
    }
    if (seq >= 0 && listed(s->corrupt, seq) && (r->attempt == 1 || s->corrupt_always) &&
        sluice_test_corrupt(s->corrupt_mode, s->host->worker_slot, r) != 0) {
      results[i].outcome = SLUICE_FAIL;
      results[i].error = "the test could not do the damage it was asked for";
    }
    if (strcmp(outcome, "crash") == 0) {
      if (option(s->host, "say") != NULL) fprintf(stderr, "recorder: crashing on %lld\n", (long long)seq);
      raise(s->crash_signal);
    }
    if (strcmp(outcome, "hang") == 0) {
      for (;;) pause();
    }
    if (strcmp(outcome, "oom") == 0) {
      for (;;) {
        char* p = malloc(16 << 20);
        if (p == NULL) abort();
        memset(p, 1, 16 << 20); /* touched, so a cgroup limit would see it too */
        memcpy(p, (const void*)&s->hoard, sizeof s->hoard); /* chained: never dead */
        s->hoard = p;
      }
    }
  }
}

static void shutdown(void* st) {
  state* s = st;
  close(s->fd);
  if (s->originals_fd >= 0) close(s->originals_fd);
  free(s);
}

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};
const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
