// The project's version and the git commit these binaries were built from.
#ifndef ZEROCELL_VERSION_VERSION_H_
#define ZEROCELL_VERSION_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace zerocell::version {

// "MAJOR.MINOR.PATCH": project(zerocell VERSION ...) in the top CMakeLists.txt, the one version
// of the project (the container image's tag and the Helm chart's appVersion follow it).
absl::string_view Version();

// The full commit hash (lowercase hex) of the source tree, or "unknown" when the build had no
// git and no $ZEROCELL_GIT_COMMIT.
absl::string_view GitCommit();

// True when tracked files differed from GitCommit() at build time.
bool GitDirty();

// One line for --version output: "zerocelld 0.1.0 (commit 1fa428a5e3b2[, modified])".
std::string VersionLine(absl::string_view program);

// The same as a JSON object: {"version":"0.1.0","commit":"<full hash>","modified":false}.
std::string VersionJson();

}  // namespace zerocell::version

#endif  // ZEROCELL_VERSION_VERSION_H_
