/*
 * hixie.c: the pre-RFC drafts (draft-hixie-thewebsocketprotocol-75/-76).
 * Detection lives here; the handshake and framing are being written (issue
 * 6): until then a draft request is refused.
 */
#include "driver/driver_int.h"

int wsx__hixie_detect(const wsx_http_request *req) {
  const wsx_header *h = req->headers;
  size_t n = req->num_headers, len;
  if (wsx_header_find(h, n, "sec-websocket-version", &len))
    return 0;
  if (!wsx_header_has_token(h, n, "upgrade", "websocket"))
    return 0;
  if (wsx_header_find(h, n, "sec-websocket-key1", &len) &&
      wsx_header_find(h, n, "sec-websocket-key2", &len))
    return WSX__HIXIE76;
  if (wsx_header_find(h, n, "sec-websocket-key", &len))
    return 0;
  return WSX__HIXIE75;
}

int wsx__hixie_start(wsx_driver *d) {
  return wsx__fail(d, WSX_E_UNSUPPORTED, 0, "draft protocols not available");
}

int wsx__hixie_parse(wsx_driver *d, uint8_t *p, size_t len) {
  (void)p;
  (void)len;
  return wsx__fail(d, WSX_E_UNSUPPORTED, 0, "draft protocols not available");
}

int wsx__hixie_send_text(wsx_driver *d, const void *data, size_t len) {
  (void)d;
  (void)data;
  (void)len;
  return WSX_E_UNSUPPORTED;
}

int wsx__hixie_close(wsx_driver *d) {
  wsx__fire_close(d, WSX_CLOSE_NORMAL, "", 0, 0);
  return WSX_OK;
}
