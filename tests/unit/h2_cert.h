/*
 * tests/unit/h2_cert.h: the self-signed server certificate of the HTTP/2
 * tests (test_uv_h2.c, test_uv_h2c.c). TEST_MAIN runs
 * tc_script_dir(prefix, h2_gen_script, dir, sizeof(dir)), which makes a
 * fresh folder and writes srv.pem / srv.key (P-256, CN and SAN localhost,
 * 127.0.0.1) into it; P(name) is a path in that folder (four rotating
 * buffers, so a call may use up to four at once).
 */
#ifndef WSX_TESTS_H2_CERT_H
#define WSX_TESTS_H2_CERT_H

#include "helpers/script_dir.h"

static char dir[64];
static const char h2_gen_script[] =
    "set -e\ncd \"$1\"\n"
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
    "-nodes -keyout srv.key -out srv.pem -days 30 -subj /CN=localhost "
    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1\n";

/* A path in the certificate directory (tc_path). */
static const char *P(const char *name) { return tc_path(dir, name); }

#endif
