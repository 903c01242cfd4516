#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "shm/ring.hpp"
#include "shm/segment.hpp"
#include "worker/handler.hpp"
#include "worker/record_decoder.hpp"

namespace sluice::worker {

class WorkerLoop {
 public:
  // decoder: what decodes keys and values before the call (schema registry), or nullptr.
  WorkerLoop(const shm::Segment& seg, const config::Lambda& lambda, std::uint32_t slot, Handler& handler,
             RecordDecoder* decoder, const std::atomic<bool>& stop);
  // Processes batches until stop is set, or until the ring turns out corrupt (then
  // ring_corrupt()); returns normally in every case.
  void run();
  bool ring_corrupt() const { return !corrupt_.empty(); }

 private:
  void collect();
  // Publishes replies, then releases every record up to done_.
  void flush();
  // False when a stop interrupted a retry: the batch must then not be released.
  bool process();
  // Invokes todo_ (with retries) until each record has an outcome; same return. `stream`:
  // todo_ holds fresh records only (no redelivery to isolate), so its first pass may
  // stream (streaming_).
  bool run_todo(bool stream = false);
  void fail(shm::RecordHeader& h, const std::string& reason);
  // Gives todo_[i] its final status if results_[i] is one (ok; failed: for good, out of
  // attempts, or unavailable past max_record_age_s) and marks it finished_; false when
  // it is to be called again.
  bool settle(std::size_t i);
  // Whether results_[i] is final (what settle() would store), without storing it.
  bool is_final(std::size_t i) const;
  // While a round streams: drops the released records from the front of todo_ and every
  // vector parallel to it (headers_ too), counting them in dropped_ for the handler.
  void compact();
  // Appends todo_[i]'s record to records_ (its headers to headers_).
  void add_record(std::size_t i);
  // Handler::More while a round streams: takes up to n more fresh records from the ring
  // into todo_ (and the vectors parallel to it).
  Handler::Grown pull(std::size_t n);
  // Moves done_ past the records settled in a row from the round's start (released_),
  // and flushes; `now` is the time of the last answer.
  void release_settled(std::uint64_t now);
  // A record's attempts: one is charged when it is tried, and given back when what
  // stopped it was not its doing (an unavailable handler or registry). This worker is
  // their one writer.
  static void charge(shm::RecordHeader& h);
  static void give_back(shm::RecordHeader& h);
  // Charges todo_[j] unless charged_ says it was.
  void charge_once(std::size_t j);
  // Runs the decoder over todo_, each record charged an attempt while it is decoded (a
  // decoder that takes the worker down uses up the record's attempts; a record's call
  // is charged as it begins: charged_). A record that cannot be decoded fails here; from
  // the first one whose decoding must wait (registry down), it and every record after it
  // wait (waiting_), attempts not charged, so that nothing overtakes it. todo_ keeps the
  // rest, decoded_for_ their replacement bytes.
  void decode_todo();
  // Calls the handler for records_ (in one call, or one per record), filling results_.
  void invoke();
  // One handler call for records_[first, first+n); split in two when it fails as a
  // whole (bisect_batch_on_error).
  void call(std::size_t first, std::size_t n);
  // Records queue_wait for records_[j] as its call starts (at start_ns).
  void observe_queue_wait(std::size_t j, std::uint64_t start_ns);
  // Copies results_[j]'s error text into call_errors_: the handler's texts last only
  // until its next call.
  void keep_error(std::size_t j);
  // Every record of records_ as a call of its own, through the handler's window
  // (Handler::call_each); sets called_.
  void call_each();
  // Writes the outbound records a call over records_[first, first+n) asked for (see
  // shm/records.hpp); retries the call's ok records if one cannot be carried.
  void send_outbound(std::size_t first, std::size_t n);
  // A reply record of `size` bytes, waiting for the consumer to make room.
  shm::RecordHeader* reserve_reply(std::uint32_t size);
  // The lambda's retry backoff for the n-th round (from 1), jittered.
  std::uint64_t backoff_ms(std::uint32_t round);
  bool backoff(std::uint32_t attempt);
  // Waits before calling a handler that was unavailable again: the lambda's retry
  // backoff, doubling with each unavailable round, at least what the handler asked.
  bool wait_unavailable(const std::string& why);
  bool wait_until(std::chrono::steady_clock::time_point until);
  void available_again();
  // The same for records whose decoding waits for the schema registry.
  bool wait_for_registry();
  void registry_again();
  // Its partition was revoked (or reassigned) since the consumer wrote it.
  bool revoked(const shm::RecordHeader& h) const;
  bool too_old(const shm::RecordHeader& h) const;  // past max_record_age_s (when set)

  const shm::Segment& seg_;
  shm::WorkerStats& wstats_;
  const config::Lambda& lambda_;
  Handler& handler_;
  RecordDecoder* decoder_;
  const std::atomic<bool>& stop_;
  std::uint32_t slot_;
  std::string corrupt_;  // why the ring cannot be read on
  shm::WorkerSlot& supervision_;
  shm::RingReader in_;
  shm::RingWriter reply_;
  std::string previous_exit_;  // how the worker before us ended, for exhausted redeliveries
  std::vector<shm::RecordHeader*> batch_;
  std::vector<std::uint64_t> batch_ends_;  // per batch_ entry: the ring position after it
  std::vector<std::uint64_t> ends_;        // the same per todo_ entry, in a round that streams
  std::vector<shm::RecordHeader*> todo_;
  std::vector<shm::RecordHeader*> next_;
  std::vector<shm::RecordHeader*> suspects_;
  std::uint64_t done_ = 0;        // ring position up to which every record has its outcome
  std::uint64_t flushed_ns_ = 0;  // when flush() last ran after a batch
  std::uint64_t ended_ns_ = 0;    // when the last handler call of process() ended; 0: none
  std::vector<std::pair<std::size_t, std::size_t>> ranges_;  // each record's run in headers_
  std::vector<sluice_record> records_;
  struct Decoded {
    const std::string* key = nullptr;    // replaces the key when set
    const std::string* value = nullptr;  // replaces the value when set
  };
  std::vector<Decoded> decoded_for_;  // per todo_ entry, after decode_todo()
  std::deque<std::string> decoded_;   // their bytes (a deque: pointers stay valid)
  std::vector<RecordSchemas> schemas_;  // per todo_ entry too (so per records_ entry) when a decoder runs
  std::vector<shm::RecordHeader*> waiting_;
  std::string waiting_why_;
  std::vector<sluice_header> headers_;
  std::vector<sluice_result> results_;
  std::deque<std::string> call_errors_;  // results_' error texts, copied after each call
  std::uint64_t call_start_ns_ = 0;
  // Records a round takes from the ring: batch_size, or several of the handler's windows
  // when it calls records one by one and can have several outstanding.
  std::size_t round_size_ = 1;
  // Per todo_ (so records_) entry: whether its attempt was charged yet.
  std::vector<char> charged_;
  // Per records_ entry: whether the handler saw it. One it did not (its handler ended at
  // another, or a stop came first) has no outcome and gets back its attempt if one was
  // charged (charged_).
  std::vector<char> called_;
  bool one_per_call_ = false;  // a call of this run_todo() was split: the rest go alone
  // A round of fresh records (no redelivery to isolate) may stream: while its first pass
  // runs without a record to retry, it takes more records as the handler asks (pull())
  // and releases the records settled from its start (release_settled()), so a window
  // that stays full never waits for a round's slowest record.
  bool streaming_ = false;
  std::vector<char> finished_;  // per todo_ entry: settled (and perhaps released) as answered
  std::size_t released_ = 0;    // todo_ entries from the first that are settled
  std::size_t dropped_ = 0;     // by compact() during this pull()
  std::vector<OutboundRecord> produce_;
  std::vector<std::byte> encoded_headers_;
  std::string outbound_error_;
  std::uint32_t unavailable_rounds_ = 0;  // calls in a row whose handler was unavailable
  std::uint64_t unavailable_since_ns_ = 0;
  std::uint32_t registry_rounds_ = 0;  // rounds in a row in which records waited for the registry
  std::uint64_t registry_since_ns_ = 0;
  std::minstd_rand rng_;
};

}  // namespace sluice::worker
