// File trees of a CLI run: --tree and --scratch, local admission, registration on a server.
#ifndef ZEROCELL_CLIENT_TREE_MOUNTS_H_
#define ZEROCELL_CLIENT_TREE_MOUNTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cli_args.h"
#include "client/remote_client.h"
#include "image/tree_program.h"
#include "image/validator.h"
#include "sandbox/manifest/manifest.h"

namespace zerocell::client {

// The flags of the commands that run programs from trees (`run`, `batch`).
inline constexpr FlagSpec kTreeFlag = {
    "tree", "TAR[:MOUNTPOINT]", true,
    "mount the tar archive read-only at MOUNTPOINT (default /); PROGRAM is then its path there"};
inline constexpr FlagSpec kScratchFlag = {
    "scratch", "PATH:BYTES[:FILES]", false,
    "the run's writable in-memory directory (with --tree, default /tmp:16M:1024)"};

// One --tree=TAR[:MOUNTPOINT]: the archive read whole (its id is its sha256).
struct TreeArchive {
  std::string path;        // host path of the tar
  std::string mountpoint;  // guest path, "/" by default
  std::string bytes;
  std::string id;  // "sha256:<hex>"
  // How errors name it; empty: "--tree=<path>" (an nvram [fstab] record names its line instead).
  std::string what;
};

// Reads every --tree value: TAR, or TAR:MOUNTPOINT when the part after the last ':' is an
// absolute path. INVALID_ARGUMENT / NOT_FOUND name the flag and the file.
absl::StatusOr<std::vector<TreeArchive>> ReadTreeFlags(const std::vector<std::string>& values);

// --scratch=PATH:BYTES[:FILES] (BYTES with K/M/G; FILES default 1024).
absl::StatusOr<sandbox::ScratchSpec> ParseScratchFlag(const std::string& value);

// Local mode: admits every archive as a server would (ValidateTree under `policy`) and resolves
// manifest.program_path() in them (image::PrepareTreeRun; none: TreeRun::image is null and the
// program is a host file). On failure prints "zerocell: ..." and
// sets *exit_code: 126 for a refused tree or a program that is no runnable ELF, 127 when the
// program path is not in the trees.
std::optional<image::TreeRun> PrepareLocalTrees(const std::vector<TreeArchive>& trees,
                                                const sandbox::Manifest& manifest,
                                                image::InstructionPolicy policy, int* exit_code);

// Remote mode: registers every archive the server does not have yet (GetImage first).
absl::Status EnsureTreesRegistered(RemoteClient& client, const std::vector<TreeArchive>& trees);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_TREE_MOUNTS_H_
