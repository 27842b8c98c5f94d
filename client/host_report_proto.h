// The host probe's findings as zerocell.v1.HostReport, and their text form for `zerocell doctor`.
#ifndef ZEROCELL_CLIENT_HOST_REPORT_PROTO_H_
#define ZEROCELL_CLIENT_HOST_REPORT_PROTO_H_

#include <string>

#include "sandbox/host/host_capabilities.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// Every finding of host::Describe, in its order.
zerocell::v1::HostReport HostReportToProto(const sandbox::host::HostCapabilities& caps);

// One line per finding, "  ok   name = value: meaning" or "  --   name = ..." for one that does
// not hold, then a last line saying whether sandboxes can run here.
std::string FormatHostReport(const zerocell::v1::HostReport& report);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_HOST_REPORT_PROTO_H_
