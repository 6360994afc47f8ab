/* The dtype table: validity, element sizes and names, generated from the list in
 * include/infd/dtype.h. */
#include "infd/dtype.h"

#include <string.h>

bool infd_dtype_valid(int value)
{
	switch (value) {
#define INFD_DTYPE_CASE_(name, v, size, text) case v:
		INFD_DTYPE_LIST(INFD_DTYPE_CASE_)
#undef INFD_DTYPE_CASE_
		return true;
	default:
		return false;
	}
}

size_t infd_dtype_size(int value)
{
	switch (value) {
#define INFD_DTYPE_SIZE_(name, v, size, text)                                      \
	case v:                                                                        \
		return size;
		INFD_DTYPE_LIST(INFD_DTYPE_SIZE_)
#undef INFD_DTYPE_SIZE_
	default:
		return 0;
	}
}

const char *infd_dtype_name(int value)
{
	switch (value) {
#define INFD_DTYPE_NAME_(name, v, size, text)                                      \
	case v:                                                                        \
		return text;
		INFD_DTYPE_LIST(INFD_DTYPE_NAME_)
#undef INFD_DTYPE_NAME_
	default:
		return "invalid";
	}
}

int infd_dtype_from_name(const char *name)
{
	static const struct {
		const char *alias;
		int value;
	} aliases[] = {
		{"f32", INFD_DTYPE_FLOAT32}, {"float", INFD_DTYPE_FLOAT32},
		{"f64", INFD_DTYPE_FLOAT64}, {"double", INFD_DTYPE_FLOAT64},
		{"f16", INFD_DTYPE_FLOAT16}, {"half", INFD_DTYPE_FLOAT16},
		{"i8", INFD_DTYPE_INT8},     {"u8", INFD_DTYPE_UINT8},
		{"i16", INFD_DTYPE_INT16},   {"i32", INFD_DTYPE_INT32},
		{"int", INFD_DTYPE_INT32},   {"i64", INFD_DTYPE_INT64},
		{"long", INFD_DTYPE_INT64},
	};
	if (!name)
		return -1;
#define INFD_DTYPE_PARSE_(n, v, size, text)                                        \
	if (strcmp(name, text) == 0)                                                   \
		return v;
	INFD_DTYPE_LIST(INFD_DTYPE_PARSE_)
#undef INFD_DTYPE_PARSE_
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(name, aliases[i].alias) == 0)
			return aliases[i].value;
	return -1;
}
