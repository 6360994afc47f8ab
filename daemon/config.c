/* Daemon configuration: defaults, the JSON schema checks, and error messages
 * that point at the line and field at fault. */
#include "config.h"

#include "backends/backends.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- locating a field's line in the text ------------------------------------------- */

struct scan {
	const char *p;
	int line;
};

static void skip_ws(struct scan *s)
{
	while (*s->p && isspace((unsigned char)*s->p)) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

static void skip_string(struct scan *s)
{
	s->p++; /* opening quote */
	while (*s->p && *s->p != '"') {
		if (*s->p == '\\' && s->p[1])
			s->p++;
		s->p++;
	}
	if (*s->p)
		s->p++;
}

static void skip_value(struct scan *s);

static void skip_container(struct scan *s, char close)
{
	s->p++;
	for (;;) {
		skip_ws(s);
		if (!*s->p || *s->p == close) {
			if (*s->p)
				s->p++;
			return;
		}
		if (*s->p == ',' || *s->p == ':') {
			s->p++;
			continue;
		}
		skip_value(s);
	}
}

static void skip_value(struct scan *s)
{
	skip_ws(s);
	if (*s->p == '"')
		skip_string(s);
	else if (*s->p == '{')
		skip_container(s, '}');
	else if (*s->p == '[')
		skip_container(s, ']');
	else
		while (*s->p && !strchr(",}] \t\r\n", *s->p))
			s->p++;
}

/* Descend into the value at s->p following `path`; returns the line or 0. */
static int find(struct scan *s, const char *path)
{
	skip_ws(s);
	if (!*path)
		return s->line;
	if (*path == '.')
		path++;
	if (*path == '[') {
		long idx = strtol(path + 1, NULL, 10);
		const char *rest = strchr(path, ']');
		if (*s->p != '[' || !rest)
			return 0;
		s->p++;
		for (long i = 0;; i++) {
			skip_ws(s);
			if (*s->p == ']' || !*s->p)
				return 0;
			if (i == idx)
				return find(s, rest + 1);
			skip_value(s);
			skip_ws(s);
			if (*s->p == ',')
				s->p++;
		}
	}
	size_t klen = strcspn(path, ".[");
	if (*s->p != '{')
		return 0;
	s->p++;
	for (;;) {
		skip_ws(s);
		if (*s->p != '"')
			return 0;
		const char *k = s->p + 1;
		skip_string(s);
		size_t len = (size_t)(s->p - k - 1);
		skip_ws(s);
		if (*s->p == ':')
			s->p++;
		if (len == klen && strncmp(k, path, klen) == 0)
			return find(s, path + klen);
		skip_value(s);
		skip_ws(s);
		if (*s->p == ',')
			s->p++;
		else
			return 0;
	}
}

int infd__json_line_of(const char *text, const char *path)
{
	struct scan s = {.p = text, .line = 1};
	return find(&s, path);
}

/* ---- schema ------------------------------------------------------------------------ */

struct parse {
	const char *text, *source;
	struct infd_error *err;
};

static infd_status bad(const struct parse *ps, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static infd_status bad(const struct parse *ps, const char *path, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int line = infd__json_line_of(ps->text, path);
	return infd__fail(ps->err, INFD_BAD_CONFIG, "%s:%d: field '%s': %s", ps->source, line ? line : 1, path, what);
}

static infd_status get_uint(const struct parse *ps, json_t *obj, const char *key, uint32_t lo, uint32_t hi,
			    uint32_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return INFD_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return bad(ps, key, "must be an integer from %u to %u", lo, hi);
	*out = (uint32_t)json_integer_value(v);
	return INFD_OK;
}

static infd_status parse_acl(const struct parse *ps, json_t *obj, const char *name, struct infd_acl *acl)
{
	char path[96];
	json_t *a = json_object_get(obj, name);
	if (!a)
		return INFD_OK;
	snprintf(path, sizeof path, "access.%s", name);
	if (!json_is_object(a))
		return bad(ps, path, "must be an object with \"users\" and \"groups\" lists");
	memset(acl, 0, sizeof *acl);
	const char *key;
	json_t *v;
	json_object_foreach(a, key, v)
	{
		snprintf(path, sizeof path, "access.%s.%s", name, key);
		bool users = strcmp(key, "users") == 0;
		if (!users && strcmp(key, "groups") != 0)
			return bad(ps, path, "unknown field (expected \"users\" or \"groups\")");
		if (!json_is_array(v))
			return bad(ps, path, "must be a list of names or numeric ids");
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
		{
			snprintf(path, sizeof path, "access.%s.%s[%zu]", name, key, i);
			if ((users ? acl->n_uids : acl->n_gids) >= INFD_CONFIG_MAX_IDS)
				return bad(ps, path, "too many entries (at most %d)", INFD_CONFIG_MAX_IDS);
			long id = -1;
			if (json_is_integer(item) && json_integer_value(item) >= 0) {
				id = (long)json_integer_value(item);
			} else if (json_is_string(item)) {
				const char *s = json_string_value(item);
				if (strcmp(s, "*") == 0) {
					acl->anyone = true;
					continue;
				}
				if (users && strcmp(s, "@self") == 0) {
					id = (long)geteuid();
				} else if (users) {
					struct passwd *pw = getpwnam(s);
					id = pw ? (long)pw->pw_uid : -2;
				} else {
					struct group *gr = getgrnam(s);
					id = gr ? (long)gr->gr_gid : -2;
				}
				if (id == -2)
					continue; /* an unknown name admits nobody; not an error (the group may not exist yet) */
			} else {
				return bad(ps, path, "must be a name, a numeric id, \"@self\" or \"*\"");
			}
			bool dup = false;
			for (uint32_t k = 0; users && k < acl->n_uids; k++)
				dup |= acl->uids[k] == (uid_t)id;
			for (uint32_t k = 0; !users && k < acl->n_gids; k++)
				dup |= acl->gids[k] == (gid_t)id;
			if (dup)
				continue;
			if (users)
				acl->uids[acl->n_uids++] = (uid_t)id;
			else
				acl->gids[acl->n_gids++] = (gid_t)id;
		}
	}
	return INFD_OK;
}


static infd_status get_bool(const struct parse *ps, json_t *obj, const char *key, const char *path, bool *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return INFD_OK;
	if (!json_is_boolean(v))
		return bad(ps, path, "must be true or false");
	*out = json_is_true(v);
	return INFD_OK;
}

static infd_status get_string(const struct parse *ps, json_t *obj, const char *key, const char *path, char *out,
			      size_t size)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return INFD_OK;
	if (!json_is_string(v) || json_string_length(v) >= size)
		return bad(ps, path, "must be a string shorter than %zu bytes", size);
	snprintf(out, size, "%s", json_string_value(v));
	return INFD_OK;
}

static infd_status parse_devices(const struct parse *ps, json_t *v, const char *path, struct infd_devices *out)
{
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > INFD_CONFIG_MAX_DEVICES)
		return bad(ps, path, "must be a list of 1 to %d backend names or device kinds, e.g. [\"npu\", \"gpu\", "
				     "\"cpu\"]",
			   INFD_CONFIG_MAX_DEVICES);
	out->n = 0;
	size_t i;
	json_t *d;
	json_array_foreach(v, i, d)
	{
		char ipath[96];
		snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
		if (!json_is_string(d) || json_string_length(d) == 0 || json_string_length(d) >= sizeof out->names[0] ||
		    strspn(json_string_value(d), "abcdefghijklmnopqrstuvwxyz0123456789_.-") != json_string_length(d))
			return bad(ps, ipath,
				   "must be a backend name (\"xnnpack\", \"vulkan\", \"portable\", a plugin's name) "
				   "or a device kind (\"npu\", \"gpu\", \"cpu\")");
		snprintf(out->names[out->n++], sizeof out->names[0], "%s", json_string_value(d));
	}
	return INFD_OK;
}

static void defaults(struct infd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < INFD_DEFAULT_DEVICES; i++)
		snprintf(cfg->devices.names[cfg->devices.n++], sizeof cfg->devices.names[0], "%s",
			 infd__default_devices[i]);
	cfg->xnnpack = true;
	cfg->vulkan.enabled = true;
	cfg->threads = 1;
	cfg->workers = 2;
	cfg->queue_depth = 64;
	cfg->max_sessions = 256;
	cfg->session_timeout_s = 30;
	cfg->admin.uids[cfg->admin.n_uids++] = 0;
	if (geteuid() != 0)
		cfg->admin.uids[cfg->admin.n_uids++] = geteuid();
	struct group *gr = getgrnam("infd");
	if (gr)
		cfg->run.gids[cfg->run.n_gids++] = gr->gr_gid;
}

infd_status infd__config_parse(const char *text, const char *source, struct infd_config *cfg, struct infd_error *err)
{
	struct parse ps = {.text = text, .source = source, .err = err};
	json_error_t jerr;
	infd_status st = INFD_OK;
	defaults(cfg);
	snprintf(cfg->source, sizeof cfg->source, "%s", source);
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return infd__fail(err, INFD_BAD_CONFIG, "%s:%d:%d: %s", source, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		st = infd__fail(err, INFD_BAD_CONFIG, "%s:1: the config must be a JSON object", source);
		goto out;
	}
	static const char *const known[] = {"socket",	  "threads", "workers",	   "queue_depth", "max_sessions",
					    "session_timeout_s", "access",  "models",	   "devices",	  "xnnpack",
					    "vulkan",		  "plugin_dir", "cache_dir", NULL};
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v)
	{
		bool ok = false;
		for (int i = 0; known[i] && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		if (!ok) {
			st = bad(&ps, key, "unknown setting");
			goto out;
		}
	}
	json_t *sock = json_object_get(root, "socket");
	if (sock) {
		if (!json_is_string(sock) || json_string_length(sock) == 0 ||
		    json_string_length(sock) >= sizeof cfg->socket - 8) {
			st = bad(&ps, "socket", "must be a non-empty path shorter than %zu bytes", sizeof cfg->socket - 8);
			goto out;
		}
		snprintf(cfg->socket, sizeof cfg->socket, "%s", json_string_value(sock));
	}
	if ((st = get_uint(&ps, root, "threads", 1, 256, &cfg->threads)) ||
	    (st = get_uint(&ps, root, "workers", 1, 64, &cfg->workers)) ||
	    (st = get_uint(&ps, root, "queue_depth", 1, 65536, &cfg->queue_depth)) ||
	    (st = get_uint(&ps, root, "max_sessions", 1, 65536, &cfg->max_sessions)) ||
	    (st = get_uint(&ps, root, "session_timeout_s", 1, 3600, &cfg->session_timeout_s)))
		goto out;
	json_t *devices = json_object_get(root, "devices");
	if (devices && (st = parse_devices(&ps, devices, "devices", &cfg->devices)))
		goto out;
	if ((st = get_bool(&ps, root, "xnnpack", "xnnpack", &cfg->xnnpack)) ||
	    (st = get_string(&ps, root, "plugin_dir", "plugin_dir", cfg->plugin_dir, sizeof cfg->plugin_dir)) ||
	    (st = get_string(&ps, root, "cache_dir", "cache_dir", cfg->cache_dir, sizeof cfg->cache_dir)))
		goto out;
	json_t *vk = json_object_get(root, "vulkan");
	if (vk) {
		if (!json_is_object(vk)) {
			st = bad(&ps, "vulkan", "must be an object with \"enabled\", \"device\", \"software\", \"fp16\"");
			goto out;
		}
		json_object_foreach(vk, key, v)
		{
			char path[64];
			snprintf(path, sizeof path, "vulkan.%s", key);
			if (strcmp(key, "enabled") && strcmp(key, "device") && strcmp(key, "software") && strcmp(key, "fp16")) {
				st = bad(&ps, path, "unknown field (expected enabled, device, software or fp16)");
				goto out;
			}
		}
		if ((st = get_bool(&ps, vk, "enabled", "vulkan.enabled", &cfg->vulkan.enabled)) ||
		    (st = get_bool(&ps, vk, "software", "vulkan.software", &cfg->vulkan.software)) ||
		    (st = get_bool(&ps, vk, "fp16", "vulkan.fp16", &cfg->vulkan.fp16)) ||
		    (st = get_string(&ps, vk, "device", "vulkan.device", cfg->vulkan.device, sizeof cfg->vulkan.device)))
			goto out;
	}
	if (cfg->plugin_dir[0] && cfg->plugin_dir[0] != '/') {
		st = bad(&ps, "plugin_dir", "must be an absolute path");
		goto out;
	}
	if (cfg->cache_dir[0] && cfg->cache_dir[0] != '/') {
		st = bad(&ps, "cache_dir", "must be an absolute path");
		goto out;
	}
	json_t *access = json_object_get(root, "access");
	if (access) {
		if (!json_is_object(access)) {
			st = bad(&ps, "access", "must be an object with \"admin\", \"load\" and \"run\"");
			goto out;
		}
		json_object_foreach(access, key, v)
		{
			char path[64];
			snprintf(path, sizeof path, "access.%s", key);
			if (strcmp(key, "admin") && strcmp(key, "load") && strcmp(key, "run")) {
				st = bad(&ps, path, "unknown permission (expected admin, load or run)");
				goto out;
			}
		}
		if ((st = parse_acl(&ps, access, "admin", &cfg->admin)) || (st = parse_acl(&ps, access, "load", &cfg->load)) ||
		    (st = parse_acl(&ps, access, "run", &cfg->run)))
			goto out;
	}
	json_t *models = json_object_get(root, "models");
	if (models) {
		if (!json_is_array(models)) {
			st = bad(&ps, "models", "must be a list of {\"name\": ..., \"path\": ...}");
			goto out;
		}
		size_t i;
		json_t *m;
		json_array_foreach(models, i, m)
		{
			char path[64];
			snprintf(path, sizeof path, "models[%zu]", i);
			if (i >= INFD_CONFIG_MAX_MODELS) {
				st = bad(&ps, path, "too many models (at most %d)", INFD_CONFIG_MAX_MODELS);
				goto out;
			}
			if (!json_is_object(m)) {
				st = bad(&ps, path, "must be an object with \"name\" and \"path\"");
				goto out;
			}
			json_object_foreach(m, key, v)
			{
				snprintf(path, sizeof path, "models[%zu].%s", i, key);
				if (strcmp(key, "name") && strcmp(key, "path") && strcmp(key, "devices")) {
					st = bad(&ps, path, "unknown field (expected \"name\", \"path\" or \"devices\")");
					goto out;
				}
			}
			struct infd_model_config *mc = &cfg->models[cfg->n_models];
			json_t *name = json_object_get(m, "name"), *file = json_object_get(m, "path");
			snprintf(path, sizeof path, "models[%zu].name", i);
			if (!name || !json_is_string(name) || json_string_length(name) == 0 ||
			    json_string_length(name) >= sizeof mc->name ||
			    strspn(json_string_value(name), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
				    json_string_length(name)) {
				st = bad(&ps, name ? path : (snprintf(path, sizeof path, "models[%zu]", i), path),
					 "a model needs a \"name\" of 1-63 letters, digits, '_', '.' or '-'");
				goto out;
			}
			snprintf(path, sizeof path, "models[%zu].path", i);
			if (!file || !json_is_string(file) || json_string_length(file) == 0 ||
			    json_string_length(file) >= sizeof mc->path) {
				st = bad(&ps, file ? path : (snprintf(path, sizeof path, "models[%zu]", i), path),
					 "a model needs a \"path\" to a .pte file (or \"builtin:sample\")");
				goto out;
			}
			for (uint32_t k = 0; k < cfg->n_models; k++)
				if (strcmp(cfg->models[k].name, json_string_value(name)) == 0) {
					snprintf(path, sizeof path, "models[%zu].name", i);
					st = bad(&ps, path, "model name '%s' is used twice", json_string_value(name));
					goto out;
				}
			json_t *mdev = json_object_get(m, "devices");
			snprintf(path, sizeof path, "models[%zu].devices", i);
			if (mdev && (st = parse_devices(&ps, mdev, path, &mc->devices)))
				goto out;
			snprintf(mc->name, sizeof mc->name, "%s", json_string_value(name));
			snprintf(mc->path, sizeof mc->path, "%s", json_string_value(file));
			cfg->n_models++;
		}
	}
out:
	json_decref(root);
	return st;
}

infd_status infd__config_load_file(const char *path, struct infd_config *cfg, struct infd_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return infd__fail(err, INFD_BAD_CONFIG, "%s: cannot open: %s", path, strerror(errno));
	char *text = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 24)) {
				free(text);
				fclose(f);
				return infd__fail(err, INFD_BAD_CONFIG, "%s: larger than 16 MiB", path);
			}
			char *n = realloc(text, cap);
			if (!n) {
				free(text);
				fclose(f);
				return infd__fail(err, INFD_NO_MEMORY, "out of memory");
			}
			text = n;
		}
		size_t got = fread(text + len, 1, 4096, f);
		len += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	text[len] = '\0';
	infd_status st = infd__config_parse(text, path, cfg, err);
	free(text);
	return st;
}

static json_t *acl_json(const struct infd_acl *acl)
{
	json_t *users = json_array(), *groups = json_array();
	if (acl->anyone)
		json_array_append_new(users, json_string("*"));
	for (uint32_t i = 0; i < acl->n_uids; i++) {
		struct passwd *pw = getpwuid(acl->uids[i]);
		json_array_append_new(users, pw ? json_string(pw->pw_name) : json_integer(acl->uids[i]));
	}
	for (uint32_t i = 0; i < acl->n_gids; i++) {
		struct group *gr = getgrgid(acl->gids[i]);
		json_array_append_new(groups, gr ? json_string(gr->gr_name) : json_integer(acl->gids[i]));
	}
	return json_pack("{s:o, s:o}", "users", users, "groups", groups);
}

static json_t *devices_json(const struct infd_devices *d)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < d->n; i++)
		json_array_append_new(a, json_string(d->names[i]));
	return a;
}

char *infd__config_to_json(const struct infd_config *cfg)
{
	json_t *models = json_array();
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		json_t *m = json_pack("{s:s, s:s}", "name", cfg->models[i].name, "path", cfg->models[i].path);
		if (cfg->models[i].devices.n)
			json_object_set_new(m, "devices", devices_json(&cfg->models[i].devices));
		json_array_append_new(models, m);
	}
	json_t *root = json_pack("{s:i, s:i, s:i, s:i, s:i, s:{s:o, s:o, s:o}, s:o}", "threads", cfg->threads,
				 "workers", cfg->workers, "queue_depth", cfg->queue_depth, "max_sessions",
				 cfg->max_sessions, "session_timeout_s", cfg->session_timeout_s, "access", "admin",
				 acl_json(&cfg->admin), "load", acl_json(&cfg->load), "run", acl_json(&cfg->run),
				 "models", models);
	if (cfg->socket[0])
		json_object_set_new(root, "socket", json_string(cfg->socket));
	json_object_set_new(root, "devices", devices_json(&cfg->devices));
	json_object_set_new(root, "xnnpack", json_boolean(cfg->xnnpack));
	json_object_set_new(root, "vulkan",
			    json_pack("{s:b, s:s, s:b, s:b}", "enabled", cfg->vulkan.enabled, "device", cfg->vulkan.device,
				      "software", cfg->vulkan.software, "fp16", cfg->vulkan.fp16));
	json_object_set_new(root, "plugin_dir", json_string(cfg->plugin_dir));
	json_object_set_new(root, "cache_dir", json_string(cfg->cache_dir));
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

bool infd__acl_allows(const struct infd_acl *acl, uid_t uid, gid_t gid)
{
	if (acl->anyone)
		return true;
	for (uint32_t i = 0; i < acl->n_uids; i++)
		if (acl->uids[i] == uid)
			return true;
	if (acl->n_gids == 0)
		return false;
	for (uint32_t i = 0; i < acl->n_gids; i++)
		if (acl->gids[i] == gid)
			return true;
	/* Supplementary groups of the peer's user. */
	struct passwd *pw = getpwuid(uid);
	if (!pw)
		return false;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = 256;
	for (int k = 0; k < n; k++)
		for (uint32_t i = 0; i < acl->n_gids; i++)
			if (acl->gids[i] == groups[k])
				return true;
	return false;
}
