// A Linux TUN interface (IFF_TUN | IFF_NO_PI), non-blocking. Where the kernel allows it the interface
// carries a virtio-net header before each packet (IFF_VNET_HDR) and TCP segmentation and checksum
// offloads are on, so reads may return TSO super-packets and writes may hand over GRO super-packets
// (io/offload.h turns one into the other).
#pragma once

#include <string>

#include "crypto/bytes.h"
#include "io/offload.h"

namespace wgvm::io {

class Tun {
 public:
  // Creates the interface, or attaches to an existing TUN of that name. Throws std::system_error
  // with a message that names the interface and the cause (e.g. missing CAP_NET_ADMIN).
  explicit Tun(const std::string& name);
  ~Tun();
  Tun(const Tun&) = delete;
  Tun& operator=(const Tun&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  // Whether frames carry a virtio-net header, and whether TSO/checksum offloads were accepted.
  bool vnet_header() const { return vnet_; }
  bool offloads() const { return offloads_; }

  // One frame into `buf` (with vnet_header(): the header, then the packet): its length, 0 when
  // nothing is waiting, -1 when the interface is gone.
  long read(uint8_t* buf, size_t capacity);
  // One plain IP packet. False when the kernel refused it (counted by the caller, never fatal).
  bool write(Bytes packet);
  // A frame from Coalescer: virtio header, then the packet (the header must be empty without vnet_header()).
  bool write_frame(Bytes frame);
  // Closes the descriptor, which removes the interface. Idempotent.
  void close();

 private:
  int fd_ = -1;
  std::string name_;
  bool vnet_ = false;
  bool offloads_ = false;
};

}  // namespace wgvm::io
