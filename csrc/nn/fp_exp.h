/* fp_exp.h: exp(x) for x <= 0 in float and double, written in plain arithmetic so that loops
 * calling it vectorise (a libm call per element cannot) and need no call. Used where the
 * argument is known to be non-positive: the stable sigmoid (exp(-|z|)) and the max-subtracted
 * softmax (exp(z - max z)). Sigmoid over large blocks is faster with it than with libm's exp
 * (figures: docs/tuning.md).
 *
 * Method: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 split in two), exp(r) by its Taylor
 * series (float: degree 7 by Horner; double: degree 13 as 1 + (r + r^2 q(r)), q by Estrin for
 * a shorter dependency chain), times 2^n built in the exponent bits. Arguments below -87
 * (float) or -708 (double) give 0, where libm gives a tiny normal or subnormal number; NaN gives
 * NaN. Accuracy (csrc/tests/exp_check.c): within 1 ulp of libm over [-87, 0] (float) and
 * [-708, 0] (double).
 *
 * expm1(x) for x <= 0 shares the reduction: 2^n expm1(r) + (2^n - 1), with expm1(r) the same
 * polynomial before its 1 is added. It gives the vectorisable tanh of fp_activation.inc
 * (-expm1(-2|z|) / (2 + expm1(-2|z|))), within 3 ulp of libm's tanh (tests/test_kernels.py),
 * which vectorises where libm's tanh is a call per element (figures: docs/tuning.md). */
#ifndef FP_EXP_H
#define FP_EXP_H

#include <stdint.h>
#include <string.h>

/* x = n ln2 + r: the two parts of exp(x) = 2^n (1 + expm1(r)) that exp and expm1 share. */
typedef struct { float scale, em1; } fp_exp_parts_s;
typedef struct { double scale, em1; } fp_exp_parts_d;

static inline fp_exp_parts_s fp_exp_split_s(float x)
{
    const float shifter = 12582912.0f;                   /* 1.5 * 2^23 */
    const float xc = x < -87.0f ? -87.0f : x;
    const float t = xc * 1.44269504f + shifter;
    const float n = t - shifter;
    const float r = (xc - n * 0.693145752f) - n * 1.42860677e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 23) + ((uint32_t)127 << 23);
    fp_exp_parts_s e;
    memcpy(&e.scale, &bits, sizeof e.scale);
    e.em1 = p * r;                                       /* expm1(r), degree 7 */
    return e;
}

static inline float fp_exp_nonpos_s(float x)
{
    const fp_exp_parts_s e = fp_exp_split_s(x);
    return x < -87.0f ? 0.0f : (e.em1 + 1.0f) * e.scale;
}

/* expm1(x) for x <= 0: 2^n expm1(r) + (2^n - 1), both terms exact but for expm1(r)'s own
 * rounding and the final add (n = 0, |x| <= ln2/2, gives expm1(r) itself: no cancellation). */
static inline float fp_expm1_nonpos_s(float x)
{
    const fp_exp_parts_s e = fp_exp_split_s(x);
    return x < -87.0f ? -1.0f : e.scale * e.em1 + (e.scale - 1.0f);
}

static inline fp_exp_parts_d fp_exp_split_d(double x)
{
    const double shifter = 6755399441055744.0;            /* 1.5 * 2^52 */
    const double xc = x < -708.0 ? -708.0 : x;
    const double t = xc * 1.4426950408889634 + shifter;
    const double n = t - shifter;
    const double r = (xc - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    /* expm1(r) = r + r^2 q(r), q of degree 11 by Estrin */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double c0 = 1.0 / 2 + r * (1.0 / 6), c1 = 1.0 / 24 + r * (1.0 / 120);
    const double c2 = 1.0 / 720 + r * (1.0 / 5040), c3 = 1.0 / 40320 + r * (1.0 / 362880);
    const double c4 = 1.0 / 3628800 + r * (1.0 / 39916800);
    const double c5 = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    const double d0 = c0 + r2 * c1, d1 = c2 + r2 * c3, d2 = c4 + r2 * c5;
    const double q = (d0 + r4 * d1) + r8 * d2;
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 52) + ((uint64_t)1023 << 52);
    fp_exp_parts_d e;
    memcpy(&e.scale, &bits, sizeof e.scale);
    e.em1 = r + r2 * q;
    return e;
}

static inline double fp_exp_nonpos_d(double x)
{
    const fp_exp_parts_d e = fp_exp_split_d(x);
    return x < -708.0 ? 0.0 : (1.0 + e.em1) * e.scale;    /* the 1 added last */
}

static inline double fp_expm1_nonpos_d(double x)
{
    const fp_exp_parts_d e = fp_exp_split_d(x);
    return x < -708.0 ? -1.0 : e.scale * e.em1 + (e.scale - 1.0);
}

#endif
