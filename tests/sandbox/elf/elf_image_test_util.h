// Shared helpers for the ParseElf tests: expect a file to be accepted or refused.
#ifndef ZEROCELL_TESTS_SANDBOX_ELF_ELF_IMAGE_TEST_UTIL_H_
#define ZEROCELL_TESTS_SANDBOX_ELF_ELF_IMAGE_TEST_UTIL_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "sandbox/elf/elf_image.h"
#include "tests/testing/status_matchers.h"

namespace zerocell::sandbox::elf::testing {

// The rejection message; fails the test unless `bytes` is refused with INVALID_ARGUMENT.
inline std::string Rejection(std::string_view bytes) {
  absl::StatusOr<ElfLayout> layout = ParseElf(bytes);
  if (layout.ok()) {
    ADD_FAILURE() << "accepted, expected a rejection";
    return "";
  }
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument) << layout.status();
  return std::string(layout.status().message());
}

inline ElfLayout Accepted(std::string_view bytes) {
  absl::StatusOr<ElfLayout> layout = ParseElf(bytes);
  EXPECT_THAT(layout, ::zerocell::testing::IsOk());
  return layout.ok() ? *std::move(layout) : ElfLayout{};
}

}  // namespace zerocell::sandbox::elf::testing

#endif  // ZEROCELL_TESTS_SANDBOX_ELF_ELF_IMAGE_TEST_UTIL_H_
