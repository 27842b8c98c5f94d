// The version values from the generated version_info.h.
#include "version/version.h"

#include "absl/strings/str_cat.h"
#include "version_info.h"

namespace zerocell::version {

absl::string_view Version() { return ZEROCELL_VERSION; }

absl::string_view GitCommit() { return ZEROCELL_GIT_COMMIT; }

bool GitDirty() { return ZEROCELL_GIT_DIRTY != 0; }

std::string VersionLine(absl::string_view program) {
  constexpr size_t kShortCommit = 12;
  return absl::StrCat(program, " ", Version(), " (commit ", GitCommit().substr(0, kShortCommit),
                      GitDirty() ? ", modified" : "", ")");
}

std::string VersionJson() {
  // Version and commit are digits, dots and hex by construction: nothing to escape.
  return absl::StrCat("{\"version\":\"", Version(), "\",\"commit\":\"", GitCommit(),
                      "\",\"modified\":", GitDirty() ? "true" : "false", "}");
}

}  // namespace zerocell::version
