// Futex wait/wake on a 32-bit word in shared memory. Deliberately without
// FUTEX_PRIVATE_FLAG: the waiter and the waker are different processes, which
// std::atomic::wait (process-private in libstdc++) cannot serve.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::shm {

// Sleeps while *word == expected, at most timeout_ns (0 = no timeout). Returns on a
// wake, a timeout, a signal, or at once if the word already differs; the caller
// re-checks its condition in every case.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t timeout_ns);

// Wakes up to `count` processes sleeping on word.
void futex_wake(std::atomic<std::uint32_t>* word, int count);

}  // namespace sluice::shm
