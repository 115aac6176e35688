/*
 * tests/unit/fatal_rule.h: the fatal rule shared by test_contracts.c and
 * test_reentry.c: after a driver call returns an error, wsx_is_fatal(rc)
 * must equal "the driver is CLOSED" (wsx/common.h), and a call that closed
 * the driver leaves its code in wsx_driver_last_error().
 */
#ifndef WSX_TESTS_FATAL_RULE_H
#define WSX_TESTS_FATAL_RULE_H

#include "../conformance/harness.h"

static int rule_checks;

/* `closed_before`: the driver was CLOSED before the call. */
static __attribute__((unused)) void rule_(wsx_driver *d, int closed_before, int rc, const char *what,
                  int line) {
  rule_checks++;
  if (rc == WSX_OK || (rc == WSX_E_CLOSED && closed_before))
    return;
  int closed = wsx_driver_ready_state(d) == WSX_CLOSED;
  if (wsx_is_fatal(rc) != closed)
    TEST_FAILF_("line %d: %s returned %d (%s, fatal %d) with ready_state %d",
                line, what, rc, wsx_strerror(rc), wsx_is_fatal(rc),
                wsx_driver_ready_state(d));
  if (closed && !closed_before && wsx_is_fatal(rc))
    CHECK_INT(wsx_driver_last_error(d, NULL), rc);
}

#define RULE(d, call)                                                          \
  do {                                                                         \
    int cb_ = wsx_driver_ready_state(d) == WSX_CLOSED;                         \
    int rc_ = (call);                                                          \
    rule_((d), cb_, rc_, #call, __LINE__);                                     \
  } while (0)

static __attribute__((unused)) int parse_copy(wsx_driver *d, const uint8_t *p, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  if (n)
    memcpy(c, p, n);
  int rc = wsx_driver_parse(d, c, n);
  free(c);
  return rc;
}

#endif
