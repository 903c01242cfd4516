/* Benchmark handler: does nothing with the records but count them, and stamps the
 * first and last handling time into a shared file (option stats_file) so the benchmark
 * can time sluice from first to last message across all worker processes. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sluice/plugin.h"

typedef struct counters {
  _Atomic uint64_t count;
  _Atomic uint64_t first_ns;
  _Atomic uint64_t last_ns;
} counters;

static int init(const sluice_host* host, void** out) {
  const char* path = NULL;
  for (size_t i = 0; i < host->option_count; ++i)
    if (strcmp(host->options[i].name, "stats_file") == 0) path = host->options[i].value;
  if (path == NULL) return 2;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 3;
  void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return 4;
  *out = p;
  return 0;
}

static void handle(void* st, const sluice_record* records, size_t n, sluice_result* results) {
  counters* c = st;
  (void)records;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  uint64_t zero = 0;
  atomic_compare_exchange_strong(&c->first_ns, &zero, now);
  uint64_t last = atomic_load(&c->last_ns);
  while (last < now && !atomic_compare_exchange_weak(&c->last_ns, &last, now)) {
  }
  for (size_t i = 0; i < n; ++i) {
    results[i].outcome = SLUICE_OK;
    results[i].error = NULL;
  }
  atomic_fetch_add(&c->count, n);
}

static void shutdown(void* st) { munmap(st, 4096); }

static const sluice_plugin kPlugin = {SLUICE_PLUGIN_ABI_VERSION, init, handle, shutdown};
const sluice_plugin* sluice_plugin_v1(void) { return &kPlugin; }
