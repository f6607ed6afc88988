/*
 * pin: public-key pins of admin servers, in curl's CURLOPT_PINNEDPUBLICKEY
 * form "sha256//BASE64" (SHA-256 of the DER SubjectPublicKeyInfo, like HPKP).
 * Computed with OpenSSL from the PEM certificate curl reports. Pure
 * functions; results go into caller buffers.
 */
#ifndef CLI_PIN_H
#define CLI_PIN_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/err.h"

/** Length of a pin string without the NUL: "sha256//" and 44 base64 characters. */
#define PIN_LEN (8 + 44)

/** Write the pin of the first certificate in PEM (LEN bytes) into OUT (>= PIN_LEN + 1). */
int pin_from_pem(const char *pem, size_t len, char *out, size_t cap, struct cli_err *err);
/** Whether S has the form of a pin. */
bool pin_valid(const char *s);

#endif
