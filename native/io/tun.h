// A Linux TUN interface (IFF_TUN | IFF_NO_PI): whole IP packets in and out, non-blocking.
#pragma once

#include <string>

#include "crypto/bytes.h"

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

  // One packet into `buf`: its length, 0 when nothing is waiting, -1 when the interface is gone.
  long read(uint8_t* buf, size_t capacity);
  // False when the kernel refused the packet (counted by the caller, never fatal).
  bool write(Bytes packet);
  // Closes the descriptor, which removes the interface. Idempotent.
  void close();

 private:
  int fd_ = -1;
  std::string name_;
};

}  // namespace wgvm::io
