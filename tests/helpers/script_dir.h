/*
 * tests/helpers/script_dir.h: a fresh temporary directory with a shell
 * script run in it, for tests that make fixtures with command-line tools
 * (certificates with the openssl CLI). Linked into every test program.
 */
#ifndef WSX_TEST_SCRIPT_DIR_H
#define WSX_TEST_SCRIPT_DIR_H

#include <stddef.h>

/* Makes /tmp/<prefix>-XXXXXX (its name into dir[0..dirlen)), writes
 * `script` to gen.sh there and runs it with sh, the directory as $1, output
 * to gen.log. Returns 0 on success; on failure dir holds the directory if
 * it was made (so gen.log can be read), else "". */
int tc_script_dir(const char *prefix, const char *script, char *dir,
                  size_t dirlen);
/* Removes the directory (if dir is not "") and clears dir. */
void tc_rm_dir(char *dir);
/* "dir/name" in one of 8 static buffers used in turn, so up to 8 results
 * may be live at once (one call's arguments, say). */
const char *tc_path(const char *dir, const char *name);

#endif
