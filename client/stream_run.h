// Remote runs over ExecuteStream for the CLI: inputs sent as the guest reads them, outputs shown
// as it writes them, so that remote mode behaves like local mode with bounded memory.
#ifndef ZEROCELL_CLIENT_STREAM_RUN_H_
#define ZEROCELL_CLIENT_STREAM_RUN_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/input_files.h"
#include "client/local_run.h"
#include "client/remote_client.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// True when ExecuteStream can serve every channel of `manifest` (sequential, read-only or
// write-only); otherwise the CLI uses Execute with inline inputs.
bool StreamableManifest(const v1::Manifest& manifest);

// Runs `elf` under `manifest` on the server through `client`'s ExecuteStream. `inputs`
// (nullable): per channel, host sources read as the server's window admits (one thread each);
// a readable channel without one gets its end mark at once (its initial_data is in the
// manifest). Chunks of channels bound in `live` to the CLI's stdout/stderr are written there as
// they arrive (aliases added to *streamed); every other channel's chunks are put back into the
// response's `output`, as Execute would have returned them. `canceller` ends the call.
absl::StatusOr<v1::ExecuteResponse> ExecuteStreamed(RemoteClient& client, const std::string& elf,
                                                    v1::Manifest manifest,
                                                    const ChannelInputs* inputs,
                                                    absl::Span<const OutputBinding> live,
                                                    std::set<std::string>* streamed,
                                                    CallCanceller* canceller);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_STREAM_RUN_H_
