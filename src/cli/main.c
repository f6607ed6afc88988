/*
 * infoadm: the command-line console of infosrv. main() stays alone in this
 * file so that unit tests can link the rest of src/cli; everything else is in
 * run.c (the runner), args.c and cmdtab.c (the command line) and
 * commands_*.c (the commands).
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
