// The event formats (docs/formats.md): how a batch of records becomes what a handler reads.
// Pure functions of the records, so each format has golden-file tests
// (tests/golden/formats/) and every handler kind shares them.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "sluice/plugin.h"
#include "worker/schema_ref.hpp"

namespace sluice::worker {

// What a format needs to know beyond the records.
struct EventSource {
  std::string lambda;
  std::string instance;
  std::string group_id;
  std::string bootstrap_servers;
  // The schema registry's URL without credentials, query or trailing slash ("" if none):
  // CloudEvents' dataschema is <it>/schemas/ids/<id>.
  std::string schema_registry;
};
EventSource event_source_of(const config::Lambda& lambda);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One invocation's request: body, and (for http) the headers that go with it.
struct Event {
  std::string body;
  HeaderList headers;  // includes Content-Type
};

// How many records one event carries: `aws` and `json` take a whole batch, `raw` and
// `cloudevents` one record each (their body is one value).
bool format_takes_batches(config::Format format);

// The event for `records` (all of them for batch formats, exactly one otherwise).
// `schemas` is empty or holds one entry per record: the schemas its key and value were
// decoded with, which the event names.
Event make_event(config::Format format, std::span<const sluice_record> records, const EventSource& source,
                 std::span<const RecordSchemas> schemas = {});

// The body make_event() would give, alone: for a handler that reads nothing else (an exec
// runner listing `body-only`), so that no header is built for it.
std::string make_body(config::Format format, std::span<const sluice_record> records, const EventSource& source,
                      std::span<const RecordSchemas> schemas = {});

// "<topic>-<partition>-<offset>", the identifier a `batchItemFailures` entry names.
std::string aws_item_identifier(const sluice_record& r);

}  // namespace sluice::worker
