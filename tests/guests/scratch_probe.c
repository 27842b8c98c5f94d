// Guest: the writable scratch at /tmp as a program uses it. Prints "key=value" lines (a value, or
// "E<errno>"). The run's manifest gives /tmp 65,536 bytes and 8 files; what is left at the end
// (checked against the run's ScratchResult): /tmp/d, /tmp/d/g (13 bytes), /tmp/d/s.txt (18
// bytes), /tmp/n0../tmp/n4.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *key, long r) {
  if (r < 0) {
    printf("%s=E%d\n", key, errno);
  } else {
    printf("%s=%ld\n", key, r);
  }
}

static char big[70000];

int main(void) {
  // Create, write, read back, stat.
  int fd = open("/tmp/f", O_CREAT | O_RDWR | O_EXCL, 0644);
  put("open_creat", fd >= 0 ? 0 : -1);
  put("write", write(fd, "hello scratch", 13));
  lseek(fd, 0, SEEK_SET);
  char buf[64] = {0};
  put("read", read(fd, buf, sizeof(buf) - 1));
  printf("readback=%s\n", buf);
  struct stat st;
  fstat(fd, &st);
  printf("size=%ld mode=%o nlink=%ld\n", (long)st.st_size, st.st_mode, (long)st.st_nlink);
  close(fd);
  put("excl_again", open("/tmp/f", O_CREAT | O_RDWR | O_EXCL, 0644));

  // Directories, rename, listing.
  put("mkdir", mkdir("/tmp/d", 0755));
  put("rename", rename("/tmp/f", "/tmp/d/g"));
  put("stat_old", stat("/tmp/f", &st));
  FILE *f = fopen("/tmp/d/s.txt", "w");
  fputs("line one\nline two\n", f);
  fclose(f);
  f = fopen("/tmp/d/s.txt", "r");
  char line[32] = {0};
  fgets(line, sizeof(line), f);
  fgets(line, sizeof(line), f);
  fclose(f);
  line[strcspn(line, "\n")] = 0;
  printf("stdio_line2=%s\n", line);
  DIR *dir = opendir("/tmp/d");
  struct dirent *e;
  printf("list=");
  while ((e = readdir(dir)) != NULL) printf("%s,", e->d_name);
  printf("\n");
  closedir(dir);
  put("rmdir_full", rmdir("/tmp/d"));
  put("chdir", chdir("/tmp/d"));
  printf("cwd=%s\n", getcwd(buf, sizeof(buf)) ? buf : "E");
  fd = open("g", O_RDONLY);
  memset(buf, 0, sizeof(buf));
  read(fd, buf, 5);
  close(fd);
  printf("relative=%s\n", buf);
  chdir("/");

  // A private mapping shows the bytes; a shared one is refused.
  fd = open("/tmp/d/g", O_RDWR);
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    printf("mmap_private=E%d\n", errno);
  } else {
    p[0] = 'H';  // private: the file keeps its bytes
    printf("mmap_private=%.13s\n", p);
    munmap(p, 4096);
  }
  p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  printf("mmap_shared=%s\n", p == MAP_FAILED ? (errno == ENODEV ? "ENODEV" : "other") : "mapped");
  memset(buf, 0, sizeof(buf));
  pread(fd, buf, 5, 0);
  printf("after_map=%s\n", buf);
  close(fd);

  // Outside the scratch: read-only, and no rename across its edge.
  put("rename_out", rename("/tmp/d/g", "/etc/g"));
  put("creat_etc", open("/etc/new", O_CREAT | O_WRONLY, 0644));
  put("mkdir_etc", mkdir("/etc/d", 0755));

  // The byte quota: a write cut short to what fits, then EDQUOT.
  int q = open("/tmp/q", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  memset(big, 'q', sizeof(big));
  put("quota_write1", write(q, big, sizeof(big)));
  put("quota_write2", write(q, big, 1));
  // Unlinked while open: its bytes stay until the close.
  put("unlink_open", unlink("/tmp/q"));
  put("stat_unlinked", stat("/tmp/q", &st));
  close(q);

  // The file quota: /tmp/d, g, s.txt are 3 of 8; /tmp/q went.
  int created = 0;
  char name[32];
  for (;;) {
    snprintf(name, sizeof(name), "/tmp/n%d", created);
    int n = open(name, O_CREAT | O_WRONLY, 0644);
    if (n < 0) break;
    close(n);
    ++created;
  }
  printf("created=%d errno=%d\n", created, errno);
  put("mkdir_over", mkdir("/tmp/over", 0755));
  return 0;
}
