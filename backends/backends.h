/* Setting up the optional execution backends of a runtime: NPU delegate
 * plugins, the Vulkan GPU backend and XNNPACK, each only where the build has it
 * and the machine can run it. A backend that cannot start is skipped with a
 * note, never an error: the portable CPU kernels always remain. */
#ifndef INFD_BACKENDS_BACKENDS_H
#define INFD_BACKENDS_BACKENDS_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/runtime.h"

struct infd_backends_config {
	bool xnnpack;              /* use XNNPACK for the operators it supports (default true) */
	bool vulkan;               /* use a Vulkan device when one exists (default true) */
	const char *vulkan_device; /* choose the device whose name contains this; NULL = best */
	/* Use a software Vulkan device (lavapipe) when it is the only one. Off by
	 * default: XNNPACK is faster on the same CPU. Naming the device in
	 * vulkan_device also allows it. The Vulkan backend refuses otherwise. */
	bool vulkan_software;
	bool vulkan_fp16;          /* store GPU activations as fp16 where supported (default false) */
	const char *cache_dir;     /* where the Vulkan pipeline cache lives; NULL = no cache */
	const char *plugin_dir;    /* NPU delegate plugins (*.so) to load; NULL = none */
	/* Called with one line for each backend started or skipped (may be NULL). */
	void (*log)(void *ud, const char *line);
	void *log_ud;
};

void infd__backends_config_default(struct infd_backends_config *cfg);

/* The device preference list used when none is given: NPU, then GPU, then CPU. */
#define INFD_DEFAULT_DEVICES 3
extern const char *const infd__default_devices[INFD_DEFAULT_DEVICES];

/* Add the configured backends to `rt`, most preferred first: NPU plugins, then
 * Vulkan, then XNNPACK, ahead of the portable kernels. */
void infd__backends_setup(struct infd_runtime *rt, const struct infd_backends_config *cfg);

#endif
