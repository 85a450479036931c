/* exp_check.c: accuracy of fp_exp.h against libm's expf / exp, in ulp (of the smaller spacing
 * around libm's value), over x in [-87, 0] (float) and [-708, 0] (double), and its edges.
 * Exits non-zero beyond 1 ulp or on a wrong edge value.
 * gcc -O3 -Icsrc/nn csrc/tests/exp_check.c -lm -o exp_check && ./exp_check */
#include <math.h>
#include <stdio.h>
#include "fp_exp.h"

int main(void)
{
    double worst_s = 0, at_s = 0, worst_d = 0, at_d = 0;
    for (long i = 0; i <= 20000000; i++) {
        const float x = (float)(-87.0 * (double)i / 20000000.0);
        const float ref = expf(x), got = fp_exp_nonpos_s(x);
        const double u = fabs((double)got - ref) / (ref - nextafterf(ref, 0));
        if (u > worst_s) { worst_s = u; at_s = x; }
    }
    for (long i = 0; i <= 50000000; i++) {
        const double x = -708.0 * (double)i / 50000000.0;
        const double ref = exp(x), got = fp_exp_nonpos_d(x);
        const double u = fabs(got - ref) / (ref - nextafter(ref, 0));
        if (u > worst_d) { worst_d = u; at_d = x; }
    }
    printf("float: max %.2f ulp at x = %.9g\n", worst_s, at_s);
    printf("double: max %.2f ulp at x = %.17g\n", worst_d, at_d);
    const int edges_ok =
        fp_exp_nonpos_s(0.0f) == 1.0f && fp_exp_nonpos_s(-0.0f) == 1.0f &&
        fp_exp_nonpos_s(-1000.0f) == 0.0f && fp_exp_nonpos_s(-INFINITY) == 0.0f &&
        isnan(fp_exp_nonpos_s(NAN)) && fp_exp_nonpos_s(1e-30f) == 1.0f &&
        fp_exp_nonpos_d(0.0) == 1.0 && fp_exp_nonpos_d(-0.0) == 1.0 &&
        fp_exp_nonpos_d(-1000.0) == 0.0 && fp_exp_nonpos_d(-INFINITY) == 0.0 &&
        isnan(fp_exp_nonpos_d(NAN)) && fp_exp_nonpos_d(1e-300) == 1.0;
    printf("edges (+-0 -> 1, -1000 and -inf -> 0, NaN -> NaN, tiny x > 0 -> 1): %s\n",
           edges_ok ? "ok" : "WRONG");
    return worst_s <= 1 && worst_d <= 1 && edges_ok ? 0 : 1;
}
