// Handler type "python": sluice_handler's runner inside the worker process, through
// sluice-python.so (worker/python/bridge.cpp), which the worker loads only for such a
// lambda. It speaks the exec protocol's frames without a pipe, so ExecHandler keeps every
// rule of the exec handler (events, answers, outcomes) for it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "worker/exec_frame.hpp"

namespace sluice::worker {

class EmbeddedPython {
 public:
  // Loads sluice-python.so from next to the worker's executable and starts the runner
  // with `argv` (what `python3 -m sluice_handler` would get); throws std::runtime_error
  // with the reason (no library, no libpython, the lambda's file fails to load). What
  // the lambda prints is logged line by line, as an exec handler's stderr is.
  explicit EmbeddedPython(const std::vector<std::string>& argv);
  // The interpreter is never finalized: the worker process ends with it.
  ~EmbeddedPython() = default;
  EmbeddedPython(const EmbeddedPython&) = delete;
  EmbeddedPython& operator=(const EmbeddedPython&) = delete;

  const Frame& ready() const { return ready_; }
  // One request, its header block (encode_header_block()'s) and body, in; its answer, or
  // false with `why` (the runner raised where it should have answered, or answered with
  // a malformed frame).
  // Not const: the runner's state (and the lambda's) changes with every call.
  bool call(std::string_view block, std::string_view body, Frame& answer, std::string& why);

 private:
  using Start = int (*)(const char* const*, std::size_t, void (*)(const char*, std::size_t), const char**, std::size_t*);
  using Call = int (*)(const char*, std::size_t, const char*, std::size_t, const char**, std::size_t*);
  Call call_ = nullptr;
  Frame ready_;
  FrameReader reader_;
};

}  // namespace sluice::worker
