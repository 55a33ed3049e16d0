// Measured mixed precision under a budget: setup (what is free, candidates, exact bytes),
// measurements (the on-disk cache), the solver, and the allocation from them.
export * from './setup';
export * from './measurements';
export * from './solver';
export * from './allocate';
export { allocationFor, measureContextFor, type AllocationState } from './state';
