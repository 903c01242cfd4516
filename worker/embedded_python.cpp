#include "worker/embedded_python.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include <filesystem>
#include <stdexcept>

namespace sluice::worker {
namespace {

// Parses one whole frame; false with `why` otherwise.
bool parse_frame(FrameReader& reader, std::string_view bytes, Frame& frame, std::string& why) {
  reader.reset();
  const auto state = reader.feed(bytes);
  if (state == FrameReader::State::kComplete && reader.excess() == 0) {
    frame = reader.take();
    return true;
  }
  why = state == FrameReader::State::kMalformed ? reader.error()
        : state == FrameReader::State::kNeedMore ? "an answer cut short"
                                                 : "more than one answer";
  reader.reset();
  return false;
}

void log_line(const char* text, std::size_t len) { spdlog::info("handler: {}", std::string_view(text, len)); }

}  // namespace

EmbeddedPython::EmbeddedPython(const std::vector<std::string>& argv) {
  // Next to sluice-worker, in the build tree and once installed alike. The handle is
  // never closed: libpython cannot be unloaded.
  const auto lib = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "sluice-python.so";
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw std::runtime_error("cannot load " + lib.string() + ": " + dlerror());
  auto start = reinterpret_cast<Start>(dlsym(handle, "sluice_python_start"));
  call_ = reinterpret_cast<Call>(dlsym(handle, "sluice_python_call"));
  if (start == nullptr || call_ == nullptr) throw std::runtime_error(lib.string() + " is not sluice's Python bridge");
  std::vector<const char*> args;
  for (const auto& a : argv) args.push_back(a.c_str());
  const char* out = nullptr;
  std::size_t len = 0;
  // The worker's signals stay the worker's: a lambda written for the exec runner may set
  // a SIGTERM handler when it loads (its lifespan end there), which here would take the
  // stop request away from the worker.
  std::vector<struct sigaction> saved(NSIG);
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, nullptr, &saved[sig]);
  const int rc = start(args.data(), args.size(), &log_line, &out, &len);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &saved[sig], nullptr);
  }
  const std::string_view text(out, len);
  if (rc != 0) throw std::runtime_error("python handler: " + std::string(text));
  std::string why;
  if (!parse_frame(reader_, text, ready_, why)) throw std::runtime_error("python handler: malformed ready frame: " + why);
}

bool EmbeddedPython::call(std::string_view block, std::string_view body, Frame& answer, std::string& why) {
  const char* out = nullptr;
  std::size_t len = 0;
  if (call_(block.data(), block.size(), body.data(), body.size(), &out, &len) != 0) {
    why = "python handler: " + std::string(out, len);
    return false;
  }
  if (len == 0) {  // the runner's shorthand for ok with nothing returned
    answer = Frame{{{"Status", "ok"}}, {}};
    return true;
  }
  if (!parse_frame(reader_, std::string_view(out, len), answer, why)) {
    why = "python handler: malformed answer: " + why;
    return false;
  }
  return true;
}

}  // namespace sluice::worker
