// The benchmark matrix of the quantizer benchmarks: Student-t weights (nu = 5, std 0.02),
// 8 input columns scaled x10 (the outlier channels of real LLM layers), from a seeded
// generator so every run and every benchmark quantizes the same numbers.
export function makeData(rows, cols, seed = 1) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  let spare = null;
  const normal = () => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(u())),
      th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
  const nu = 5;
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    let chi = 0;
    for (let k = 0; k < nu; k++) chi += normal() ** 2;
    w[i] = (0.02 * normal()) / Math.sqrt(chi / nu);
  }
  for (let h = 0; h < 8; h++) {
    const c = Math.floor(u() * cols);
    for (let r = 0; r < rows; r++) w[r * cols + c] *= 10;
  }
  return w;
}

// Per-input-column importance for the benchmarks' importance-weighted runs (an imatrix's
// role: mean squared activations): log-normal (sigma 1), seeded.
export function makeImportance(cols, seed = 2) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return Float32Array.from({ length: cols }, () =>
    Math.exp(Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())),
  );
}
