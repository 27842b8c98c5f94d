// --tree / --scratch values, local tree admission and tree registration for remote runs.
#include "client/tree_mounts.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/report_proto.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/local_run.h"
#include "client/report_text.h"
#include "image/image_id.h"
#include "image/tree_image.h"
#include "sandbox/image.h"

namespace zerocell::client {

namespace {

std::string WhatOf(const TreeArchive& tree) {
  return tree.what.empty() ? absl::StrCat("--tree=", tree.path) : tree.what;
}

}  // namespace

absl::StatusOr<std::vector<TreeArchive>> ReadTreeFlags(const std::vector<std::string>& values) {
  std::vector<TreeArchive> out;
  for (const std::string& value : values) {
    TreeArchive tree;
    tree.path = value;
    tree.mountpoint = "/";
    if (size_t colon = value.rfind(':');
        colon != std::string::npos && colon + 1 < value.size() && value[colon + 1] == '/') {
      tree.path = value.substr(0, colon);
      tree.mountpoint = value.substr(colon + 1);
    }
    if (tree.path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--tree=", value, ": missing TAR"));
    }
    absl::StatusOr<std::string> bytes = sandbox::ReadImageFile(tree.path);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("--tree=", value, ": ", bytes.status().message()));
    }
    tree.bytes = *std::move(bytes);
    tree.id = image::ImageIdOf(tree.bytes);
    out.push_back(std::move(tree));
  }
  return out;
}

absl::StatusOr<sandbox::ScratchSpec> ParseScratchFlag(const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(value, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scratch=", value, ": expected PATH:BYTES[:FILES], e.g. /tmp:64M"));
  }
  sandbox::ScratchSpec spec;
  spec.path = parts[0];
  absl::StatusOr<int64_t> bytes = ParseByteSize("--scratch BYTES", parts[1]);
  if (!bytes.ok()) return bytes.status();
  spec.max_bytes = *bytes;
  spec.max_files = sandbox::ManifestBuilder::kDefaultScratchFiles;
  if (parts.size() == 3 && (!absl::SimpleAtoi(parts[2], &spec.max_files) || spec.max_files <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scratch=", value, ": FILES must be a positive integer"));
  }
  return spec;
}

std::optional<image::TreeRun> PrepareLocalTrees(const std::vector<TreeArchive>& trees,
                                                const sandbox::Manifest& manifest,
                                                image::InstructionPolicy policy, int* exit_code) {
  std::vector<image::MountedTree> mounted;
  for (const TreeArchive& tree : trees) {
    image::TreeOptions options;
    options.validator.policy = policy;
    image::TreeValidation v = image::ValidateTree(tree.bytes, options);
    if (!v.status.ok()) {
      std::string message = absl::StrCat(WhatOf(tree), ": refused: ", v.status.message());
      if (v.refused.has_value()) {
        message += "\n" + FormatRejections(api::ReportToProto(*v.refused));
        if (message.back() == '\n') message.pop_back();
      }
      *exit_code = Fail(kExitProgramRefused, message);
      return std::nullopt;
    }
    mounted.push_back({tree.mountpoint, v.tree});
  }
  absl::StatusOr<image::TreeRun> run =
      image::PrepareTreeRun(mounted, manifest.program_path(), "PROGRAM");
  if (!run.ok()) {
    const bool missing = absl::StrContains(run.status().message(), "is not in the mounted trees");
    *exit_code = Fail(missing ? kExitProgramNotFound : kExitProgramRefused, run.status().message());
    return std::nullopt;
  }
  return *std::move(run);
}

absl::Status EnsureTreesRegistered(RemoteClient& client, const std::vector<TreeArchive>& trees) {
  for (const TreeArchive& tree : trees) {
    absl::StatusOr<v1::Image> known = client.GetImage(tree.id);
    if (known.ok()) continue;
    if (known.status().code() != absl::StatusCode::kNotFound) return known.status();
    absl::StatusOr<v1::RegisterImageResponse> registered = client.RegisterTree(tree.bytes, "");
    if (!registered.ok()) {
      return absl::Status(registered.status().code(),
                          absl::StrCat(WhatOf(tree), ": ", registered.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace zerocell::client
