#include "io/udp_batch.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wgvm::io {
namespace {

constexpr size_t kMaxGsoBytes = 65000;  // below the 65,507-byte UDP payload limit of IPv4

}  // namespace

ReceiveBatch::ReceiveBatch() : storage_(size_t(kBatch) * kSlot) { datagrams_.reserve(size_t(kBatch) * 8); }

int ReceiveBatch::receive(int fd) {
  for (int i = 0; i < kBatch; ++i) {
    iov_[i] = {storage_.data() + size_t(i) * kSlot, kSlot};
    msgs_[i] = {};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &addrs_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof addrs_[i];
    msgs_[i].msg_hdr.msg_control = control_[i].data();
    msgs_[i].msg_hdr.msg_controllen = control_[i].size();
  }
  datagrams_.clear();
  full_ = false;
  int n;
  do {
    n = ::recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  full_ = n == kBatch;
  for (int i = 0; i < n; ++i) {
    msghdr& h = msgs_[i].msg_hdr;
    if (h.msg_flags & MSG_TRUNC) continue;
    // A GRO message is a run of datagrams of `segment` bytes each (the last may be shorter).
    size_t segment = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int size;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0) segment = size_t(size);
      }
    }
    from_[i] = from_sockaddr(addrs_[i]);
    read_source(h, &from_[i]);
    const size_t base = size_t(i) * kSlot, total = msgs_[i].msg_len;
    if (segment == 0 || segment >= total) {
      datagrams_.push_back({base, total, i});
      continue;
    }
    for (size_t off = 0; off < total; off += segment)
      datagrams_.push_back({base + off, std::min(segment, total - off), i});
  }
  return int(datagrams_.size());
}

SendBatch::SendBatch() : storage_(size_t(2 * kSendQueue) * kSlot) {}

void SendBatch::enqueue(UdpSockets& sockets, const protocol::Endpoint& to, Bytes d, bool copy) {
  if (d.size() > kSlot || !to.valid()) {
    refused_ += flush_queue(sockets.fd4(), q4_, count4_) + flush_queue(sockets.fd6(), q6_, count6_);
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(to, &ss);
    const int fd = sockets.fd_for(to);
    if (len == 0 || fd < 0) {
      ++refused_;
      return;
    }
    iovec iov{const_cast<uint8_t*>(d.data()), d.size()};
    std::array<uint8_t, kControlSpace> control;
    msghdr h{};
    h.msg_name = &ss;
    h.msg_namelen = len;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    size_t without_source;
    h.msg_controllen = write_control(to, 0, control.data(), &without_source);
    h.msg_control = h.msg_controllen ? control.data() : nullptr;
    refused_ += !send_message(fd, h, without_source, to);
    return;
  }
  const bool v4 = to.family == 4;
  Queue& q = v4 ? q4_ : q6_;
  int& count = v4 ? count4_ : count6_;
  if (count == kSendQueue) refused_ += flush_queue(sockets.fd_for(to), q, count);
  uint8_t* buf = const_cast<uint8_t*>(d.data());  // sendmmsg only reads it
  if (copy) {
    buf = storage_.data() + (size_t(v4 ? 0 : kSendQueue) + size_t(count)) * kSlot;
    std::memcpy(buf, d.data(), d.size());
  }
  q.iov[count] = {buf, d.size()};
  q.to[count] = to;
  q.addr_len[count] = to_sockaddr(to, &q.addrs[count]);
  ++count;
}

uint64_t SendBatch::flush(UdpSockets& sockets) {
  const uint64_t refused = refused_ + flush_queue(sockets.fd4(), q4_, count4_) + flush_queue(sockets.fd6(), q6_, count6_);
  refused_ = 0;
  return refused;
}

size_t SendBatch::describe(Queue& q, int first, int n, uint8_t* control, msghdr& h) {
  h = {};
  h.msg_name = &q.addrs[first];
  h.msg_namelen = q.addr_len[first];
  h.msg_iov = &q.iov[first];
  h.msg_iovlen = size_t(n);
  size_t without_source;
  const uint16_t segment = n > 1 ? uint16_t(q.iov[first].iov_len) : 0;
  h.msg_controllen = write_control(q.to[first], segment, control, &without_source);
  h.msg_control = h.msg_controllen ? control : nullptr;
  return without_source;
}

// Runs of datagrams to one address from one source, all of the first one's size but the last (which
// may be shorter), become one message with a UDP_SEGMENT size; everything else one message each.
int SendBatch::group(Queue& q, int count) {
  int m = 0;
  for (int i = 0; i < count;) {
    const size_t size = q.iov[i].iov_len;
    size_t total = size;
    int j = i + 1;
    while (gso_ && j < count && j - i < kMaxGsoSegments && q.iov[j].iov_len <= size &&
           total + q.iov[j].iov_len <= kMaxGsoBytes && q.to[j] == q.to[i]) {
      total += q.iov[j].iov_len;
      if (q.iov[j++].iov_len < size) break;
    }
    q.control_without_source[m] = describe(q, i, j - i, q.control[m].data(), q.msgs[m].msg_hdr);
    q.first[m] = i;
    q.size[m] = j - i;
    ++m;
    i = j;
  }
  return m;
}

void SendBatch::note_refused_source(const protocol::Endpoint& to) {
  for (const protocol::Endpoint& e : refused_sources_)
    if (e.family == to.family && e.source == to.source) return;
  protocol::Endpoint source;
  source.family = to.family;
  source.source = to.source;
  source.source_ifindex = to.source_ifindex;
  refused_sources_.push_back(source);
}

namespace {

bool send_once(int fd, const msghdr& h) {
  for (;;) {
    if (::sendmsg(fd, &h, MSG_DONTWAIT) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace

bool SendBatch::send_without_source(int fd, msghdr& h, size_t without_source, const protocol::Endpoint& to) {
  h.msg_controllen = without_source;
  if (without_source == 0) h.msg_control = nullptr;
  if (!send_once(fd, h)) return false;
  note_refused_source(to);
  return true;
}

bool SendBatch::send_message(int fd, msghdr& h, size_t without_source, const protocol::Endpoint& to) {
  if (send_once(fd, h)) return true;
  if (h.msg_controllen <= without_source || !may_refuse_source(errno)) return false;
  return send_without_source(fd, h, without_source, to);
}

uint64_t SendBatch::flush_queue(int fd, Queue& q, int& count) {
  if (count == 0) return 0;
  uint64_t refused = 0;
  if (fd < 0) {
    refused = uint64_t(count);
    count = 0;
    return refused;
  }
  const int messages = group(q, count);
  int sent = 0;
  while (sent < messages) {
    const int n = ::sendmmsg(fd, q.msgs.data() + sent, unsigned(messages - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    int err = errno;
    const int first = q.first[sent], size = q.size[sent];
    msghdr& h = q.msgs[sent].msg_hdr;
    const size_t without_source = q.control_without_source[sent];
    ++sent;
    if (h.msg_controllen > without_source && may_refuse_source(err)) {
      // The kernel module does the same: a source that no longer works is dropped, not the datagram.
      if (send_without_source(fd, h, without_source, q.to[first])) continue;
      err = errno;
    }
    if (size > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT)) {
      // Send these singly. EIO/ENOPROTOOPT: the kernel or device cannot segment at all, so stop
      // asking. EINVAL can be one route's smaller path MTU: other peers keep segmentation.
      if (err != EINVAL) gso_ = false;
      for (int k = first; k < first + size; ++k) {
        std::array<uint8_t, kControlSpace> control;
        msghdr h;
        const size_t without_source = describe(q, k, 1, control.data(), h);
        refused += !send_message(fd, h, without_source, q.to[k]);
      }
      continue;
    }
    // Refused (unreachable, buffer full …): count its datagrams, go on past it.
    refused += uint64_t(size);
  }
  count = 0;
  return refused;
}

}  // namespace wgvm::io
