// The tests use the benchmark's namespace helpers (src/bench/netns.ts).
export * from '../../src/bench/netns.js';
