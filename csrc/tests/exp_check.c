/* exp_check.c: accuracy of fp_exp.h against libm's expf / exp, in ulp, over x in [-87, 0]
 * (float) and [-708, 0] (double). Exits non-zero beyond 1 ulp.
 * gcc -O3 -Icsrc csrc/tests/exp_check.c -lm -o exp_check && ./exp_check */
#include <math.h>
#include <stdio.h>
#include "fp_exp.h"

int main(void)
{
    double worst_s = 0, at_s = 0, worst_d = 0, at_d = 0;
    for (long i = 0; i <= 20000000; i++) {
        const float x = (float)(-87.0 * (double)i / 20000000.0);
        const float ref = expf(x), got = fp_exp_nonpos_s(x);
        const double u = ref == got ? 0 : fabs((double)got - ref) / (nextafterf(ref, INFINITY) - ref);
        if (u > worst_s) { worst_s = u; at_s = x; }
    }
    for (long i = 0; i <= 50000000; i++) {
        const double x = -708.0 * (double)i / 50000000.0;
        const double ref = exp(x), got = fp_exp_nonpos_d(x);
        const double u = ref == got ? 0 : fabs(got - ref) / (nextafter(ref, INFINITY) - ref);
        if (u > worst_d) { worst_d = u; at_d = x; }
    }
    printf("float: max %.2f ulp at x = %.9g\n", worst_s, at_s);
    printf("double: max %.2f ulp at x = %.17g\n", worst_d, at_d);
    printf("edge: expf(0) = %g, expf(-1000) = %g, expf(nan) = %g; exp(0) = %g, exp(-1000) = %g, "
           "exp(nan) = %g\n", (double)fp_exp_nonpos_s(0), (double)fp_exp_nonpos_s(-1000),
           (double)fp_exp_nonpos_s(NAN), fp_exp_nonpos_d(0), fp_exp_nonpos_d(-1000),
           fp_exp_nonpos_d(NAN));
    return worst_s <= 1 && worst_d <= 1 ? 0 : 1;
}
