/* Tests of the linalg kernels: being written. */
#include <criterion/criterion.h>
