/* global module, require */
// `preset: 'jest-environment-ns-sandbox'`: every test file of the project runs in its own sandbox.
module.exports = {
  runner: require.resolve('./dist/runner.js'),
  testEnvironment: require.resolve('./dist/environment.js'),
  // The run report (`report: true | 'json'`) is rewritten after every run: in watch mode
  // that change must not start the next run.
  watchPathIgnorePatterns: ['/ns-sandbox-report\\.json$']
}
