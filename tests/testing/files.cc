// Test and benchmark file helpers; see files.h.
#include "tests/testing/files.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/errno_status.h"
#include "gtest/gtest.h"

namespace zerocell::testing {
namespace {

// Debian's abseil has its own string_view type, distinct from std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// $var, or <build>/<subdir> seen from this executable (in <build>/tests, <build>/bin, ...).
std::string DirFromEnv(const char* var, const char* subdir) {
  if (const char* dir = std::getenv(var); dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return subdir;
  for (std::filesystem::path dir = self.parent_path(); dir.has_relative_path();
       dir = dir.parent_path()) {
    if (std::filesystem::is_directory(dir / subdir, ec)) return (dir / subdir).string();
  }
  return (self.parent_path().parent_path() / subdir).string();
}

}  // namespace

std::string BinPath(std::string_view name) {
  return absl::StrCat(DirFromEnv("ZEROCELL_BIN_DIR", "bin"), "/", ToAbsl(name));
}

std::string GuestPath(std::string_view name) {
  return absl::StrCat(DirFromEnv("ZEROCELL_GUEST_DIR", "guests"), "/", ToAbsl(name));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno != 0 ? errno : ENOENT, absl::StrCat("cannot open ", path));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return out.str();
}

std::string GuestBytes(std::string_view name) {
  absl::StatusOr<std::string> bytes = ReadFile(GuestPath(name));
  if (!bytes.ok()) ADD_FAILURE() << bytes.status();
  return bytes.value_or("");
}

absl::StatusOr<TempDir> TempDir::Create(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/",
                                  ToAbsl(prefix), "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus(errno, absl::StrCat("mkdtemp ", tmpl));
  return TempDir(std::move(tmpl));
}

TempDir::TempDir() {
  absl::StatusOr<TempDir> dir = Create();
  if (!dir.ok()) {
    ADD_FAILURE() << dir.status();
    return;
  }
  std::swap(path_, dir->path_);
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, std::string())) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, std::string());
  }
  return *this;
}

void TempDir::Remove() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

std::string TempDir::File(std::string_view name) const {
  return absl::StrCat(path_, "/", ToAbsl(name));
}

std::string TempDir::Write(std::string_view name, std::string_view data) const {
  const std::string path = File(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
  return path;
}

}  // namespace zerocell::testing
