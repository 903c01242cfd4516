#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "shm/ring.hpp"
#include "shm/segment.hpp"
#include "worker/handler.hpp"

namespace sluice::worker {

class WorkerLoop {
 public:
  WorkerLoop(const shm::Segment& seg, const config::Lambda& lambda, std::uint32_t slot, Handler& handler,
             const std::atomic<bool>& stop);
  // Processes batches until stop is set; returns normally in every case.
  void run();

 private:
  void collect();
  // False when a stop interrupted a retry: the batch must then not be released.
  bool process();
  void fail(shm::RecordHeader& h, const std::string& reason);
  // Calls the handler for records_ (in one call, or one per record), filling results_.
  void invoke();
  bool backoff(std::uint32_t attempt);

  const shm::Segment& seg_;
  const config::Lambda& lambda_;
  Handler& handler_;
  const std::atomic<bool>& stop_;
  shm::RingControl& ctl_;
  shm::RingReader in_;
  shm::RingWriter reply_;
  std::string previous_exit_;  // how the worker before us ended, for exhausted redeliveries
  std::vector<shm::RecordHeader*> batch_;
  std::vector<shm::RecordHeader*> todo_;
  std::vector<shm::RecordHeader*> next_;
  std::vector<sluice_record> records_;
  std::vector<sluice_header> headers_;
  std::vector<sluice_result> results_;
  std::minstd_rand rng_;
};

}  // namespace sluice::worker
