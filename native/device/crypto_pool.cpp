#include "device/crypto_pool.h"

#include <pthread.h>
#include <sched.h>

#include <chrono>
#include <utility>

namespace wgvm::device {
namespace {

constexpr int kCountShift = 20, kGenerationShift = 40;
constexpr uint64_t kFieldMask = (uint64_t(1) << 20) - 1;
// Spins before sleeping: a worker looks for the next batch a while (waking a sleeping one costs the
// caller a system call and the worker tens of µs, a sizeable part of a batch), the caller for the last
// jobs of its batch (each a µs or two). The pool runs batches in parallel only while its workers get
// a core (judge()), so a spinning worker does not take one from the threads that feed it.
constexpr auto kWorkerSpin = std::chrono::microseconds(50);
constexpr auto kCallerSpin = std::chrono::microseconds(20);
// judge(): batches looked at together, and how many batches the caller then works alone, doubling
// while the workers keep not helping.
constexpr size_t kWindow = 16, kMinSolo = 64, kMaxSolo = 4096;
// The most jobs one claim takes (see take_jobs).
constexpr size_t kMaxChunk = 16;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until `done()` or `limit` has passed; returns done().
template <typename Done>
bool spin_until(Done&& done, std::chrono::microseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}

uint64_t cursor_of(uint32_t generation, size_t count) {
  return (uint64_t(generation) & 0xffffff) << kGenerationShift | uint64_t(count) << kCountShift;
}

}  // namespace

CryptoPool::CryptoPool(size_t threads) : solo_length_(kMinSolo) {
  for (size_t i = 1; i < threads; ++i) {
    workers_.emplace_back([this] { work_loop(); });
    pthread_setname_np(workers_.back().native_handle(), "wgvm-crypto");
  }
}

CryptoPool::~CryptoPool() {
  stopping_ = true;
  generation_.fetch_add(1);
  generation_.notify_all();
  for (std::thread& t : workers_) t.join();
}

size_t CryptoPool::available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

size_t CryptoPool::run_parallel(size_t count, Call call, void* work) {
  const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
  call_.store(call, std::memory_order_relaxed);
  work_.store(work, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  cursor_.store(cursor_of(generation, count), std::memory_order_release);
  generation_.store(generation, std::memory_order_release);
  generation_.notify_all();

  const size_t mine = take_jobs(generation);
  const auto all_done = [&] { return done_.load(std::memory_order_acquire) == count; };
  if (!spin_until(all_done, kCallerSpin)) {
    for (uint32_t done; (done = done_.load(std::memory_order_acquire)) != count;)
      done_.wait(done, std::memory_order_acquire);  // the last job's worker wakes us
  }
  std::lock_guard lock(failure_mu_);
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  return count - mine;
}

size_t CryptoPool::take_jobs(uint32_t generation) {
  const uint64_t batch = cursor_of(generation, 0) >> kGenerationShift;
  size_t taken = 0;
  uint64_t cursor = cursor_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t count = (cursor >> kCountShift) & kFieldMask, next = cursor & kFieldMask;
    if ((cursor >> kGenerationShift) != batch || next >= count) return taken;
    // Several jobs per claim: a claim and a finished count each move a cache line between the cores,
    // which costs about as much as a small job. Claims shrink with what is left (guided scheduling),
    // so that the threads finish together: one last large claim would keep the caller waiting.
    const uint64_t n = std::clamp<uint64_t>((count - next) / (2 * threads()), 1, kMaxChunk);
    if (!cursor_.compare_exchange_weak(cursor, cursor + n, std::memory_order_acq_rel)) continue;
    // Read after the claim: a claim of this batch means its call and work are the current ones.
    const Call call = call_.load(std::memory_order_relaxed);
    void* const work = work_.load(std::memory_order_relaxed);
    for (uint64_t i = next; i < next + n; ++i) {
      try {
        call(work, i);
      } catch (...) {  // not out of a worker's thread (that would end the process): the caller throws it
        std::lock_guard lock(failure_mu_);
        if (!failure_) failure_ = std::current_exception();
      }
    }
    taken += n;
    if (done_.fetch_add(uint32_t(n), std::memory_order_acq_rel) + n == count) done_.notify_all();
    cursor = cursor_.load(std::memory_order_acquire);
  }
}

// Workers help when they take at least half their fair share of the jobs. When every core is busy
// (both ends of a tunnel and iperf3 on two cores), a woken worker gets a core too late to take
// much, and waking it costs more than it saves: measured there, the workers took 9-12 % of the jobs
// and each gigabyte cost 5-13 % more CPU than on one thread. Then the caller works alone for a while
// and looks again.
void CryptoPool::judge(size_t jobs, size_t by_workers) {
  window_jobs_ += jobs;
  window_by_workers_ += by_workers;
  if (++window_batches_ < kWindow) return;
  const size_t n = threads();
  const bool helping = window_by_workers_ * n * 2 >= window_jobs_ * (n - 1);
  solo_batches_ = helping ? 0 : solo_length_;
  solo_length_ = helping ? kMinSolo : std::min(solo_length_ * 2, kMaxSolo);
  window_batches_ = window_jobs_ = window_by_workers_ = 0;
}

void CryptoPool::work_loop() {
  uint32_t seen = 0;
  while (!stopping_) {
    const auto next_batch = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(next_batch, kWorkerSpin)) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = generation_.load(std::memory_order_acquire);
    if (!stopping_) take_jobs(seen);
  }
}

}  // namespace wgvm::device
