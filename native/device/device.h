// A running userspace WireGuard interface: the TUN device, the UDP sockets and the protocol core,
// driven by one native event-loop thread that never calls into JavaScript, with a pool of threads
// for the transport crypto. Configuration arrives as UAPI text from any thread; state leaves as
// snapshots and events.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "device/crypto_pool.h"
#include "device/device_lock.h"
#include "device/pending_sends.h"
#include "device/uapi.h"
#include "io/local_addresses.h"
#include "io/tun.h"
#include "io/udp.h"
#include "io/udp_batch.h"
#include "protocol/core.h"

namespace wgvm::device {

struct PeerSnapshot {
  crypto::Key public_key;
  protocol::Endpoint endpoint;  // with the source we answer it from
  int64_t last_handshake_ns;  // wall clock, 0 = never
  uint64_t rx_bytes, tx_bytes;
};

struct DeviceEvent {
  enum class Kind { kHandshake, kEndpoint, kStopped } kind;
  crypto::Key public_key{};
  protocol::Endpoint endpoint;
  std::string reason;  // kStopped: why the device stopped by itself
};

struct DeviceCounters {
  uint64_t drops[static_cast<size_t>(protocol::Drop::kCount)];
  uint64_t tun_write_errors, udp_send_errors, relayed, relayed_bytes;
  uint64_t tun_malformed;        // frames from the TUN with a virtio header we cannot segment
  uint64_t handshakes_admitted;  // handshake messages that got a Diffie-Hellman
  bool under_load;               // cookies are being asked for
};

class Device final : public UapiHost, private protocol::Output {
 public:
  // Creates the TUN interface and starts the event loop with `threads` crypto threads in all (0: one
  // per available core); throws std::system_error on failure.
  Device(const std::string& name, size_t mtu, size_t threads, std::function<void(const DeviceEvent&)> on_event);
  ~Device() override;

  const std::string& name() const { return tun_.name(); }
  size_t threads() const { return pool_.threads(); }
  UapiResult set(std::string_view uapi_body);
  std::string get();
  std::vector<PeerSnapshot> peers();
  DeviceCounters counters();

  // Relay between peers inside the device (default on); a peer can be isolated from the others.
  void set_relay(bool on);
  // Self-fencing: the device stops by itself `after` from now unless called again (0: never). A hub
  // sharing a registry calls it after each renewal of its lease, so that it stops answering as the
  // hub before the lease can pass to another hub, even when its JavaScript thread is stuck waiting
  // for the database. Checked at every turn (at least every 250 ms).
  void fence_after(protocol::Nanos after);
  bool set_isolated(const crypto::Key& peer, bool isolated);
  // Starts a handshake with the peer now (if it has an endpoint), e.g. to reach workers after a restart.
  bool initiate_handshake(const crypto::Key& peer);

  // Stops the thread, closes every descriptor; the kernel then removes the interface. Idempotent.
  void close();

 private:
  // UapiHost (called with lock_ held)
  protocol::Core& core() override { return core_; }
  protocol::Now now() const override;
  protocol::Output& output() override { return *this; }
  uint16_t listen_port() const override { return udp_.port(); }
  bool set_listen_port(uint16_t port, std::string* error) override;
  uint32_t fwmark() const override { return fwmark_; }
  bool set_fwmark(uint32_t mark, std::string* error) override;
  void apply_relay(bool on) override { relay_ = on; }

  // protocol::Output for control calls (with lock_ held): datagrams are sealed at once and sent
  // when the call ends.
  void send(const protocol::Endpoint& to, Bytes datagram) override;
  void deliver(protocol::Peer& from, Bytes ip_packet) override { deliver(from, ip_packet, *this); }
  void handshake_completed(protocol::Peer&) override;
  void endpoint_changed(protocol::Peer&) override;

  // The core's Output during the loop's turns: datagrams wait in pending_, to be sealed together.
  class TurnOutput final : public protocol::Output {
   public:
    explicit TurnOutput(Device& d) : d_(d) {}
    void send(const protocol::Endpoint& to, Bytes datagram) override { d_.pending_.add(to, datagram); }
    void send_transport(const protocol::Endpoint& to, const protocol::OutgoingTransport& t) override {
      d_.pending_.add_transport(to, t);
    }
    void deliver(protocol::Peer& from, Bytes ip_packet) override { d_.deliver(from, ip_packet, *this); }
    void handshake_completed(protocol::Peer& p) override { d_.handshake_completed(p); }
    void endpoint_changed(protocol::Peer& p) override { d_.endpoint_changed(p); }

   private:
    Device& d_;
  };

  void deliver(protocol::Peer& from, Bytes ip_packet, protocol::Output& relay_through);
  void register_sockets();
  void flush_sends();
  void flush_tun();

  // The event loop (device_loop.cpp). Epoll tells the descriptors apart by these tags.
  enum : uint64_t { kTagWake = 1, kTagTun = 2, kTagUdp4 = 3, kTagUdp6 = 4 };
  // Steps that let go of the lock around their crypto take it as `turn` and refresh the time `t`.
  using TurnLock = std::unique_lock<DeviceLock>;
  void run();
  void loop();
  void stop_with(const std::string& reason);
  bool read_tun(const protocol::Now&);
  void read_udp(uint64_t tag, TurnLock& turn, protocol::Now& t);
  void open_received(TurnLock& turn, protocol::Now& t);
  void send_backlog(const protocol::Now&);
  void send_frame(Bytes frame, const protocol::Now&);
  void send_pending(TurnLock& turn);

  DeviceLock lock_;
  protocol::SystemRandom rng_;
  protocol::Core core_{rng_};
  io::Tun tun_;
  io::UdpSockets udp_;
  io::ReceiveBatch rx_batch_;
  io::SendBatch tx_batch_;  // datagrams on their way to sendmmsg: a turn's, or a control call's
  CryptoPool pool_;
  TurnOutput turn_output_{*this};
  PendingSends pending_;                  // what the turn sends, sealed when it ends
  std::vector<protocol::OpenJob> opens_;  // received transport data, opened together
  uint32_t fwmark_ = 0;
  bool relay_ = true;
  std::function<void(const DeviceEvent&)> on_event_;
  uint64_t tun_write_errors_ = 0, udp_send_errors_ = 0, relayed_ = 0, relayed_bytes_ = 0, tun_malformed_ = 0;
  io::LocalAddresses local_{""};  // this host's addresses on the TUN: never relayed
  io::Segmenter segmenter_;  // TSO super-packets from the TUN, split before encryption
  std::deque<std::vector<uint8_t>> backlog_;  // large TUN frames waiting to be encrypted
  size_t backlog_bytes_ = 0;
  std::vector<uint8_t> tun_scratch_ = std::vector<uint8_t>(io::kVnetHeaderLen + 65535);  // one TUN read
  io::Coalescer coalescer_;  // decrypted packets of one batch, merged into GRO super-packets

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the loop for shutdown and socket changes
  std::atomic<bool> stopping_{false};
  std::atomic<protocol::Nanos> fence_at_{0};  // monotonic; 0: none
  std::thread thread_;
};

}  // namespace wgvm::device
