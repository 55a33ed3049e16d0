/** Uniform in [0, 1). */
export function mulberry32(seed: number): () => number;
/** Uniform in (0, 1): never 0, so log(u) is finite. */
export function openUniform(seed: number): () => number;
/** Uniform in [-0.5, 0.5). */
export function centered(seed: number): () => number;
/** One standard normal value from a uniform source (Box-Muller). */
export function gauss(u: () => number): number;
/** n normal values with standard deviation sigma, seeded. */
export function gaussian(n: number, seed: number, sigma?: number): Float32Array;
