// The `plugin` handler: a shared library with the C ABI of include/sluice/plugin.h,
// loaded once per worker.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "worker/handler.hpp"

namespace sluice::worker {

class PluginHandler final : public Handler {
 public:
  // Loads and initialises the library; throws std::runtime_error with the dlerror or
  // the plugin's init status.
  PluginHandler(const config::Lambda& lambda, std::uint32_t slot);
  ~PluginHandler() override;
  PluginHandler(const PluginHandler&) = delete;
  PluginHandler& operator=(const PluginHandler&) = delete;


 protected:
  void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
              std::vector<OutboundRecord>& produce) override;

 private:
  struct Library {
    void* handle = nullptr;
    ~Library();
  };
  Library lib_;
  const sluice_plugin* plugin_ = nullptr;
  void* state_ = nullptr;
  std::string lambda_name_;
  std::vector<std::pair<std::string, std::string>> option_storage_;
  std::vector<sluice_option> options_;
  sluice_host host_{};
  std::vector<OutboundRecord>* produce_ = nullptr;  // set during handle() only
  std::size_t call_size_ = 0;                       // the records of that call
  static int host_produce(const sluice_host* host, const sluice_outbound* record) noexcept;
  static int host_original(const sluice_host* host, size_t index, int part, const void** bytes, size_t* len) noexcept;
};

}  // namespace sluice::worker
