#include "io/local_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace wgvm::io {

bool LocalAddresses::holds(uint8_t version, const uint8_t* address, int64_t now_ns) {
  if (!read_ || now_ns - read_at_ns_ >= kRefreshNs) {
    refresh();
    read_ = true;
    read_at_ns_ = now_ns;
  }
  if (version == 4) {
    return std::any_of(v4_.begin(), v4_.end(), [&](const auto& a) { return std::memcmp(a.data(), address, 4) == 0; });
  }
  return std::any_of(v6_.begin(), v6_.end(), [&](const auto& a) { return std::memcmp(a.data(), address, 16) == 0; });
}

void LocalAddresses::refresh() {
  v4_.clear();
  v6_.clear();
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return;  // none known: relay as before rather than guess
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_name || interface_ != a->ifa_name) continue;
    if (a->ifa_addr->sa_family == AF_INET) {
      std::array<uint8_t, 4> v4;
      std::memcpy(v4.data(), &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
      v4_.push_back(v4);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      std::array<uint8_t, 16> v6;
      std::memcpy(v6.data(), &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
      v6_.push_back(v6);
    }
  }
  ::freeifaddrs(list);
}

}  // namespace wgvm::io
