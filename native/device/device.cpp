#include "device/device.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <system_error>

#include "protocol/ip_header.h"

namespace wgvm::device {
namespace {

using protocol::Nanos;

Nanos clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return Nanos(ts.tv_sec) * protocol::kSecond + ts.tv_nsec;
}

// Work taken from one descriptor per turn of the loop. A turn must stay short: a ping waiting in
// the other direction waits for the turn to end (TSO and GRO make each read worth many packets).
constexpr size_t kTunBytes = 128 << 10;       // backlogged TUN data encrypted per turn
constexpr size_t kMaxBacklog = 4 << 20;        // read no more from the TUN while this much waits
constexpr size_t kTunFrames = 256;             // frames read from the TUN per turn (small ones included)
constexpr size_t kSmallFrame = 256;            // pings and pure ACKs: sent as soon as they are read
constexpr int kUdpRounds = 2;           // recvmmsg calls per socket per turn
constexpr int kUdpDatagrams = 256;      // … or this many datagrams, whichever comes first
constexpr Nanos kMaxSleep = 250 * protocol::kMillisecond;

enum : uint64_t { kTagWake = 1, kTagTun = 2, kTagUdp4 = 3, kTagUdp6 = 4 };

}  // namespace

Device::Device(const std::string& name, size_t mtu, std::function<void(const DeviceEvent&)> on_event)
    : tun_(name), on_event_(std::move(on_event)) {
  core_.set_mtu(mtu);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  auto fail = [this](int err, const std::string& what) {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    throw std::system_error(err, std::generic_category(), what);
  };
  if (epoll_fd_ < 0 || wake_fd_ < 0) fail(errno, "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagWake;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  ev.data.u64 = kTagTun;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tun_.fd(), &ev);
  std::string error;
  if (!udp_.bind(0, 0, &error)) fail(EADDRINUSE, error);
  register_sockets();
  thread_ = std::thread([this] { run(); });
}

Device::~Device() {
  close();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Device::close() {
  stopping_ = true;
  const uint64_t one = 1;
  if (wake_fd_ >= 0) [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  std::lock_guard lock(mu_);
  core_.remove_all_peers();
  udp_.close();
  tun_.close();  // the kernel removes the interface with its last descriptor
}

protocol::Now Device::now() const { return {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_REALTIME)}; }

void Device::register_sockets() {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagUdp4;
  if (udp_.fd4() >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, udp_.fd4(), &ev);
  ev.data.u64 = kTagUdp6;
  if (udp_.fd6() >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, udp_.fd6(), &ev);
}

bool Device::set_listen_port(uint16_t port, std::string* error) {
  if (port != 0 && port == udp_.port()) return true;
  io::UdpSockets fresh;
  if (!fresh.bind(port, fwmark_, error)) return false;
  flush_sends();  // what was queued leaves from the old port
  // Closing a descriptor removes it from the epoll set; the loop holds mu_ while it reads sockets.
  udp_.swap(fresh);  // `fresh` now holds the old sockets and closes them
  register_sockets();
  return true;
}

bool Device::set_fwmark(uint32_t mark, std::string* error) {
  if (!udp_.set_fwmark(mark, error)) return false;
  fwmark_ = mark;
  return true;
}

UapiResult Device::set(std::string_view body) {
  std::lock_guard lock(mu_);
  UapiResult result = uapi_set(*this, body);
  flush_sends();  // e.g. the keepalive a new persistent-keepalive interval sends at once
  return result;
}

std::string Device::get() {
  std::lock_guard lock(mu_);
  return uapi_get(*this);
}

std::vector<PeerSnapshot> Device::peers() {
  std::lock_guard lock(mu_);
  std::vector<PeerSnapshot> out;
  out.reserve(core_.peer_count());
  core_.for_each_peer([&](protocol::Peer& p) {
    out.push_back({p.public_key(), p.endpoint, p.last_handshake_wall, p.rx_bytes, p.tx_bytes});
  });
  return out;
}

DeviceCounters Device::counters() {
  std::lock_guard lock(mu_);
  DeviceCounters c{};
  for (size_t i = 0; i < static_cast<size_t>(protocol::Drop::kCount); ++i)
    c.drops[i] = core_.drops(static_cast<protocol::Drop>(i));
  c.tun_write_errors = tun_write_errors_;
  c.tun_malformed = tun_malformed_;
  c.udp_send_errors = udp_send_errors_;
  c.relayed = relayed_;
  c.handshakes_admitted = core_.handshakes_admitted();
  c.under_load = core_.under_load(now().mono);
  return c;
}

void Device::set_relay(bool on) {
  std::lock_guard lock(mu_);
  apply_relay(on);
}

bool Device::set_isolated(const crypto::Key& peer, bool isolated) {
  std::lock_guard lock(mu_);
  protocol::Peer* p = core_.find_peer(peer);
  if (!p) return false;
  p->isolated = isolated;
  return true;
}

bool Device::initiate_handshake(const crypto::Key& peer) {
  std::lock_guard lock(mu_);
  protocol::Peer* p = core_.find_peer(peer);
  if (!p || !p->endpoint.valid()) return false;
  core_.initiate_handshake(*p, now(), *this);
  flush_sends();
  return true;
}

void Device::flush_sends() {
  udp_send_errors_ += tx_batch_.flush(udp_);
  const std::vector<protocol::Endpoint> gone = tx_batch_.take_refused_sources();
  if (gone.empty()) return;
  // One of our addresses went away: every peer that was answered from it falls back to the
  // kernel's choice, once, until it next writes to an address we still have.
  core_.for_each_peer([&](protocol::Peer& peer) {
    if (!peer.endpoint.has_source()) return;
    for (const protocol::Endpoint& g : gone) {
      if (g.family == peer.endpoint.family && g.source == peer.endpoint.source) {
        peer.endpoint.clear_source();
        endpoint_changed(peer);
        return;
      }
    }
  });
}

// --- protocol::Output

void Device::send(const protocol::Endpoint& to, Bytes datagram) {
  tx_batch_.add(udp_, to, datagram);
}

void Device::deliver(protocol::Peer& from, Bytes packet) {
  // A packet for another peer's allowed IPs is re-encrypted for that peer here: no TUN round trip
  // and no kernel forwarding. With relay off it goes to the TUN, as in plain WireGuard.
  const auto ip = protocol::IpHeader::parse(packet);  // the core delivers only well-formed packets
  protocol::Peer* to = ip ? core_.allowed_ips().lookup(ip->version(), ip->destination()) : nullptr;
  if (to && to != &from) {
    if (from.isolated || to->isolated) return;  // isolated peers reach the hub, never each other
    if (relay_) {
      ++relayed_;
      core_.send_to(*to, packet, now(), *this);
      return;
    }
  }
  if (!tun_.vnet_header()) {
    if (!tun_.write(packet)) ++tun_write_errors_;
    return;
  }
  coalescer_.add(packet);  // written, merged where it can be, when the batch it came in ends
}

void Device::flush_tun() {
  coalescer_.flush([this](Bytes frame) {
    if (!tun_.write_frame(frame)) ++tun_write_errors_;
  });
}

void Device::handshake_completed(protocol::Peer& peer) {
  if (on_event_) on_event_({DeviceEvent::Kind::kHandshake, peer.public_key(), peer.endpoint, {}});
}

void Device::endpoint_changed(protocol::Peer& peer) {
  if (on_event_) on_event_({DeviceEvent::Kind::kEndpoint, peer.public_key(), peer.endpoint, {}});
}

// --- the event loop

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
    core_.send(frame, t, *this);
  } else if (segmenter_.split(frame)) {
    for (const Bytes packet : segmenter_.packets()) core_.send(packet, t, *this);
  } else {
    ++tun_malformed_;
  }
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
    std::lock_guard lock(mu_);
    stop_with(std::string("internal error: ") + e.what());
  }
}

void Device::loop() {
  epoll_event events[8];
  while (!stopping_) {
    Nanos sleep = kMaxSleep;
    {
      std::lock_guard lock(mu_);
      const Nanos deadline = core_.next_deadline();
      if (deadline != protocol::kNever) sleep = std::clamp<Nanos>(deadline - now().mono, 0, kMaxSleep);
      if (!backlog_.empty()) sleep = 0;
    }
    const int n = ::epoll_wait(epoll_fd_, events, 8, static_cast<int>((sleep + 999'999) / 1'000'000));
    if (stopping_) break;
    std::lock_guard lock(mu_);
    const protocol::Now t = now();
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
        case kTagUdp6: {
          const int fd = events[i].data.u64 == kTagUdp4 ? udp_.fd4() : udp_.fd6();
          if (fd < 0) break;
          for (int round = 0, datagrams = 0; round < kUdpRounds && datagrams < kUdpDatagrams; ++round) {
            const int n = rx_batch_.receive(fd);
            datagrams += n;
            // Handshakes waiting in this batch are the backlog that turns cookies on (under load).
            size_t handshakes = 0;
            for (int k = 0; k < n; ++k) {
              const Bytes d = rx_batch_.datagram(k);
              handshakes += d.size() == 148 || d.size() == 92;
            }
            core_.set_handshake_backlog(handshakes, t.mono);
            for (int k = 0; k < n; ++k) core_.receive(rx_batch_.datagram(k), rx_batch_.from(k), t, *this);
            flush_tun();
            if (!rx_batch_.was_full()) break;
          }
          break;
        }
      }
    }
    send_backlog(t);
    core_.tick(now(), *this);
    flush_sends();
  }
}

}  // namespace wgvm::device
