// A record that already is a CloudEvent under the CloudEvents Kafka protocol binding:
// structured mode (a `content-type: application/cloudevents+json` header, the value is
// the event as JSON) or binary mode (`ce_*` headers carry the attributes, the value is
// the data). The `cloudevents` format delivers such a record as that event, as Knative's
// KafkaSource does, instead of wrapping it in a new `dev.knative.kafka.event`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/plugin.h"

namespace sluice::worker {

struct CloudEvent {
  // Context attributes other than datacontenttype, each name once ([a-z0-9]+), values as
  // the text the HTTP binding carries; in the order the record gave them.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::optional<std::string> datacontenttype;
  std::string data;
};

// The event the record carries, or nullopt when it carries none or an invalid one (no
// specversion 1.0, a required attribute missing or empty, an attribute name or value the
// spec does not allow, undecodable data). Knative wraps an invalid event like any other
// record; so does the `cloudevents` format, so nothing is lost.
std::optional<CloudEvent> cloudevent_of(const sluice_record& r);

// An event has one value per attribute: sets `name` in list[from, end) to `value`, at
// the place where it first appeared (the last value wins, as a CloudEvents SDK reading
// headers in order would leave it), or appends it.
void set_attribute(std::vector<std::pair<std::string, std::string>>& list, std::size_t from, std::string name,
                   std::string value);

// A CloudEvents attribute name may hold only lower-case letters and digits.
bool valid_attribute_name(std::string_view name);

}  // namespace sluice::worker
