/* Tests of the reduce kernels: being written. */
#include <criterion/criterion.h>
