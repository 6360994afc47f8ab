/* Encoding and checked decoding of infd wire messages (see wire.h). */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

const char *infd__msg_name(uint32_t type)
{
	switch (type) {
#define INFD_MSG_NAME_(name, value)                                                                \
	case value:                                                                                \
		return #name;
		INFD_MSG_LIST(INFD_MSG_NAME_)
#undef INFD_MSG_NAME_
	}
	return NULL;
}

void infd__proto_put_header(uint8_t *buf, uint32_t type, uint32_t status, uint32_t length)
{
	wr32(buf, INFD_PROTO_MAGIC);
	buf[4] = INFD_PROTO_VERSION & 0xff;
	buf[5] = INFD_PROTO_VERSION >> 8;
	buf[6] = (uint8_t)type;
	buf[7] = (uint8_t)(type >> 8);
	wr32(buf + 8, status);
	wr32(buf + 12, length);
}

infd_status infd__proto_get_header(const uint8_t *msg, size_t size, struct infd_msg_header *h, char *why,
				   size_t why_size)
{
	if (size < INFD_PROTO_HEADER_SIZE) {
		snprintf(why, why_size, "message of %zu bytes is shorter than the %d-byte header", size,
			 INFD_PROTO_HEADER_SIZE);
		return INFD_PROTOCOL;
	}
	h->magic = rd32(msg);
	h->version = (uint16_t)(msg[4] | (msg[5] << 8));
	h->type = (uint16_t)(msg[6] | (msg[7] << 8));
	h->status = rd32(msg + 8);
	h->length = rd32(msg + 12);
	if (h->magic != INFD_PROTO_MAGIC) {
		snprintf(why, why_size, "bad magic 0x%08x (not an infd message)", h->magic);
		return INFD_PROTOCOL;
	}
	if (h->version != INFD_PROTO_VERSION) {
		snprintf(why, why_size, "protocol version %u is not supported (this side speaks %d)", h->version,
			 INFD_PROTO_VERSION);
		return INFD_VERSION_MISMATCH;
	}
	if (size > INFD_PROTO_MAX_MESSAGE) {
		snprintf(why, why_size, "message of %zu bytes exceeds the %u-byte limit", size, INFD_PROTO_MAX_MESSAGE);
		return INFD_PROTOCOL;
	}
	if ((uint64_t)h->length + INFD_PROTO_HEADER_SIZE != size) {
		snprintf(why, why_size, "header announces a %u-byte body, the message carries %zu", h->length,
			 size - INFD_PROTO_HEADER_SIZE);
		return INFD_PROTOCOL;
	}
	if (!infd__msg_name(h->type)) {
		snprintf(why, why_size, "unknown message type %u", h->type);
		return INFD_PROTOCOL;
	}
	return INFD_OK;
}

void infd__proto_put_run_request(uint8_t *buf, const struct infd_run_request *r)
{
	wr64(buf, r->session);
	wr32(buf + 8, r->timeout_ms);
	buf[12] = r->priority;
	buf[13] = r->flags;
	buf[14] = 0;
	buf[15] = 0;
}

infd_status infd__proto_get_run_request(const uint8_t *body, size_t size, struct infd_run_request *r, char *why,
					size_t why_size)
{
	if (size != INFD_RUN_REQUEST_SIZE) {
		snprintf(why, why_size, "RUN body has %zu bytes, expected %d", size, INFD_RUN_REQUEST_SIZE);
		return INFD_PROTOCOL;
	}
	r->session = rd64(body);
	r->timeout_ms = rd32(body + 8);
	r->priority = body[12];
	r->flags = body[13];
	r->reserved = 0;
	if (r->priority > 3) {
		snprintf(why, why_size, "RUN priority %u is outside 0..3", r->priority);
		return INFD_PROTOCOL;
	}
	return INFD_OK;
}

void infd__proto_put_run_reply(uint8_t *buf, const struct infd_run_reply *r)
{
	wr64(buf, r->exec_ns);
	wr64(buf + 8, r->queue_ns);
	wr64(buf + 16, r->sequence);
}

infd_status infd__proto_get_run_reply(const uint8_t *body, size_t size, struct infd_run_reply *r)
{
	if (size != INFD_RUN_REPLY_SIZE)
		return INFD_PROTOCOL;
	r->exec_ns = rd64(body);
	r->queue_ns = rd64(body + 8);
	r->sequence = rd64(body + 16);
	return INFD_OK;
}

json_t *infd__proto_get_json(const uint8_t *body, size_t size, char *why, size_t why_size)
{
	json_error_t jerr;
	if (size > INFD_PROTO_MAX_MESSAGE) {
		snprintf(why, why_size, "JSON body too large");
		return NULL;
	}
	json_t *obj = json_loadb((const char *)body, size, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		snprintf(why, why_size, "bad JSON body at byte %d: %s", jerr.position, jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		snprintf(why, why_size, "JSON body is not an object");
		json_decref(obj);
		return NULL;
	}
	return obj;
}

infd_status infd__proto_str(const json_t *obj, const char *key, bool required, const char **out, char *why,
			    size_t why_size)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return INFD_OK;
		snprintf(why, why_size, "field '%s' is missing", key);
		return INFD_PROTOCOL;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, why_size, "field '%s' must be a string without NUL bytes", key);
		return INFD_PROTOCOL;
	}
	*out = json_string_value(v);
	return INFD_OK;
}

infd_status infd__proto_int(const json_t *obj, const char *key, bool required, int64_t lo, int64_t hi,
			    int64_t *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (!required)
			return INFD_OK;
		snprintf(why, why_size, "field '%s' is missing", key);
		return INFD_PROTOCOL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(why, why_size, "field '%s' must be an integer in [%lld, %lld]", key, (long long)lo,
			 (long long)hi);
		return INFD_PROTOCOL;
	}
	*out = json_integer_value(v);
	return INFD_OK;
}

uint8_t *infd__proto_encode_json(uint32_t type, uint32_t status, const json_t *obj, size_t *size)
{
	char *text = NULL;
	size_t len = 0;
	if (obj) {
		text = json_dumps(obj, JSON_COMPACT);
		if (!text)
			return NULL;
		len = strlen(text);
	}
	uint8_t *buf = NULL;
	if (len + INFD_PROTO_HEADER_SIZE <= INFD_PROTO_MAX_MESSAGE)
		buf = malloc(len + INFD_PROTO_HEADER_SIZE);
	if (buf) {
		infd__proto_put_header(buf, type, status, (uint32_t)len);
		if (len)
			memcpy(buf + INFD_PROTO_HEADER_SIZE, text, len);
		*size = len + INFD_PROTO_HEADER_SIZE;
	}
	free(text);
	return buf;
}
