// `zerocell register` and `zerocell images`: the image side of the service (remote only).
#include "client/image_commands.h"

#include <unistd.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli_args.h"
#include "client/cli_values.h"
#include "client/exit_codes.h"
#include "client/local_run.h"
#include "client/remote_client.h"
#include "client/remote_run.h"
#include "client/report_text.h"
#include "google/protobuf/util/json_util.h"
#include "sandbox/image.h"

namespace zerocell::client {
namespace {

constexpr FlagSpec kRegisterFlags[] = {
    {"name", "LABEL", false, "label stored with the image (default: PROGRAM's base name)"},
    {"tree", "", false, "PROGRAM is a tar archive: register it as a file tree image"},
    {"json", "", false, "print the RegisterImageResponse as JSON"},
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

constexpr FlagSpec kImagesFlags[] = {
    {"json", "", false, "print one ListImagesResponse with every image as JSON"},
    kServerFlag,
    kTlsCaFlag,
    kTlsCertFlag,
    kTlsKeyFlag,
    {"help", "", false, "show this help"},
};

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string FormatImage(const v1::Image& image, bool already_registered) {
  std::string out = absl::StrCat(image.image_id(), "\n");
  absl::StrAppendFormat(&out, "  name: %s\n  size: %d bytes\n",
                        image.name().empty() ? "(none)" : image.name(), image.size_bytes());
  absl::StrAppendFormat(&out, "  %s, %d executions%s\n",
                        already_registered ? "already registered" : "registered",
                        image.executions(), image.in_use() ? ", in use" : "");
  absl::StrAppendFormat(&out, "  validation: %s\n",
                        image.validation().accepted() ? "accepted" : "refused");
  if (image.kind() == v1::IMAGE_KIND_TREE) {
    const v1::TreeSummary& t = image.tree();
    absl::StrAppendFormat(
        &out, "  tree: %d entries, %d files, %d bytes, %d ELF files admitted in %.3f s\n",
        t.entries(), t.file_count(), t.total_bytes(), t.elf_count(),
        static_cast<double>(t.validation_ns()) / 1e9);
    for (const v1::TreeElf& elf : t.elves()) {
      absl::StrAppendFormat(&out, "    %s: %s, %d instructions%s\n", elf.path(),
                            elf.shared_object() ? "shared object" : "executable",
                            elf.validation().instructions(),
                            elf.validation().warnings().empty() ? "" : ", warnings");
    }
    return out;
  }
  absl::StrAppend(&out, FormatReportText(image.validation()));
  return out;
}

std::string RegisterHelp() {
  return absl::StrCat(
      "Usage: zerocell register [FLAGS] PROGRAM\n"
      "       zerocell register --tree [FLAGS] TREE.tar\n"
      "Uploads a static x86-64 ELF to a zerocelld, which validates it (ELF checks and the\n"
      "instruction policy) and caches it under its content id. Prints the image id on the first\n"
      "line, then the validation report. Registering the same bytes again is harmless.\n"
      "With --tree, uploads a tar archive as a file tree image: its entries are checked and every\n"
      "ELF file in it is admitted (a refusal names the entry or the file and instruction).\n"
      "Exit status: 0 registered, 126 refused (the reasons on stderr), 127 PROGRAM not found,\n"
      "2 usage error, 125 the server could not be reached or failed.\n\nFlags:\n",
      FormatFlagHelp(kRegisterFlags));
}

std::string ImagesHelp() {
  return absl::StrCat(
      "Usage: zerocell images [FLAGS]\n"
      "Lists the images a zerocelld has cached, most recently used first.\n\nFlags:\n",
      FormatFlagHelp(kImagesFlags));
}

int RegisterCommand(absl::Span<const std::string> args) {
  int exit_code = 0;
  std::optional<Connected> c =
      ParseAndConnect("register", args, kRegisterFlags, RegisterHelp(), &exit_code);
  if (!c.has_value()) return exit_code;
  const std::vector<std::string>& positional = c->args.positional();
  if (positional.size() != 1) {
    return Fail(kExitUsage,
                "register: expected exactly one PROGRAM (see zerocell register --help)");
  }
  const std::string& path = positional[0];
  // The engine's image reader, as `run` and `validate`: never blocks on a FIFO or device, bounded.
  absl::StatusOr<std::string> elf = sandbox::ReadImageFile(path);
  if (!elf.ok()) {
    const absl::StatusCode code = elf.status().code();
    const bool missing =
        code == absl::StatusCode::kNotFound || code == absl::StatusCode::kPermissionDenied;
    return Fail(missing ? kExitProgramNotFound : kExitProgramRefused,
                absl::StrCat("register: ", elf.status().message()));
  }
  const std::string name = c->args.Has("name") ? c->args.Get("name") : Basename(path);
  absl::StatusOr<v1::RegisterImageResponse> response = c->args.GetBool("tree")
                                                           ? c->client->RegisterTree(*elf, name)
                                                           : c->client->Register(*elf, name);
  if (!response.ok()) return FailRpc(absl::StrCat("register: ", path, ": "), response.status());
  if (c->args.GetBool("json")) return PrintMessageJson(*response) ? 0 : kExitInternal;
  const std::string text = FormatImage(response->image(), response->already_registered());
  return WriteAllToFd(STDOUT_FILENO, text).ok() ? 0 : kExitInternal;
}

int ImagesCommand(absl::Span<const std::string> args) {
  int exit_code = 0;
  std::optional<Connected> c =
      ParseAndConnect("images", args, kImagesFlags, ImagesHelp(), &exit_code);
  if (!c.has_value()) return exit_code;
  if (!c->args.positional().empty()) {
    return Fail(kExitUsage,
                absl::StrCat("images: unexpected argument \"", c->args.positional()[0], "\""));
  }
  v1::ListImagesResponse all;
  std::string token;
  do {
    absl::StatusOr<v1::ListImagesResponse> page = c->client->ListImages(0, token);
    if (!page.ok()) return FailRpc("images: ", page.status());
    for (v1::Image& image : *page->mutable_images()) *all.add_images() = std::move(image);
    token = page->next_page_token();
  } while (!token.empty());
  if (c->args.GetBool("json")) return PrintMessageJson(all) ? 0 : kExitInternal;
  std::string text;
  for (const v1::Image& image : all.images()) {
    absl::StrAppendFormat(&text, "%s  %-20s %10d bytes  %d executions%s%s%s\n", image.image_id(),
                          image.name().empty() ? "-" : image.name(), image.size_bytes(),
                          image.executions(),
                          image.kind() == v1::IMAGE_KIND_TREE
                              ? absl::StrFormat(", tree of %d files (%d ELF)",
                                                image.tree().file_count(), image.tree().elf_count())
                              : std::string(),
                          image.validation().warnings().empty() ? "" : ", warnings",
                          image.in_use() ? ", in use" : "");
  }
  return WriteAllToFd(STDOUT_FILENO, text).ok() ? 0 : kExitInternal;
}

}  // namespace zerocell::client
