// W3C trace context (traceparent / tracestate) as Kafka headers carry it. The consumer
// starts a context for a record that has none (`trace = true`), the worker hands a record's
// context to its handler and to the records its handler produces; both read it by these
// rules, so what a record carries means the same on both sides of the ring.
#pragma once

#include <string>
#include <string_view>

namespace sluice::shm {

inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kTracestate = "tracestate";

// version "-" trace-id "-" parent-id "-" flags, lower-case hex: version 00 exactly so,
// a later version (not ff) may add "-"-separated fields; an all-zero trace or parent id
// is invalid. Receivers must ignore an invalid one, so sluice never passes one on.
bool valid_traceparent(std::string_view value);

// A tracestate worth passing on: printable ASCII, at most 512 bytes (what W3C asks a
// vendor to propagate).
bool valid_tracestate(std::string_view value);

// A new trace: random trace and parent ids, sampled ("00-<32 hex>-<16 hex>-01").
std::string start_traceparent();

}  // namespace sluice::shm
