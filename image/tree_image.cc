// Tree admission: the archive into a FileTree, then every ELF member checked and described.
#include "image/tree_image.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/errno_status.h"
#include "image/tree_archive.h"
#include "sandbox/elf/elf_image.h"

namespace zerocell::image {

using sandbox::fs::FileTree;
using sandbox::fs::NodeType;

struct TreeBuilderAccess {
  static std::vector<std::pair<uint32_t, size_t>>& index(TreeImage& t) { return t.elf_by_content_; }
  static uint64_t& memory(TreeImage& t) { return t.memory_bytes_; }
};

namespace {

constexpr uint64_t kPage = 4096;

uint64_t PageDown(uint64_t v) { return v & ~(kPage - 1); }
uint64_t PageUp(uint64_t v) { return PageDown(v + kPage - 1); }

// A read-only private mapping of a sealed content memfd (no copy of the file's bytes).
class MappedContent {
 public:
  static absl::StatusOr<MappedContent> Map(int fd, uint64_t size) {
    MappedContent m;
    m.size_ = size;
    if (size == 0) return m;
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap of a tree file's memfd");
    m.data_ = static_cast<const char*>(p);
    return m;
  }
  MappedContent(MappedContent&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
  MappedContent& operator=(MappedContent&&) = delete;
  ~MappedContent() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view bytes() const { return data_ == nullptr ? "" : std::string_view(data_, size_); }

 private:
  MappedContent() = default;
  const char* data_ = nullptr;
  uint64_t size_ = 0;
};

bool StartsWithElfMagic(int fd) {
  char magic[4];
  return ::pread(fd, magic, sizeof(magic), 0) == sizeof(magic) &&
         std::string_view(magic, 4) == std::string_view(
                                           "\x7f"
                                           "ELF",
                                           4);
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// The executable segments' page ranges and what else those pages hold.
std::vector<ExecutableRange> ExecutableRanges(const sandbox::elf::ElfLayout& layout,
                                              std::string_view file) {
  std::vector<ExecutableRange> ranges;
  for (const sandbox::elf::LoadSegment& s : layout.segments) {
    if (!s.exec) continue;
    ExecutableRange r;
    r.vaddr = s.vaddr;
    r.file_offset = s.offset;
    r.file_size = s.filesz;
    r.page_offset = PageDown(s.offset);
    r.page_end = PageUp(s.offset + s.filesz);
    r.has_slack = r.page_offset != s.offset || r.page_end != s.offset + s.filesz;
    for (const sandbox::elf::LoadSegment& o : layout.segments) {
      if (&o == &s || o.filesz == 0) continue;
      if (o.offset < r.page_end && o.offset + o.filesz > r.page_offset) r.shares_pages = true;
    }
    const uint64_t end = s.offset + s.filesz;
    const uint64_t page_end_in_file = std::min<uint64_t>(r.page_end, file.size());
    r.slack_zero = AllZero(file.substr(r.page_offset, s.offset - r.page_offset)) &&
                   (end >= page_end_in_file || AllZero(file.substr(end, page_end_in_file - end)));
    ranges.push_back(r);
  }
  return ranges;
}

}  // namespace

const TreeElf* TreeImage::ElfAt(FileTree::NodeId node) const {
  if (tree == nullptr || node >= tree->node_count()) return nullptr;
  const FileTree::Node& n = tree->node(node);
  if (n.type != NodeType::kRegular) return nullptr;
  auto it = std::lower_bound(elf_by_content_.begin(), elf_by_content_.end(),
                             std::make_pair(n.content, size_t{0}));
  if (it == elf_by_content_.end() || it->first != n.content) return nullptr;
  return &elves[it->second];
}

TreeValidation ValidateTree(std::string_view archive, const TreeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TreeValidation out;
  absl::StatusOr<std::shared_ptr<const FileTree>> tree = ReadTreeArchive(archive, options.limits);
  if (!tree.ok()) {
    out.status = tree.status();
    return out;
  }
  auto image = std::make_shared<TreeImage>();
  image->tree = *std::move(tree);
  image->archive_bytes = archive.size();
  ValidatorOptions validator = options.validator;
  validator.tree_member = true;

  const FileTree& t = *image->tree;
  std::vector<bool> seen_content;
  // Node ids follow archive order; sorting the ELF list by path afterwards keeps reports stable.
  for (FileTree::NodeId id = 0; id < t.node_count(); ++id) {
    const FileTree::Node& n = t.node(id);
    if (n.type != NodeType::kRegular) continue;
    ++image->file_count;
    if (n.content >= seen_content.size()) seen_content.resize(n.content + 1, false);
    if (seen_content[n.content]) continue;  // a hard link to content already seen
    seen_content[n.content] = true;
    image->total_bytes += n.size;
    TreeBuilderAccess::memory(*image) += PageUp(n.size);
    const int fd = t.ContentFd(id);
    if (n.size < 4 || !StartsWithElfMagic(fd)) continue;
    const std::string path = t.PathOf(id);
    absl::StatusOr<MappedContent> mapped = MappedContent::Map(fd, n.size);
    if (!mapped.ok()) {
      out.status = mapped.status();
      return out;
    }
    Validation v = ValidateImage(mapped->bytes(), validator);
    if (!v.status.ok()) {
      // Why refused: any ELF of a tree may be mapped executable by a guest's dynamic loader.
      out.status = absl::Status(v.status.code(),
                                absl::StrCat("tree file \"", path, "\": ", v.status.message()));
      out.refused_path = path;
      out.refused = std::move(v.report);
      return out;
    }
    absl::StatusOr<sandbox::elf::ElfLayout> layout =
        sandbox::elf::ParseElf(mapped->bytes(), sandbox::elf::ElfRole::kTreeMember);
    if (!layout.ok()) {  // ValidateImage parsed the same bytes the same way
      out.status = layout.status();
      return out;
    }
    TreeElf elf;
    elf.path = path;
    elf.node = id;
    elf.shared_object = layout->pie;
    elf.interpreter = layout->interpreter;
    elf.needs_libraries = layout->needs_libraries;
    elf.entry = layout->entry;
    elf.executable = ExecutableRanges(*layout, mapped->bytes());
    image->host_instructions |= v.report.host_instructions;
    elf.report = std::move(v.report);
    image->elves.push_back(std::move(elf));
  }
  std::sort(image->elves.begin(), image->elves.end(),
            [](const TreeElf& a, const TreeElf& b) { return a.path < b.path; });
  auto& index = TreeBuilderAccess::index(*image);
  for (size_t i = 0; i < image->elves.size(); ++i) {
    index.emplace_back(t.node(image->elves[i].node).content, i);
  }
  std::sort(index.begin(), index.end());
  auto executable = std::make_shared<sandbox::fs::ExecutableFiles>();
  for (FileTree::NodeId id = 0; id < t.node_count(); ++id) {
    const TreeElf* elf = image->ElfAt(id);
    if (elf == nullptr) continue;
    for (const ExecutableRange& r : elf->executable) {
      // Why only mappable ranges: a page holding another segment's or undecoded bytes would
      // make them executable (the hardening guarantee: executable pages hold decoded bytes).
      if (r.mappable()) executable->Add(id, r.page_offset, r.page_end);
    }
  }
  image->executable = std::move(executable);
  image->validation_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  out.tree = std::move(image);
  return out;
}

}  // namespace zerocell::image
