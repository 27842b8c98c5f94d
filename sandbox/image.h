// A program image: checked ELF bytes in a sealed memfd, ready to be mapped by the loader.
#ifndef ZEROCELL_SANDBOX_IMAGE_H_
#define ZEROCELL_SANDBOX_IMAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/elf/elf_image.h"
#include "sandbox/host/instruction_use.h"
#include "sandbox/launch/spec_builder.h"
#include "sandbox/sys/unique_fd.h"

namespace zerocell::sandbox {

// Reads the whole regular file at `path`, refusing more than `max_bytes` (at most
// elf::kMaxImageBytes) even if it grows while read. Never blocks on a FIFO or device (opened
// O_NONBLOCK, then refused as not a regular file). Errors name the path: NOT_FOUND,
// PERMISSION_DENIED, FAILED_PRECONDITION (a directory or not a regular file), INVALID_ARGUMENT
// (above the limit).
absl::StatusOr<std::string> ReadImageFile(const std::string& path,
                                          uint64_t max_bytes = elf::kMaxImageBytes);

// Immutable and shareable between concurrent executions.
class Image {
 public:
  // Checks the ELF and copies the bytes into a sealed memfd. INVALID_ARGUMENT on a bad image.
  // `sha256_hex_known`: the caller already hashed `bytes` (e.g. the image cache, whose id is the
  // hash); empty: hashed here.
  // `use`: which host-state-reading instructions admission decoded in it (unknown when the
  // caller skipped admission: the engine then assumes all of them).
  static absl::StatusOr<std::shared_ptr<const Image>> FromBytes(
      std::string_view bytes, std::string_view sha256_hex_known = {},
      host::InstructionUse use = host::InstructionUse::Unknown());
  // A dynamically linked program (PT_INTERP; ET_EXEC or PIE) and its interpreter, an image of its
  // own (ld.so: a self-contained PIE, launch::CheckInterpreter). The loader maps both and starts
  // the interpreter, which maps the libraries the guest's file tree holds. `use` is the program's;
  // the image's instruction_use() is both. INVALID_ARGUMENT on a bad pair; a program without
  // PT_INTERP is refused here (FromBytes takes it).
  static absl::StatusOr<std::shared_ptr<const Image>> DynamicFromBytes(
      std::string_view bytes, std::shared_ptr<const Image> interpreter,
      std::string_view sha256_hex_known = {},
      host::InstructionUse use = host::InstructionUse::Unknown());
  // Reads a host file; NOT_FOUND / PERMISSION_DENIED name the path.
  static absl::StatusOr<std::shared_ptr<const Image>> FromFile(
      const std::string& path, host::InstructionUse use = host::InstructionUse::Unknown());

  const elf::ElfLayout& layout() const { return layout_; }
  // The ELF bytes, then (from the next page) the cleaned copies of executable segments' partial
  // pages, where clean_pages() says (launch::CleanPages). Sealed.
  int memfd() const { return memfd_.get(); }
  const std::vector<launch::CleanPages>& clean_pages() const { return clean_pages_; }
  uint64_t size_bytes() const { return size_; }
  const std::string& sha256_hex() const { return sha256_hex_; }
  const host::InstructionUse& instruction_use() const { return use_; }
  // The interpreter of a dynamically linked program (layout().interpreter names its path), else
  // null.
  const std::shared_ptr<const Image>& interpreter() const { return interpreter_; }

 private:
  Image(elf::ElfLayout layout, std::vector<launch::CleanPages> clean_pages, sys::UniqueFd memfd,
        uint64_t size, std::string sha256_hex, host::InstructionUse use)
      : layout_(std::move(layout)),
        clean_pages_(std::move(clean_pages)),
        memfd_(std::move(memfd)),
        size_(size),
        sha256_hex_(std::move(sha256_hex)),
        use_(use) {}
  static absl::StatusOr<std::shared_ptr<Image>> Seal(std::string_view bytes, elf::ElfLayout layout,
                                                     std::string_view sha256_hex_known,
                                                     host::InstructionUse use);

  elf::ElfLayout layout_;
  std::vector<launch::CleanPages> clean_pages_;
  sys::UniqueFd memfd_;
  uint64_t size_;
  std::string sha256_hex_;
  host::InstructionUse use_;
  std::shared_ptr<const Image> interpreter_;
};

}  // namespace zerocell::sandbox

#endif  // ZEROCELL_SANDBOX_IMAGE_H_
