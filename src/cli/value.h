/*
 * value: how `infoadm set NAME=VALUE` turns VALUE text into the JSON value it
 * sends, guided by the property's current value on the server (the client
 * does not know property types). Returned values are new references the
 * caller releases. Pure functions.
 */
#ifndef CLI_VALUE_H
#define CLI_VALUE_H

#include <jansson.h>

/**
 * The JSON value for TEXT given CURRENT, the property's current value (NULL
 * when the server did not report it). Current array: a JSON array, else
 * "a,b,c" as strings. Current object: a JSON object, else "k=v,k2=v2".
 * Current string: TEXT as a string (a quoted JSON string gives its content).
 * Otherwise: TEXT parsed as JSON (not null), else TEXT as a string.
 * NULL when TEXT is not valid UTF-8.
 */
json_t *cli_value_parse(const char *text, const json_t *current);

/** Split "NAME=VALUE": *NAME gets a new string, *VALUE points into ARG. -1 without a name. */
int cli_value_split(const char *arg, char **name, const char **value);

#endif
