// The main of every test binary: Catch2's, plus the skip exit code of test_skip.h: when nothing failed
// and a case skipped (FX_SKIP), or no case ran at all (a filter such as "[gpu]" in a build without
// CUDA, whose GPU cases are compiled out), the binary exits with kSkipExitCode (CTest: "Skipped").
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "test_skip.h"

std::atomic<int>& fx::test::skipped_cases() {
  static std::atomic<int> n{0};
  return n;
}

namespace {

int g_cases_run = 0;

struct CaseCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(Catch::TestCaseInfo const&) override { ++g_cases_run; }
};

}  // namespace

CATCH_REGISTER_LISTENER(CaseCounter)

int main(int argc, char** argv) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv)) return rc;
  const Catch::ConfigData& c = session.configData();
  const bool listing = c.showHelp || c.listTests || c.listTestNamesOnly || c.listTags || c.listReporters;
  const int failed = session.run();
  if (listing || failed != 0) return failed;
  const int skipped = fx::test::skipped_cases().load();
  if (skipped > 0 || g_cases_run == 0) {
    if (g_cases_run == 0)
      std::fprintf(stderr, "no test case ran: exit code %d (CTest: Skipped)\n", fx::test::kSkipExitCode);
    else
      std::fprintf(stderr, "%d test case(s) skipped: exit code %d (CTest: Skipped)\n", skipped,
                   fx::test::kSkipExitCode);
    return fx::test::kSkipExitCode;
  }
  return 0;
}
