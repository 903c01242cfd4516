/* Benchmark handler: reports every record into the shared counters file (option
 * stats_file, see bench_counters.h) and otherwise does nothing, or, with option spin_ns,
 * burns that much CPU per record (the handler-bound benchmark). The spin is a loop count
 * calibrated at start against the thread's CPU clock: reading that clock per record
 * costs a system call each time and would overshoot every record. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_counters.h"
#include "sluice/plugin.h"

typedef struct state {
  sluice_bench_counters* c;
  size_t bytes;
  uint64_t spin_loops;
  size_t prefix_at; /* where the benchmark prefix starts in a value (a JSON value has it in a field) */
} state;

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t g_sink;

static void spin(uint64_t loops) {
  uint64_t x = g_sink;
  for (uint64_t i = 0; i < loops; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  g_sink = x;
}

/* Loops per spin_ns of this thread's CPU time, from the best of five timed samples. */
static uint64_t calibrate(uint64_t spin_ns) {
  const uint64_t probe = 1000000;
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 5; ++i) {
    const uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    spin(probe);
    const uint64_t t = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    if (t < best) best = t;
  }
  return best == 0 ? 0 : (uint64_t)((double)probe * (double)spin_ns / (double)best);
}

static int init(const sluice_host* host, void** out) {
  const char* path = NULL;
  uint64_t spin_ns = 0;
  size_t prefix_at = 0;
  for (size_t i = 0; i < host->option_count; ++i) {
    if (strcmp(host->options[i].name, "prefix_at") == 0) prefix_at = strtoull(host->options[i].value, NULL, 10);
    if (strcmp(host->options[i].name, "stats_file") == 0) path = host->options[i].value;
    if (strcmp(host->options[i].name, "spin_ns") == 0) spin_ns = strtoull(host->options[i].value, NULL, 10);
  }
  if (path == NULL) return 2;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 3;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return 4;
  }
  void* p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return 5;
  state* s = malloc(sizeof *s);
  if (s == NULL) return 6;
  s->c = p;
  s->bytes = (size_t)st.st_size;
  s->spin_loops = spin_ns == 0 ? 0 : calibrate(spin_ns);
  s->prefix_at = prefix_at;
  *out = s;
  return 0;
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  state* s = st;
  for (size_t i = 0; i < n; ++i) {
    if (s->spin_loops != 0) spin(s->spin_loops);
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
  }
  /* One clock read per call: a batch is handled when the call returns. */
  const uint64_t now = clock_ns(CLOCK_MONOTONIC);
  for (size_t i = 0; i < n; ++i) {
    const sluice_record* r = &records[i];
    const int has_prefix = r->value != NULL && r->value_len >= s->prefix_at;
    sluice_bench_mark(s->c, has_prefix ? (const char*)r->value + s->prefix_at : NULL,
                      has_prefix ? r->value_len - s->prefix_at : 0, now);
  }
  sluice_bench_stamp(s->c, now);
}

static void shutdown(void* st) {
  state* s = st;
  munmap(s->c, s->bytes);
  free(s);
}

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};
const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
