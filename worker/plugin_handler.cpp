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
  host_.host_data = this;
  host_.produce = &PluginHandler::host_produce;
  host_.original = &PluginHandler::host_original;
  if (plugin_->init != nullptr) {
    if (int rc = plugin_->init(&host_, &state_); rc != 0) {
      throw std::runtime_error("plugin " + path + " init failed with status " + std::to_string(rc));
    }
  }
}

PluginHandler::~PluginHandler() {
  if (plugin_ != nullptr && plugin_->shutdown != nullptr) plugin_->shutdown(state_);
}

void PluginHandler::handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                           std::vector<OutboundRecord>& produce) {
  produce_ = &produce;
  call_size_ = records.size();
  plugin_->handle(state_, records.data(), records.size(), results.data());
  produce_ = nullptr;
  call_size_ = 0;
}

int PluginHandler::host_original(const sluice_host* host, size_t index, int part, const void** bytes, size_t* len) noexcept {
  auto* self = static_cast<PluginHandler*>(host->host_data);
  if (self->produce_ == nullptr || index >= self->call_size_ || (part != SLUICE_PART_KEY && part != SLUICE_PART_VALUE) ||
      bytes == nullptr || len == nullptr) {
    return -1;
  }
  const auto schemas = self->schemas();
  if (index >= schemas.size()) return 0;  // nothing of this call was decoded
  const RecordSchemas& s = schemas[index];
  const bool key = part == SLUICE_PART_KEY;
  if (!(key ? s.key : s.value).decoded()) return 0;
  const std::string_view original = key ? s.key_original : s.value_original;
  *bytes = original.data();
  *len = original.size();
  return 1;
}

int PluginHandler::host_produce(const sluice_host* host, const sluice_outbound* record) noexcept {
  auto* self = static_cast<PluginHandler*>(host->host_data);
  if (self->produce_ == nullptr || record == nullptr || record->topic == nullptr || record->topic[0] == '\0') return -1;
  try {  // nothing may unwind into the plugin
    OutboundRecord r;
    r.topic = record->topic;
    r.partition = record->partition < 0 ? -1 : record->partition;
    if (record->key != nullptr) r.key.emplace(static_cast<const char*>(record->key), record->key_len);
    if (record->value != nullptr) r.value.emplace(static_cast<const char*>(record->value), record->value_len);
    for (std::size_t i = 0; i < record->header_count; ++i) {
      const sluice_header& h = record->headers[i];
      r.headers.emplace_back(std::string(h.name, h.name_len),
                             h.value == nullptr ? std::nullopt
                                                : std::optional<std::string>(std::in_place, static_cast<const char*>(h.value),
                                                                             h.value_len));
    }
    self->produce_->push_back(std::move(r));
    return 0;
  } catch (...) {
    return -1;
  }
}

}  // namespace sluice::worker
