/* Example guest: prints what it can observe of its world; identical on every run. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  unsigned char r[8];
  getrandom(r, sizeof r, 0);
  struct utsname u;
  uname(&u);
  int local = 0;
  void* heap = malloc(64);
  printf("time     %lld.%06ld\n", (long long)now.tv_sec, now.tv_nsec / 1000);
  printf("random   %02x%02x%02x%02x%02x%02x%02x%02x\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
         r[7]);
  printf("pid      %d  uid %d\n", (int)getpid(), (int)getuid());
  printf("uname    %s %s %s %s\n", u.sysname, u.nodename, u.release, u.machine);
  printf("stack    %p  heap %p\n", (void*)&local, heap);
  int fd = open("/etc/passwd", O_RDONLY);
  printf("open(\"/etc/passwd\") = %d (the host filesystem does not exist here)\n", fd);
  sleep(3600); /* advances the virtual clock by an hour, instantly */
  clock_gettime(CLOCK_REALTIME, &now);
  printf("after sleep(3600): %lld s\n", (long long)now.tv_sec);
  free(heap);
  return 0;
}
