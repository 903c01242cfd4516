/* sluice plugin ABI, version 1.
 *
 * A plugin handler is a shared library loaded into each worker process of a lambda.
 * It exports one symbol, sluice_plugin_v1(), returning a table of three functions:
 * init (once per worker), handle (a batch of records, one outcome per record) and
 * shutdown (once, when the worker stops). No C++ exception may cross this boundary.
 *
 * Compatibility within version 1:
 *  - sluice_host carries struct_size and only ever grows at its end: a plugin checks
 *    struct_size before it uses a field appended after the first release (produce).
 *  - sluice_record, sluice_result, sluice_header and sluice_outbound are passed as arrays
 *    (or filled in by the plugin), so their size is part of the ABI: their layout never
 *    changes in version 1. Anything that needs a new field there, or a new behaviour a
 *    version 1 plugin would misread, gets a new entry symbol (sluice_plugin_v2) that
 *    sluice looks for first, keeping sluice_plugin_v1 plugins working as they are.
 *  - New sluice_outcome values are added only where a plugin that never returns them is
 *    unaffected (SLUICE_UNAVAILABLE).
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_PLUGIN_ABI_VERSION 1u

typedef enum sluice_outcome {
  SLUICE_OK = 0,    /* handled; the offset may be committed */
  SLUICE_RETRY = 1, /* transient failure: sluice retries with backoff up to max_attempts */
  SLUICE_FAIL = 2,  /* permanent failure: the record takes the lambda's on_failure path */
  /* What the handler needs cannot be reached (a service down, overloaded, a connection
   * refused): not this record's fault. sluice retries with capped backoff without
   * counting an attempt, for as long as it lasts, and reports the lambda degraded. Added
   * within ABI version 1: a plugin that never returns it is unaffected. */
  SLUICE_UNAVAILABLE = 3
} sluice_outcome;

typedef struct sluice_header {
  const char* name;
  size_t name_len;
  const void* value; /* NULL for a null header value */
  size_t value_len;
} sluice_header;

typedef struct sluice_record {
  const char* topic;
  size_t topic_len;
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;
  int32_t timestamp_type; /* 0 not available, 1 create time, 2 log append time */
  const void* key;        /* NULL for a null key */
  size_t key_len;
  const void* value; /* NULL for a null value (tombstone) */
  size_t value_len;
  const sluice_header* headers;
  size_t header_count;
  uint32_t attempt; /* 1 on the first delivery; higher after retries and redeliveries */
} sluice_record;

/* Set by the plugin for each record. sluice fills every entry with
 * {SLUICE_FAIL, "handler set no outcome"} before the call, so a record the plugin
 * forgets is never taken as handled. `error` is NUL-terminated text owned by the
 * plugin; sluice copies it before handle() returns to the caller. */
typedef struct sluice_result {
  sluice_outcome outcome;
  const char* error;
} sluice_result;

typedef struct sluice_option {
  const char* name;
  const char* value;
} sluice_option;

/* syslog severities, for host->log */
#define SLUICE_LOG_ERROR 3
#define SLUICE_LOG_WARNING 4
#define SLUICE_LOG_INFO 6
#define SLUICE_LOG_DEBUG 7

/* The part of a record host->original is asked for. */
#define SLUICE_PART_KEY 0
#define SLUICE_PART_VALUE 1

/* A record to produce (host->produce). Pointers need only be valid during the call. */
typedef struct sluice_outbound {
  const char* topic; /* NUL-terminated, not empty */
  int32_t partition; /* -1: the partitioner chooses (by key) */
  const void* key;   /* NULL for a null key */
  size_t key_len;
  const void* value; /* NULL for a null value (tombstone) */
  size_t value_len;
  const sluice_header* headers;
  size_t header_count;
} sluice_outbound;

typedef struct sluice_host {
  size_t struct_size;
  uint32_t abi_version;
  const char* lambda;   /* the lambda's name */
  uint32_t worker_slot; /* 0 .. workers-1 */
  const sluice_option* options; /* [lambda.handler.options] */
  size_t option_count;
  void (*log)(const struct sluice_host* host, int level, const char* message);
  void* host_data; /* sluice's, not the plugin's */
  /* Appended after the first release: use it only if struct_size reaches it.
   * Callable during handle() only. Asks sluice to produce `record` (copied). The records
   * one handle() call produces belong to every record of that call whose outcome is
   * SLUICE_OK: none of those is committed before the broker acknowledged all of them;
   * records that end otherwise are delivered again and produce anew. Returns 0, or -1
   * outside handle() or for a missing topic. */
  int (*produce)(const struct sluice_host* host, const sluice_outbound* record);
  /* Appended after produce: use it only if struct_size reaches it. Callable during
   * handle() only. With a [lambda.schema_registry], a record's key or value may arrive
   * decoded to JSON; this gives the bytes it was decoded from, as they came from Kafka
   * (the registry's framing included), for records[index] of the current call and
   * `part` SLUICE_PART_KEY or SLUICE_PART_VALUE. Returns 1 and sets *bytes and *len
   * (valid until handle() returns) when that part was decoded; 0 when it was not (the
   * record holds the bytes as they came); -1 outside handle(), for an index past the
   * call's records, or for another part. */
  int (*original)(const struct sluice_host* host, size_t index, int part, const void** bytes, size_t* len);
} sluice_host;

typedef struct sluice_plugin {
  uint32_t abi_version; /* SLUICE_PLUGIN_ABI_VERSION the plugin was built with */
  /* Returns 0 on success. *state is passed back to handle and shutdown. The host
   * pointer stays valid until shutdown returns. */
  int (*init)(const sluice_host* host, void** state);
  /* n >= 1. Records and their bytes are valid only during the call. */
  void (*handle)(void* state, const sluice_record* records, size_t n, sluice_result* results);
  void (*shutdown)(void* state);
} sluice_plugin;

/* The entry point every plugin exports. */
const sluice_plugin* sluice_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_PLUGIN_H */
