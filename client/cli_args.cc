// Per-subcommand flag parsing for the zerocell CLI.
#include "client/cli_args.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerocell::client {
namespace {

const FlagSpec* FindSpec(absl::Span<const FlagSpec> specs, absl::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

std::string ParsedArgs::Get(absl::string_view name, absl::string_view fallback) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

const std::vector<std::string>& ParsedArgs::GetAll(absl::string_view name) const {
  static const std::vector<std::string>* const kEmpty = new std::vector<std::string>();
  auto it = values_.find(std::string(name));
  return it == values_.end() ? *kEmpty : it->second;
}

bool ParsedArgs::GetBool(absl::string_view name) const {
  auto it = values_.find(std::string(name));
  return it != values_.end() && !it->second.empty() && it->second.back() == "true";
}

absl::StatusOr<ParsedArgs> ParseFlags(absl::Span<const std::string> args,
                                      absl::Span<const FlagSpec> specs) {
  ParsedArgs parsed;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (!absl::StartsWith(arg, "--")) break;  // the program: everything from here is its own

    absl::string_view body = absl::string_view(arg).substr(2);
    absl::string_view name = body;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
      has_value = true;
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (spec->value_name.empty()) {
      if (!has_value) {
        value = "true";
      } else if (value == "true" || value == "1") {
        value = "true";
      } else if (value == "false" || value == "0") {
        value = "false";
      } else {
        return absl::InvalidArgumentError(
            absl::StrFormat("--%s: a switch takes no value (got \"%s\")", name, value));
      }
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("--%s: missing value (--%s=%s)", name, name, spec->value_name));
      }
      value = args[++i];
    }
    std::vector<std::string>& slot = parsed.values_[std::string(name)];
    if (!slot.empty() && !spec->repeatable) {
      return absl::InvalidArgumentError(absl::StrFormat("--%s: given more than once", name));
    }
    slot.push_back(std::move(value));
  }
  parsed.positional_.assign(args.begin() + i, args.end());
  return parsed;
}

std::string FormatFlagHelp(absl::Span<const FlagSpec> specs) {
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& spec : specs) {
    std::string text = absl::StrCat("--", spec.name);
    if (!spec.value_name.empty()) absl::StrAppend(&text, "=", spec.value_name);
    if (spec.repeatable) absl::StrAppend(&text, "...");
    width = std::max(width, text.size());
    left.push_back(std::move(text));
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StrAppendFormat(&out, "  %-*s  %s\n", static_cast<int>(width), left[i], specs[i].help);
  }
  return out;
}

}  // namespace zerocell::client
