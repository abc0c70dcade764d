// The device outside its event loop: descriptors, configuration (the UAPI host), snapshots and
// counters, and the protocol core's Output: sends, relay and TUN writes, events.
#include "device/device.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace

Device::Device(const std::string& name, size_t mtu, size_t threads, std::function<void(const DeviceEvent&)> on_event)
    : tun_(name), pool_(threads ? threads : CryptoPool::available_cores()), on_event_(std::move(on_event)) {
  core_.set_mtu(mtu);
  local_ = io::LocalAddresses(tun_.name());
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
  DeviceLock::Control lock(lock_);
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
  // Closing a descriptor removes it from the epoll set; the loop holds lock_ while it reads sockets.
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
  DeviceLock::Control lock(lock_);
  UapiResult result = uapi_set(*this, body);
  flush_sends();  // e.g. the keepalive a new persistent-keepalive interval sends at once
  return result;
}

std::string Device::get() {
  DeviceLock::Control lock(lock_);
  return uapi_get(*this);
}

std::vector<PeerSnapshot> Device::peers() {
  DeviceLock::Control lock(lock_);
  std::vector<PeerSnapshot> out;
  out.reserve(core_.peer_count());
  core_.for_each_peer([&](protocol::Peer& p) {
    out.push_back({p.public_key(), p.endpoint, p.last_handshake_wall, p.rx_bytes, p.tx_bytes});
  });
  return out;
}

DeviceCounters Device::counters() {
  DeviceLock::Control lock(lock_);
  DeviceCounters c{};
  for (size_t i = 0; i < static_cast<size_t>(protocol::Drop::kCount); ++i)
    c.drops[i] = core_.drops(static_cast<protocol::Drop>(i));
  c.tun_write_errors = tun_write_errors_;
  c.tun_malformed = tun_malformed_;
  c.udp_send_errors = udp_send_errors_;
  c.relayed = relayed_;
  c.relayed_bytes = relayed_bytes_;
  c.handshakes_admitted = core_.handshakes_admitted();
  c.under_load = core_.under_load(now().mono);
  return c;
}

void Device::fence_after(protocol::Nanos after) {
  fence_at_.store(after > 0 ? now().mono + after : 0, std::memory_order_relaxed);
}

void Device::set_relay(bool on) {
  DeviceLock::Control lock(lock_);
  apply_relay(on);
}

bool Device::set_isolated(const crypto::Key& peer, bool isolated) {
  DeviceLock::Control lock(lock_);
  protocol::Peer* p = core_.find_peer(peer);
  if (!p) return false;
  p->isolated = isolated;
  return true;
}

bool Device::initiate_handshake(const crypto::Key& peer) {
  DeviceLock::Control lock(lock_);
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

void Device::deliver(protocol::Peer& from, Bytes packet, protocol::Output& relay_through) {
  // A packet for another peer's allowed IPs is re-encrypted for that peer here: no TUN round trip
  // and no kernel forwarding. With relay off it goes to the TUN, as in plain WireGuard.
  const auto ip = protocol::IpHeader::parse(packet);  // the core delivers only well-formed packets
  protocol::Peer* to = ip ? core_.allowed_ips().lookup(ip->version(), ip->destination()) : nullptr;
  // A packet for this host's own address is delivered, whoever else's allowed IPs cover it: on a
  // worker the hub's peer holds the whole subnet, and a direct peer's packets are for the worker.
  if (to && to != &from && !local_.holds(ip->version(), ip->destination(), now().mono)) {
    if (from.isolated || to->isolated) return;  // isolated peers reach the hub, never each other
    if (relay_) {
      ++relayed_;
      relayed_bytes_ += packet.size();
      core_.send_to(*to, packet, now(), relay_through);
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

}  // namespace wgvm::device
