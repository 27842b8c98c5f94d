// Guest: processes inside one run. argv[1] picks a probe; each prints "key=value" lines (a value,
// or "E<errno>") with write(2), never stdio buffers a fork would copy.
//   wait     fork; the child reports its identity and exits 7; the parent waits for it
//   order    three children one after the other each write a line; then the parent
//   fds      a child closes a descriptor its parent keeps; a child reads a tree file whose
//            offset the parent then sees moved (argv[2]: the file)
//   limit    forks until EAGAIN; each child waits in pause(); prints how many it made
//   spin     a child spins forever (its pid printed); the parent waits for it
//   nowait   a child waits in pause() (its pid printed); the parent exits without waiting
//   sleepwait  a child waits in pause() (its pid printed); the parent waits for it
//   mem A B  maps and touches A MiB, forks; the child maps and touches B MiB more
//   rawmem A B  maps and touches A MiB, forks with the raw syscall (the child waits, making no
//            notified call, so the fork stays pending), then maps and touches B MiB more
//   zombies N   N raw forks whose children exit at once, never waited for; prints how many
//            were made and the last error
//   forkwait N  "start", then N times fork, the child exits, the parent waits; prints how many
//   rawspin  a raw-fork child (never paired: it makes no notified call) spins; the parent waits
//   burners N  N children one after the other each spin a while and exit; none is waited for
//   orphans  two children each fork a grandchild (raw fork: no notified call in it) and exit at
//            once; the grandchildren, woken through shared memory, each write a line
//   vfork    vfork; the child exits 5 at once; the parent, resumed, waits for it
//   wipe     a page marked MADV_WIPEONFORK: the child reads zeros, the parent its byte
//   clone    clone with CLONE_THREAD-like flags (refused)
//   sleeper ACTION  a child waits in pause() (its pid printed); then the parent makes a thread
//            (ACTION "clone": a violation), maps argv[3] MiB ("map") or spins ("spin")
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// musl ships no <linux/futex.h>.
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

static void say(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) write(1, buf, (size_t)n);
}

static long put(const char *key, long r) {
  if (r < 0) {
    say("%s=E%d\n", key, errno);
  } else {
    say("%s=%ld\n", key, r);
  }
  return r;
}

// A child that waits in pause() until the run ends it; its pid (or -1) to the parent.
static pid_t sleeping_child(void) {
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  return pid;
}

static void touch(size_t mib) {
  char *p = mmap(0, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    say("mmap=E%d\n", errno);
    _exit(3);
  }
  for (size_t i = 0; i < (mib << 20); i += 4096) p[i] = 1;
}

static int wait_status(pid_t pid) {
  int status = 0;
  pid_t r = waitpid(pid, &status, 0);
  if (r != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "wait";
  if (strcmp(mode, "wait") == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      say("child_getpid=%ld\nchild_getppid=%ld\n", (long)getpid(), (long)getppid());
      _exit(7);
    }
    put("forked", pid);
    int status = 0;
    pid_t r = waitpid(pid, &status, 0);
    say("waited_same=%d\n", r == pid);
    say("status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    say("parent_getpid=%ld\n", (long)getpid());
    errno = 0;
    put("wait_again", waitpid(-1, &status, 0));
  } else if (strcmp(mode, "order") == 0) {
    for (int i = 0; i < 3; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        say("child %d\n", i);
        _exit(0);
      }
      if (pid < 0 || wait_status(pid) != 0) say("fork %d failed\n", i);
    }
    say("parent\n");
  } else if (strcmp(mode, "fds") == 0) {
    int dup_fd = dup(1);
    pid_t pid = fork();
    if (pid == 0) {
      put("child_close", close(dup_fd));
      put("child_write_closed", write(dup_fd, "x", 1));
      _exit(0);
    }
    wait_status(pid);
    put("parent_write", write(dup_fd, "kept\n", 5));
    int fd = open(argv[2], O_RDONLY);
    put("open", fd);
    pid = fork();
    if (pid == 0) {
      char buf[4];
      put("child_read", read(fd, buf, sizeof buf));
      _exit(0);
    }
    wait_status(pid);
    put("parent_offset", lseek(fd, 0, SEEK_CUR));
  } else if (strcmp(mode, "limit") == 0) {
    int made = 0;
    for (;;) {
      pid_t pid = sleeping_child();
      if (pid < 0) {
        say("fork_error=E%d\n", errno);
        break;
      }
      ++made;
    }
    say("made=%d\n", made);
  } else if (strcmp(mode, "spin") == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      for (;;) {
      }
    }
    put("child", pid);
    wait_status(pid);
  } else if (strcmp(mode, "sleepwait") == 0) {
    pid_t pid = sleeping_child();
    put("child", pid);
    wait_status(pid);
  } else if (strcmp(mode, "nowait") == 0) {
    pid_t pid = sleeping_child();
    put("child", pid);
  } else if (strcmp(mode, "mem") == 0) {
    touch((size_t)atoi(argv[2]));
    pid_t pid = fork();
    if (pid == 0) {
      touch((size_t)atoi(argv[3]));
      say("child_mapped=1\n");
      _exit(0);
    }
    put("forked", pid > 0 ? 1 : pid);
    put("child_status", wait_status(pid));
  } else if (strcmp(mode, "rawmem") == 0) {
    volatile int *w = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    touch((size_t)atoi(argv[2]));
    long pid = syscall(SYS_fork);
    if (pid == 0) {
      while (w[0] == 0) syscall(SYS_futex, &w[0], FUTEX_WAIT, 0, 0, 0, 0);
      syscall(SYS_exit_group, 0);
    }
    touch((size_t)atoi(argv[3]));
    say("parent_mapped=1\n");
    w[0] = 1;
    syscall(SYS_futex, &w[0], FUTEX_WAKE, 1, 0, 0, 0);
    put("child_status", wait_status((pid_t)pid));
  } else if (strcmp(mode, "zombies") == 0) {
    int made = 0, last_error = 0;
    for (int i = atoi(argv[2]); i > 0; --i) {
      long pid = syscall(SYS_fork);
      if (pid == 0) syscall(SYS_exit_group, 0);
      if (pid < 0) {
        last_error = errno;
      } else {
        ++made;
      }
    }
    say("made=%d\nfork_error=E%d\n", made, last_error);
  } else if (strcmp(mode, "forkwait") == 0) {
    say("start\n");
    int made = 0;
    for (int i = atoi(argv[2]); i > 0; --i) {
      pid_t pid = fork();
      if (pid == 0) _exit(0);
      if (pid > 0 && wait_status(pid) == 0) ++made;
    }
    say("made=%d\n", made);
  } else if (strcmp(mode, "rawspin") == 0) {
    long pid = syscall(SYS_fork);
    if (pid == 0) {
      for (;;) {
      }
    }
    put("child", pid);
    put("child_status", wait_status((pid_t)pid));
  } else if (strcmp(mode, "burners") == 0) {
    volatile int *w = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const int n = atoi(argv[2]);
    for (int i = 0; i < n && i < 1000; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        for (volatile long k = 0; k < (1L << 28); ++k) {
        }
        w[i] = 1;
        syscall(SYS_futex, &w[i], FUTEX_WAKE, 1, 0, 0, 0);
        syscall(SYS_exit_group, 0);
      }
      if (pid < 0) {
        say("fork_error=E%d\n", errno);
        break;
      }
      while (w[i] == 0) syscall(SYS_futex, &w[i], FUTEX_WAIT, 0, 0, 0, 0);
    }
    say("done\n");
  } else if (strcmp(mode, "orphans") == 0) {
    // w[0]: the grandchildren may go on; w[1]: how many wrote their line.
    volatile int *w = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 2; ++i) {
      pid_t middle = fork();
      if (middle == 0) {
        if (syscall(SYS_fork) == 0) {
          while (w[0] == 0) syscall(SYS_futex, &w[0], FUTEX_WAIT, 0, 0, 0, 0);
          static const char line[] = "grandchild\n";
          syscall(SYS_write, 1, line, sizeof line - 1);
          __atomic_add_fetch(&w[1], 1, __ATOMIC_SEQ_CST);
          syscall(SYS_futex, &w[1], FUTEX_WAKE, 1, 0, 0, 0);
          syscall(SYS_exit_group, 0);
        }
        syscall(SYS_exit_group, 0);  // before its child made any notified call
      }
      wait_status(middle);
    }
    w[0] = 1;
    syscall(SYS_futex, &w[0], FUTEX_WAKE, 16, 0, 0, 0);
    for (int done; (done = w[1]) < 2;) syscall(SYS_futex, &w[1], FUTEX_WAIT, done, 0, 0, 0);
    say("done=%d\n", w[1]);
  } else if (strcmp(mode, "vfork") == 0) {
    pid_t pid = vfork();
    if (pid == 0) _exit(5);
    put("vforked", pid > 0 ? 1 : pid);
    put("child_status", wait_status(pid));
  } else if (strcmp(mode, "wipe") == 0) {
    char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 'x';
    put("madvise", madvise(p, 4096, MADV_WIPEONFORK));
    pid_t pid = fork();
    if (pid == 0) {
      say("child_byte=%d\n", p[0]);
      _exit(0);
    }
    wait_status(pid);
    say("parent_byte=%d\n", p[0]);
  } else if (strcmp(mode, "sleeper") == 0) {
    // A child asleep in the kernel, then argv[2]: "clone" (a violation), "map" (argv[3] MiB more)
    // or "spin": however the run ends, the child must end with it.
    pid_t pid = sleeping_child();
    put("child", pid);
    if (strcmp(argv[2], "clone") == 0) {
      syscall(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | SIGCHLD,
              0, 0, 0, 0);
    } else if (strcmp(argv[2], "map") == 0) {
      touch((size_t)atoi(argv[3]));
    } else {
      for (;;) {
      }
    }
  } else if (strcmp(mode, "clone") == 0) {
    say("start\n");
    long r = syscall(SYS_clone,
                     CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | SIGCHLD, 0,
                     0, 0, 0);
    say("survived=%ld\n", r);
  }
  return 0;
}
