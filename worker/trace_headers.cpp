#include "worker/trace_headers.hpp"

#include <algorithm>

#include "shm/trace_context.hpp"
#include "worker/text_codec.hpp"

namespace sluice::worker {

std::optional<TraceContext> trace_context_of(const sluice_record& r) {
  std::optional<TraceContext> found;
  std::string_view tracestate;
  bool unreadable = false;
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    const std::string_view name(h.name, h.name_len);
    const std::string_view value = bytes_of(h.value, h.value_len);
    if (name == shm::kTraceparent) {
      if (h.value != nullptr && shm::valid_traceparent(value)) {
        found = TraceContext{value, {}};
      } else {
        unreadable = true;
      }
    } else if (name == shm::kTracestate && h.value != nullptr && shm::valid_tracestate(value)) {
      tracestate = value;
    }
  }
  if (found && !unreadable) found->tracestate = tracestate;
  return found;
}

void inherit_trace_context(OutboundRecord& out, const TraceContext& ctx) {
  if (std::ranges::any_of(out.headers, [](const auto& h) { return h.first == shm::kTraceparent; })) return;
  out.headers.emplace_back(shm::kTraceparent, std::string(ctx.traceparent));
  if (!ctx.tracestate.empty()) out.headers.emplace_back(shm::kTracestate, std::string(ctx.tracestate));
}

}  // namespace sluice::worker
