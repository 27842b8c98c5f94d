// `zerocell batch`: runs.jsonl on stdin, one ExecuteBatch call, one JSON result per line out.
#include "client/batch_command.h"

#include <unistd.h>

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli_args.h"
#include "client/cli_files.h"
#include "client/exit_codes.h"
#include "client/local_run.h"
#include "client/remote_client.h"
#include "client/remote_run.h"
#include "client/tree_mounts.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kBatchFlags[] = {
    {"parallelism", "N", false,
     "most runs of the batch at once on the server (default: its batch share)"},
    kTreeFlag,
    kScratchFlag,
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

constexpr absl::string_view kStdinKey = "stdin";

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// --tree and --scratch applied to one run: the line's own mounts, scratch and program_path win
// (a line may run another program of the trees, or mount more).
void MountTrees(const std::vector<TreeArchive>& trees,
                const std::optional<sandbox::ScratchSpec>& scratch, const std::string& program,
                v1::Manifest* manifest) {
  if (manifest->mounts().empty()) {
    for (const TreeArchive& tree : trees) {
      v1::Mount* mount = manifest->add_mounts();
      mount->set_mountpoint(tree.mountpoint);
      mount->set_tree_id(tree.id);
    }
  }
  if (scratch.has_value() && !manifest->has_scratch()) {
    v1::Scratch* s = manifest->mutable_scratch();
    s->set_path(scratch->path);
    s->set_max_bytes(scratch->max_bytes);
    s->set_max_files(scratch->max_files);
  }
  if (manifest->program_path().empty()) manifest->set_program_path(program);
}

}  // namespace

absl::StatusOr<v1::Manifest> ParseBatchLine(absl::string_view line, const std::string& argv0) {
  // A Struct first: it takes any JSON object, so the "stdin" convenience can be taken out before
  // the strict Manifest parse (which names unknown fields).
  google::protobuf::Struct object;
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(line), &object);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", std::string(parsed.message())));
  }
  std::optional<std::string> stdin_text;
  if (auto it = object.fields().find(std::string(kStdinKey)); it != object.fields().end()) {
    if (it->second.kind_case() != google::protobuf::Value::kStringValue) {
      return absl::InvalidArgumentError("\"stdin\": must be a string");
    }
    stdin_text = it->second.string_value();
    object.mutable_fields()->erase(std::string(kStdinKey));
  }
  std::string rest;
  if (auto printed = google::protobuf::util::MessageToJsonString(object, &rest); !printed.ok()) {
    return absl::InternalError(std::string(printed.message()));
  }
  v1::Manifest manifest;
  if (auto status = google::protobuf::util::JsonStringToMessage(rest, &manifest); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a zerocell.v1.Manifest: ", std::string(status.message())));
  }
  if (manifest.argv().empty()) manifest.add_argv(argv0);
  if (stdin_text.has_value()) {
    v1::Channel* in = nullptr;
    for (v1::Channel& c : *manifest.mutable_channels()) {
      if (c.alias() == "/dev/stdin") in = &c;
    }
    if (in == nullptr) {
      // The server's default stdin quotas (never binding), with this data.
      in = manifest.add_channels();
      in->set_alias("/dev/stdin");
      in->set_gets(int64_t{1} << 50);
      in->set_get_size(int64_t{1} << 50);
    }
    in->set_initial_data(*std::move(stdin_text));
  }
  return manifest;
}

std::string BatchHelp() {
  return absl::StrCat(
      "Usage: zerocell batch [FLAGS] PROGRAM < runs.jsonl\n"
      "Runs PROGRAM once per line of stdin on a zerocelld, in one ExecuteBatch call, and prints\n"
      "each run's result as one JSON line (ExecuteBatchResult: index, response or error) as the\n"
      "runs complete. A line is a zerocell.v1.Manifest in proto JSON, plus an optional \"stdin\"\n"
      "text; channels left out get the server's defaults. Example line:\n"
      "  {\"argv\": [\"wc\", \"-l\"], \"stdin\": \"a\\nb\\n\", \"timeoutMs\": 500}\n"
      "With --tree, PROGRAM is a path in the trees: each archive the server lacks is registered\n"
      "(by its sha256) and every run mounts them, unless its line sets mounts or programPath.\n"
      "\nFlags:\n",
      FormatFlagHelp(kBatchFlags));
}

int BatchCommand(absl::Span<const std::string> args) {
  int exit_code = 0;
  std::optional<Connected> c = ParseAndConnect("batch", args, kBatchFlags, BatchHelp(), &exit_code);
  if (!c.has_value()) return exit_code;
  if (c->args.positional().size() != 1) {
    return Fail(kExitUsage, "batch: expected exactly one PROGRAM (runs come from stdin)");
  }
  int parallelism = 0;
  if (c->args.Has("parallelism") &&
      (!absl::SimpleAtoi(c->args.Get("parallelism"), &parallelism) || parallelism < 1)) {
    return Fail(kExitUsage,
                absl::StrCat("batch: --parallelism: expected a positive integer (got \"",
                             c->args.Get("parallelism"), "\")"));
  }
  const std::string program = c->args.positional()[0];
  absl::StatusOr<std::vector<TreeArchive>> trees = ReadTreeFlags(c->args.GetAll("tree"));
  if (!trees.ok()) return Fail(kExitUsage, absl::StrCat("batch: ", trees.status().message()));
  std::optional<sandbox::ScratchSpec> scratch;
  if (c->args.Has("scratch")) {
    if (trees->empty()) return Fail(kExitUsage, "batch: --scratch: needs --tree");
    absl::StatusOr<sandbox::ScratchSpec> parsed = ParseScratchFlag(c->args.Get("scratch"));
    if (!parsed.ok()) return Fail(kExitUsage, absl::StrCat("batch: ", parsed.status().message()));
    scratch = *std::move(parsed);
  }
  // With trees PROGRAM is a path in them (each run names it; no image is sent), else a host file.
  std::string elf;
  if (trees->empty()) {
    std::optional<std::string> read = ReadCheckedProgram(program, "", &exit_code);
    if (!read.has_value()) return exit_code;
    elf = *std::move(read);
  }

  absl::StatusOr<std::string> input = ReadInputFile("batch: runs", "-");
  if (!input.ok()) return Fail(kExitUsage, input.status().message());
  std::vector<v1::Manifest> runs;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*input, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    // From a tree argv[0] is the whole path, as for `run` (interpreters find their files by it).
    absl::StatusOr<v1::Manifest> manifest =
        ParseBatchLine(line, trees->empty() ? Basename(program) : program);
    if (!manifest.ok()) {
      return Fail(kExitUsage, absl::StrCat("batch: stdin line ", line_number, ": ",
                                           manifest.status().message()));
    }
    if (!trees->empty()) MountTrees(*trees, scratch, program, &*manifest);
    runs.push_back(*std::move(manifest));
  }
  if (runs.empty()) return Fail(kExitUsage, "batch: stdin holds no runs (one JSON object a line)");

  if (absl::Status registered = EnsureTreesRegistered(*c->client, *trees); !registered.ok()) {
    return FailRpc("batch: ", registered);
  }
  bool printed = true;
  absl::Status status = c->client->ExecuteBatch(elf, std::move(runs), parallelism,
                                                [&printed](const v1::ExecuteBatchResult& result) {
                                                  printed = PrintMessageJson(result) && printed;
                                                });
  if (!status.ok()) return FailRpc("batch: ", status);
  return printed ? 0 : kExitInternal;
}

}  // namespace zerocell::client
