#include "protocol/cookie.h"

#include <cstring>

#include "crypto/aead.h"
#include "protocol/messages.h"

namespace wgvm::protocol {
namespace {

using namespace wgvm::crypto;

size_t mac1_offset(size_t size) { return size - 2 * kMacSize; }
size_t mac2_offset(size_t size) { return size - kMacSize; }

// A cookie is used for a little less than the responder keeps its secret, so that it is never
// presented just after the secret it was made with has changed.
constexpr Nanos kCookieUsableFor = kCookieRefreshTime - kRekeyTimeout;

}  // namespace

bool CookieChecker::mac1_valid(const Hash& our_mac1_key, const uint8_t* msg, size_t size) {
  const Mac expected = mac(our_mac1_key, {Bytes(msg, mac1_offset(size))});
  return equal_ct(expected, Bytes(msg + mac1_offset(size), kMacSize));
}

Mac CookieChecker::cookie_for(const Endpoint& from, Nanos now, Random& rng) {
  if (now - secret_born_ >= kCookieRefreshTime) {
    rng.fill(secret_.data(), secret_.size());
    secret_born_ = now;
  }
  const uint8_t port[2] = {uint8_t(from.port >> 8), uint8_t(from.port)};
  return mac(secret_, {Bytes(from.addr.data(), from.addr_len()), Bytes(port, 2)});
}

bool CookieChecker::mac2_valid(const uint8_t* msg, size_t size, const Endpoint& from, Nanos now, Random& rng) {
  const Mac cookie = cookie_for(from, now, rng);
  const Mac expected = mac(cookie, {Bytes(msg, mac2_offset(size))});
  return equal_ct(expected, Bytes(msg + mac2_offset(size), kMacSize));
}

void CookieChecker::make_reply(const uint8_t* msg, size_t size, const Endpoint& from, const Hash& our_cookie_key,
                               Nanos now, Random& rng, uint8_t out[64]) {
  const Mac cookie = cookie_for(from, now, rng);
  write_header(out, MessageType::kCookieReply);
  // The sender index of an initiation or a response sits at the same offset.
  std::memcpy(out + cookie_reply::kReceiver, msg + initiation::kSender, 4);
  rng.fill(out + cookie_reply::kNonce, kCookieNonceSize);
  xaead_seal(our_cookie_key.data(), out + cookie_reply::kNonce, cookie, Bytes(msg + mac1_offset(size), kMacSize),
             out + cookie_reply::kCookie);
}

void CookieGenerator::add_macs(const Hash& peer_mac1_key, uint8_t* msg, size_t size, Nanos now) {
  last_mac1_ = mac(peer_mac1_key, {Bytes(msg, mac1_offset(size))});
  has_last_mac1_ = true;
  std::memcpy(msg + mac1_offset(size), last_mac1_.data(), kMacSize);
  if (has_fresh_cookie(now)) {
    const Mac mac2 = mac(cookie_, {Bytes(msg, mac2_offset(size))});
    std::memcpy(msg + mac2_offset(size), mac2.data(), kMacSize);
  } else {
    std::memset(msg + mac2_offset(size), 0, kMacSize);
  }
}

bool CookieGenerator::consume_reply(const Hash& peer_cookie_key, const uint8_t* reply, Nanos now) {
  if (!has_last_mac1_) return false;
  Mac cookie;
  if (!xaead_open(peer_cookie_key.data(), reply + cookie_reply::kNonce,
                  Bytes(reply + cookie_reply::kCookie, kMacSize + kTagSize), last_mac1_, cookie.data()))
    return false;
  cookie_ = cookie;
  cookie_received_ = now;
  has_cookie_ = true;
  has_last_mac1_ = false;  // one reply per message we sent
  return true;
}

bool CookieGenerator::has_fresh_cookie(Nanos now) const {
  return has_cookie_ && now - cookie_received_ < kCookieUsableFor;
}

}  // namespace wgvm::protocol
