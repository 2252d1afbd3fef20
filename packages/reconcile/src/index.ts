/** Placeholder public surface; see the package README for status. */
export {};
