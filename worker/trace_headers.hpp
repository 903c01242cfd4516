// A record's W3C trace context and where the worker passes it on: the request of an
// invocation that carries that one record (HTTP headers, exec frame headers), and the
// records its handler asks sluice to produce.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/plugin.h"
#include "worker/outbound.hpp"

namespace sluice::worker {

struct TraceContext {
  std::string_view traceparent;
  std::string_view tracestate;  // empty: none
};

// The record's last valid traceparent header (the one `trace = true` appends wins over an
// invalid one before it). Its last valid tracestate comes along only when no traceparent
// header of the record was invalid: a tracestate belongs to its traceparent, and one that
// came with an unreadable traceparent must not be attached to another trace.
std::optional<TraceContext> trace_context_of(const sluice_record& r);

// Gives `out` the invoking record's context, unless the handler set a traceparent itself
// (a handler that starts its own child span wins).
void inherit_trace_context(OutboundRecord& out, const TraceContext& ctx);

}  // namespace sluice::worker
