/*
 * gen_props_doc: writes the property reference (docs/properties.md) from the
 * property table to stdout or to the file named by the only argument. A build
 * tool with its own main(), kept out of the library.
 */
#include <stdio.h>

#include "metabase/props.h"

int main(int argc, char **argv)
{
    FILE *f = stdout;

    if (argc > 2) {
        fprintf(stderr, "usage: gen_props_doc [OUTPUT.md]\n");
        return 2;
    }
    if (argc == 2 && (f = fopen(argv[1], "w")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    props_doc_markdown(f);
    if (ferror(f) || (f != stdout && fclose(f) != 0)) {
        fprintf(stderr, "gen_props_doc: write error\n");
        return 1;
    }
    return 0;
}
