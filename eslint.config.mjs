// ESLint for every TypeScript and JavaScript source (prettier owns the layout, so no style rules here).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default [
  {
    ignores: [
      'node_modules/',
      'dist/',
      'native/build/',
      'native/fuzz/build/',
      'native/fuzz/corpus/',
      'artifacts/',
      'test/e2e/node_modules/',
      'bench/out/',
      'test-output/',
      'examples/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Spreading an array into a call puts every element on the stack: a vocabulary or a
      // 130,000-tensor model overflows it. Loop, or reduce, instead.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression > SpreadElement',
          message: 'No spreading into calls: an unbounded array overflows the stack. Use a loop.',
        },
        {
          selector: 'NewExpression > SpreadElement',
          message: 'No spreading into calls: an unbounded array overflows the stack. Use a loop.',
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['webview/**/*.{ts,mjs}', 'test/e2e/**/*.{js,mjs}'],
    languageOptions: { globals: { ...globals.browser, ...globals.node, ...globals.mocha } },
  },
  {
    // CommonJS files, and tests that load the native addon by path at run time.
    files: ['**/*.{js,cjs}', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
