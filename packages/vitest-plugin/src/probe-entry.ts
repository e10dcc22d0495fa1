/** Loaded by the preflight's probe sandbox: reaching this module is the proof that a test file's sandbox works. */
export {}
