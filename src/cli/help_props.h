/*
 * help_props: the property list of `infoadm help set`, read from the daemon's
 * property table (metabase/props.h) linked into infoadm, so the console and
 * the server describe the same properties. Built with INFOADM_NO_PROPS it
 * only points at docs/properties.md. Writes to a caller's stream.
 */
#ifndef CLI_HELP_PROPS_H
#define CLI_HELP_PROPS_H

#include <stdio.h>

/** Print every configuration property (name, type, default, description) to OUT. */
void cli_help_properties(FILE *out);

#endif
