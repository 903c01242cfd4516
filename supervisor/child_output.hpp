// What a worker process writes to its stdout and stderr — a plugin's own messages, the C
// library's, a sanitizer's report — read from a pipe the supervisor owns and logged a
// line at a time, named by lambda and worker and with a priority, like every other line.
// The supervisor outlives the worker, so a crash's last words are read to the end; a
// reader inside the worker would die with it.
#pragma once

#include <optional>
#include <string>

#include "shm/unique_fd.hpp"

namespace sluice::supervisor {

class ChildOutput {
 public:
  // nullopt when no pipe can be made (descriptors exhausted): the worker then keeps the
  // supervisor's stderr, as before.
  static std::optional<ChildOutput> open(std::string name);

  int child_end() const { return write_.get(); }  // for the child to inherit
  void close_child_end() { write_.reset(); }      // once the child has it
  int fd() const { return read_.get(); }

  // Logs every complete line that can be read now (lines longer than 4 KiB are split);
  // false once the writers are all gone and everything was read.
  bool drain();
  // Logs what is left of an unfinished last line.
  void flush();

 private:
  ChildOutput(std::string name, int read_end, int write_end);
  void emit(std::string_view line);

  std::string name_;
  shm::UniqueFd read_;
  shm::UniqueFd write_;
  std::string partial_;
};

}  // namespace sluice::supervisor
