// node:os for bench scripts running in a page (bench/browser/child.mjs).
export const availableParallelism = () => navigator.hardwareConcurrency;
export default { availableParallelism };
