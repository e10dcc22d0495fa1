/** The names Vitest sees: the pool's (`config.pool` of a sandboxed project) and the plugin's. */
export const POOL_NAME = 'ns-sandbox'
export const PLUGIN_NAME = 'ns-sandbox'
