/* The daemon's configuration: defaults, the embedded default config, loading a
 * JSON file with errors that name the line and the field at fault. */
#ifndef INFD_DAEMON_CONFIG_H
#define INFD_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/error.h"

#define INFD_CONFIG_MAX_MODELS 64
#define INFD_CONFIG_MAX_IDS 32

/* Who may do what: user ids and group ids (names are resolved at load). */
struct infd_acl {
	uint32_t n_uids, n_gids;
	uid_t uids[INFD_CONFIG_MAX_IDS];
	gid_t gids[INFD_CONFIG_MAX_IDS];
	bool anyone;
};

#define INFD_CONFIG_MAX_DEVICES 8

/* A device preference list: backend names ("xnnpack", "vulkan", a plugin's
 * name) or device kinds ("npu", "gpu", "cpu"), most preferred first. */
struct infd_devices {
	uint32_t n;
	char names[INFD_CONFIG_MAX_DEVICES][32];
};

struct infd_model_config {
	char name[64];
	char path[1024]; /* a file, or "builtin:sample" */
	struct infd_devices devices; /* n == 0: the global default */
};

struct infd_vulkan_config {
	bool enabled;
	bool software; /* allow a software device (lavapipe) */
	bool fp16;
	char device[128]; /* substring of the device name; empty = best */
};

struct infd_config {
	char socket[1024];   /* empty: the default for the instance kind */
	uint32_t threads;    /* kernel threads per runtime (one pool) */
	uint32_t workers;    /* CPU worker threads */
	uint32_t queue_depth; /* bounded queue: more waiting requests get BUSY */
	uint32_t max_sessions;
	uint32_t session_timeout_s; /* an arena not claimed within this is dropped */
	struct infd_acl admin, load, run;
	struct infd_devices devices; /* default preference list */
	bool xnnpack;
	struct infd_vulkan_config vulkan;
	char plugin_dir[1024]; /* NPU delegate plugins; empty = none */
	char cache_dir[1024];  /* pipeline cache; empty = $CACHE_DIRECTORY or ~/.cache/infd */
	uint32_t n_models;
	struct infd_model_config models[INFD_CONFIG_MAX_MODELS];
	char source[1024];   /* file it came from, or "(built-in default)" */
};

/* The config text compiled into the daemon (config/default.json), NUL-terminated. */
const char *infd__default_config(void);

/* Parse `text` (from `source`, for messages) into *cfg. On failure returns
 * INFD_BAD_CONFIG with "SOURCE:LINE: field 'models[1].path': ..." in err. */
infd_status infd__config_parse(const char *text, const char *source, struct infd_config *cfg, struct infd_error *err);

/* Read and parse a file. */
infd_status infd__config_load_file(const char *path, struct infd_config *cfg, struct infd_error *err);

/* The effective config as JSON text (malloc'd). */
char *infd__config_to_json(const struct infd_config *cfg);

/* True when the ACL admits uid (primary gid `gid`, plus the user's groups). */
bool infd__acl_allows(const struct infd_acl *acl, uid_t uid, gid_t gid);

/* Line (1-based) where the value at `path` ("models[1].path") starts in the JSON
 * `text`, or 0 when not found. The text must be valid JSON. */
int infd__json_line_of(const char *text, const char *path);

#endif
