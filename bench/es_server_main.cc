// bench_es_server: runs the in-process Elasticsearch test server (tests/support) as a
// process of its own for bench/es.sh. Prints its URL on stdout, then serves until SIGTERM
// or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "support/es_test_server.h"

int main() {
  // Blocked before the server's threads exist, so they inherit the mask and sigwait below
  // is the only taker of these signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  sluice::test::EsTestServer server;
  std::printf("%s\n", server.url().c_str());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  return 0;
}
