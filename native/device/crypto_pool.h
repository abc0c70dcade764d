// Runs a batch of independent jobs (sealing or opening datagrams) on several threads: the caller's
// and threads - 1 workers that sleep between batches. The caller gets the batch back complete and
// goes on in its own order, so whatever order it keeps (per peer, per socket) is kept: only the
// crypto runs in parallel, as under wireguard-go's sequential sender and receiver.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace wgvm::device {

class CryptoPool {
 public:
  explicit CryptoPool(size_t threads);  // 0 counts as 1
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }
  // The cores this process may run on: the default number of threads.
  static size_t available_cores();

  // Calls work(i) once for every i in [0, count) and returns when every call has returned; if calls
  // threw, it then throws the first exception. Not reentrant: one thread at a time runs batches. Small batches stay on the caller alone (waking a
  // worker costs more than a few packets), and so do all batches for a while after the workers
  // were seen not to help (see judge()).
  template <typename Work>
  void run(size_t count, Work&& work) {
    if (workers_.empty() || count < kMinParallel || solo_batches_ > 0) {
      if (count >= kMinParallel && solo_batches_ > 0) --solo_batches_;
      for (size_t i = 0; i < count; ++i) work(i);
      return;
    }
    for (size_t first = 0; first < count; first += kMaxBatch) {
      const size_t n = std::min(count - first, kMaxBatch);
      auto part = [&work, first](size_t i) { work(first + i); };
      judge(n, run_parallel(n, [](void* p, size_t i) { (*static_cast<decltype(part)*>(p))(i); }, &part));
    }
  }

 private:
  static constexpr size_t kMinParallel = 8;
  static constexpr size_t kMaxBatch = (size_t(1) << 20) - 1;
  using Call = void (*)(void*, size_t);

  // Returns how many of the jobs the workers ran.
  size_t run_parallel(size_t count, Call, void* work);
  void work_loop();
  // Claims jobs of batch `generation` a few at a time and runs them, until none is left; returns how many.
  size_t take_jobs(uint32_t generation);
  void judge(size_t jobs, size_t by_workers);

  // The batch, written by run_parallel before it publishes the batch's generation.
  std::atomic<Call> call_{nullptr};
  std::atomic<void*> work_{nullptr};
  // Generation (24 bits) ‖ job count (20) ‖ next job (20), in one word: a job can be claimed only
  // while its own batch is the current one, so a worker that wakes late takes nothing stale.
  // Each on a cache line of its own: every claim writes the cursor, every finished chunk the count,
  // and workers between batches read the generation; sharing a line, each write would pull it away
  // from the other core.
  alignas(64) std::atomic<uint64_t> cursor_{0};
  alignas(64) std::atomic<uint32_t> done_{0};        // jobs of the current batch that have returned
  alignas(64) std::atomic<uint32_t> generation_{0};  // what sleeping workers wait on
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::mutex failure_mu_;
  std::exception_ptr failure_;  // the batch's first exception, thrown again by the caller

  // judge()'s window of parallel batches, and how long the caller then works alone (caller only).
  size_t window_batches_ = 0, window_jobs_ = 0, window_by_workers_ = 0;
  size_t solo_batches_ = 0;
  size_t solo_length_;
};

}  // namespace wgvm::device
