// Lint: eslint's recommended rules and typescript-eslint's, over every TypeScript file.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'fixtures/**/coverage/**', 'bench/results/**', '**/*.cjs', 'fixtures/runners/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Fixtures written as CommonJS, as the suites they stand for are.
    files: ['fixtures/jest-dropin/**/*.js', 'fixtures/jest-workspace/**/*.js', 'fixtures/vitest-workspace/packages/lib/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }]
    }
  }
)
