/* fp_exp.h: expf(x) for x <= 0, written in plain arithmetic so that loops calling it vectorise
 * (a libm call per element cannot); float only: for double, libm's table-driven exp is as fast
 * as a 2-wide SSE2 polynomial (measured 12 vs 15 us for 2048 sigmoids), so it stays. Used where
 * the argument is known to be non-positive: the stable sigmoid (exp(-|z|)) and the
 * max-subtracted softmax (exp(z - max z)).
 *
 * Method: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 split in two), exp(r) by its
 * degree-7 Taylor series (truncation below half an ulp), times 2^n built in the exponent bits.
 * Arguments below the smallest normal result (-87) give 0; NaN gives NaN. Accuracy
 * (csrc/tests/exp_check.c): within 1 ulp of libm's expf over [-87, 0]. */
#ifndef FP_EXP_H
#define FP_EXP_H

#include <stdint.h>
#include <string.h>

static inline float fp_exp_nonpos_s(float x)
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
    p = p * r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 23) + ((uint32_t)127 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}

#endif
