// Guest: signals outside the sandbox must be refused. argv[1]:
//   "foreign": kill(1, SIGKILL) (a pid outside the sandbox: a violation, or EPERM);
//   "self":    kill(getpid(), SIGTERM) (the guest's own virtual pid: SIGNALED 15);
//   "probe":   signal 0 (an existence check, harmless if it leaked) to 1, -1, getppid(),
//              getpid() and 0, printing "kill(<pid>,0)=<ret> errno=<e>" for each.
// Prints "start", and "survived ret=<r> errno=<e>" if a foreign/self call returns.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void probe(pid_t pid) {
  errno = 0;
  int r = kill(pid, 0);
  printf("kill(%d,0)=%d errno=%d\n", (int)pid, r, r < 0 ? errno : 0);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "foreign";
  printf("start\n");
  fflush(stdout);
  if (strcmp(mode, "probe") == 0) {
    probe(1);
    probe(-1);
    probe(getppid());
    probe(getpid());
    probe(0);
    return 0;
  }
  errno = 0;
  long r = strcmp(mode, "self") == 0 ? kill(getpid(), SIGTERM) : kill(1, SIGKILL);
  printf("survived ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
  return 0;
}
