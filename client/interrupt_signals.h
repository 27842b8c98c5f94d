// SIGINT/SIGTERM/SIGHUP turned into a write to an eventfd, so that a run (local or remote) can be
// cancelled from a signal without running anything but write(2) in the handler.
#ifndef ZEROCELL_CLIENT_INTERRUPT_SIGNALS_H_
#define ZEROCELL_CLIENT_INTERRUPT_SIGNALS_H_

#include <signal.h>

#include <array>

namespace zerocell::client {

// While alive, SIGINT, SIGTERM and SIGHUP add 1 to the eventfd `event_fd` (e.g. a
// sandbox::CancelToken's fd) and are recorded; the previous handlers come back on destruction.
// One instance at a time per process (the handler's state is process-wide, as signals are).
// Handlers, unlike a blocked signal mask, are reset by exec, so a sandbox inherits nothing.
class ScopedInterruptSignals {
 public:
  explicit ScopedInterruptSignals(int event_fd);
  ~ScopedInterruptSignals();
  ScopedInterruptSignals(const ScopedInterruptSignals&) = delete;
  ScopedInterruptSignals& operator=(const ScopedInterruptSignals&) = delete;

  // The last interrupting signal received, 0 if none.
  int signal() const;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_ = {};
};

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_INTERRUPT_SIGNALS_H_
