// Park spec and go plan construction; see spec_builder.h. The stack follows the x86-64 SysV process
// ABI.
#include "sandbox/launch/spec_builder.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "sandbox/launch/launch_spec.h"
#include "sandbox/vdso/clock_page.h"

namespace zerocell::sandbox::launch {
namespace {

uint64_t PageDown(uint64_t v) { return v & ~(kPageSize - 1); }
uint64_t PageUp(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }

// Writes the initial stack top-down into `image` (which ends at kStackTop) and returns rsp.
class StackWriter {
 public:
  // `capacity` bounds the image; `expected` is what the caller will push (sized up front so
  // building a small stack never touches a large buffer).
  StackWriter(uint64_t capacity, uint64_t expected)
      : capacity_(capacity), buffer_(std::min(capacity, expected), '\0') {}

  // Copies bytes just below the current cursor; returns their guest address, or 0 when full.
  uint64_t Push(const void* data, size_t len) {
    if (len > capacity_ - used_) {
      overflow_ = true;
      return 0;
    }
    if (len > buffer_.size() - used_) {  // an estimate that was short: grow at the front
      buffer_.insert(0, std::max<size_t>(len, buffer_.size()), '\0');
    }
    used_ += len;
    memcpy(buffer_.data() + buffer_.size() - used_, data, len);
    return kStackTop - used_;
  }
  uint64_t PushString(const std::string& s) { return Push(s.c_str(), s.size() + 1); }
  void AlignTo(uint64_t alignment) {
    const uint64_t pad = (kStackTop - used_) % alignment;
    std::string zeros(pad, '\0');
    Push(zeros.data(), zeros.size());
  }
  bool overflow() const { return overflow_; }
  uint64_t used() const { return used_; }
  std::string_view image() const {
    return std::string_view(buffer_).substr(buffer_.size() - used_);
  }

 private:
  uint64_t capacity_;
  std::string buffer_;  // the top `used_` bytes are the image
  uint64_t used_ = 0;
  bool overflow_ = false;
};

uint64_t ImageBytes(const elf::ElfLayout& layout, uint64_t bias) {
  uint64_t bytes = 0;
  for (const elf::LoadSegment& seg : layout.segments) {
    bytes += PageUp(bias + seg.vaddr + seg.memsz) - PageDown(bias + seg.vaddr);
  }
  return bytes;
}

}  // namespace

uint64_t StackBytesFor(int64_t memory_bytes) {
  return std::clamp<uint64_t>(PageUp(static_cast<uint64_t>(memory_bytes) / 8), kMinStackBytes,
                              kMaxStackBytes);
}

std::vector<CleanPages> PlanCleanPages(const elf::ElfLayout& layout, uint64_t file_size) {
  std::vector<CleanPages> out(layout.segments.size());
  uint64_t next = PageUp(file_size);
  for (size_t i = 0; i < layout.segments.size(); ++i) {
    const elf::LoadSegment& seg = layout.segments[i];
    if (!seg.exec || seg.filesz == 0) continue;
    const uint64_t end = seg.offset + seg.filesz;
    const uint64_t first = PageDown(seg.offset), last = PageDown(end - 1);
    const bool ragged_end = end % kPageSize != 0;
    if (seg.offset % kPageSize != 0 || (first == last && ragged_end)) {
      out[i].head = next;
      next += kPageSize;
    }
    if (last != first && ragged_end) {
      out[i].tail = next;
      next += kPageSize;
    }
  }
  return out;
}

std::string CleanPage(std::string_view file, const elf::LoadSegment& seg, uint64_t page_offset) {
  std::string page(kPageSize, '\0');
  const uint64_t from = std::max(page_offset, seg.offset);
  const uint64_t to = std::min(
      {page_offset + kPageSize, seg.offset + seg.filesz, static_cast<uint64_t>(file.size())});
  if (to > from) file.substr(from, to - from).copy(page.data() + (from - page_offset), to - from);
  return page;
}

namespace {

// Appends `layout`'s segments, biased, read from `source`.
absl::Status AddSegments(const elf::ElfLayout& layout, const std::vector<CleanPages>& clean,
                         uint64_t bias, uint32_t source, LaunchSpec* spec) {
  if (spec->segment_count + layout.segments.size() > static_cast<size_t>(kMaxSegments)) {
    return absl::InvalidArgumentError("image: too many PT_LOAD segments");
  }
  if (clean.size() != layout.segments.size()) {
    return absl::InvalidArgumentError("image: cleaned code pages do not match its segments");
  }
  for (size_t i = 0; i < layout.segments.size(); ++i) {
    const elf::LoadSegment& seg = layout.segments[i];
    SpecSegment& s = spec->segments[spec->segment_count++];
    s.addr = bias + seg.vaddr;
    s.memsz = seg.memsz;
    s.offset = seg.offset;
    s.filesz = seg.filesz;
    s.prot = (seg.read ? PROT_READ : 0) | (seg.write ? PROT_WRITE : 0) | (seg.exec ? PROT_EXEC : 0);
    s.source = source;
    s.clean_head = clean[i].head;
    s.clean_tail = clean[i].tail;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckInterpreter(const elf::ElfLayout& interp) {
  // The interpreter is position-independent and self-contained (ld.so relocates itself); one
  // that wants an interpreter of its own, or a fixed address, cannot be placed at kInterpBase.
  if (!interp.pie || !interp.interpreter.empty() || interp.segments.empty()) {
    return absl::InvalidArgumentError(
        "interpreter: not a self-contained position-independent ELF (ET_DYN without PT_INTERP)");
  }
  if (interp.image_span() > kInterpMaxSpan || interp.segments.front().vaddr > kInterpMaxSpan) {
    return absl::InvalidArgumentError("interpreter: its segments span more than 1 GiB");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BuildParkSpec(const elf::ElfLayout& layout,
                                          const std::vector<CleanPages>& clean,
                                          const std::string& filter_bpf, pid_t parent_pid,
                                          const SpecialRanges& special, uint32_t flags,
                                          InterpreterLayout interp) {
  LaunchSpec spec = {};
  spec.magic = kSpecMagic;
  const uint64_t bias = layout.pie ? kPieBase : 0;
  RETURN_IF_ERROR(AddSegments(layout, clean, bias, kSegmentFromImage, &spec));
  spec.entry = bias + layout.entry;
  if (interp.layout != nullptr) {
    RETURN_IF_ERROR(CheckInterpreter(*interp.layout));
    RETURN_IF_ERROR(
        AddSegments(*interp.layout, *interp.clean, kInterpBase, kSegmentFromInterpreter, &spec));
    // The kernel's ELF loader does the same: the interpreter runs first and maps the libraries.
    spec.entry = kInterpBase + interp.layout->entry;
  } else if (!layout.interpreter.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("image: dynamically linked (interpreter ",
                                                   layout.interpreter,
                                                   ") but no interpreter given"));
  }
  spec.parent_pid = static_cast<uint32_t>(parent_pid);
  spec.drop_to_uid = kUnprivilegedId;
  spec.drop_to_gid = kUnprivilegedId;
  spec.flags = flags;
  spec.special = special;
  // RLIMIT_CORE 1, not 0: the kernel still starts a core_pattern pipe helper at 0, never at 1;
  // a file core needs at least a page. A crash never dumps core, whatever uid runs it.
  const SpecRlimit rlimits[] = {
      {RLIMIT_CORE, 0, 1, 1},
      {RLIMIT_FSIZE, 0, 0, 0},
      {RLIMIT_NOFILE, 0, kGuestFdLimit, kGuestFdLimit},
      {RLIMIT_MEMLOCK, 0, 0, 0},
      {RLIMIT_MSGQUEUE, 0, 0, 0},
  };
  spec.rlimit_count = sizeof(rlimits) / sizeof(rlimits[0]);
  std::copy(std::begin(rlimits), std::end(rlimits), spec.rlimits);
  spec.filter_offset = sizeof(spec);  // a multiple of 8
  spec.filter_len = filter_bpf.size() / 8;
  std::string bytes(reinterpret_cast<const char*>(&spec), sizeof(spec));
  bytes += filter_bpf;
  return bytes;
}

absl::StatusOr<GoPlan> BuildGoPlan(const elf::ElfLayout& layout, const Manifest& manifest,
                                   const elf::ElfLayout* interp) {
  GoPlan plan;
  const uint64_t bias = layout.pie ? kPieBase : 0;
  plan.image_bytes = ImageBytes(layout, bias);
  if (interp != nullptr) plan.image_bytes += ImageBytes(*interp, kInterpBase);
  plan.stack_bytes = StackBytesFor(manifest.memory_bytes());
  if (plan.image_bytes + plan.stack_bytes > static_cast<uint64_t>(manifest.memory_bytes())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "memory_bytes: %d bytes cannot hold the image (%u bytes) and its stack (%u bytes)",
        manifest.memory_bytes(), plan.image_bytes, plan.stack_bytes));
  }

  // Strings first (top of the stack), then the pointer block that rsp points at.
  uint64_t expected = 256 + 8 * (manifest.argv().size() + manifest.env().size() + 64);
  for (const std::string& s : manifest.argv()) expected += s.size() + 1;
  for (const std::string& s : manifest.env()) expected += s.size() + 1;
  StackWriter w(plan.stack_bytes / 2, expected);
  w.Push("\0\0\0\0\0\0\0\0", 8);
  const uint64_t execfn = w.PushString("/program");
  const uint64_t platform = w.PushString("x86_64");
  const std::string random = base::SeededBytes(manifest.random_seed(), "zerocell-at-random", 0, 16);
  const uint64_t at_random = w.Push(random.data(), random.size());
  std::vector<uint64_t> argv, envp;
  for (const std::string& s : manifest.env()) envp.push_back(w.PushString(s));
  for (const std::string& s : manifest.argv()) argv.push_back(w.PushString(s));
  w.AlignTo(16);

  const uint64_t entry = bias + layout.entry;
  const uint64_t auxv[][2] = {
      {AT_PHDR, bias + layout.phdr_vaddr},
      {AT_PHENT, layout.phentsize},
      {AT_PHNUM, layout.phnum},
      {AT_PAGESZ, kPageSize},
      {AT_BASE, interp != nullptr ? kInterpBase : 0},
      {AT_FLAGS, 0},
      {AT_ENTRY, entry},
      {AT_UID, kGuestUid},
      {AT_EUID, kGuestUid},
      {AT_GID, kGuestGid},
      {AT_EGID, kGuestGid},
      {AT_SECURE, 0},
      {AT_CLKTCK, 100},
      {AT_HWCAP, 0},
      {AT_HWCAP2, 0},
      {AT_RANDOM, at_random},
      {AT_PLATFORM, platform},
      {AT_EXECFN, execfn},
      // Ours (sandbox/vdso), not the kernel's: its clock calls read the virtual clock. Not for
      // a run that may fork: its processes would tick the page while a handler rewrites it.
      {AT_SYSINFO_EHDR, manifest.max_processes() > 1 ? 0 : vdso::kVdsoAddr},
      {AT_NULL, 0},
  };
  std::vector<uint64_t> block;
  block.push_back(argv.size());
  block.insert(block.end(), argv.begin(), argv.end());
  block.push_back(0);
  block.insert(block.end(), envp.begin(), envp.end());
  block.push_back(0);
  for (const auto& pair : auxv) block.insert(block.end(), {pair[0], pair[1]});
  if (block.size() % 2) w.Push("\0\0\0\0\0\0\0\0", 8);  // keep rsp 16-byte aligned
  w.Push(block.data(), block.size() * sizeof(uint64_t));
  if (w.overflow()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "argv: argv and env need more than half of the %u-byte guest stack; raise memory_bytes",
        plan.stack_bytes));
  }
  plan.stack_image = std::string(w.image());
  plan.header.magic = kGoMagic;
  plan.header.stack_low = kStackTop - plan.stack_bytes;
  plan.header.initial_sp = kStackTop - w.used();

  const uint64_t cpu_seconds = static_cast<uint64_t>(
      absl::ToInt64Seconds(absl::Ceil(manifest.cpu_limit(), absl::Seconds(1))));
  const uint64_t as = static_cast<uint64_t>(manifest.memory_bytes()) + kLoaderAddressSlack;
  // Backstops only: the supervisor enforces the exact limits and names them.
  plan.header.rlimits[0] = {RLIMIT_AS, 0, as, as};
  plan.header.rlimits[1] = {RLIMIT_CPU, 0, cpu_seconds + 1, cpu_seconds + 2};
  plan.header.realtime_base_ns = absl::ToUnixNanos(manifest.clock_start());
  return plan;
}

}  // namespace zerocell::sandbox::launch
