#include "script_dir.h"

#include <stdio.h>
#include <stdlib.h>

int tc_script_dir(const char *prefix, const char *script, char *dir,
                  size_t dirlen) {
  char cmd[1024];
  FILE *f;
  snprintf(dir, dirlen, "/tmp/%s-XXXXXX", prefix);
  if (!mkdtemp(dir)) {
    dir[0] = '\0';
    return -1;
  }
  snprintf(cmd, sizeof(cmd), "%s/gen.sh", dir);
  if (!(f = fopen(cmd, "w")))
    return -1;
  fputs(script, f);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "sh '%s/gen.sh' '%s' >'%s/gen.log' 2>&1", dir, dir,
           dir);
  return system(cmd) == 0 ? 0 : -1;
}

void tc_rm_dir(char *dir) {
  char cmd[1024];
  if (!dir[0])
    return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  dir[0] = '\0';
}

const char *tc_path(const char *dir, const char *name) {
  static char bufs[8][320];
  static unsigned i;
  char *b = bufs[i++ % 8];
  snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
  return b;
}
