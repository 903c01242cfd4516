#include "worker/plugin_handler.hpp"

#include <dlfcn.h>

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sluice::worker {
namespace {

void host_log(const sluice_host* host, int level, const char* message) {
  const auto lvl = level <= SLUICE_LOG_ERROR     ? spdlog::level::err
                   : level == SLUICE_LOG_WARNING ? spdlog::level::warn
                   : level >= SLUICE_LOG_DEBUG   ? spdlog::level::debug
                                                 : spdlog::level::info;
  spdlog::log(lvl, "[{}] {}", host->lambda, message != nullptr ? message : "");
}

}  // namespace

PluginHandler::Library::~Library() {
  if (handle != nullptr) dlclose(handle);
}

PluginHandler::PluginHandler(const config::Lambda& lambda, std::uint32_t slot) : lambda_name_(lambda.name) {
  const std::string& path = lambda.handler.path;
  lib_.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib_.handle == nullptr) throw std::runtime_error("cannot load plugin " + path + ": " + dlerror());
  using Entry = const sluice_plugin* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(lib_.handle, "sluice_plugin_v1"));
  if (entry == nullptr) throw std::runtime_error("plugin " + path + " does not export sluice_plugin_v1()");
  plugin_ = entry();
  if (plugin_ == nullptr || plugin_->abi_version != SLUICE_PLUGIN_ABI_VERSION || plugin_->handle == nullptr) {
    throw std::runtime_error("plugin " + path + " was built for another sluice plugin ABI (want version " +
                             std::to_string(SLUICE_PLUGIN_ABI_VERSION) + ")");
  }
  for (const auto& [k, v] : lambda.handler.options) option_storage_.emplace_back(k, v);
  for (const auto& [k, v] : option_storage_) options_.push_back(sluice_option{k.c_str(), v.c_str()});
  host_.struct_size = sizeof(sluice_host);
  host_.abi_version = SLUICE_PLUGIN_ABI_VERSION;
  host_.lambda = lambda_name_.c_str();
  host_.worker_slot = slot;
  host_.options = options_.data();
  host_.option_count = options_.size();
  host_.log = &host_log;
  if (plugin_->init != nullptr) {
    if (int rc = plugin_->init(&host_, &state_); rc != 0) {
      throw std::runtime_error("plugin " + path + " init failed with status " + std::to_string(rc));
    }
  }
}

PluginHandler::~PluginHandler() {
  if (plugin_ != nullptr && plugin_->shutdown != nullptr) plugin_->shutdown(state_);
}

void PluginHandler::handle(std::span<const sluice_record> records, std::span<sluice_result> results) {
  plugin_->handle(state_, records.data(), records.size(), results.data());
}

}  // namespace sluice::worker
