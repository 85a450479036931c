/* exp_check.c: accuracy of fp_exp.h against libm's expf, in ulp, over x in [-87, 0].
 * gcc -O3 -Icsrc csrc/tests/exp_check.c -lm -o exp_check && ./exp_check */
#include <math.h>
#include <stdio.h>
#include "fp_exp.h"

int main(void)
{
    double worst = 0, at = 0;
    for (long i = 0; i <= 20000000; i++) {
        const float x = (float)(-87.0 * (double)i / 20000000.0);
        const float ref = expf(x), got = fp_exp_nonpos_s(x);
        const double u = ref == got ? 0 : fabs((double)got - ref) / (nextafterf(ref, INFINITY) - ref);
        if (u > worst) { worst = u; at = x; }
    }
    printf("float: max %.2f ulp at x = %.9g\n", worst, at);
    printf("edge: exp(0) = %g, exp(-1000) = %g, exp(nan) = %g\n", (double)fp_exp_nonpos_s(0),
           (double)fp_exp_nonpos_s(-1000), (double)fp_exp_nonpos_s(NAN));
    return worst <= 2 ? 0 : 1;
}
