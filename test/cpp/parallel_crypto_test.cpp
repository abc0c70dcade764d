// Transport crypto taken out of the core and run on a pool (device/crypto_pool.h): every job runs
// exactly once, datagrams leave and are taken in the order the core made them, and whatever changed
// in the core while a job ran is checked again when it comes back.
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>

#include "device/crypto_pool.h"
#include "device/pending_sends.h"
#include "harness.h"
#include "two_peers.h"

using namespace wgvm;
using namespace wgvm::test;
using device::CryptoPool;
using device::PendingSends;

namespace {

// The core's Output as the device's loop has it: everything waits in PendingSends.
struct DeferredOutput final : Output {
  PendingSends pending;
  Recorder& delivered_to;
  explicit DeferredOutput(Recorder& r) : delivered_to(r) {}
  void send(const Endpoint& to, Bytes d) override { pending.add(to, d); }
  void send_transport(const Endpoint& to, const OutgoingTransport& t) override { pending.add_transport(to, t); }
  void deliver(Peer& from, Bytes p) override { delivered_to.deliver(from, p); }
};

std::vector<Datagram> seal_and_drain(DeferredOutput& out, CryptoPool& pool) {
  out.pending.seal(pool);
  std::vector<Datagram> sent;
  out.pending.drain([&](const Endpoint& to, Bytes d) { sent.push_back({to, {d.begin(), d.end()}}); });
  return sent;
}

// A packet whose payload carries its number, so that order can be read back.
std::vector<uint8_t> numbered(uint32_t src, uint32_t dst, size_t total, uint16_t n) {
  auto p = ipv4_packet(src, dst, total);
  p[20] = uint8_t(n >> 8);
  p[21] = uint8_t(n);
  return p;
}

}  // namespace

TEST(crypto_pool_runs_every_job_of_every_batch_exactly_once) {
  std::mt19937 gen(7);
  for (size_t threads : {1, 2, 4}) {
    CryptoPool pool(threads);
    CHECK_EQ(pool.threads(), threads);
    std::vector<std::atomic<int>> runs(600);
    // Many batches one after the other: a worker that wakes late must take nothing of a batch that
    // has already been handed back, and nothing twice.
    for (int batch = 0; batch < 3000; ++batch) {
      const size_t count = gen() % runs.size();
      for (size_t i = 0; i < count; ++i) runs[i] = 0;
      pool.run(count, [&](size_t i) { runs[i].fetch_add(1); });
      for (size_t i = 0; i < count; ++i) {
        if (runs[i] != 1) {
          CHECK_EQ(runs[i].load(), 1);
          return;
        }
      }
    }
  }
  CHECK(CryptoPool::available_cores() >= 1);
  CHECK_EQ(CryptoPool(0).threads(), size_t(1));
}

TEST(crypto_pool_spreads_a_large_batch_over_its_threads) {
  CryptoPool pool(2);
  std::mutex mu;
  std::set<std::thread::id> seen;
  // Jobs long enough that the worker wakes before the caller is done with them all.
  for (int attempt = 0; attempt < 50 && seen.size() < 2; ++attempt) {
    pool.run(200, [&](size_t) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (std::chrono::steady_clock::now() < until) {
      }
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  CHECK_EQ(seen.size(), size_t(2));
}

TEST(sealed_later_on_a_pool_the_datagrams_are_those_the_core_would_send_in_its_order) {
  TwoPeers w;
  w.establish();
  DeferredOutput deferred(w.a.out);
  CryptoPool pool(2);
  // Every size up to the MTU, so padding is laid out and sealed too; keepalives (empty) among them.
  std::vector<std::vector<uint8_t>> packets;
  for (uint16_t n = 0; n < 400; ++n) {
    packets.push_back(numbered(kAddrA, kAddrB, 22 + (n * 37) % 1398, n));
    w.a.core.send(packets.back(), w.now, deferred);
  }
  CHECK_EQ(deferred.pending.unsealed(), size_t(400));
  const std::vector<Datagram> sent = seal_and_drain(deferred, pool);
  REQUIRE(sent.size() == 400);
  w.b.out.delivered.clear();
  for (const Datagram& d : sent) {
    CHECK(d.to == w.b.endpoint);
    w.b.core.receive(d.bytes, w.a.endpoint, w.now, w.b.out);
  }
  CHECK_EQ(w.b.core.total_drops(), uint64_t(0));
  REQUIRE(w.b.out.delivered.size() == packets.size());
  for (size_t i = 0; i < packets.size(); ++i) CHECK(w.b.out.delivered[i] == packets[i]);
  CHECK(deferred.pending.empty());
}

TEST(handshake_messages_keep_their_place_among_datagrams_sealed_later) {
  TwoPeers w;
  DeferredOutput deferred(w.a.out);
  CryptoPool pool(2);
  // No session yet: the packet is staged and an initiation goes out, as it is.
  w.a.core.send(numbered(kAddrA, kAddrB, 100, 1), w.now, deferred);
  CHECK_EQ(deferred.pending.unsealed(), size_t(0));
  std::vector<Datagram> sent = seal_and_drain(deferred, pool);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].type() == MessageType::kInitiation);
  w.b.core.receive(sent[0].bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.sent.size() == 1);
  // The response completes the handshake: the staged packet follows it, sealed on the pool.
  w.a.core.receive(w.b.out.sent.front().bytes, w.b.endpoint, w.now, deferred);
  sent = seal_and_drain(deferred, pool);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].type() == MessageType::kTransport);
  w.b.core.receive(sent[0].bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.delivered.size() == 1);
  CHECK(w.b.out.delivered[0] == numbered(kAddrA, kAddrB, 100, 1));
}

namespace {

// A's datagrams to B, sealed at once.
std::vector<Datagram> a_sends_numbered(TwoPeers& w, int n) {
  for (int i = 0; i < n; ++i) w.a.core.send(numbered(kAddrA, kAddrB, 200, uint16_t(i)), w.now, w.a.out);
  std::vector<Datagram> out(w.a.out.sent.begin(), w.a.out.sent.end());
  w.a.out.sent.clear();
  return out;
}

// B checks every datagram, opens them all on the pool and finishes them in order, as the device does.
struct TwoStepReceive {
  std::vector<Datagram> datagrams;
  std::vector<OpenJob> jobs;
  void check(TwoPeers& w) {
    jobs.reserve(datagrams.size());
    for (Datagram& d : datagrams) {
      OpenJob& job = jobs.emplace_back();
      if (!w.b.core.check_transport(d.bytes, w.a.endpoint, w.now, d.bytes.data() + transport::kHeaderSize, job))
        jobs.pop_back();
    }
  }
  void open(CryptoPool& pool) {
    pool.run(jobs.size(), [&](size_t i) { jobs[i].run(); });
  }
  void finish(TwoPeers& w) {
    for (const OpenJob& job : jobs) w.b.core.finish_transport(job, w.now, w.b.out);
  }
};

}  // namespace

TEST(opened_on_a_pool_received_data_is_delivered_in_the_order_it_came) {
  TwoPeers w;
  w.establish();
  w.b.out.delivered.clear();
  CryptoPool pool(2);
  TwoStepReceive rx{a_sends_numbered(w, 300), {}};
  rx.check(w);
  CHECK_EQ(rx.jobs.size(), size_t(300));
  rx.open(pool);
  rx.finish(w);
  CHECK_EQ(w.b.core.total_drops(), uint64_t(0));
  REQUIRE(w.b.out.delivered.size() == 300);
  for (int i = 0; i < 300; ++i) CHECK(w.b.out.delivered[i] == numbered(kAddrA, kAddrB, 200, uint16_t(i)));
}

TEST(a_datagram_twice_in_one_batch_is_delivered_once) {
  TwoPeers w;
  w.establish();
  w.b.out.delivered.clear();
  CryptoPool pool(2);
  std::vector<Datagram> d = a_sends_numbered(w, 10);
  d.push_back(d[3]);  // a replay, in the same batch as the original: both pass the first check
  TwoStepReceive rx{d, {}};
  rx.check(w);
  CHECK_EQ(rx.jobs.size(), size_t(11));
  rx.open(pool);
  rx.finish(w);
  CHECK_EQ(w.b.out.delivered.size(), size_t(10));
  CHECK_EQ(w.b.core.drops(Drop::kReplay), uint64_t(1));
}

TEST(a_keypair_gone_while_its_datagrams_were_opened_takes_them_with_it) {
  TwoPeers w;
  w.establish();
  w.b.out.delivered.clear();
  CryptoPool pool(2);
  TwoStepReceive rx{a_sends_numbered(w, 20), {}};
  rx.check(w);
  rx.open(pool);
  // Meanwhile (the device's lock was let go) a control call replaced A: its sessions are gone.
  w.b.core.remove_peer(*w.a_on_b);
  w.a_on_b = &w.b.core.add_peer(w.a.public_key);
  rx.finish(w);
  CHECK_EQ(w.b.out.delivered.size(), size_t(0));
  CHECK_EQ(w.b.core.drops(Drop::kUnknownIndex), uint64_t(20));
}

TEST(a_datagram_whose_tag_fails_on_the_pool_is_dropped_as_undecryptable) {
  TwoPeers w;
  w.establish();
  w.b.out.delivered.clear();
  CryptoPool pool(2);
  std::vector<Datagram> d = a_sends_numbered(w, 12);
  const Datagram genuine = d[5];
  d[5].bytes.back() ^= 1;
  TwoStepReceive rx{d, {}};
  rx.check(w);
  rx.open(pool);
  rx.finish(w);
  CHECK_EQ(w.b.out.delivered.size(), size_t(11));
  CHECK_EQ(w.b.core.drops(Drop::kDecrypt), uint64_t(1));
  // The forgery did not use up its counter: the genuine datagram still goes through.
  w.b.core.receive(genuine.bytes, w.a.endpoint, w.now, w.b.out);
  REQUIRE(w.b.out.delivered.size() == 12);
  CHECK(w.b.out.delivered.back() == numbered(kAddrA, kAddrB, 200, 5));
}

TEST(a_job_that_throws_on_a_worker_is_thrown_by_the_caller_after_the_whole_batch) {
  CryptoPool pool(2);
  std::vector<std::atomic<int>> runs(400);
  bool thrown = false;
  try {
    pool.run(runs.size(), [&](size_t i) {
      runs[i].fetch_add(1);
      if (i % 97 == 5) throw std::runtime_error("job " + std::to_string(i));
    });
  } catch (const std::runtime_error& e) {
    thrown = std::string(e.what()).rfind("job ", 0) == 0;
  }
  CHECK(thrown);
  for (const auto& r : runs) CHECK_EQ(r.load(), 1);  // every other job still ran, once
  // The pool goes on working.
  std::atomic<int> after{0};
  pool.run(100, [&](size_t) { after.fetch_add(1); });
  CHECK_EQ(after.load(), 100);
}
