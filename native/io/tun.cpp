#include "io/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace wgvm::io {

Tun::Tun(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw std::system_error(EINVAL, std::generic_category(),
                            "interface name \"" + name + "\" must be 1 to " + std::to_string(IFNAMSIZ - 1) + " characters");
  fd_ = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    const int err = errno;
    const char* hint = err == EACCES || err == EPERM ? " (needs root or CAP_NET_ADMIN)"
                       : err == ENOENT              ? " (no TUN support: load the tun module or pass the device to the container)"
                                                    : "";
    throw std::system_error(err, std::generic_category(), "cannot open /dev/net/tun for " + name + hint);
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  int created = ::ioctl(fd_, TUNSETIFF, &ifr);
  if (created < 0 && errno == EINVAL) {  // a kernel (or an existing interface) without virtio headers
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    created = ::ioctl(fd_, TUNSETIFF, &ifr);
  }
  if (created < 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    std::string hint = err == EPERM ? " (creating an interface needs root or CAP_NET_ADMIN)"
                       : err == EBUSY ? " (an interface of that name exists and is not a free TUN device)"
                                      : "";
    throw std::system_error(err, std::generic_category(), "cannot create TUN interface " + name + hint);
  }
  name_ = ifr.ifr_name;
  // Offloads are asked for, not assumed: when the kernel refuses, every frame simply carries an
  // empty virtio header and packets move one by one.
  vnet_ = ifr.ifr_flags & IFF_VNET_HDR;
  if (vnet_) offloads_ = ::ioctl(fd_, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
}

Tun::~Tun() { close(); }

void Tun::close() {
  if (fd_ >= 0) ::close(fd_);  // the kernel removes a non-persistent TUN interface with its last descriptor
  fd_ = -1;
}

long Tun::read(uint8_t* buf, size_t capacity) {
  for (;;) {
    const ssize_t n = ::read(fd_, buf, capacity);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    return -1;  // EBADFD / EIO: the interface was deleted under us
  }
}

bool Tun::write(Bytes packet) {
  static const uint8_t empty_header[kVnetHeaderLen] = {};
  iovec iov[2] = {{const_cast<uint8_t*>(empty_header), kVnetHeaderLen},
                  {const_cast<uint8_t*>(packet.data()), packet.size()}};
  const int first = vnet_ ? 0 : 1;
  for (;;) {
    const ssize_t n = ::writev(fd_, iov + first, 2 - first);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool Tun::write_frame(Bytes frame) {
  if (!vnet_) return write(frame.subspan(kVnetHeaderLen));  // only ever an empty header then
  for (;;) {
    const ssize_t n = ::write(fd_, frame.data(), frame.size());
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace wgvm::io
