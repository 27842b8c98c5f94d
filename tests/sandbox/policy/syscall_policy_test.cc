// Syscall policy unit tests: the compiled BPF program (run here by a small classic-BPF
// interpreter, never installed) and syscall naming for native and foreign ABIs.
#include "sandbox/policy/syscall_policy.h"

#include <asm/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sandbox/launch/launch_spec.h"
#include "tests/testing/status_matchers.h"

using ::zerocell::testing::IsOk;

namespace zerocell::sandbox {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;

// Runs a classic BPF program over one seccomp_data; returns the RET value.
// Fails the test (and returns 0 = KILL) on anything malformed.
uint32_t RunBpf(const std::string& bpf, const seccomp_data& data) {
  std::vector<sock_filter> prog(bpf.size() / sizeof(sock_filter));
  memcpy(prog.data(), bpf.data(), prog.size() * sizeof(sock_filter));
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS && BPF_SIZE(f.code) == BPF_W) {
          if (f.k % 4 != 0 || f.k + 4 > sizeof(data)) {
            ADD_FAILURE() << "bad load offset " << f.k;
            return 0;
          }
          memcpy(&a, bytes + f.k, 4);
        } else if (BPF_MODE(f.code) == BPF_IMM) {
          a = f.k;
        } else if (BPF_MODE(f.code) == BPF_MEM) {
          a = mem[f.k % BPF_MEMWORDS];
        } else {
          ADD_FAILURE() << "unsupported ld " << f.code;
          return 0;
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(f.code) == BPF_MEM ? mem[f.k % BPF_MEMWORDS] : f.k;
        break;
      case BPF_ST:
        mem[f.k % BPF_MEMWORDS] = a;
        break;
      case BPF_STX:
        mem[f.k % BPF_MEMWORDS] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_XOR:
            a ^= src;
            break;
          case BPF_LSH:
            a <<= src;
            break;
          case BPF_RSH:
            a >>= src;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            ADD_FAILURE() << "unsupported alu " << f.code;
            return 0;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool taken = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            taken = a == src;
            break;
          case BPF_JGT:
            taken = a > src;
            break;
          case BPF_JGE:
            taken = a >= src;
            break;
          case BPF_JSET:
            taken = (a & src) != 0;
            break;
          default:
            ADD_FAILURE() << "unsupported jmp " << f.code;
            return 0;
        }
        pc += taken ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
    }
  }
  ADD_FAILURE() << "program ran off its end";
  return 0;
}

class PolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<CompiledPolicy>> p = CompiledPolicy::Build();
    ASSERT_THAT(p, IsOk());
    policy_ = p->release();
  }
  static void TearDownTestSuite() {
    delete policy_;
    policy_ = nullptr;
  }

  static uint32_t Action(int64_t nr, std::initializer_list<uint64_t> args = {},
                         uint32_t arch = AUDIT_ARCH_X86_64) {
    seccomp_data d = {};
    d.nr = static_cast<int>(nr);
    d.arch = arch;
    d.instruction_pointer = 0x401000;
    size_t i = 0;
    for (uint64_t v : args) d.args[i++] = v;
    return RunBpf(policy_->bpf(), d) & SECCOMP_RET_ACTION_FULL;
  }

  static CompiledPolicy* policy_;
};

CompiledPolicy* PolicyTest::policy_ = nullptr;

TEST_F(PolicyTest, BuildProducesWholeInstructions) {
  ASSERT_NE(policy_, nullptr);
  EXPECT_FALSE(policy_->bpf().empty());
  EXPECT_EQ(policy_->bpf().size() % sizeof(sock_filter), 0u);
  EXPECT_EQ(policy_->instruction_count(), policy_->bpf().size() / 8);
  EXPECT_LE(policy_->instruction_count(), static_cast<uint64_t>(BPF_MAXINSNS));
}

TEST_F(PolicyTest, BuildIsReproducible) {
  absl::StatusOr<std::unique_ptr<CompiledPolicy>> again = CompiledPolicy::Build();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->bpf(), policy_->bpf());
}

TEST_F(PolicyTest, SelfContainedCallsRunInTheKernel) {
  for (int nr : {SYS_exit, SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_futex, SYS_munmap}) {
    EXPECT_EQ(Action(nr), SECCOMP_RET_ALLOW) << nr;
  }
}

TEST_F(PolicyTest, EverythingElseIsNotified) {
  for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_socket, SYS_fork, SYS_clone, SYS_execve,
                 SYS_ptrace, SYS_kill, SYS_mmap, SYS_exit_group, SYS_getpid, SYS_clock_gettime,
                 SYS_getrandom, SYS_ioctl, SYS_prctl, SYS_seccomp, 999}) {
    EXPECT_EQ(Action(nr), SECCOMP_RET_USER_NOTIF) << nr;
  }
}

TEST_F(PolicyTest, TreeFileReadsRunInTheKernelOnlyInTheTreeRange) {
  const uint64_t lo = launch::kGuestFdLimit / 2, hi = launch::kGuestFdLimit;
  for (int nr : {SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2, SYS_lseek}) {
    EXPECT_EQ(Action(nr, {lo}), SECCOMP_RET_ALLOW) << nr;
    EXPECT_EQ(Action(nr, {hi - 1}), SECCOMP_RET_ALLOW) << nr;
    // Channels, directories and anything past the range are the supervisor's.
    for (uint64_t fd : {uint64_t{0}, uint64_t{3}, lo - 1, hi, hi + lo, uint64_t{0xffffffff}}) {
      EXPECT_EQ(Action(nr, {fd}), SECCOMP_RET_USER_NOTIF) << nr << " fd " << fd;
    }
  }
  // The kernel reads an unsigned int: high bits do not matter (the number is the low 32).
  EXPECT_EQ(Action(SYS_read, {(uint64_t{1} << 32) | lo}), SECCOMP_RET_ALLOW);
  // Everything else on those fds stays notified (fstat would show the memfd's inode).
  for (int nr : {SYS_fstat, SYS_fcntl, SYS_ioctl, SYS_mmap, SYS_close, SYS_dup, SYS_write,
                 SYS_fchmod, SYS_ftruncate, SYS_getdents64, SYS_sendfile}) {
    EXPECT_EQ(Action(nr, {lo}), SECCOMP_RET_USER_NOTIF) << nr;
  }
}

TEST_F(PolicyTest, MprotectOnlyWithoutProtExec) {
  EXPECT_EQ(Action(SYS_mprotect, {0x1000, 0x1000, PROT_READ | PROT_WRITE}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Action(SYS_mprotect, {0x1000, 0x1000, PROT_NONE}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Action(SYS_mprotect, {0x1000, 0x1000, PROT_READ | PROT_EXEC}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_mprotect, {0x1000, 0x1000, PROT_EXEC}), SECCOMP_RET_USER_NOTIF);
}

TEST_F(PolicyTest, MadviseOnlyHintsAndDontneedInTheKernel) {
  for (uint64_t advice : std::initializer_list<uint64_t>{MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
                                                         MADV_WILLNEED, MADV_DONTNEED}) {
    EXPECT_EQ(Action(SYS_madvise, {0x1000, 0x1000, advice}), SECCOMP_RET_ALLOW) << advice;
    // With high bits set (the kernel reads an int) the supervisor decides on the int value.
    EXPECT_EQ(Action(SYS_madvise, {0x1000, 0x1000, (uint64_t{1} << 32) | advice}),
              SECCOMP_RET_USER_NOTIF)
        << advice;
  }
  // Everything else goes to the supervisor, which may answer it without the kernel.
  for (uint64_t advice : std::initializer_list<uint64_t>{
           MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_MERGEABLE, MADV_HUGEPAGE, MADV_WIPEONFORK,
           MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_WRITE, uint64_t{25} /*MADV_COLLAPSE*/,
           uint64_t{102} /*MADV_GUARD_INSTALL*/, uint64_t{1000}}) {
    EXPECT_EQ(Action(SYS_madvise, {0x1000, 0x1000, advice}), SECCOMP_RET_USER_NOTIF) << advice;
  }
}

TEST_F(PolicyTest, ArchPrctlOnlyForTls) {
  for (uint64_t code : {ARCH_SET_FS, ARCH_GET_FS, ARCH_SET_GS, ARCH_GET_GS}) {
    EXPECT_EQ(Action(SYS_arch_prctl, {code}), SECCOMP_RET_ALLOW) << code;
  }
  EXPECT_EQ(Action(SYS_arch_prctl, {ARCH_SET_CPUID}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_arch_prctl, {ARCH_GET_CPUID}), SECCOMP_RET_USER_NOTIF);
  // The full 64-bit argument is compared: high bits do not alias ARCH_SET_FS.
  EXPECT_EQ(Action(SYS_arch_prctl, {(uint64_t{1} << 32) | ARCH_SET_FS}), SECCOMP_RET_USER_NOTIF);
}

TEST_F(PolicyTest, HandoffCallsOnlyInTheirExactForm) {
  EXPECT_EQ(Action(SYS_sendmsg, {3, 0x1000, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Action(SYS_sendmsg, {4, 0x1000, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_close_range, {0, 0xffffffffu, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Action(SYS_close_range, {3, 0xffffffffu, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_close_range, {0, 10, 0}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_close_range, {0, 0xffffffffu, 4}), SECCOMP_RET_USER_NOTIF);
}

TEST_F(PolicyTest, ForeignAbisAreNotifiedNeverAllowed) {
  // i386 (int 0x80) numbers of calls allowed natively: exit = 1, munmap = 91.
  for (int nr : {1, 91, 20, 4}) {
    EXPECT_EQ(Action(nr, {}, AUDIT_ARCH_I386), SECCOMP_RET_USER_NOTIF) << nr;
  }
  for (int nr : {SYS_exit, SYS_futex, SYS_munmap, SYS_getpid}) {
    EXPECT_EQ(Action(kX32Bit | nr), SECCOMP_RET_USER_NOTIF) << nr;
  }
  EXPECT_EQ(Action(kX32Bit | SYS_mprotect, {0x1000, 0x1000, PROT_READ}), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Action(SYS_exit, {}, AUDIT_ARCH_AARCH64), SECCOMP_RET_USER_NOTIF);
}

TEST(SyscallNameTest, NativeNames) {
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, 41), "socket");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, SYS_fork), "fork");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, SYS_clone), "clone");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, SYS_vfork), "vfork");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, SYS_execve), "execve");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, SYS_ptrace), "ptrace");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, 0), "read");
}

TEST(SyscallNameTest, ForeignAbisArePrefixed) {
  EXPECT_EQ(SyscallName(AUDIT_ARCH_I386, 20), "i386:getpid");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_I386, 4), "i386:write");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, kX32Bit | 39), "x32:getpid");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, kX32Bit | 41), "x32:socket");
}

TEST(SyscallNameTest, UnknownNumbers) {
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, 999), "syscall_999");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_X86_64, -1), "syscall_-1");
  EXPECT_EQ(SyscallName(AUDIT_ARCH_I386, 9999), "i386:syscall_9999");
  const std::string other = SyscallName(AUDIT_ARCH_AARCH64, 1);
  EXPECT_NE(other.find("syscall_1"), std::string::npos) << other;
  EXPECT_NE(other, SyscallName(AUDIT_ARCH_X86_64, 1));
}

}  // namespace
}  // namespace zerocell::sandbox
