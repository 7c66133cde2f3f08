/* fuzz.h - the libFuzzer entry point every target defines, and a check that
 * survives NDEBUG. */
#ifndef MCFERRY_FUZZ_H
#define MCFERRY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In a sanitizer build this prints through the sanitizer's report file,
 * which libFuzzer keeps open when -close_fd_mask=2 closes stderr. */
void __sanitizer_report_error_summary(const char *summary)
	__attribute__((weak));

#define FUZZ_CHECK(cond)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                           \
			if (__sanitizer_report_error_summary)               \
				__sanitizer_report_error_summary(           \
					__FILE__ ": check failed: " #cond); \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
