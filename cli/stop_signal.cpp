#include "cli/stop_signal.h"

#include <csignal>

namespace fx::cli {

namespace {
volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: a blocked read returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() { return g_signal; }

const char* stop_signal_name() { return g_signal == SIGINT ? "SIGINT" : g_signal == SIGTERM ? "SIGTERM" : ""; }

}  // namespace fx::cli
