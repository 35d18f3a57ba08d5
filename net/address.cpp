#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>

#include "runtime/error.h"

namespace fx::net {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool valid_host(const std::string& host) {
  if (is_ip_literal(host)) return true;
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string::npos) end = host.size();
    size_t len = end - start;
    // A trailing dot (a fully qualified name) ends the last label.
    if (len == 0) return end == host.size() && start == host.size() && start > 0;
    if (len > 63 || host[start] == '-' || host[end - 1] == '-') return false;
    for (size_t i = start; i < end; ++i)
      if (!std::isalnum(static_cast<unsigned char>(host[i])) && host[i] != '-') return false;
    start = end + 1;
  }
  return true;
}

std::string resolve_host(const std::string& host) {
  if (is_ip_literal(host)) return host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int r = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (r != 0) throw Error("cannot resolve host '" + host + "': " + gai_strerror(r));
  std::string v4, v6;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = "";
    if (a->ai_family == AF_INET && v4.empty() &&
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text))
      v4 = text;
    if (a->ai_family == AF_INET6 && v6.empty() &&
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text, sizeof text))
      v6 = text;
  }
  freeaddrinfo(res);
  if (!v4.empty()) return v4;
  if (!v6.empty()) return v6;
  throw Error("cannot resolve host '" + host + "': no IPv4 or IPv6 address");
}

std::string join_host_port(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace fx::net
