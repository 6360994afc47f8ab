/* Which backends a runtime gets, in which order. Each backend's factory is
 * compiled in only when the build found its dependency (INFD_HAVE_*). */
#include "backends.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backends/factories.h"

const char *const infd__default_devices[INFD_DEFAULT_DEVICES] = {"npu", "gpu", "cpu"};

void infd__backends_config_default(struct infd_backends_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->xnnpack = true;
	cfg->vulkan = true;
}

static void note(const struct infd_backends_config *cfg, const char *fmt, ...)
{
	if (!cfg->log)
		return;
	char line[INFD_ERROR_MSG_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	cfg->log(cfg->log_ud, line);
}

static void add(struct infd_runtime *rt, const struct infd_backends_config *cfg, const char *what,
		infd_status rc, struct infd_backend be, const struct infd_error *err)
{
	if (rc != INFD_OK) {
		note(cfg, "%s: not used (%s)", what, err->msg[0] ? err->msg : infd_strerror(rc));
		return;
	}
	if (infd__runtime_add_backend(rt, be) != INFD_OK) {
		note(cfg, "%s: not used (too many backends)", what);
		if (be.ops->destroy)
			be.ops->destroy(be.ctx);
		return;
	}
	if (!cfg->log)
		return;
	struct infd_device_info info = {.available = true};
	snprintf(info.name, sizeof info.name, "%s", be.ops->name);
	if (be.ops->probe)
		be.ops->probe(be.ctx, &info);
	note(cfg, "%s: using %s", what, info.name);
}

void infd__backends_setup(struct infd_runtime *rt, const struct infd_backends_config *cfg)
{
	struct infd_backends_config def;
	if (!cfg) {
		infd__backends_config_default(&def);
		cfg = &def;
	}
	struct infd_error err;
	struct infd_backend be;
	(void)err;
	(void)be;
	(void)add;
	/* Added in reverse preference order: each goes ahead of the ones present. */
#ifdef INFD_HAVE_XNNPACK
	if (cfg->xnnpack) {
		infd__error_clear(&err);
		infd_status rc = infd__backend_xnnpack_create(rt, &be, &err);
		add(rt, cfg, "xnnpack", rc, be, &err);
	}
#endif
#ifdef INFD_HAVE_VULKAN
	if (cfg->vulkan) {
		infd__error_clear(&err);
		infd_status rc = infd__backend_vulkan_create(rt, cfg, &be, &err); /* refuses unwanted software devices */
		add(rt, cfg, "vulkan", rc, be, &err);
	}
#endif
#ifdef INFD_HAVE_NPU
	if (cfg->plugin_dir)
		infd__npu_plugins_load(rt, cfg, add);
#endif
}
