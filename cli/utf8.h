/*
 * utf8.h - decoding one UTF-8 sequence, so that writers can replace invalid bytes with
 * U+FFFD and their files stay valid UTF-8 (XML and pandas.read_csv refuse anything else).
 * Leaves out normalization and any other encoding.
 */
#ifndef CLI_UTF8_H
#define CLI_UTF8_H

#include <stddef.h>

/* The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER. */
#define CLI_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Decodes the sequence at s (n >= 1 bytes available): returns its length (1-4) with the
 * code point in *cp, or 0 when the bytes are not valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence). */
int cli_utf8_decode(const unsigned char *s, size_t n, unsigned long *cp);

#endif
