/* Tests of the shape kernels: being written. */
#include <criterion/criterion.h>
