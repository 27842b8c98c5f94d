// Guest: nanosleep(10 s) between two clock readings. Under the virtual clock the sleep returns at
// once and both clocks advance by 10 s. Prints "realtime_before=S.NNNNNNNNN",
// "monotonic_before=...", "nanosleep=<ret>", "realtime_after=...", "monotonic_after=...".
#include <stdio.h>
#include <time.h>

static void show(const char *name, clockid_t id) {
  struct timespec ts = {0, 0};
  int r = clock_gettime(id, &ts);
  printf("%s=%lld.%09ld%s\n", name, (long long)ts.tv_sec, ts.tv_nsec, r == 0 ? "" : " FAILED");
}

int main(void) {
  show("realtime_before", CLOCK_REALTIME);
  show("monotonic_before", CLOCK_MONOTONIC);
  struct timespec req = {10, 0};
  printf("nanosleep=%d\n", nanosleep(&req, NULL));
  show("realtime_after", CLOCK_REALTIME);
  show("monotonic_after", CLOCK_MONOTONIC);
  return 0;
}
