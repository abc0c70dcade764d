// The device's event loop: one thread, woken by epoll for the TUN, the UDP sockets and the wake
// descriptor, or by the core's next timer deadline. It holds the device's lock for a turn, except
// while the turn's crypto runs on the pool: control calls get their turn then.
#include "device/device.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "protocol/messages.h"

namespace wgvm::device {
namespace {

using protocol::Nanos;

// Work taken from one descriptor per turn of the loop. A turn must stay short: a ping waiting in
// the other direction waits for the turn to end (TSO and GRO make each read worth many packets).
constexpr size_t kTunBytes = 128 << 10;       // backlogged TUN data encrypted per turn
constexpr size_t kMaxBacklog = 4 << 20;        // read no more from the TUN while this much waits
constexpr size_t kTunFrames = 256;             // frames read from the TUN per turn (small ones included)
constexpr size_t kSmallFrame = 256;            // pings and pure ACKs: sent as soon as they are read
constexpr int kUdpRounds = 2;           // recvmmsg calls per socket per turn
constexpr int kUdpDatagrams = 256;      // … or this many datagrams, whichever comes first
constexpr Nanos kMaxSleep = 250 * protocol::kMillisecond;

}  // namespace

// Reads up to kTunFrames frames from the TUN: small frames are encrypted and sent at once, large
// ones (TSO super-packets, full-size packets) wait in the backlog, so a ping never queues behind
// megabytes of a TCP stream. What is left stays in the kernel's queue for the next turn (epoll is
// level-triggered), so a flood of small packets cannot hold the loop. False when the interface is gone.
bool Device::read_tun(const protocol::Now& t) {
  for (size_t frames = 0; frames < kTunFrames && backlog_bytes_ < kMaxBacklog; ++frames) {
    const long len = tun_.read(tun_scratch_.data(), tun_scratch_.size());
    if (len < 0) return false;
    if (len == 0) break;
    const Bytes frame(tun_scratch_.data(), size_t(len));
    const size_t header = tun_.vnet_header() ? io::kVnetHeaderLen : 0;
    if (frame.size() <= header) {  // not even a virtio header and a byte of packet
      ++tun_malformed_;
      continue;
    }
    const Bytes packet = frame.subspan(header);
    if (frame.size() <= header + kSmallFrame && (header == 0 || frame[1] == io::kGsoNone) && io::may_overtake(packet)) {
      send_frame(frame, t);
      continue;
    }
    // A copy of the frame's own size: the backlog's bound is then the memory it holds.
    backlog_bytes_ += frame.size();
    backlog_.emplace_back(frame.begin(), frame.end());
  }
  return true;
}

// Encrypts and sends up to kTunBytes of the backlog, oldest first.
void Device::send_backlog(const protocol::Now& t) {
  for (size_t bytes = 0; !backlog_.empty() && bytes < kTunBytes;) {
    const std::vector<uint8_t> frame = std::move(backlog_.front());
    backlog_.pop_front();
    bytes += frame.size();
    backlog_bytes_ -= frame.size();
    send_frame(frame, t);
  }
}

void Device::send_frame(Bytes frame, const protocol::Now& t) {
  if (!tun_.vnet_header()) {
    core_.send(frame, t, turn_output_);
  } else if (segmenter_.split(frame)) {
    for (const Bytes packet : segmenter_.packets()) core_.send(packet, t, turn_output_);
  } else {
    ++tun_malformed_;
  }
}

// Reads up to kUdpRounds batches (or kUdpDatagrams datagrams) from one socket and hands them to the
// core; what it decrypts is written to the TUN after each batch.
void Device::read_udp(uint64_t tag, TurnLock& turn, protocol::Now& t) {
  for (int round = 0, datagrams = 0; round < kUdpRounds && datagrams < kUdpDatagrams; ++round) {
    // Looked up each round: a control call may have moved the sockets while the lock was let go.
    const int fd = tag == kTagUdp4 ? udp_.fd4() : udp_.fd6();
    if (fd < 0) return;
    const int n = rx_batch_.receive(fd);
    datagrams += n;
    // Handshakes waiting in this batch are the backlog that turns cookies on (under load).
    size_t handshakes = 0;
    for (int k = 0; k < n; ++k) {
      const size_t size = rx_batch_.datagram(k).size();
      handshakes += size == protocol::initiation::kSize || size == protocol::response::kSize;
    }
    core_.set_handshake_backlog(handshakes, t.mono);
    for (int k = 0; k < n; ++k) {
      const MutableBytes d = rx_batch_.datagram(k);
      if (protocol::is_transport(d)) {
        // Checked now, opened with the rest of the batch: decrypted where it lies.
        protocol::OpenJob& job = opens_.emplace_back();
        if (!core_.check_transport(d, rx_batch_.from(k), t, d.data() + protocol::transport::kHeaderSize, job))
          opens_.pop_back();
        continue;
      }
      open_received(turn, t);  // what came before a handshake message is taken first, in order
      core_.receive(d, rx_batch_.from(k), t, turn_output_);
    }
    open_received(turn, t);
    flush_tun();
    if (!rx_batch_.was_full()) break;
  }
}

// Opens the checked transport datagrams on the pool, without the lock, then finishes them in the
// order they came. The jobs carry their keys: nothing they touch belongs to the core.
void Device::open_received(TurnLock& turn, protocol::Now& t) {
  if (opens_.empty()) return;
  turn.unlock();
  pool_.run(opens_.size(), [this](size_t i) { opens_[i].run(); });
  turn.lock();
  t = now();
  for (const protocol::OpenJob& job : opens_) core_.finish_transport(job, t, turn_output_);
  opens_.clear();
}

// Seals what the turn sends on the pool, without the lock, then queues it for the sockets in the
// order it was sent and flushes.
void Device::send_pending(TurnLock& turn) {
  if (pending_.unsealed() > 0) {
    turn.unlock();
    pending_.seal(pool_);
    turn.lock();
  }
  // Unowned: the datagrams stay in pending_ until the flush, and pending_ is not written before it.
  pending_.drain([this](const protocol::Endpoint& to, Bytes datagram) { tx_batch_.add_unowned(udp_, to, datagram); });
  flush_sends();
}

void Device::stop_with(const std::string& reason) {
  stopping_ = true;
  if (on_event_) on_event_({DeviceEvent::Kind::kStopped, {}, {}, reason});
}

void Device::run() {
  try {
    loop();
  } catch (const std::exception& e) {
    // Whatever went wrong, the process must not abort: the device stops and says why.
    DeviceLock::Control lock(lock_);
    stop_with(std::string("internal error: ") + e.what());
  }
}

void Device::loop() {
  epoll_event events[8];
  TurnLock turn(lock_, std::defer_lock);
  while (!stopping_) {
    Nanos sleep = kMaxSleep;
    turn.lock();
    const Nanos deadline = core_.next_deadline();
    if (deadline != protocol::kNever) sleep = std::clamp<Nanos>(deadline - now().mono, 0, kMaxSleep);
    if (!backlog_.empty()) sleep = 0;
    turn.unlock();
    const int n = ::epoll_wait(epoll_fd_, events, 8, static_cast<int>((sleep + 999'999) / 1'000'000));
    if (stopping_) break;
    turn.lock();
    protocol::Now t = now();
    const Nanos fence = fence_at_.load(std::memory_order_relaxed);
    if (fence != 0 && t.mono >= fence) {
      return stop_with("its lease on the shared registry was not renewed in time: it stopped answering, so that another hub can take over");
    }
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u64) {
        case kTagWake: {
          uint64_t value;
          [[maybe_unused]] auto r = ::read(wake_fd_, &value, sizeof value);
          break;
        }
        case kTagTun:
          if (!read_tun(t)) return stop_with("interface " + tun_.name() + " was removed");
          break;
        case kTagUdp4:
        case kTagUdp6:
          read_udp(events[i].data.u64, turn, t);
          break;
      }
    }
    send_backlog(t);
    core_.tick(now(), turn_output_);
    send_pending(turn);
    turn.unlock();
  }
}

}  // namespace wgvm::device
