// Host files as channel inputs for the CLI; see input_files.h.
#include "client/input_files.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::client {
namespace {

constexpr size_t kPullBytes = 1 << 20;

// Waits for `source` until `deadline`; false when it passed.
bool AwaitReady(const sandbox::InputSource& source, absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return false;
  pollfd pfd = {source.ready_fd(), POLLIN, 0};
  const int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
  (void)poll(&pfd, 1, ms);  // EINTR or a timeout: the caller asks again
  return true;
}

}  // namespace

void ChannelInputs::Resize(size_t channels) {
  sources.resize(channels);
  names.resize(channels);
}

std::vector<sandbox::InputSource*> ChannelInputs::Pointers() const {
  std::vector<sandbox::InputSource*> out;
  bool any = false;
  for (const auto& s : sources) {
    out.push_back(s.get());
    any = any || s != nullptr;
  }
  if (!any) out.clear();
  return out;
}

absl::StatusOr<std::unique_ptr<sandbox::InputSource>> OpenInputFile(absl::string_view what,
                                                                    const std::string& path) {
  // O_NONBLOCK: opening a FIFO does not wait for its writer (the read, not the open, waits, and
  // inside the run's timeout). The descriptor is ours alone, so its mode harms nobody.
  sandbox::sys::UniqueFd fd(path == "-" ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                                        : open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    const std::string msg = absl::StrFormat("%s: %s: %s", what, path, strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::InvalidArgumentError(msg);
  }
  absl::StatusOr<std::unique_ptr<sandbox::InputSource>> source =
      sandbox::FdInput(std::move(fd), absl::StrCat(what, ": ", path));
  if (!source.ok() && source.status().code() != absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(source.status().message());
  }
  return source;
}

absl::Status ReadInputsInline(const ChannelInputs& inputs, absl::Time deadline,
                              v1::Manifest* manifest) {
  int64_t total = 0;
  for (size_t i = 0; i < inputs.sources.size(); ++i) {
    sandbox::InputSource* source = inputs.sources[i].get();
    if (source == nullptr) continue;
    v1::Channel* channel = manifest->mutable_channels(static_cast<int>(i));
    const bool writable = channel->puts() > 0 && channel->put_size() > 0;
    // The guest reads at most get_size bytes; one more tells it the data did not end there (it
    // then gets EDQUOT, as from the source itself, not the end of data). A writable channel's
    // input is all its contents.
    const int64_t want =
        writable || channel->get_size() == INT64_MAX ? INT64_MAX : channel->get_size() + 1;
    std::string* data = channel->mutable_initial_data();
    data->clear();
    const auto over_cap = [&] {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: more than %d bytes of input: a remote run sends its inputs inline, %d bytes at "
          "most over all channels (the default --max_inline_bytes)",
          inputs.names[i], kMaxInlineInputBytes, kMaxInlineInputBytes));
    };
    if (source->size().has_value()) {
      const int64_t size = static_cast<int64_t>(*source->size());
      if (total + std::min(size, want) > kMaxInlineInputBytes) return over_cap();
      std::string scratch;
      while (static_cast<int64_t>(data->size()) < std::min(size, want)) {
        const size_t max = static_cast<size_t>(std::min<int64_t>(
            kPullBytes, std::min(size, want) - static_cast<int64_t>(data->size())));
        absl::StatusOr<std::string_view> bytes = source->ReadAt(data->size(), max, &scratch);
        if (!bytes.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(inputs.names[i], ": ", bytes.status().message()));
        }
        if (bytes->empty()) break;
        data->append(*bytes);
      }
    } else {
      std::string piece;
      while (static_cast<int64_t>(data->size()) < want) {
        const size_t max = static_cast<size_t>(
            std::min<int64_t>(kPullBytes, want - static_cast<int64_t>(data->size())));
        absl::StatusOr<sandbox::InputSource::Next> next = source->Pull(max, &piece);
        if (!next.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(inputs.names[i], ": ", next.status().message()));
        }
        if (*next == sandbox::InputSource::Next::kEnd) break;
        if (*next == sandbox::InputSource::Next::kWouldBlock) {
          if (!AwaitReady(*source, deadline)) {
            return absl::DeadlineExceededError(
                absl::StrCat(inputs.names[i],
                             ": input still open at the run's timeout (a remote run reads "
                             "its inputs before the call)"));
          }
          continue;
        }
        if (total + static_cast<int64_t>(data->size() + piece.size()) > kMaxInlineInputBytes) {
          return over_cap();
        }
        data->append(piece);
      }
    }
    total += static_cast<int64_t>(data->size());
  }
  return absl::OkStatus();
}

}  // namespace zerocell::client
