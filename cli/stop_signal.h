// SIGINT / SIGTERM as a request to stop (`run` on a live input): the first one is recorded and the
// command finishes what it has (the annotated video finalised, the summary written); a second one ends
// the process at once (the handler resets itself). Blocking reads are interrupted (no SA_RESTART;
// VideoReaderOptions::interrupt polls stop_signal()).
#pragma once

namespace fx::cli {

void install_stop_signals();
// The signal received (SIGINT, SIGTERM), 0 while none.
int stop_signal();
const char* stop_signal_name();

}  // namespace fx::cli
