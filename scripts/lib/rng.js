// The one seeded random generator of the tests, benches and scripts: mulberry32 (32-bit
// state, full period, fast), so a seed gives the same numbers in every file that uses it.
// CommonJS so the TypeScript tests (require) and the .mjs benches (import) share it; types in
// rng.d.ts.
'use strict';

/** Uniform in [0, 1). */
function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in (0, 1): never 0, so log(u) is finite. */
function openUniform(seed) {
  const u = mulberry32(seed);
  return () => u() + 0.5 / 4294967296;
}

/** Uniform in [-0.5, 0.5). */
function centered(seed) {
  const u = mulberry32(seed);
  return () => u() - 0.5;
}

/** One standard normal value from a uniform source (Box-Muller, the cosine branch). */
function gauss(u) {
  return Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
}

/** n normal values with standard deviation sigma, seeded. */
function gaussian(n, seed, sigma = 1) {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sigma * gauss(u);
  return out;
}

module.exports = { mulberry32, openUniform, centered, gauss, gaussian };
