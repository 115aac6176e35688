/* Error names and the library version check (see include/wsx/common.h). */
#include "wsx/common.h"

const char *wsx_strerror(int err) {
  switch (err) {
  case WSX_OK:
    return "success";
  case WSX_E_INVALID:
    return "invalid argument";
  case WSX_E_STATE:
    return "operation not allowed in the current state";
  case WSX_E_NOMEM:
    return "out of memory";
  case WSX_E_HEADER_VALUE:
    return "header name or value contains CR, LF or NUL";
  case WSX_E_URL:
    return "invalid or unsupported URL";
  case WSX_E_UNSUPPORTED:
    return "not supported by this protocol version";
  case WSX_E_TOO_BIG:
    return "payload too large";
  case WSX_E_CLOSED:
    return "connection is closing or closed";
  case WSX_E_AGAIN:
    return "incomplete input, more bytes needed";
  case WSX_E_BUSY:
    return "resource busy";
  case WSX_E_TIMEOUT:
    return "timed out";
  case WSX_E_EXTENSION:
    return "extension negotiation or processing failed";
  case WSX_E_IO:
    return "transport error";
  case WSX_E_TLS:
    return "TLS error";
  case WSX_E_DNS:
    return "name resolution failed";
  case WSX_E_PROXY:
    return "proxy error";
  case WSX_E_STRUCT_SIZE:
    return "struct_size of an options or callbacks struct is 0 or unknown "
           "(use its WSX_..._INIT macro)";
  case WSX_E_PROTOCOL:
    return "protocol error";
  case WSX_E_UTF8:
    return "invalid UTF-8";
  case WSX_E_MESSAGE_TOO_BIG:
    return "message too big";
  case WSX_E_HANDSHAKE:
    return "opening handshake failed";
  case WSX_E_HTTP:
    return "malformed HTTP message";
  case WSX_E_HEAD_TOO_BIG:
    return "HTTP head too large";
  case WSX_E_POLICY:
    return "policy violation";
  case WSX_E_INTERNAL:
    return "internal error (a bug in wsx, or no random source)";
  case WSX_E_NOMEM_FATAL:
    return "out of memory (the connection was closed)";
  default:
    return "unknown error";
  }
}

int wsx_is_fatal(int err) {
  return (err <= WSX_E_FATAL && err >= WSX_E_NOMEM_FATAL) || err == WSX_E_IO ||
         err == WSX_E_EXTENSION;
}

const char *wsx_version(int least) {
  if (least != 0 && WSX_VERSION_NUM < least)
    return NULL;
  return WSX_VERSION_STR;
}

int wsx_version_num(void) { return WSX_VERSION_NUM; }

int wsx_abi_compatible(int header_version) {
  int major = (header_version >> 16) & 0xff;
  int minor = (header_version >> 8) & 0xff;
  if (header_version < 0 || major != WSX_VERSION_MAJOR)
    return 0;
  if (major == 0 && minor != WSX_VERSION_MINOR)
    return 0;
  return header_version <= WSX_VERSION_NUM;
}
