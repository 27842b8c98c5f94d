/* Example guest: tries to open a network socket, which the policy forbids. */
#include <stdio.h>
#include <sys/socket.h>

int main(void) {
  printf("trying socket()...\n");
  fflush(stdout);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  printf("socket() returned %d: this line is never reached\n", fd);
  return 0;
}
