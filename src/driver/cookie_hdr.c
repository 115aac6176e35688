/* wsx_driver_set_cookie: a validated Set-Cookie header on the 101 answer. */
#include "driver/driver_int.h"
#include "wsx/cookie.h"

int wsx_driver_set_cookie(wsx_driver *d, const wsx_set_cookie *cookie) {
  if (!d || !cookie)
    return WSX_E_INVALID;
  if (d->role == WSX__CLIENT)
    return WSX_E_STATE;
  char small[512];
  int n = wsx_cookie_format(cookie, small, sizeof small);
  if (n < 0)
    return n;
  if ((size_t)n < sizeof small)
    return wsx_driver_set_header(d, "Set-Cookie", small);
  char *big = wsx__malloc(d->alloc, (size_t)n + 1);
  if (!big)
    return WSX_E_NOMEM;
  int rc = wsx_cookie_format(cookie, big, (size_t)n + 1);
  if (rc >= 0)
    rc = wsx_driver_set_header(d, "Set-Cookie", big);
  wsx__free(d->alloc, big);
  return rc;
}
