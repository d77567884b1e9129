// node:url for bench scripts running in a page (bench/browser/child.mjs): paths stay URLs.
export const fileURLToPath = (url) => String(url);
export default { fileURLToPath };
