/* Tests of the elementwise kernels: being written. */
#include <criterion/criterion.h>
