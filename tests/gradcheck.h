/* gradcheck.h — finite-difference gradient checks for a single layer.
 *
 * The scalar checked is L = sum(y * r) for a fixed random r, so dL/dy = r.
 * Analytic gradients come from gan_layer_backward; numeric ones from central
 * differences, computed in float with step h.  Inputs within `kink` of 0 are
 * moved away from it first (ReLU/LeakyReLU are not differentiable there). */
#ifndef GAN_GRADCHECK_H
#define GAN_GRADCHECK_H

#include "gan.h"

/* Checks dL/dx and every parameter gradient of an attached layer on input x
 * (shape (N, in...)); fails the Check test with the worst element on error.
 * Tolerance: |analytic - numeric| <= tol * (|numeric| + 1e-2 * max|numeric|
 * + 1e-3). */
void gc_check_layer(gan_layer *layer, gan_tensor *x, float h, float tol, float kink,
                    uint64_t seed);

#endif
