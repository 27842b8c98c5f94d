// The labelled ZeroVM-style report that `zerocell manifest --report` prints after a run.
#ifndef ZEROCELL_CLIENT_CLASSIC_REPORT_H_
#define ZEROCELL_CLIENT_CLASSIC_REPORT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// The ZeroVM exit-state text for an outcome: "ok", "session timeout", "disk quota exceeded"
// (output limit, ZeroVM's SIGXFSZ text), "Signal 11 from untrusted code", "policy violation:
// socket (41)", "cpu time limit exceeded", "memory limit exceeded: <detail>".
std::string ClassicExitState(const zerocell::v1::ExecuteResponse& response);

// ZeroVM's six report lines with the labels of its debug build, then Zerocell's own, e.g.
//   validator state = 2
//   daemon = 0
//   user return code = 0
//   etag(s) = /dev/stdout 9a2c... /dev/memory 51f0...   ("disabled" when nothing asked for one)
//   accounting = 0.00 0.00 1 12 2 40 0 0 0 0
//   exit state = ok
//   outcome = EXITED
//   wall = 0.004123 s
//   cpu = 0.001000 s user, 0.002000 s system
//   peak memory = 1048576 bytes
//   notified syscalls = 12
//   image = <sha256>
// plus "detail = ..." and one "nondeterminism = ..." line each when present.
// Validator state is 0 ("passed") when `validated` (a server's admission checked the image),
// else 2 ("not run": the local CLI applies the ELF checks, not the instruction validator; a
// refused image never gets this far). Accounting is ZeroVM's "sys user gets rbytes puts wbytes" in
// seconds and user-call counters over all channels, then four zeros for the network channels
// Zerocell does not have.
std::string FormatClassicReport(const zerocell::v1::ExecuteResponse& response,
                                bool validated = false);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_CLASSIC_REPORT_H_
