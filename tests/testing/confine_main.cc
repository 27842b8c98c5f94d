// zerocell-test-confine: runs a command the way a restricted Kubernetes pod runs its process.
//
//   zerocell-test-confine [--uid=N] [--gid=N] [--seccomp=PROFILE.json] -- COMMAND [ARGS...]
//
// As root it empties the capability bounding set, switches to uid/gid N (default 65534) with no
// supplementary groups and no capabilities left; as any user it then sets no-new-privs, loads the
// OCI/Docker seccomp profile (moby's default.json format: defaultAction, architectures,
// syscalls[].names/action/errnoRet/args/includes/excludes) compiled with libseccomp the way a
// container runtime does for a container without capabilities, and execs COMMAND. Tests use it to
// run the engine, CLI and service suites unprivileged and under the runtime's default profile
// without a container runtime.
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

[[noreturn]] void Die(const std::string& message) {
  fprintf(stderr, "zerocell-test-confine: %s\n", message.c_str());
  exit(125);
}

const Value* Field(const Struct& s, const char* name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::vector<std::string> Strings(const Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->has_list_value()) return out;
  for (const Value& item : v->list_value().values()) out.push_back(item.string_value());
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  for (const std::string& s : list) {
    if (s == item) return true;
  }
  return false;
}

// "6.18.44-foo" -> {6, 18}.
std::pair<int, int> KernelVersion(const std::string& release) {
  std::vector<std::string> parts = absl::StrSplit(release, absl::ByAnyChar(".-"));
  int major = 0, minor = 0;
  if (parts.size() > 1) {
    (void)absl::SimpleAtoi(parts[0], &major);
    (void)absl::SimpleAtoi(parts[1], &minor);
  }
  return {major, minor};
}

uint32_t Action(const std::string& name, const Value* errno_ret, uint32_t default_errno) {
  const uint32_t err =
      errno_ret != nullptr ? static_cast<uint32_t>(errno_ret->number_value()) : default_errno;
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(err);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(err);
  Die(absl::StrCat("unknown action ", name));
}

scmp_compare Op(const std::string& name) {
  if (name == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (name == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (name == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (name == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (name == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (name == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (name == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  Die(absl::StrCat("unknown comparison ", name));
}

// Whether a rule applies to an amd64 process with no capabilities on this kernel, as a container
// runtime decides it (includes: all must hold; excludes: none may).
bool Applies(const Struct& rule, std::pair<int, int> kernel) {
  if (const Value* inc = Field(rule, "includes"); inc != nullptr && inc->has_struct_value()) {
    const Struct& i = inc->struct_value();
    if (!Strings(Field(i, "caps")).empty()) return false;  // we hold no capability
    const std::vector<std::string> arches = Strings(Field(i, "arches"));
    if (!arches.empty() && !Contains(arches, "amd64") && !Contains(arches, "x86_64")) return false;
    if (const Value* min = Field(i, "minKernel"); min != nullptr) {
      if (kernel < KernelVersion(min->string_value())) return false;
    }
  }
  if (const Value* exc = Field(rule, "excludes"); exc != nullptr && exc->has_struct_value()) {
    const Struct& e = exc->struct_value();
    const std::vector<std::string> arches = Strings(Field(e, "arches"));
    if (Contains(arches, "amd64") || Contains(arches, "x86_64")) return false;
  }
  return true;
}

scmp_filter_ctx CompileProfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  Struct profile;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &profile).ok()) {
    Die(absl::StrCat(path, ": not a JSON object"));
  }
  const Value* default_errno_v = Field(profile, "defaultErrnoRet");
  const uint32_t default_errno =
      default_errno_v != nullptr ? static_cast<uint32_t>(default_errno_v->number_value()) : EPERM;
  const Value* default_action = Field(profile, "defaultAction");
  if (default_action == nullptr) Die(absl::StrCat(path, ": no defaultAction"));
  scmp_filter_ctx ctx =
      seccomp_init(Action(default_action->string_value(), default_errno_v, default_errno));
  if (ctx == nullptr) Die("seccomp_init failed");
  // The amd64 entry of archMap: the native arch plus the 32-bit and x32 ABIs, so that calls
  // through those are judged by the same rules instead of killing the process.
  seccomp_arch_add(ctx, SCMP_ARCH_X86);
  seccomp_arch_add(ctx, SCMP_ARCH_X32);
  utsname u;
  uname(&u);
  const std::pair<int, int> kernel = KernelVersion(u.release);
  const Value* syscalls = Field(profile, "syscalls");
  if (syscalls == nullptr || !syscalls->has_list_value()) Die(absl::StrCat(path, ": no syscalls"));
  for (const Value& rule_value : syscalls->list_value().values()) {
    const Struct& rule = rule_value.struct_value();
    if (!Applies(rule, kernel)) continue;
    const uint32_t action =
        Action(Field(rule, "action")->string_value(), Field(rule, "errnoRet"), default_errno);
    std::vector<scmp_arg_cmp> args;
    if (const Value* a = Field(rule, "args"); a != nullptr && a->has_list_value()) {
      for (const Value& arg : a->list_value().values()) {
        const Struct& s = arg.struct_value();
        const Value* two = Field(s, "valueTwo");
        args.push_back({static_cast<unsigned>(Field(s, "index")->number_value()),
                        Op(Field(s, "op")->string_value()),
                        static_cast<scmp_datum_t>(Field(s, "value")->number_value()),
                        two ? static_cast<scmp_datum_t>(two->number_value()) : 0});
      }
    }
    for (const std::string& name : Strings(Field(rule, "names"))) {
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: as runtimes do
      // A rule that repeats the default action is redundant; libseccomp refuses it.
      const int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(args.size()),
                                            args.empty() ? nullptr : args.data());
      if (rc != 0 && rc != -EACCES && rc != -EEXIST) {
        Die(absl::StrCat(path, ": rule for ", name, ": ", strerror(-rc)));
      }
    }
  }
  return ctx;
}

void DropPrivileges(uid_t uid, gid_t gid) {
  if (geteuid() != 0) return;  // already unprivileged: keep the uid we have
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    Die(absl::StrCat("switching to uid ", uid, ": ", strerror(errno)));
  }
}

void DropCapabilities() {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  if (syscall(SYS_capset, &header, none) != 0) Die(absl::StrCat("capset: ", strerror(errno)));
}

}  // namespace

int main(int argc, char** argv) {
  uid_t uid = 65534;
  gid_t gid = 65534;
  std::string profile;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (absl::StartsWith(arg, "--uid=")) {
      if (!absl::SimpleAtoi(arg.substr(6), &uid)) Die("--uid: expected a number");
    } else if (absl::StartsWith(arg, "--gid=")) {
      if (!absl::SimpleAtoi(arg.substr(6), &gid)) Die("--gid: expected a number");
    } else if (absl::StartsWith(arg, "--seccomp=")) {
      profile = arg.substr(10);
    } else {
      Die(absl::StrCat("unknown flag ", arg));
    }
  }
  if (i >= argc) Die("usage: zerocell-test-confine [--uid=N] [--gid=N] [--seccomp=F] -- CMD...");
  scmp_filter_ctx ctx = profile.empty() ? nullptr : CompileProfile(profile);
  DropPrivileges(uid, gid);
  DropCapabilities();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die("PR_SET_NO_NEW_PRIVS failed");
  if (access(argv[i], X_OK) != 0) {
    Die(absl::StrCat("cannot execute ", argv[i], " as uid ", geteuid(), ": ", strerror(errno),
                     " (the build directory and its parents must be readable by that user)"));
  }
  if (ctx != nullptr) {
    if (int rc = seccomp_load(ctx); rc != 0) Die(absl::StrCat("seccomp_load: ", strerror(-rc)));
    seccomp_release(ctx);
  }
  execvp(argv[i], argv + i);
  Die(absl::StrCat("exec ", argv[i], ": ", strerror(errno)));
}
