// fluxshard serve PLAN.fsp --listen ADDR:PORT: the cloud side of edge-cloud inference (net/server.h).
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
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
  const BackendOptions backend = backend_options(args);
  o.backend = backend.kind;
  o.device = backend.device;
  o.precision = backend.precision;
  o.threads = backend.threads;
  o.max_message = static_cast<uint32_t>(args.get_int("--max-message-mb", 64, 1, 1024)) << 20;
  o.max_edges = args.get_int("--max-edges", 64, 1, 4096);
  o.hello_timeout_s = args.get_double("--hello-timeout", 10, 0.1, 3600);
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
