// Input sources: bytes in memory and host descriptors; see input_source.h.
#include "sandbox/input_source.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "sandbox/sys/syscalls.h"

namespace zerocell::sandbox {
namespace {

class Bytes final : public InputSource {
 public:
  explicit Bytes(std::string_view bytes) : bytes_(bytes) {}
  std::optional<uint64_t> size() const override { return bytes_.size(); }
  absl::StatusOr<std::string_view> ReadAt(uint64_t offset, size_t max, std::string*) override {
    if (offset >= bytes_.size()) return std::string_view();
    return bytes_.substr(offset, max);
  }

 private:
  std::string_view bytes_;
};

class File final : public InputSource {
 public:
  File(sys::UniqueFd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}
  std::optional<uint64_t> size() const override { return size_; }
  absl::StatusOr<std::string_view> ReadAt(uint64_t offset, size_t max,
                                          std::string* scratch) override {
    if (offset >= size_) return std::string_view();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(max, size_ - offset));
    scratch->resize(want);
    size_t done = 0;
    while (done < want) {
      const ssize_t n =
          pread(fd_.get(), scratch->data() + done, want - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "read the channel's input file");
      if (n == 0) break;  // the file shrank since it was opened: its end came sooner
      done += static_cast<size_t>(n);
    }
    return std::string_view(scratch->data(), done);
  }

 private:
  sys::UniqueFd fd_;
  uint64_t size_;
};

class Stream final : public InputSource {
 public:
  explicit Stream(sys::UniqueFd fd) : fd_(std::move(fd)) {}
  std::optional<uint64_t> size() const override { return std::nullopt; }
  int ready_fd() const override { return fd_.get(); }
  absl::StatusOr<Next> Pull(size_t max, std::string* out) override {
    out->clear();
    // poll first, read only what is ready: the descriptor may be the CLI's own blocking stdin,
    // whose mode is shared with other processes and so is not changed.
    pollfd pfd = {fd_.get(), POLLIN, 0};
    int ready;
    do {
      ready = poll(&pfd, 1, 0);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return ErrnoStatus(errno, "poll the channel's input");
    if (ready == 0) return Next::kWouldBlock;
    out->resize(max);
    ssize_t n;
    do {
      n = read(fd_.get(), out->data(), max);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      out->clear();
      return Next::kWouldBlock;
    }
    if (n < 0) return ErrnoStatus(errno, "read the channel's input");
    out->resize(static_cast<size_t>(n));
    return n == 0 ? Next::kEnd : Next::kData;
  }

 private:
  sys::UniqueFd fd_;
};

}  // namespace

absl::StatusOr<std::string_view> InputSource::ReadAt(uint64_t, size_t, std::string*) {
  return absl::FailedPreconditionError("ReadAt on an input stream");
}

absl::StatusOr<InputSource::Next> InputSource::Pull(size_t, std::string*) {
  return absl::FailedPreconditionError("Pull on a sized input");
}

std::unique_ptr<InputSource> BytesInput(std::string_view bytes) {
  return std::make_unique<Bytes>(bytes);
}

absl::StatusOr<std::unique_ptr<InputSource>> FdInput(sys::UniqueFd fd, std::string_view std_name) {
  const absl::string_view name(std_name.data(), std_name.size());
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("fstat ", name));
  if (S_ISREG(st.st_mode)) {
    return std::make_unique<File>(std::move(fd), static_cast<uint64_t>(st.st_size));
  }
  // ZeroVM refused these sources too (EPROTONOSUPPORT).
  if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a ", S_ISDIR(st.st_mode) ? "directory" : "block device",
                     " cannot be a channel's input (give a file, a pipe or a character device)"));
  }
  return std::make_unique<Stream>(std::move(fd));
}

}  // namespace zerocell::sandbox
