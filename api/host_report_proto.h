// The host probe's findings as zerocell.v1.HostReport (GetServerInfo, `zerocell doctor --json`).
#ifndef ZEROCELL_API_HOST_REPORT_PROTO_H_
#define ZEROCELL_API_HOST_REPORT_PROTO_H_

#include <string>

#include "sandbox/host/host_capabilities.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::api {

// Every finding of host::Describe, in its order.
zerocell::v1::HostReport HostReportToProto(const sandbox::host::HostCapabilities& caps);

}  // namespace zerocell::api

#endif  // ZEROCELL_API_HOST_REPORT_PROTO_H_
