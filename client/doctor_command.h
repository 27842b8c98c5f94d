// `zerocell doctor`: what this host (or a server's host) enforces, and what it means.
#ifndef ZEROCELL_CLIENT_DOCTOR_COMMAND_H_
#define ZEROCELL_CLIENT_DOCTOR_COMMAND_H_

#include <string>

#include "absl/types/span.h"

namespace zerocell::client {

// `zerocell doctor [--json] [--server=ADDR] [--tls_*]`. Locally: probes this host (as an engine
// would) and prints every finding with its meaning, then whether sandboxes can run here. With a
// server: its GetServerInfo (version, policy, caps, its host's findings). --json prints the
// zerocell.v1.HostReport (local) or zerocell.v1.ServerInfo (remote). Exit 0 when sandboxes can
// run, 125 when they cannot or the server is unreachable, 2 usage.
int DoctorCommand(absl::Span<const std::string> args);
std::string DoctorHelp();

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_DOCTOR_COMMAND_H_
