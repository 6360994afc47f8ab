/* The built-in default configuration as a C string (config/default.json,
 * embedded at build time). */
#include "config.h"

extern const unsigned char infd__default_config_bytes[];

const char *infd__default_config(void)
{
	return (const char *)infd__default_config_bytes;
}
