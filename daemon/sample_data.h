/* Data compiled into the daemon at build time (tools/embed): the sample program
 * written by gen-sample and the default configuration text. */
#ifndef INFD_DAEMON_SAMPLE_DATA_H
#define INFD_DAEMON_SAMPLE_DATA_H

#include <stddef.h>

extern const unsigned char infd__sample_pte[];
extern const size_t infd__sample_pte_size;

#endif
