/* Loading NPU plugins from the configured directory: every *.so in name order,
 * each checked (file ownership and mode, entry symbol, ABI version, descriptor,
 * availability) before it becomes a backend. A plugin that fails a check is
 * skipped with a log line naming the file and why; the others are unaffected. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/factories.h"
#include "npu.h"

/* The fields ABI version 1 requires a descriptor to have. */
#define DESC_V1_SIZE (offsetof(struct infd_npu_plugin, unload) + sizeof(void (*)(void)))

static bool has_so_suffix(const char *name)
{
	size_t n = strlen(name);
	return n > 3 && strcmp(name + n - 3, ".so") == 0 && name[0] != '.';
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Code we are about to run as the daemon must not be replaceable by anyone else:
 * owned by root or by us, and writable by nobody else. */
static infd_status check_owner(const char *path, const char *what, bool want_dir, struct infd_error *err)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return infd__fail(err, INFD_IO, "cannot stat %s %s: %m", what, path);
	if (want_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
		return infd__fail(err, INFD_INVALID_ARGUMENT, "%s %s is not a %s", what, path,
				  want_dir ? "directory" : "regular file");
	if (sb.st_uid != 0 && sb.st_uid != geteuid())
		return infd__fail(err, INFD_PERMISSION_DENIED, "%s %s belongs to uid %u, neither root nor the daemon's user",
				  what, path, (unsigned)sb.st_uid);
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return infd__fail(err, INFD_PERMISSION_DENIED, "%s %s is writable by group or others (mode %03o)", what,
				  path, (unsigned)(sb.st_mode & 0777));
	return INFD_OK;
}

static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > INFD_NPU_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* A backend name already taken in `rt` or by a plugin loaded before this one. */
static bool name_taken(const struct infd_runtime *rt, const struct infd_backend *loaded, size_t n_loaded,
		       const char *name)
{
	for (uint32_t b = 0; b < rt->n_backends; b++)
		if (strcmp(rt->backends[b].ops->name, name) == 0)
			return true;
	for (size_t i = 0; i < n_loaded; i++)
		if (strcmp(loaded[i].ops->name, name) == 0)
			return true;
	/* a device kind as a name would make a preference list ambiguous */
	return strcmp(name, "npu") == 0 || strcmp(name, "gpu") == 0 || strcmp(name, "cpu") == 0;
}

static infd_status check_desc(const struct infd_runtime *rt, const struct infd_backend *loaded, size_t n_loaded,
			      const struct infd_npu_plugin *d, const char *path, struct infd_error *err)
{
	if (!d)
		return infd__fail(err, INFD_UNSUPPORTED, "%s: %s() returned no descriptor for ABI version %u", path,
				  INFD_NPU_PLUGIN_ENTRY_SYMBOL, INFD_NPU_PLUGIN_ABI_VERSION);
	if (d->abi_version != INFD_NPU_PLUGIN_ABI_VERSION)
		return infd__fail(err, INFD_UNSUPPORTED,
				  "%s: plugin ABI version %u, this infd speaks version %u; refused (rebuild the plugin "
				  "against this infd's infd/npu_plugin.h)",
				  path, d->abi_version, INFD_NPU_PLUGIN_ABI_VERSION);
	if (d->struct_size < DESC_V1_SIZE)
		return infd__fail(err, INFD_UNSUPPORTED,
				  "%s: descriptor is %u bytes, ABI version %u needs at least %zu; refused", path,
				  d->struct_size, INFD_NPU_PLUGIN_ABI_VERSION, (size_t)DESC_V1_SIZE);
	if (!valid_name(d->name))
		return infd__fail(err, INFD_UNSUPPORTED,
				  "%s: plugin name '%.40s' is not 1..%d characters of [a-z0-9_-]", path,
				  d->name ? d->name : "(null)", INFD_NPU_NAME_MAX);
	if (!d->init || !d->execute || !d->destroy)
		return infd__fail(err, INFD_UNSUPPORTED, "%s: plugin '%s' lacks init, execute or destroy", path, d->name);
	if ((!d->delegate_ids || !d->delegate_ids[0]) && (!d->operators || !d->operators[0]))
		return infd__fail(err, INFD_UNSUPPORTED, "%s: plugin '%s' claims no delegate id and no operator", path,
				  d->name);
	if (name_taken(rt, loaded, n_loaded, d->name))
		return infd__fail(err, INFD_UNSUPPORTED, "%s: a backend named '%s' is already present", path, d->name);
	return INFD_OK;
}

/* Open one plugin and wrap it; on failure nothing stays loaded. */
static infd_status load_one(struct infd_runtime *rt, const struct infd_backend *loaded, size_t n_loaded,
			    const char *path, struct infd_backend *out, struct infd_error *err)
{
	infd_status st = check_owner(path, "plugin", false, err);
	if (st)
		return st;
	dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *why = dlerror();
		return infd__fail(err, INFD_UNSUPPORTED, "cannot load %s: %s", path, why ? why : "dlopen failed");
	}
	infd_npu_plugin_entry_fn entry;
	void *sym = dlsym(dl, INFD_NPU_PLUGIN_ENTRY_SYMBOL);
	memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX allows */
	if (!sym) {
		st = infd__fail(err, INFD_UNSUPPORTED, "%s exports no %s(); not an infd NPU plugin", path,
				INFD_NPU_PLUGIN_ENTRY_SYMBOL);
		goto out_close;
	}
	const struct infd_npu_plugin *desc = entry(INFD_NPU_PLUGIN_ABI_VERSION);
	st = check_desc(rt, loaded, n_loaded, desc, path, err);
	if (st)
		goto out_close;
	if (desc->is_available) {
		char why[1024] = "";
		if (!desc->is_available(why, sizeof why)) {
			why[sizeof why - 1] = '\0';
			st = infd__fail(err, INFD_UNSUPPORTED, "plugin '%s' (%s) reports its device unavailable: %s",
					desc->name, path, why[0] ? why : "no reason given");
			goto out_unload;
		}
	}
	st = infd__npu_backend_create(dl, desc, path, out, err);
	if (st)
		goto out_unload;
	return INFD_OK;

out_unload:
	if (desc->unload)
		desc->unload();
out_close:
	dlclose(dl);
	return st;
}

void infd__npu_plugins_load(struct infd_runtime *rt, const struct infd_backends_config *cfg,
			    infd_backend_add_fn add)
{
	const char *dir = cfg->plugin_dir;
	struct infd_error err;
	struct infd_backend be = {0};
	infd__error_clear(&err);
	char what[512];
	snprintf(what, sizeof what, "npu plugins in %s", dir);
	infd_status st = check_owner(dir, "plugin directory", true, &err);
	if (st) {
		add(rt, cfg, what, st, be, &err);
		return;
	}
	DIR *d = opendir(dir);
	if (!d) {
		infd__fail(&err, INFD_IO, "cannot open the plugin directory %s: %m", dir);
		add(rt, cfg, what, INFD_IO, be, &err);
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!has_so_suffix(e->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof *nn);
			if (!nn)
				break;
			names = nn;
			cap = ncap;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	/* Load in name order; add in reverse, because each added backend goes ahead
	 * of the present ones: the first file by name ends up most preferred. */
	struct infd_backend *loaded = calloc(n ? n : 1, sizeof *loaded);
	size_t *from = calloc(n ? n : 1, sizeof *from);
	size_t n_loaded = 0;
	for (size_t i = 0; i < n && loaded && from; i++) {
		char path[4096];
		snprintf(what, sizeof what, "npu plugin %s", names[i]);
		infd__error_clear(&err);
		memset(&be, 0, sizeof be);
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
			st = infd__fail(&err, INFD_INVALID_ARGUMENT, "path of %s is too long", names[i]);
		else
			st = load_one(rt, loaded, n_loaded, path, &be, &err);
		if (st) {
			add(rt, cfg, what, st, be, &err);
			continue;
		}
		from[n_loaded] = i;
		loaded[n_loaded++] = be;
	}
	for (size_t k = n_loaded; k-- > 0;) {
		snprintf(what, sizeof what, "npu plugin %s", names[from[k]]);
		infd__error_clear(&err);
		add(rt, cfg, what, INFD_OK, loaded[k], &err);
	}
	free(loaded);
	free(from);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
