#ifndef ROUTILUX_CLIBFUZZER_H
#define ROUTILUX_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>
// libFuzzer's driver (in the runtime `-sanitize=fuzzer` links). SwiftPM names an
// executable's entry point itself, so the fuzz target calls the driver from it
// instead of using libFuzzer's own main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
