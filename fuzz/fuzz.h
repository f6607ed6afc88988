/*
 * What every libFuzzer driver in fuzz/ shares: the entry point's prototype
 * (for -Wmissing-prototypes) and CHECK, which aborts so that libFuzzer
 * records the input when a contract is broken.
 */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif
