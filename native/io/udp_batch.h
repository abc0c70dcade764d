// Batched UDP I/O: recvmmsg and sendmmsg move up to kBatch datagrams per system call.
#pragma once

#include <sys/socket.h>

#include <array>
#include <vector>

#include "io/udp.h"

namespace wgvm::io {

constexpr int kBatch = 32;

class ReceiveBatch {
 public:
  ReceiveBatch();
  // Receives up to kBatch waiting datagrams from `fd`; returns how many (0 when none waits).
  // Truncated datagrams (larger than a slot) are skipped.
  int receive(int fd);
  Bytes datagram(int i) const { return Bytes(storage_.data() + size_t(i) * kSlot, lengths_[i]); }
  const protocol::Endpoint& from(int i) const { return from_[i]; }

 private:
  static constexpr size_t kSlot = 65536;  // the largest UDP payload
  std::vector<uint8_t> storage_;
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_storage, kBatch> addrs_{};
  std::array<size_t, kBatch> lengths_{};
  std::array<protocol::Endpoint, kBatch> from_{};
};

class SendBatch {
 public:
  SendBatch();
  // Queues a copy of the datagram (a full queue is flushed first, and a datagram too large for a
  // slot goes out at once).
  void add(UdpSockets&, const protocol::Endpoint& to, Bytes datagram);
  // Sends everything queued; returns how many datagrams the kernel refused since the last flush.
  uint64_t flush(UdpSockets&);
  bool empty() const { return count4_ == 0 && count6_ == 0; }

 private:
  static constexpr size_t kSlot = 2048;  // transport packets of a 1420-byte MTU fit; larger go singly
  struct Queue {
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_storage, kBatch> addrs{};
  };
  static uint64_t flush_queue(int fd, Queue&, int& count);

  std::vector<uint8_t> storage_;  // 2 × kBatch slots: IPv4 queue first, then IPv6
  Queue q4_, q6_;
  int count4_ = 0, count6_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace wgvm::io
