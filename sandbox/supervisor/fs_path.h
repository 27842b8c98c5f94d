// Guest paths for the file-system handlers: read from guest memory, resolved from the cwd or a
// directory fd.
#ifndef ZEROCELL_SANDBOX_SUPERVISOR_FS_PATH_H_
#define ZEROCELL_SANDBOX_SUPERVISOR_FS_PATH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/supervisor/guest_state.h"
#include "sandbox/supervisor/handlers.h"

namespace zerocell::sandbox::supervisor {

// A path argument (at most PATH_MAX bytes with its NUL): 0, EFAULT or ENAMETOOLONG.
int ReadPath(GuestState& g, uint64_t addr, std::string* out);
// Resolves `path` against `dirfd` (AT_FDCWD: the cwd; ignored for an absolute path): 0 or the
// kernel's errno (EBADF for a closed dirfd, ENOTDIR for one that is no directory, ENOENT for an
// empty path, and the walk's own).
int ResolveAt(GuestState& g, int64_t dirfd, std::string_view path, fs::ResolveOptions options,
              fs::Location* out);
// The directory that would hold `path`'s last component (which need not exist).
int ResolveParent(GuestState& g, int64_t dirfd, std::string_view path, fs::Location* out);

enum class WriteKind {
  kModify,  // the path must exist (chmod, chown, truncate, utimes, setxattr)
  kCreate,  // a new name: EEXIST when it exists (mkdir, mknod, symlink, link's new name)
  kRemove,  // a name in an existing directory (unlink, rmdir, rename)
};
// The errno a write to `path` outside the scratch gets: the kernel's earlier checks, then EROFS.
int RefuseWrite(GuestState& g, int64_t dirfd, std::string_view path, WriteKind kind,
                uint64_t at_flags);

// mkdir, unlink, rename, ... : EROFS once the path is found valid (the kernel's order); then
// the scratch's own (RegisterScratchHandlers) over them.
void RegisterFsWriteHandlers(HandlerTable& table);
// The same calls inside the scratch, and write/ftruncate of its files (fs_scratch_handlers.cc).
void RegisterScratchHandlers(HandlerTable& table);

}  // namespace zerocell::sandbox::supervisor

#endif  // ZEROCELL_SANDBOX_SUPERVISOR_FS_PATH_H_
