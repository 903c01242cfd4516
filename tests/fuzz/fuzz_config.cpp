// The config loader (config/) against any main file: it either loads or throws
// ConfigError with diagnostics; any other exception, or a crash, is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("sluice-fuzz-config-" + std::to_string(getpid()));
    std::filesystem::create_directories(d / "lambdas.d");
    return d;
  }();
  const auto file = dir / "sluice.toml";
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  try {
    const auto c = sluice::config::load(file);
    for (const auto& l : c.lambdas) {
      if (l.name.empty() || l.workers == 0) __builtin_trap();
    }
  } catch (const sluice::config::ConfigError& e) {
    if (e.diagnostics().empty()) __builtin_trap();
  }
  return 0;
}
