// Channel inputs from host files for the CLI: opened before the run and read during it (local),
// or read within bounds before the call and sent inline (remote).
#ifndef ZEROCELL_CLIENT_INPUT_FILES_H_
#define ZEROCELL_CLIENT_INPUT_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sandbox/input_source.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// What a remote run may send inline over all channels: the default --max_inline_bytes of a
// zerocelld (streaming Execute, a later step, lifts it).
inline constexpr int64_t kMaxInlineInputBytes = int64_t{64} << 20;

// The host files a plan's readable channels read, one slot per channel in manifest order.
struct ChannelInputs {
  std::vector<std::unique_ptr<sandbox::InputSource>> sources;  // null: the channel's own bytes
  std::vector<std::string> names;  // what errors call each one, e.g. "--stdin: -"

  // One null slot per channel.
  void Resize(size_t channels);
  // The sources for RunOptions::inputs; empty when no channel has one.
  std::vector<sandbox::InputSource*> Pointers() const;
};

// Opens `path` ("-": this process's stdin, which is shared and left as it is) as a channel's
// source: a regular file is read at offsets, anything else (pipe, FIFO, /dev/zero, a terminal)
// as a stream. A FIFO is opened without waiting for a writer: the guest's read waits instead,
// within the run's timeout. Errors name `what` and the path: NOT_FOUND, PERMISSION_DENIED, or
// INVALID_ARGUMENT (a directory, a socket, ...).
absl::StatusOr<std::unique_ptr<sandbox::InputSource>> OpenInputFile(absl::string_view what,
                                                                    const std::string& path);

// For a remote run: reads each source into its channel's initial_data in `manifest`, as far as
// the guest could ever read it (get_size, and one byte more so that a longer input still ends in
// EDQUOT rather than at its end; all of a channel that is also writable, whose contents come back
// as output), at most kMaxInlineInputBytes over all channels. Streams are
// waited for until `deadline`. INVALID_ARGUMENT (naming the input) past the cap,
// DEADLINE_EXCEEDED when a stream is still open at the deadline.
absl::Status ReadInputsInline(const ChannelInputs& inputs, absl::Time deadline,
                              v1::Manifest* manifest);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_INPUT_FILES_H_
