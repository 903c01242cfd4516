/* The file every benchmark contender reports into (sluice's no-op plugin, the bare
 * consumer, the peers), mapped shared so the benchmark reads it while they run.
 *
 * Each value starts with 16 hex digits of a sequence number and 16 hex digits of the
 * CLOCK_MONOTONIC time the record was scheduled to be sent (0 for a backlog), so one
 * bit per sequence number catches loss and duplicates, and the first delivery of each
 * record leaves its latency. Text, not binary, so kcat can print it and Python parse it.
 *
 * Layout: the header in the first 4096 bytes, then `capacity` bits of `seen`, then
 * `capacity` u64 latencies (ns; with `timeline` set, a backlog record's CLOCK_MONOTONIC
 * handling time).
 * Writers in several processes use GCC atomics. */
#ifndef SLUICE_BENCH_COUNTERS_H
#define SLUICE_BENCH_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_BENCH_HEADER_BYTES 4096
#define SLUICE_BENCH_PREFIX_BYTES 32

typedef struct sluice_bench_counters {
  uint64_t count;      /* deliveries, duplicates included */
  uint64_t first_ns;   /* CLOCK_MONOTONIC of the first and the last handling */
  uint64_t last_ns;
  uint64_t duplicates;
  uint64_t malformed;  /* values without a valid prefix or beyond capacity */
  uint64_t capacity;   /* sequence numbers 0..capacity-1 */
  uint64_t timeline;   /* nonzero: backlog records leave their handling time (below) */
} sluice_bench_counters;

static inline size_t sluice_bench_file_bytes(uint64_t capacity) {
  return SLUICE_BENCH_HEADER_BYTES + (size_t)((capacity + 63) / 64) * 8 + (size_t)capacity * 8;
}
static inline uint64_t* sluice_bench_seen(sluice_bench_counters* c) {
  return (uint64_t*)((char*)c + SLUICE_BENCH_HEADER_BYTES);
}
static inline uint64_t* sluice_bench_latency(sluice_bench_counters* c) {
  return sluice_bench_seen(c) + (c->capacity + 63) / 64;
}

static inline int sluice_bench_hex16(const char* p, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < 16; ++i) {
    const char ch = p[i];
    unsigned d;
    if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
    else return 0;
    v = (v << 4) | d;
  }
  *out = v;
  return 1;
}

/* One delivery handled at now_ns. */
static inline void sluice_bench_mark(sluice_bench_counters* c, const void* value, size_t len, uint64_t now_ns) {
  const char* v = (const char*)value;
  uint64_t seq = 0;
  uint64_t sent = 0;
  if (v == NULL || len < SLUICE_BENCH_PREFIX_BYTES || !sluice_bench_hex16(v, &seq) || !sluice_bench_hex16(v + 16, &sent) ||
      seq >= c->capacity) {
    __atomic_fetch_add(&c->malformed, 1, __ATOMIC_RELAXED);
  } else {
    const uint64_t bit = 1ULL << (seq & 63);
    if (__atomic_fetch_or(&sluice_bench_seen(c)[seq >> 6], bit, __ATOMIC_RELAXED) & bit) {
      __atomic_fetch_add(&c->duplicates, 1, __ATOMIC_RELAXED);
    } else if (sent != 0) {
      sluice_bench_latency(c)[seq] = now_ns > sent ? now_ns - sent : 0;
    } else if (c->timeline != 0) {
      /* A backlog record's handling time, when asked for: a timeline to look at when a
       * run goes wrong. Off by default: writing it touches 8 bytes per record of the
       * file, which would count in the handler process's RSS. */
      sluice_bench_latency(c)[seq] = now_ns;
    }
  }
  __atomic_fetch_add(&c->count, 1, __ATOMIC_RELEASE);
}

/* Widens [first_ns, last_ns] to include now_ns; called once per handler call. */
static inline void sluice_bench_stamp(sluice_bench_counters* c, uint64_t now_ns) {
  uint64_t zero = 0;
  __atomic_compare_exchange_n(&c->first_ns, &zero, now_ns, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  uint64_t last = __atomic_load_n(&c->last_ns, __ATOMIC_RELAXED);
  while (last < now_ns &&
         !__atomic_compare_exchange_n(&c->last_ns, &last, now_ns, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

#endif
