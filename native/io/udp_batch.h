// Batched UDP I/O: recvmmsg and sendmmsg move many datagrams per system call, and where the kernel
// offers it, UDP GRO (many datagrams of one flow received as one buffer) and UDP GSO (runs of equal
// datagrams to one address sent as one buffer with a UDP_SEGMENT size) cut the per-datagram work
// in the kernel's stack as well.
#pragma once

#include <sys/socket.h>

#include <array>
#include <utility>
#include <vector>

#include "io/udp.h"

namespace wgvm::io {

constexpr int kBatch = 32;          // messages per recvmmsg
constexpr int kSendQueue = 64;      // datagrams queued per address family before a flush
constexpr int kMaxGsoSegments = 64; // UDP_MAX_SEGMENTS of older kernels

class ReceiveBatch {
 public:
  ReceiveBatch();
  // Receives up to kBatch waiting messages from `fd` and returns how many datagrams they held (a GRO
  // message holds several); 0 when none waits. Truncated messages are skipped.
  int receive(int fd);
  // Whether the last receive() filled every message slot (more may be waiting).
  bool was_full() const { return full_; }
  // Writable: transport data is decrypted where it lies.
  MutableBytes datagram(int i) { return MutableBytes(storage_.data() + datagrams_[i].offset, datagrams_[i].length); }
  const protocol::Endpoint& from(int i) const { return from_[datagrams_[i].message]; }

 private:
  static constexpr size_t kSlot = 65536;  // the largest UDP payload, or GRO message
  struct Datagram {
    size_t offset, length;
    int message;
  };
  std::vector<uint8_t> storage_;
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_storage, kBatch> addrs_{};
  std::array<std::array<uint8_t, kControlSpace + 64>, kBatch> control_{};  // GRO size and packet info
  std::array<protocol::Endpoint, kBatch> from_{};
  std::vector<Datagram> datagrams_;
  bool full_ = false;
};

class SendBatch {
 public:
  SendBatch();
  // Queues a copy of the datagram (a full queue is flushed first, and a datagram too large for a
  // slot goes out at once). It leaves from `to`'s source address when it has one.
  void add(UdpSockets& s, const protocol::Endpoint& to, Bytes datagram) { enqueue(s, to, datagram, true); }
  // The same without the copy: the datagram's bytes must stay as they are until the next flush.
  void add_unowned(UdpSockets& s, const protocol::Endpoint& to, Bytes datagram) { enqueue(s, to, datagram, false); }
  // Sends everything queued; returns how many datagrams the kernel refused since the last flush.
  uint64_t flush(UdpSockets&);
  bool empty() const { return count4_ == 0 && count6_ == 0; }
  // Source addresses the kernel refused since the last call (the address went away): the datagrams
  // went out again without them, and the caller should forget them. Family and source fields only.
  std::vector<protocol::Endpoint> take_refused_sources() { return std::exchange(refused_sources_, {}); }

 private:
  static constexpr size_t kSlot = 2048;  // transport packets of a 1420-byte MTU fit; larger go singly
  struct Queue {
    std::array<iovec, kSendQueue> iov{};
    std::array<protocol::Endpoint, kSendQueue> to{};
    std::array<sockaddr_storage, kSendQueue> addrs{};
    std::array<socklen_t, kSendQueue> addr_len{};
    // One message per run of datagrams sent together.
    std::array<mmsghdr, kSendQueue> msgs{};
    std::array<std::array<uint8_t, kControlSpace>, kSendQueue> control{};
    std::array<size_t, kSendQueue> control_without_source{};
    std::array<int, kSendQueue> first{}, size{};
  };
  void enqueue(UdpSockets&, const protocol::Endpoint& to, Bytes datagram, bool copy);
  uint64_t flush_queue(int fd, Queue&, int& count);
  int group(Queue&, int count);  // fills msgs: returns how many messages
  // Fills `h` for datagrams [first, first + n) of `q` (one GSO message when n > 1) with `control`
  // (kControlSpace bytes); returns the control length without the source (see write_control).
  size_t describe(Queue& q, int first, int n, uint8_t* control, msghdr& h);
  // Sends one message; if it may have been refused for its source, sends it again without.
  bool send_message(int fd, msghdr& h, size_t without_source, const protocol::Endpoint& to);
  // Drops the message's source and sends it again; if it goes, the source was the cause: remembered.
  bool send_without_source(int fd, msghdr& h, size_t without_source, const protocol::Endpoint& to);
  void note_refused_source(const protocol::Endpoint& to);

  std::vector<uint8_t> storage_;  // 2 × kSendQueue slots: IPv4 queue first, then IPv6
  Queue q4_, q6_;
  int count4_ = 0, count6_ = 0;
  uint64_t refused_ = 0;
  std::vector<protocol::Endpoint> refused_sources_;
  bool gso_ = true;  // until the kernel refuses a UDP_SEGMENT message
};

}  // namespace wgvm::io
