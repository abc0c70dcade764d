#include "protocol/endpoint.h"

#include <arpa/inet.h>

namespace wgvm::protocol {

std::string to_string(const Endpoint& e) {
  if (!e.valid()) return "(none)";
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr.data(), buf, sizeof buf);
  std::string out;
  if (e.family == 6) out += '[';
  out += buf;
  if (e.family == 6) out += ']';
  out += ':';
  out += std::to_string(e.port);
  return out;
}

std::string source_to_string(const Endpoint& e) {
  if (!e.valid() || !e.has_source()) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.source.data(), buf, sizeof buf);
  return buf;
}

}  // namespace wgvm::protocol
