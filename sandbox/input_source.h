// Where a readable channel's bytes come from during a run: pulled piece by piece as the guest
// reads, so that no input is ever held whole and an endless one costs a bounded buffer.
#ifndef ZEROCELL_SANDBOX_INPUT_SOURCE_H_
#define ZEROCELL_SANDBOX_INPUT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox {

// Two kinds, told apart by size():
// - sized (bytes in memory, a regular file): the size is known up front, ReadAt serves any
//   offset and nothing ever waits;
// - streams (pipe, FIFO, character device, later a client stream): bytes arrive in order through
//   Next, which never blocks: when nothing is there yet it answers kWouldBlock and the supervisor
//   polls ready_fd() (together with the guest's other events and the run's deadlines) before
//   asking again, so a waiting read counts against the wall timeout and can be cancelled.
// Not thread-safe: only the thread supervising the run calls it.
class InputSource {
 public:
  enum class Next { kData, kWouldBlock, kEnd };

  virtual ~InputSource() = default;

  // Total bytes of a sized source; nullopt for a stream.
  virtual std::optional<uint64_t> size() const = 0;

  // Sized sources: up to `max` bytes at `offset` (fewer only at the end, none past it). The view
  // points into the source or into *scratch and is valid until the next call.
  virtual absl::StatusOr<std::string_view> ReadAt(uint64_t offset, size_t max,
                                                  std::string* scratch);

  // Streams: replaces *out with the next 1..max bytes (kData), or says why there are none.
  virtual absl::StatusOr<Next> Pull(size_t max, std::string* out);

  // Streams: a descriptor that polls readable (POLLIN or POLLHUP) when Pull may have something;
  // -1 when Pull never answers kWouldBlock.
  virtual int ready_fd() const { return -1; }
};

// Bytes in memory, not copied: `bytes` must outlive the source.
std::unique_ptr<InputSource> BytesInput(std::string_view bytes);

// A host descriptor (owned). A regular file is a sized source of the size it has now; anything
// else (pipe, FIFO, socket, character device such as /dev/zero) is a stream read with poll then
// read, so the descriptor's own blocking mode never matters. INVALID_ARGUMENT for a directory or
// a block device, naming `name`.
absl::StatusOr<std::unique_ptr<InputSource>> FdInput(sys::UniqueFd fd, std::string_view name);

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_INPUT_SOURCE_H_
