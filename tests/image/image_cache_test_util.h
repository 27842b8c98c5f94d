// Helpers of the image cache tests: guest ELF bytes and a counting fake validator.
#ifndef ZEROCELL_TESTS_IMAGE_IMAGE_CACHE_TEST_UTIL_H_
#define ZEROCELL_TESTS_IMAGE_IMAGE_CACHE_TEST_UTIL_H_

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "image/validator.h"
#include "tests/testing/files.h"

namespace zerocell::image::testing {

// Real ELF bytes of the hello guest; `variant` > 0 appends that many junk bytes after the end of
// the file, which the ELF parser ignores, giving distinct content (and ids) of similar size.
inline std::string HelloVariant(int variant) {
  static const std::string* hello = new std::string(zerocell::testing::GuestBytes("hello"));
  return *hello + std::string(static_cast<size_t>(variant), 'j');
}

// Bytes ending with this marker are rejected by FakeValidator.
inline constexpr std::string_view kRejectMarker = "REJECT-ME";

// Stands in for ValidateImage and counts its calls; rejects bytes ending with kRejectMarker.
class FakeValidator {
 public:
  std::function<Validation(std::string_view)> Fn() {
    return [this](std::string_view bytes) {
      calls_.fetch_add(1);
      if (hook_) hook_();
      Validation validation;
      validation.report.executable_bytes = static_cast<int64_t>(bytes.size());
      if (bytes.ends_with(kRejectMarker)) {
        validation.report.rejections.push_back(
            InstructionRejection{.file_offset = 0x40,
                                 .vaddr = 0x401040,
                                 .instruction = "int 0x80",
                                 .rule = "software interrupt other than int3"});
        validation.status = absl::InvalidArgumentError(
            "instruction at file offset 0x40 (vaddr 0x401040): int 0x80: software interrupt "
            "other than int3 (standard policy)");
        return validation;
      }
      validation.report.accepted = true;
      return validation;
    };
  }
  int calls() const { return calls_.load(); }
  // Runs inside each validation (before the verdict), e.g. to hold it open.
  void set_hook(std::function<void()> hook) { hook_ = std::move(hook); }

 private:
  std::atomic<int> calls_{0};
  std::function<void()> hook_;
};

}  // namespace zerocell::image::testing

#endif  // ZEROCELL_TESTS_IMAGE_IMAGE_CACHE_TEST_UTIL_H_
