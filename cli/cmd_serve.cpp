// fluxshard serve PLAN.fsp --listen ADDR:PORT: the cloud side of edge-cloud inference (net/server.h).
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "net/address.h"
#include "net/link.h"
#include "net/server.h"
#include "net/token.h"
#include "runtime/error.h"

namespace fx::cli {

int cmd_serve(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  net::ServerOptions o;
  try {
    net::parse_host_port(args.get("--listen", "127.0.0.1:7070"), o.host, o.port);
  } catch (const Error& e) {
    throw UsageError("fluxshard serve: --listen: " + std::string(e.what()));
  }
  if (!net::valid_host(o.host))
    throw UsageError("fluxshard serve: --listen: '" + o.host + "' is not a host name or address");
  o.host = net::resolve_host(o.host);
  if (args.has("--metrics")) {
    try {
      net::parse_host_port(args.get("--metrics"), o.metrics_host, o.metrics_port);
    } catch (const Error& e) {
      throw UsageError("fluxshard serve: --metrics: " + std::string(e.what()));
    }
    if (!net::valid_host(o.metrics_host))
      throw UsageError("fluxshard serve: --metrics: '" + o.metrics_host + "' is not a host name or address");
    o.metrics_host = net::resolve_host(o.metrics_host);
  }
  const BackendOptions backend = backend_options(args);
  o.backend = backend.kind;
  o.device = backend.device;
  o.precision = backend.precision;
  o.threads = backend.threads;
  o.max_message = static_cast<uint32_t>(args.get_int("--max-message-mb", 64, 1, 1024)) << 20;
  o.max_edges = args.get_int("--max-edges", 64, 1, 4096);
  o.max_edges_per_address = args.get_int("--max-edges-per-address", 16, 1, 4096);
  o.max_handshakes = args.get_int("--max-handshakes", 64, 1, 4096);
  o.max_handshakes_per_address = args.get_int("--max-handshakes-per-address", 8, 1, 4096);
  o.hello_timeout_s = args.get_double("--hello-timeout", 10, 0.1, 3600);
  o.idle_timeout_s = args.get_double("--idle-timeout", 120, 0, 86400);
  o.evict_idle_s = args.get_double("--evict-idle", 2, -1, 86400);
  o.message_timeout_s = args.get_double("--message-timeout", 60, 0.1, 3600);
  o.max_buffered = static_cast<size_t>(args.get_int("--max-buffered-mb", 256, 1, 65536)) << 20;
  if (args.has("--token-file")) o.token = net::read_token_file(args.get("--token-file"));
  o.handle_signals = true;
  const bool quiet = args.has("--quiet");
  if (quiet) o.log = [](const std::string&) {};
  auto plan = Plan::load_file(plan_path);
  net::Server server(plan, o);
  server.start();
  if (args.has("--port-file")) {
    std::ofstream pf(args.get("--port-file"), std::ios::trunc);
    if (!pf) throw Error("cannot write '" + args.get("--port-file") + "'");
    pf << server.port() << '\n';
  }
  if (!quiet) {
    std::printf("serving %s (%s %dx%d) on %s:%d: backend %s, %d threads%s; f_c:", plan_path.c_str(),
                plan->task().c_str(), plan->input_w(), plan->input_h(), o.host.c_str(), server.port(),
                o.backend.c_str(), o.threads, o.token.empty() ? "" : ", token required");
    for (const auto& p : server.profile()) std::printf(" %d blocks %.2f ms;", p.first, p.second);
    if (server.metrics_port() >= 0)
      std::printf(" health and metrics on http://%s/healthz, /metrics",
                  net::join_host_port(o.metrics_host, server.metrics_port()).c_str());
    std::printf("\n");
    std::fflush(stdout);
  }
  int leaked = server.run();
  net::ServerStats st = server.stats();
  if (!quiet) {
    std::printf("served %llu sessions, %llu frames, %llu background updates; %llu connections rejected\n",
                static_cast<unsigned long long>(st.sessions), static_cast<unsigned long long>(st.frames),
                static_cast<unsigned long long>(st.backgrounds), static_cast<unsigned long long>(st.rejected));
  }
  if (leaked != 0) throw Error("event loop closed with handles still open");
  return 0;
}

}  // namespace fx::cli
