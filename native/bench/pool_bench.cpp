// The device's transport crypto on its pool of threads (device/crypto_pool.h), per wall-clock second
// so that `--threads 1` and `--threads 2` compare. Two measures of each direction:
//   - seal, open: the crypto alone, as the pool runs it (batches handed out, the caller waiting for
//     the last job): datagrams sealed where they lie, opened into a buffer of their own;
//   - seal_with_layout, open_with_copy: a turn of the loop as it is, with the work that stays on one
//     thread (laying out each datagram, and the copy that stands for recvmmsg's) in the time.
// Without sockets, TUN or locks.
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/bench.h"
#include "device/crypto_pool.h"
#include "device/pending_sends.h"
#include "protocol/random.h"

namespace wgvm::bench {
namespace {

constexpr size_t kPacketBytes = 1420;
constexpr size_t kBatch = 128;  // about what one turn of the loop seals under a bulk transfer
constexpr size_t kDatagramBytes = protocol::transport::kHeaderSize + kPacketBytes + protocol::kTagSize;
using Wall = std::chrono::steady_clock;

// Runs `batch()` until `seconds` of wall-clock time have passed; returns packets per second.
template <typename Batch>
double packets_per_second(double seconds, Batch&& batch) {
  batch();  // warm-up: thread contexts, caches, the pool's workers
  const auto start = Wall::now();
  const auto deadline = start + std::chrono::duration_cast<Wall::duration>(std::chrono::duration<double>(seconds));
  uint64_t packets = 0;
  for (auto now = start; now < deadline; now = Wall::now()) {
    batch();
    packets += kBatch;
  }
  return packets / std::chrono::duration<double>(Wall::now() - start).count();
}

std::string rate_json(double pps) {
  return "{\"packets_per_second\": " + fixed(pps, 1) + ", \"gbit_per_second\": " + fixed(pps * kPacketBytes * 8 / 1e9, 3) + "}";
}

}  // namespace

std::string run_pool(double seconds, size_t threads) {
  device::CryptoPool pool(threads);
  protocol::SystemRandom rng;
  crypto::Key key;
  rng.fill(key.data(), key.size());
  std::vector<uint8_t> packet(kPacketBytes);
  rng.fill(packet.data(), packet.size());
  const protocol::Endpoint to = protocol::Endpoint::v4(192, 0, 2, 1, 51820);

  // A turn as it is: lay out, seal on the pool, hand on (as to sendmmsg: where they lie, without a copy).
  device::PendingSends pending;
  uint64_t counter = 0;
  size_t handed_on = 0;
  auto layout_and_seal = [&] {
    for (size_t i = 0; i < kBatch; ++i) pending.add_transport(to, {key, 1, counter++, packet, 0});
    pending.seal(pool);
    pending.drain([&](const protocol::Endpoint&, Bytes d) { handed_on += d.size(); });
  };
  std::fprintf(stderr, "wgvm_bench: pool seal with layout, %zu thread(s) (%.2f s)\n", pool.threads(), seconds);
  const double seal_with_layout = packets_per_second(seconds, layout_and_seal);
  if (handed_on == 0) throw std::runtime_error("pool: nothing was sealed");

  // One batch laid out and sealed, kept: what the crypto-alone rows seal again and open.
  std::vector<uint8_t> sealed(kBatch * kDatagramBytes);
  for (size_t i = 0; i < kBatch; ++i) pending.add_transport(to, {key, 1, counter++, packet, 0});
  pending.seal(pool);
  size_t kept = 0;
  pending.drain([&](const protocol::Endpoint&, Bytes d) { std::memcpy(&sealed[kept++ * kDatagramBytes], d.data(), d.size()); });

  // The crypto alone: the kept datagrams sealed again where they lie (the same work as the first time).
  std::vector<uint8_t> resealed = sealed;
  auto seal_only = [&] {
    pool.run(kBatch, [&](size_t i) { protocol::seal_transport(key, MutableBytes(&resealed[i * kDatagramBytes], kDatagramBytes)); });
  };
  std::fprintf(stderr, "wgvm_bench: pool seal, %zu thread(s) (%.2f s)\n", pool.threads(), seconds);
  const double seal = packets_per_second(seconds, seal_only);

  // Opening: jobs as Core::check_transport makes them.
  std::vector<protocol::OpenJob> jobs(kBatch);
  auto prepare = [&](std::vector<uint8_t>& from, std::vector<uint8_t>* into) {
    for (size_t i = 0; i < kBatch; ++i) {
      uint8_t* d = &from[i * kDatagramBytes];
      protocol::OpenJob& job = jobs[i];
      job.key = key;
      job.counter = protocol::load_le64(d + protocol::transport::kCounter);
      job.sealed = d + protocol::transport::kHeaderSize;
      job.plain = into ? &(*into)[i * kPacketBytes] : d + protocol::transport::kHeaderSize;
      job.sealed_size = kDatagramBytes - protocol::transport::kHeaderSize;
    }
  };
  auto check_opened = [&] {
    for (const protocol::OpenJob& job : jobs)
      if (!job.opened) throw std::runtime_error("pool: a datagram sealed on the pool did not open");
  };
  // The crypto alone: opened into a buffer of their own, so the sealed datagrams stay as they are.
  std::vector<uint8_t> plain(kBatch * kPacketBytes);
  auto open_only = [&] {
    prepare(sealed, &plain);
    pool.run(kBatch, [&](size_t i) { jobs[i].run(); });
    check_opened();
  };
  std::fprintf(stderr, "wgvm_bench: pool open, %zu thread(s) (%.2f s)\n", pool.threads(), seconds);
  const double open = packets_per_second(seconds, open_only);
  if (std::memcmp(plain.data(), packet.data(), kPacketBytes) != 0) throw std::runtime_error("pool: opening returned the wrong plaintext");

  // A turn as it is: the datagrams arrive in a buffer (a copy, as recvmmsg makes) and are opened in place.
  std::vector<uint8_t> received(sealed.size());
  auto copy_and_open = [&] {
    std::memcpy(received.data(), sealed.data(), sealed.size());
    prepare(received, nullptr);
    pool.run(kBatch, [&](size_t i) { jobs[i].run(); });
    check_opened();
  };
  std::fprintf(stderr, "wgvm_bench: pool open with copy, %zu thread(s) (%.2f s)\n", pool.threads(), seconds);
  const double open_with_copy = packets_per_second(seconds, copy_and_open);
  if (std::memcmp(received.data() + protocol::transport::kHeaderSize, packet.data(), kPacketBytes) != 0)
    throw std::runtime_error("pool: opening returned the wrong plaintext");

  return "{\"threads\": " + std::to_string(pool.threads()) + ", \"batch\": " + std::to_string(kBatch) +
         ", \"packet_bytes\": " + std::to_string(kPacketBytes) + ", \"seal\": " + rate_json(seal) +
         ", \"open\": " + rate_json(open) + ", \"seal_with_layout\": " + rate_json(seal_with_layout) +
         ", \"open_with_copy\": " + rate_json(open_with_copy) + "}";
}

}  // namespace wgvm::bench
