// SIGINT/SIGTERM/SIGHUP turned into a write to an eventfd.
#include "client/interrupt_signals.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace zerocell::client {
namespace {

// The eventfd and the signal that fired, for the async-signal handler. Plain sig_atomic_t
// values: constant-initialised, and the only state a handler may touch.
volatile sig_atomic_t g_event_fd = -1;
volatile sig_atomic_t g_signal = 0;

void OnInterrupt(int sig) {
  const int saved_errno = errno;
  g_signal = sig;
  // Writing to an eventfd is async-signal-safe, unlike calling arbitrary code from a handler.
  const uint64_t one = 1;
  if (g_event_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(g_event_fd, &one, sizeof one);
  }
  errno = saved_errno;
}

}  // namespace

ScopedInterruptSignals::ScopedInterruptSignals(int event_fd) {
  g_signal = 0;
  g_event_fd = event_fd;
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &old_[i]);
}

ScopedInterruptSignals::~ScopedInterruptSignals() {
  for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &old_[i], nullptr);
  g_event_fd = -1;
}

int ScopedInterruptSignals::signal() const { return g_signal; }

}  // namespace zerocell::client
