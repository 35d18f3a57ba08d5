// Host names for --server / --listen: a syntax check (so a mistyped address is a command-line error,
// exit 2) and resolution through the system resolver (so "nosuchhost.invalid" says it cannot be
// resolved instead of the server "refusing the session"). The transport itself (net/link.h,
// net/server.h) connects to and listens on numeric addresses only.
#pragma once

#include <string>

namespace fx::net {

// An IPv4 or IPv6 literal, or a DNS name: dot-separated labels of letters, digits and '-' (not at a
// label's ends), 1 to 63 characters each, at most 253 in all.
bool valid_host(const std::string& host);
bool is_ip_literal(const std::string& host);
// A numeric address for `host`: a literal as it is, a name through getaddrinfo (blocking; IPv4
// preferred). Throws fx::Error "cannot resolve host 'h': <reason>".
std::string resolve_host(const std::string& host);
// "host:port", with brackets around an IPv6 address.
std::string join_host_port(const std::string& host, int port);

}  // namespace fx::net
