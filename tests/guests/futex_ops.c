// Guest: tries each futex operation and prints "<op>=<result or -errno>". The plain wait/wake
// family must work (the kernel answers); PI, requeue and wake-op must fail with ENOSYS:
// FUTEX_TRYLOCK_PI on a word holding N would tell whether host pid N exists.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

// <linux/futex.h> is not in musl's include path: the kernel's numbers.
enum {
  FUTEX_WAIT = 0,
  FUTEX_WAKE = 1,
  FUTEX_CMP_REQUEUE = 4,
  FUTEX_WAKE_OP = 5,
  FUTEX_UNLOCK_PI = 7,
  FUTEX_TRYLOCK_PI = 8,
  FUTEX_WAKE_BITSET = 10,
  FUTEX_PRIVATE_FLAG = 128,
};

static uint32_t word;
static uint32_t other;

static void Try(const char *name, int op, uint32_t value, uint32_t val3) {
  word = value;
  long r = syscall(SYS_futex, &word, op, 0, NULL, &other, val3);
  printf("%s=%ld\n", name, r < 0 ? -(long)errno : r);
}

int main(void) {
  Try("wake_private", FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 0, 0);
  Try("wake", FUTEX_WAKE, 0, 0);
  Try("wait_mismatch_private", FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 5, 0);  // word != 0: EAGAIN at once
  Try("wake_bitset", FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 0, 0xffffffff);
  Try("trylock_pi_init", FUTEX_TRYLOCK_PI, 1, 0);  // word = pid 1
  Try("trylock_pi_free", FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, 0, 0);
  Try("unlock_pi", FUTEX_UNLOCK_PI, 0, 0);
  Try("cmp_requeue", FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 0);
  Try("wake_op", FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 0, 0);
  return 0;
}
