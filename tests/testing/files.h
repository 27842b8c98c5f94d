// Test and benchmark file helpers: where the build put binaries and guests, whole-file reads,
// and temporary directories removed with their contents.
#ifndef ZEROCELL_TESTS_TESTING_FILES_H_
#define ZEROCELL_TESTS_TESTING_FILES_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace zerocell::testing {

// $ZEROCELL_BIN_DIR/<name> and $ZEROCELL_GUEST_DIR/<name> (CTest sets both); without them,
// bin/ and guests/ of the build tree, seen from this executable in <build>/tests or <build>/bin.
std::string BinPath(std::string_view name);
std::string GuestPath(std::string_view name);

// The whole file; NOT_FOUND (or the errno's code) naming the path when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// The bytes of GuestPath(name); fails the current test (ADD_FAILURE) and returns "" when they
// cannot be read.
std::string GuestBytes(std::string_view name);

// A fresh private directory, removed with everything in it on destruction. Movable.
class TempDir {
 public:
  // $TMPDIR/<prefix>-XXXXXX ($TMPDIR unset: /tmp); the errno's status when mkdtemp fails.
  static absl::StatusOr<TempDir> Create(std::string_view prefix = "zerocell-test");
  // Same, failing the current test (ADD_FAILURE) when it cannot be made (path() is then empty).
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string File(std::string_view name) const;
  // Writes `data` to path()/name and returns that path; ADD_FAILURE when the write fails.
  std::string Write(std::string_view name, std::string_view data) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove();
  std::string path_;
};

}  // namespace zerocell::testing

#endif  // ZEROCELL_TESTS_TESTING_FILES_H_
