// What GetServerInfo answers: version, caps, admission policy and the host probe's report.
#ifndef ZEROCELL_SERVER_SERVER_INFO_H_
#define ZEROCELL_SERVER_SERVER_INFO_H_

#include "sandbox/host/host_capabilities.h"
#include "server/server.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::server {

// Built once at start: nothing in it changes while the server runs.
zerocell::v1::ServerInfo MakeServerInfo(const ServerOptions& options,
                                        const sandbox::host::HostCapabilities& host);

}  // namespace zerocell::server

#endif  // ZEROCELL_SERVER_SERVER_INFO_H_
