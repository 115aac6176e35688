/*
 * tools/demo_page.h: the files of the page `wsx serve` shows, embedded in
 * the binary (tools/demo_page.c is generated from tools/demo/ by
 * tools/demo/embed.cmake).
 */
#ifndef WSX_TOOLS_DEMO_PAGE_H
#define WSX_TOOLS_DEMO_PAGE_H

#include <stddef.h>

typedef struct wsx_demo_file {
  const char *path;         /* URL path: "/", "/app.js", ... */
  const char *content_type; /* Content-Type header value */
  const char *data;         /* the file's bytes (static storage) */
  size_t len;
} wsx_demo_file;

extern const wsx_demo_file wsx_demo_files[];
extern const size_t wsx_demo_num_files;

#endif /* WSX_TOOLS_DEMO_PAGE_H */
