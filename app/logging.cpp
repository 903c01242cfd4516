#include "app/logging.hpp"

#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::app {

void init_logging(const std::string& role) {
  auto logger = spdlog::stderr_logger_st("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l [" + role + "] %v");
  if (const char* lvl = std::getenv("SLUICE_LOG_LEVEL"); lvl != nullptr && *lvl != '\0') {
    logger->set_level(spdlog::level::from_str(lvl));
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace sluice::app
