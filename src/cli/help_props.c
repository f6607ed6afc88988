/*
 * help_props: `infoadm help set` from the linked property table. Kept apart
 * so that only this file depends on the metabase.
 */
#include "cli/help_props.h"

#ifdef INFOADM_NO_PROPS

void cli_help_properties(FILE *out)
{
    fputs("properties: see docs/properties.md\n", out);
}

#else

#include "cli/output.h"
#include "metabase/props.h"

void cli_help_properties(FILE *out)
{
    fputs("Properties (see docs/properties.md for where each may be set):\n", out);
    for (size_t i = 0; i < props_count(); i++) {
        const struct prop *p = props_at(i);
        fprintf(out, "\n  %s  (%s", p->name, props_type_name(p->type));
        if (p->def != NULL)
            fprintf(out, ", default %s", p->def);
        fputs(")\n", out);
        if (p->doc != NULL)
            out_wrap(out, p->doc, 6, 78);
    }
}

#endif
