// The transport-data crypto pipeline per core: WireGuard's ChaCha20-Poly1305 with a counter nonce
// over a full-MTU packet (1,420 bytes: a multiple of 4, so no padding at MTU 1420), single thread.
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>

#include "bench/bench.h"
#include "crypto/aead.h"
#include "protocol/messages.h"
#include "protocol/random.h"

namespace wgvm::bench {
namespace {

constexpr size_t kPacketBytes = 1420;
constexpr size_t kSealedBytes = kPacketBytes + crypto::kAeadTagLen;
constexpr size_t kSealedPackets = 1024;  // distinct ciphertexts opened round-robin
constexpr int kClockEvery = 256;         // packets between clock reads

struct Rate {
  uint64_t packets = 0;
  double seconds = 0;
  double packets_per_second() const { return packets / seconds; }
  double gbit_per_second() const { return packets_per_second() * kPacketBytes * 8 / 1e9; }
  std::string json() const {
    return "{\"packets_per_second\": " + fixed(packets_per_second(), 1) +
           ", \"gbit_per_second\": " + fixed(gbit_per_second(), 3) + "}";
  }
};

// Runs `batch(first_index)` (which processes kClockEvery packets) until `seconds` have passed.
template <typename Batch>
Rate timed(double seconds, Batch&& batch) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Rate r;
  for (;;) {
    batch(r.packets);
    r.packets += kClockEvery;
    const auto now = Clock::now();
    if (now >= deadline) {
      r.seconds = seconds_between(start, now);
      return r;
    }
  }
}

}  // namespace

std::string run_crypto(double seconds) {
  protocol::SystemRandom rng;
  ByteArray<crypto::kAeadKeyLen> key;
  rng.fill(key.data(), key.size());

  // (a) encrypt: in place, in a datagram buffer with the 16-byte transport header before the packet
  // and room for the tag after, as Core::encrypt_and_send lays it out.
  std::vector<uint8_t> datagram(protocol::transport::kHeaderSize + kSealedBytes);
  uint8_t* body = datagram.data() + protocol::transport::kHeaderSize;
  rng.fill(body, kPacketBytes);
  uint64_t send_counter = 0;
  auto encrypt_batch = [&](uint64_t) {
    for (int i = 0; i < kClockEvery; ++i) {
      const uint64_t counter = send_counter++;
      protocol::store_le64(datagram.data() + protocol::transport::kCounter, counter);
      const auto nonce = crypto::counter_nonce(counter);
      crypto::aead_seal(key.data(), nonce.data(), Bytes(body, kPacketBytes), {}, body);
    }
  };
  encrypt_batch(0);  // warm-up: cipher fetch, thread context, caches
  std::fprintf(stderr, "wgvm_bench: crypto encrypt (%.2f s)\n", seconds);
  const Rate encrypt = timed(seconds, encrypt_batch);

  // (b) decrypt: open distinct sealed packets round-robin into a receive buffer, as
  // Core::handle_transport opens a datagram into its rx buffer. Every open must authenticate.
  std::vector<uint8_t> sealed(kSealedPackets * kSealedBytes);
  std::vector<uint8_t> plain(kPacketBytes);
  rng.fill(plain.data(), plain.size());
  for (size_t i = 0; i < kSealedPackets; ++i) {
    const auto nonce = crypto::counter_nonce(i);
    crypto::aead_seal(key.data(), nonce.data(), Bytes(plain.data(), kPacketBytes), {}, &sealed[i * kSealedBytes]);
  }
  std::vector<uint8_t> received(kSealedBytes);
  auto decrypt_batch = [&](uint64_t first) {
    for (int i = 0; i < kClockEvery; ++i) {
      const size_t n = static_cast<size_t>((first + i) % kSealedPackets);
      const auto nonce = crypto::counter_nonce(n);
      if (!crypto::aead_open(key.data(), nonce.data(), Bytes(&sealed[n * kSealedBytes], kSealedBytes), {},
                             received.data()))
        throw std::runtime_error("crypto: aead_open failed to authenticate sealed packet " + std::to_string(n));
    }
  };
  decrypt_batch(0);
  if (std::memcmp(received.data(), plain.data(), kPacketBytes) != 0)
    throw std::runtime_error("crypto: aead_open returned the wrong plaintext");
  std::fprintf(stderr, "wgvm_bench: crypto decrypt (%.2f s)\n", seconds);
  const Rate decrypt = timed(seconds, decrypt_batch);

  // (c) stream: OpenSSL encrypting one endless message under one key and nonce, 1,420 bytes per call,
  // as `openssl speed -evp` times it (OpenSSL 3.0's, even with -aead, only calls EVP_EncryptUpdate),
  // here in this process with its CPU mask. No per-packet nonce, Poly1305 key or tag: an upper bound.
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto nonce = crypto::counter_nonce(0);
  if (!cipher || !ctx || EVP_EncryptInit_ex2(ctx, cipher, key.data(), nonce.data(), nullptr) != 1)
    throw std::runtime_error("crypto: ChaCha20-Poly1305 unavailable for the OpenSSL references");
  auto stream_batch = [&](uint64_t) {
    int len = 0;
    for (int i = 0; i < kClockEvery; ++i)
      if (EVP_EncryptUpdate(ctx, body, &len, body, int(kPacketBytes)) != 1) throw std::runtime_error("crypto: stream update failed");
  };
  stream_batch(0);
  std::fprintf(stderr, "wgvm_bench: crypto stream reference (%.2f s)\n", seconds);
  const Rate stream = timed(seconds, stream_batch);

  // (d) evp_packet: the same 1,420-byte packets sealed one by one through OpenSSL's own EVP calls
  // (new nonce, text, final, tag), as any program using OpenSSL per packet would: the per-packet
  // reference (a) is measured against.
  uint64_t evp_counter = 0;
  auto evp_packet_batch = [&](uint64_t) {
    int len = 0;
    for (int i = 0; i < kClockEvery; ++i) {
      const auto n = crypto::counter_nonce(evp_counter++);
      if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), n.data()) != 1 ||
          EVP_EncryptUpdate(ctx, body, &len, body, int(kPacketBytes)) != 1 || EVP_EncryptFinal_ex(ctx, body + len, &len) != 1 ||
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, int(crypto::kAeadTagLen), body + kPacketBytes) != 1)
        throw std::runtime_error("crypto: EVP packet seal failed");
    }
  };
  evp_packet_batch(0);
  std::fprintf(stderr, "wgvm_bench: crypto EVP per-packet reference (%.2f s)\n", seconds);
  const Rate evp_packet = timed(seconds, evp_packet_batch);
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);

  return "{\"packet_bytes\": " + std::to_string(kPacketBytes) + ", \"encrypt\": " + encrypt.json() +
         ", \"decrypt\": " + decrypt.json() + ", \"stream\": " + stream.json() + ", \"evp_packet\": " + evp_packet.json() + "}";
}

}  // namespace wgvm::bench
