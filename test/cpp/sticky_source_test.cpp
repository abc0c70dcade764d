// Sticky sources on real sockets over loopback, where every 127.x.y.z is one of ours: a datagram
// sent to 127.0.0.2 is reported with that source, replies to it leave from 127.0.0.2 (singly and as
// a GSO run), and a source the kernel refuses is dropped once, reported, and the datagrams still go.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "harness.h"
#include "io/udp.h"
#include "io/udp_batch.h"

namespace {

using namespace wgvm;
using protocol::Endpoint;

// A plain UDP socket on 127.0.0.1 that sends to our device sockets and sees where replies come from.
struct Client {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  uint16_t port = 0;
  Client() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~Client() { ::close(fd); }
  void send_to(const char* address, uint16_t to_port, const std::string& text) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to_port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // The next datagram's text and the address it came from ("" when none came within 2 s).
  std::pair<std::string, std::string> receive() const {
    char buf[4096];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return {"", ""};
    char address[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &from.sin_addr, address, sizeof address);
    return {std::string(buf, size_t(n)), address};
  }
};

Bytes text(const std::string& s) { return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// The endpoint of `client` as the device saw it when the client wrote to `device_address`.
Endpoint seen_from(io::UdpSockets& sockets, const Client& client, const char* device_address) {
  client.send_to(device_address, sockets.port(), "hello");
  io::ReceiveBatch rx;
  for (int tries = 0; tries < 200; ++tries) {
    if (rx.receive(sockets.fd4()) > 0) return rx.from(0);
    ::usleep(10'000);
  }
  return {};
}

TEST(received_datagrams_carry_the_local_address_they_arrived_at) {
  io::UdpSockets sockets;
  std::string error;
  CHECK(sockets.bind(0, 0, &error));
  Client client;
  const Endpoint a = seen_from(sockets, client, "127.0.0.2");
  CHECK_EQ(protocol::to_string(a), "127.0.0.1:" + std::to_string(client.port));
  CHECK_EQ(protocol::source_to_string(a), std::string("127.0.0.2"));
  CHECK(a.source_ifindex != 0);  // lo
  const Endpoint b = seen_from(sockets, client, "127.0.0.3");
  CHECK_EQ(protocol::source_to_string(b), std::string("127.0.0.3"));
  CHECK(!(a == b));  // the same peer at another of our addresses has roamed
  CHECK(a.same_remote(b));
}

TEST(replies_leave_from_the_address_the_peer_wrote_to_singly_and_in_gso_runs) {
  io::UdpSockets sockets;
  std::string error;
  CHECK(sockets.bind(0, 0, &error));
  Client client;
  const Endpoint to = seen_from(sockets, client, "127.0.0.2");
  io::SendBatch tx;
  tx.add(sockets, to, text("one"));
  CHECK_EQ(tx.flush(sockets), uint64_t(0));
  CHECK_EQ(client.receive().second, std::string("127.0.0.2"));
  // A run of equal datagrams to one address goes as one UDP_SEGMENT message, with the source.
  const std::string segment(1000, 'x');
  for (int i = 0; i < 8; ++i) tx.add(sockets, to, text(segment));
  CHECK_EQ(tx.flush(sockets), uint64_t(0));
  for (int i = 0; i < 8; ++i) {
    const auto [payload, from] = client.receive();
    CHECK_EQ(payload.size(), segment.size());
    CHECK_EQ(from, std::string("127.0.0.2"));
  }
  // Without a source the kernel chooses (127.0.0.1 for a destination on loopback).
  Endpoint plain = to;
  plain.clear_source();
  tx.add(sockets, plain, text("two"));
  tx.flush(sockets);
  CHECK_EQ(client.receive().second, std::string("127.0.0.1"));
  CHECK(tx.take_refused_sources().empty());
}

TEST(a_source_the_kernel_refuses_is_dropped_reported_once_and_the_datagrams_still_leave) {
  io::UdpSockets sockets;
  std::string error;
  CHECK(sockets.bind(0, 0, &error));
  Client client;
  Endpoint to = seen_from(sockets, client, "127.0.0.2");
  // 192.0.2.9 (TEST-NET-1) is none of ours: as if the address the peer wrote to had been removed.
  ::inet_pton(AF_INET, "192.0.2.9", to.source.data());
  io::SendBatch tx;
  tx.add(sockets, to, text("single"));
  const std::string segment(1000, 'y');
  for (int i = 0; i < 4; ++i) tx.add(sockets, to, text(segment));
  tx.add(sockets, to, text(std::string(3000, 'z')));  // too large for a slot: sent at once
  CHECK_EQ(tx.flush(sockets), uint64_t(0));
  std::vector<std::string> sizes;
  for (int i = 0; i < 6; ++i) {
    const auto [payload, from] = client.receive();
    CHECK_EQ(from, std::string("127.0.0.1"));
    sizes.push_back(std::to_string(payload.size()));
  }
  // The large one was sent at once, flushing what was queued before it: order is kept.
  CHECK_EQ(sizes.front(), std::string("6"));
  CHECK_EQ(sizes.back(), std::string("3000"));
  const std::vector<Endpoint> refused = tx.take_refused_sources();
  CHECK_EQ(refused.size(), size_t(1));
  if (!refused.empty()) CHECK(refused[0].source == to.source);
  CHECK(tx.take_refused_sources().empty());
}

}  // namespace
