/* global module, require */
// `preset: 'jest-environment-ns-sandbox'`: every test file of the project runs in its own sandbox.
module.exports = {
  runner: require.resolve('./dist/runner.js'),
  testEnvironment: require.resolve('./dist/environment.js')
}
