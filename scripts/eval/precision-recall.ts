/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) in the classifier's feature space, so that fidelity
 * and diversity are read apart: each set's manifold is the union of balls around its points with radius the
 * distance to the point's k-th nearest neighbour in the same set (k = 3 as the paper).
 *   precision = share of generated points inside the real manifold (are samples realistic?)
 *   recall    = share of real points inside the generated manifold (is the data's variety covered?)
 */

/** Squared Euclidean distances between every row of a [n, d] and every row of b [m, d]: [n, m]. */
function pairwise(a: Float32Array, n: number, b: Float32Array, m: number, d: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const v = a[i * d + k] - b[j * d + k];
        s += v * v;
      }
      out[i * m + j] = s;
    }
  }
  return out;
}

/** Squared distance of each row to its k-th nearest other row of the same set. */
function kthRadii(self: Float64Array, n: number, k: number): Float64Array {
  const radii = new Float64Array(n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.set(self.subarray(i * n, (i + 1) * n));
    row.sort();
    radii[i] = row[Math.min(k, n - 1)]; // row[0] is the point itself (distance 0)
  }
  return radii;
}

/** Share of `query` rows within the radius of at least one manifold row (`cross` is [query, manifold]). */
function coverage(cross: Float64Array, q: number, m: number, radii: Float64Array): number {
  let inside = 0;
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < m; j++) {
      if (cross[i * m + j] <= radii[j]) {
        inside++;
        break;
      }
    }
  }
  return inside / q;
}

export function precisionRecall(real: Float32Array, nReal: number, fake: Float32Array, nFake: number, dim: number, k = 3): { precision: number; recall: number } {
  if (nReal <= k || nFake <= k) throw new RangeError(`precision/recall with k = ${k} needs more than ${k} points per set (got ${nReal} real, ${nFake} generated)`);
  const realRadii = kthRadii(pairwise(real, nReal, real, nReal, dim), nReal, k);
  const fakeRadii = kthRadii(pairwise(fake, nFake, fake, nFake, dim), nFake, k);
  const fakeToReal = pairwise(fake, nFake, real, nReal, dim); // [fake, real]
  const precision = coverage(fakeToReal, nFake, nReal, realRadii);
  const realToFake = pairwise(real, nReal, fake, nFake, dim);
  const recall = coverage(realToFake, nReal, nFake, fakeRadii);
  return { precision, recall };
}
