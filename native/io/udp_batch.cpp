#include "io/udp_batch.h"

#include <cerrno>
#include <cstring>

namespace wgvm::io {

ReceiveBatch::ReceiveBatch() : storage_(size_t(kBatch) * kSlot) {}

int ReceiveBatch::receive(int fd) {
  for (int i = 0; i < kBatch; ++i) {
    iov_[i] = {storage_.data() + size_t(i) * kSlot, kSlot};
    msgs_[i] = {};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &addrs_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof addrs_[i];
  }
  int n;
  do {
    n = ::recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
    if (kept != i) std::memmove(storage_.data() + size_t(kept) * kSlot, storage_.data() + size_t(i) * kSlot, msgs_[i].msg_len);
    lengths_[kept] = msgs_[i].msg_len;
    from_[kept] = from_sockaddr(addrs_[i]);
    ++kept;
  }
  return kept;
}

SendBatch::SendBatch() : storage_(size_t(2 * kBatch) * kSlot) {}

void SendBatch::add(UdpSockets& sockets, const protocol::Endpoint& to, Bytes d) {
  if (d.size() > kSlot || !to.valid()) {
    refused_ += flush_queue(sockets.fd4(), q4_, count4_) + flush_queue(sockets.fd6(), q6_, count6_);
    refused_ += !sockets.send(to, d);
    return;
  }
  const bool v4 = to.family == 4;
  Queue& q = v4 ? q4_ : q6_;
  int& count = v4 ? count4_ : count6_;
  if (count == kBatch) refused_ += flush_queue(sockets.fd_for(to), q, count);
  const size_t slot = size_t(v4 ? 0 : kBatch) + size_t(count);
  uint8_t* buf = storage_.data() + slot * kSlot;
  std::memcpy(buf, d.data(), d.size());
  q.iov[count] = {buf, d.size()};
  q.msgs[count] = {};
  q.msgs[count].msg_hdr.msg_iov = &q.iov[count];
  q.msgs[count].msg_hdr.msg_iovlen = 1;
  q.msgs[count].msg_hdr.msg_name = &q.addrs[count];
  q.msgs[count].msg_hdr.msg_namelen = to_sockaddr(to, &q.addrs[count]);
  ++count;
}

uint64_t SendBatch::flush(UdpSockets& sockets) {
  const uint64_t refused = refused_ + flush_queue(sockets.fd4(), q4_, count4_) + flush_queue(sockets.fd6(), q6_, count6_);
  refused_ = 0;
  return refused;
}

uint64_t SendBatch::flush_queue(int fd, Queue& q, int& count) {
  uint64_t refused = 0;
  int sent = 0;
  while (sent < count) {
    if (fd < 0) {
      refused += uint64_t(count - sent);
      break;
    }
    const int n = ::sendmmsg(fd, q.msgs.data() + sent, unsigned(count - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // The message at `sent` was refused (unreachable, buffer full …): count it, go on past it.
      ++refused;
      ++sent;
    }
  }
  count = 0;
  return refused;
}

}  // namespace wgvm::io
