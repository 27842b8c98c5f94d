// `zerocell validate`: the admission checks of a zerocelld (ELF + instruction policy), offline.
#ifndef ZEROCELL_CLIENT_VALIDATE_COMMAND_H_
#define ZEROCELL_CLIENT_VALIDATE_COMMAND_H_

#include <string>

#include "absl/types/span.h"
#include "image/validator.h"

namespace zerocell::client {

// `zerocell validate [--policy=standard|deterministic] [--json] PROGRAM`; `args` are the words
// after "validate". Prints the validation report (human form, or with --json the
// zerocell.v1.ValidationReport in the proto JSON mapping) on stdout; a refusal also gets one
// "zerocell: validate: PROGRAM: ..." line on stderr. Exit status: 0 accepted, 126 refused,
// 127 PROGRAM not found or unreadable, 2 usage error, 125 output failed.
int ValidateCommand(absl::Span<const std::string> args);

// Usage text of `zerocell validate`.
std::string ValidateHelp();

// The human form of a report: a first line "PROGRAM: accepted (standard policy)" or
// "PROGRAM: refused: <reason>", then indented detail lines.
std::string FormatValidation(const std::string& program, const image::Validation& validation);

}  // namespace zerocell::client

#endif  // ZEROCELL_CLIENT_VALIDATE_COMMAND_H_
