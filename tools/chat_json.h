/*
 * tools/chat_json.h: the chat message format of `wsx serve`.
 *
 * Browsers send {"name": "...", "text": "..."}; the server checks it and
 * broadcasts {"name": "...", "text": "...", "time": <ms since the epoch>},
 * stamped with its own clock. The strings are copied through in their JSON
 * form (escapes kept), so nothing is decoded or allocated.
 */
#ifndef WSX_TOOLS_CHAT_JSON_H
#define WSX_TOOLS_CHAT_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Largest accepted input message, in bytes. */
#define CHAT_MAX_INPUT 4096
/* Longest "name" and "text" values, in bytes of their JSON form. */
#define CHAT_MAX_NAME 128
#define CHAT_MAX_TEXT 4000
/* Room for any output: both strings at their limits plus the frame. */
#define CHAT_MAX_OUTPUT (CHAT_MAX_NAME + CHAT_MAX_TEXT + 64)

/*
 * Checks `in` (len bytes of UTF-8, as the WebSocket layer validated it):
 * one JSON object whose members are all strings, with a non-empty "name"
 * and "text" within the limits (other members are ignored, duplicates
 * refused). Writes the broadcast form into out[cap] (cap >=
 * CHAT_MAX_OUTPUT). Returns the output length, or -1 with *why set to a
 * static explanation.
 */
long chat_format(const char *in, size_t len, uint64_t time_ms, char *out,
                 size_t cap, const char **why);

#endif /* WSX_TOOLS_CHAT_JSON_H */
