// wgvm_flood: a handshake and garbage flooder for testing a hub's DoS defences (cookies, rate limits).
//   wgvm_flood --target A.B.C.D:PORT --mode initiation|random --count N [options]
// Sends from a pool of UDP sockets (many source ports) with sendmmsg, paced at --rate datagrams per
// second, counts the replies it gets, and prints one JSON object on stdout.
//
// initiation: 148-byte initiations whose mac1 is valid for --public-key (the hub's) and whose
//   encrypted fields are random: each costs the hub a Diffie-Hellman unless cookies are on. With
//   --echo-cookies, a cookie reply is decrypted and its cookie used as mac2 on that socket's next
//   initiations, as a real initiator does, so they reach the hub's per-source rate limiter.
// random: random datagrams: a quarter each of pure noise, and of noise shaped as an initiation
//   (bad mac1), a cookie reply and transport data (unknown index).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/x25519.h"
#include "protocol/messages.h"

namespace {

using namespace wgvm;
using namespace wgvm::protocol;

constexpr int kBatch = 32;  // datagrams per sendmmsg / recvmmsg

double now_seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// SplitMix64: fast, and the flood's content needs no secrecy.
struct FastRandom {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  void fill(uint8_t* out, size_t n) {
    while (n) {
      const uint64_t z = next();
      for (int i = 0; i < 8 && n; ++i, --n) *out++ = uint8_t(z >> (8 * i));
    }
  }
};

struct Options {
  sockaddr_in target{};
  std::string mode;
  uint64_t count = 0;
  double rate = 0;  // datagrams per second; 0: as fast as possible
  int sockets = 256;
  std::vector<in_addr> sources;  // local addresses to send from, round robin over the sockets
  std::optional<crypto::Key> public_key;
  bool echo_cookies = false;
  double linger = 1.0;  // seconds to keep counting replies after the last datagram
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "wgvm_flood: %s\n", message.c_str());
  std::exit(2);
}

void usage() {
  std::fprintf(stderr,
               "usage: wgvm_flood --target A.B.C.D:PORT --mode initiation|random --count N [options]\n"
               "  --public-key HEX   the target's public key, 64 hex digits (needed for initiation)\n"
               "  --rate PPS         datagrams per second (default: as fast as possible)\n"
               "  --sockets N        source sockets, each on its own port (default 256, max 4096)\n"
               "  --source A,B,...   local IPv4 addresses to send from (default: the kernel's choice)\n"
               "  --echo-cookies     answer cookie replies: later initiations carry a valid mac2\n"
               "  --linger S         seconds to count replies after the last send (default 1)\n");
}

bool parse_number(const char* text, double min, double max, double& out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(v) || v < min || v > max) return false;
  out = v;
  return true;
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    }
    if (a == "--echo-cookies") {
      o.echo_cookies = true;
      continue;
    }
    if (i + 1 >= argc) fail(a + " needs a value (or is unknown); see --help");
    const char* v = argv[++i];
    double n = 0;
    if (a == "--target") {
      const char* colon = std::strrchr(v, ':');
      const std::string host = colon ? std::string(v, colon) : "";
      if (!colon || inet_pton(AF_INET, host.c_str(), &o.target.sin_addr) != 1 || !parse_number(colon + 1, 1, 65535, n))
        fail("--target must be A.B.C.D:PORT");
      o.target.sin_family = AF_INET;
      o.target.sin_port = htons(uint16_t(n));
      have_target = true;
    } else if (a == "--mode") {
      o.mode = v;
      if (o.mode != "initiation" && o.mode != "random") fail("--mode must be initiation or random");
    } else if (a == "--count") {
      if (!parse_number(v, 1, 1e9, n)) fail("--count must be 1..1000000000");
      o.count = uint64_t(n);
    } else if (a == "--rate") {
      if (!parse_number(v, 1, 1e8, n)) fail("--rate must be 1..100000000");
      o.rate = n;
    } else if (a == "--sockets") {
      if (!parse_number(v, 1, 4096, n)) fail("--sockets must be 1..4096");
      o.sockets = int(n);
    } else if (a == "--linger") {
      if (!parse_number(v, 0, 60, n)) fail("--linger must be 0..60 seconds");
      o.linger = n;
    } else if (a == "--source") {
      for (std::string rest = v; !rest.empty();) {
        const size_t comma = rest.find(',');
        const std::string one = rest.substr(0, comma);
        in_addr addr{};
        if (inet_pton(AF_INET, one.c_str(), &addr) != 1) fail("--source: not an IPv4 address: " + one);
        o.sources.push_back(addr);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      }
    } else if (a == "--public-key") {
      crypto::Key k{};
      if (std::strlen(v) != 64) fail("--public-key must be 64 hex digits");
      for (size_t j = 0; j < 32; ++j) {
        unsigned byte;
        if (std::sscanf(v + 2 * j, "%2x", &byte) != 1) fail("--public-key must be 64 hex digits");
        k[j] = uint8_t(byte);
      }
      o.public_key = k;
    } else {
      fail("unknown option " + a + "; see --help");
    }
  }
  if (!have_target || o.mode.empty() || o.count == 0) fail("--target, --mode and --count are required; see --help");
  if (o.mode == "initiation" && !o.public_key) fail("--mode initiation needs --public-key");
  if (o.sources.empty()) o.sources.push_back(in_addr{htonl(INADDR_ANY)});
  return o;
}

struct Source {
  int fd = -1;
  std::string address;
  crypto::Mac cookie{};  // from the target's last cookie reply to this socket
  bool has_cookie = false;
};

struct Counts {
  uint64_t cookie_replies = 0, responses = 0, other = 0;
};

class Flooder {
 public:
  explicit Flooder(const Options& o) : o_(o), rng_{uint64_t(now_seconds() * 1e9) ^ uint64_t(getpid()) << 32} {
    if (o_.public_key) {
      static const char kMac1Label[] = "mac1----", kCookieLabel[] = "cookie--";
      mac1_key_ = crypto::blake2s({Bytes(reinterpret_cast<const uint8_t*>(kMac1Label), 8), *o_.public_key});
      cookie_key_ = crypto::blake2s({Bytes(reinterpret_cast<const uint8_t*>(kCookieLabel), 8), *o_.public_key});
    }
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < o_.sockets; ++i) open_source(i);
    sender_base_ = uint32_t(rng_.next());
    if (o_.mode == "initiation") mac1_sent_.resize(o_.count);
  }

  void run() {
    const double start = now_seconds();
    uint64_t sent = 0;
    size_t next_source = 0;
    std::vector<std::vector<uint8_t>> payload(kBatch, std::vector<uint8_t>(initiation::kSize));
    while (sent < o_.count) {
      uint64_t due = o_.count;
      if (o_.rate > 0) due = std::min<uint64_t>(o_.count, uint64_t((now_seconds() - start) * o_.rate) + 1);
      while (sent < due) {
        const int n = int(std::min<uint64_t>(kBatch, due - sent));
        Source& s = sources_[next_source++ % sources_.size()];
        send_batch(s, sent, n, payload);
        sent += uint64_t(n);
        receive(0);
      }
      receive(0);
      if (sent < o_.count && o_.rate > 0) {
        const double wait = double(sent) / o_.rate - (now_seconds() - start);
        if (wait > 0) {
          timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
          nanosleep(&ts, nullptr);
        }
      }
    }
    const double send_seconds = now_seconds() - start;
    for (const double end = now_seconds() + o_.linger; now_seconds() < end;) receive(20);
    print(sent, send_seconds);
  }

 private:
  void open_source(int i) {
    Source s;
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    const int buffer = 1 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = o_.sources[size_t(i) % o_.sources.size()];
    if (bind(s.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)
      fail(std::string("bind: ") + std::strerror(errno));
    if (connect(s.fd, reinterpret_cast<const sockaddr*>(&o_.target), sizeof o_.target) < 0)
      fail(std::string("connect: ") + std::strerror(errno));
    socklen_t len = sizeof local;
    getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &len);
    char text[INET_ADDRSTRLEN];
    s.address = inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = uint32_t(i);
    epoll_ctl(epoll_, EPOLL_CTL_ADD, s.fd, &ev);
    sources_.push_back(s);
  }

  // The datagram number `seq`, into `msg` (resized to its length).
  void make(Source& s, uint64_t seq, std::vector<uint8_t>& msg) {
    if (o_.mode == "initiation") {
      msg.resize(initiation::kSize);
      rng_.fill(msg.data(), initiation::kMac1);  // ephemeral, static and timestamp: noise
      write_header(msg.data(), MessageType::kInitiation);
      store_le32(msg.data() + initiation::kSender, sender_base_ + uint32_t(seq));
      const crypto::Mac mac1 = crypto::mac(mac1_key_, {Bytes(msg.data(), initiation::kMac1)});
      std::memcpy(msg.data() + initiation::kMac1, mac1.data(), kMacSize);
      mac1_sent_[seq] = mac1;
      if (s.has_cookie) {
        const crypto::Mac mac2 = crypto::mac(s.cookie, {Bytes(msg.data(), initiation::kMac2)});
        std::memcpy(msg.data() + initiation::kMac2, mac2.data(), kMacSize);
        ++with_mac2_;
      } else {
        std::memset(msg.data() + initiation::kMac2, 0, kMacSize);
      }
      return;
    }
    const uint64_t r = rng_.next();
    switch (r & 3) {
      case 0:  // noise of any length up to 1,400 bytes
        msg.resize(1 + (r >> 8) % 1400);
        rng_.fill(msg.data(), msg.size());
        break;
      case 1:  // an initiation with a bad mac1
        msg.resize(initiation::kSize);
        rng_.fill(msg.data(), msg.size());
        write_header(msg.data(), MessageType::kInitiation);
        break;
      case 2:  // a cookie reply for no handshake
        msg.resize(cookie_reply::kSize);
        rng_.fill(msg.data(), msg.size());
        write_header(msg.data(), MessageType::kCookieReply);
        break;
      default:  // transport data for an unknown index
        msg.resize(transport::kMinSize + (r >> 8) % 1400);
        rng_.fill(msg.data(), msg.size());
        write_header(msg.data(), MessageType::kTransport);
        break;
    }
  }

  void send_batch(Source& s, uint64_t first, int n, std::vector<std::vector<uint8_t>>& payload) {
    mmsghdr msgs[kBatch]{};
    iovec iov[kBatch];
    for (int i = 0; i < n; ++i) {
      make(s, first + uint64_t(i), payload[size_t(i)]);
      iov[i] = {payload[size_t(i)].data(), payload[size_t(i)].size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int done = 0;
    while (done < n) {
      const int r = sendmmsg(s.fd, msgs + done, unsigned(n - done), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        send_errors_ += uint64_t(n - done);  // e.g. ENOBUFS, ECONNREFUSED from an ICMP error
        break;
      }
      done += r;
    }
  }

  // Reads every reply waiting (waits up to `timeout_ms` for the first).
  void receive(int timeout_ms) {
    epoll_event events[64];
    const int ready = epoll_wait(epoll_, events, 64, timeout_ms);
    for (int e = 0; e < ready; ++e) {
      Source& s = sources_[events[e].data.u32];
      uint8_t buf[kBatch][256];
      mmsghdr msgs[kBatch]{};
      iovec iov[kBatch];
      for (;;) {
        for (int i = 0; i < kBatch; ++i) {
          iov[i] = {buf[i], sizeof buf[i]};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = recvmmsg(s.fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;  // EAGAIN, or an ICMP error reported on the connected socket
        for (int i = 0; i < n; ++i) classify(s, buf[i], msgs[i].msg_len);
      }
    }
  }

  void classify(Source& s, const uint8_t* d, size_t len) {
    Counts& c = per_source_[s.address];
    if (len == cookie_reply::kSize && load_le32(d) == uint32_t(MessageType::kCookieReply)) {
      ++c.cookie_replies;
      if (o_.echo_cookies) take_cookie(s, d);
    } else if (len == response::kSize && load_le32(d) == uint32_t(MessageType::kResponse)) {
      ++c.responses;
    } else {
      ++c.other;
    }
  }

  // The cookie is sealed with HASH("cookie--" ‖ target key) and bound to the mac1 we sent.
  void take_cookie(Source& s, const uint8_t* reply) {
    const uint64_t seq = uint64_t(load_le32(reply + cookie_reply::kReceiver) - sender_base_);
    if (seq >= mac1_sent_.size()) return;
    crypto::Mac cookie;
    if (!crypto::xaead_open(cookie_key_.data(), reply + cookie_reply::kNonce,
                            Bytes(reply + cookie_reply::kCookie, kMacSize + kTagSize), mac1_sent_[seq], cookie.data()))
      return;
    ++cookies_opened_;
    s.cookie = cookie;
    s.has_cookie = true;
  }

  void print(uint64_t sent, double seconds) const {
    Counts total;
    std::string per;
    for (const auto& [address, c] : per_source_) {
      total.cookie_replies += c.cookie_replies;
      total.responses += c.responses;
      total.other += c.other;
      char line[256];
      std::snprintf(line, sizeof line, "%s\"%s\": {\"cookieReplies\": %llu, \"responses\": %llu, \"other\": %llu}",
                    per.empty() ? "" : ", ", address.c_str(), (unsigned long long)c.cookie_replies,
                    (unsigned long long)c.responses, (unsigned long long)c.other);
      per += line;
    }
    std::printf(
        "{\"mode\": \"%s\", \"sent\": %llu, \"sendErrors\": %llu, \"seconds\": %.3f, \"ratePps\": %.0f, "
        "\"sockets\": %zu, \"cookieReplies\": %llu, \"responses\": %llu, \"otherReplies\": %llu, "
        "\"cookiesOpened\": %llu, \"sentWithMac2\": %llu, \"perSource\": {%s}}\n",
        o_.mode.c_str(), (unsigned long long)sent, (unsigned long long)send_errors_, seconds,
        seconds > 0 ? double(sent) / seconds : 0.0, sources_.size(), (unsigned long long)total.cookie_replies,
        (unsigned long long)total.responses, (unsigned long long)total.other, (unsigned long long)cookies_opened_,
        (unsigned long long)with_mac2_, per.c_str());
  }

  const Options& o_;
  FastRandom rng_;
  crypto::Hash mac1_key_{}, cookie_key_{};
  int epoll_ = -1;
  std::vector<Source> sources_;
  uint32_t sender_base_ = 0;
  std::vector<crypto::Mac> mac1_sent_;  // by sequence number, to open the cookie replies
  std::map<std::string, Counts> per_source_;
  uint64_t send_errors_ = 0, cookies_opened_ = 0, with_mac2_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  Flooder flooder(options);
  flooder.run();
  return std::fflush(stdout) == 0 ? 0 : 1;
}
