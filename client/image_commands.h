// `zerocell register` and `zerocell images`: the image side of the service (remote only).
#ifndef ZEROCELL_CLIENT_IMAGE_COMMANDS_H_
#define ZEROCELL_CLIENT_IMAGE_COMMANDS_H_

#include <string>

#include "absl/types/span.h"
#include "zerocell/v1/sandbox.pb.h"

namespace zerocell::client {

// `zerocell register [--name=LABEL] [--json] [--server=ADDR] [--tls_*] PROGRAM`: uploads PROGRAM,
// prints its image id (first line) and the server's validation report, or with --json the
// RegisterImageResponse. Exit 0 registered (or already), 126 refused (message and refused
// instructions on stderr), 127 PROGRAM missing, 2 usage, 125 server unreachable / other errors.
int RegisterCommand(absl::Span<const std::string> args);
std::string RegisterHelp();

// `zerocell images [--json] [--server=ADDR] [--tls_*]`: the server's cached images, most recently
// used first (every page), one line each, or with --json one ListImagesResponse holding them all.
int ImagesCommand(absl::Span<const std::string> args);
std::string ImagesHelp();

// Human form of an image: the id line, then indented lines of its validation report.
std::string FormatImage(const v1::Image& image, bool already_registered);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_IMAGE_COMMANDS_H_
