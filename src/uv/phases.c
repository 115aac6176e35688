/*
 * The socket core's dispatch table: which operations apply in each phase
 * (uv/internal.h). The only place that names every phase's owner; conn.c
 * itself knows only wsx__phase_ops.
 */
#include "uv/internal.h"

/* After our FIN: the peer's bytes no longer matter; its EOF or the linger
 * deadline closes the handle (the core's defaults). */
static const wsx__phase_ops teardown_phase = {NULL, NULL, NULL, NULL};

const wsx__phase_ops *const wsx__phases[WSX__P_COUNT] = {
    [WSX__P_HEAD] = &wsx__front_phase,
    [WSX__P_REQUEST] = &wsx__front_phase,
    [WSX__P_HTTP] = &wsx__http_phase,
    [WSX__P_DIAL] = &wsx__dial_phase,
    [WSX__P_PROXY] = &wsx__proxy_phase,
    [WSX__P_CLIENT_HS] = &wsx__client_hs_phase,
    [WSX__P_WS] = &wsx__ws_phase,
    [WSX__P_TEARDOWN] = &teardown_phase,
#ifdef WSX_HAVE_HTTP2
    [WSX__P_H2] = &wsx__h2_phase,
#else
    [WSX__P_H2] = &teardown_phase, /* never entered */
#endif
};
