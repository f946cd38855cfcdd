// The layers of docs/ARCHITECTURE.md, checked: tui/ renders and asks, ops/ does the work, each Shoal step stands alone.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/** What tui/ may import from ops/: the console session (its one door into the engine) and pure data: types, schemas, formatting. */
const TUI_MAY_IMPORT = ['console-session', 'events', 'recipe', 'plan', 'sizes', 'outputs/line-printer'];

const tuiBoundary = {
  paths: [
    { name: 'execa', message: 'tui/ never runs a command: ask the console session (ops/console-session.ts).' },
    { name: 'node:child_process', message: 'tui/ never runs a command: ask the console session (ops/console-session.ts).' },
  ],
  patterns: [
    {
      regex: `(^|/)ops/(?!(${TUI_MAY_IMPORT.join('|')})\\.ts$)`,
      message: `tui/ reaches ops/ through ops/console-session.ts (and the pure modules ${TUI_MAY_IMPORT.filter((m) => m !== 'console-session').join(', ')}); add what it needs to the session.`,
    },
  ],
};

const noUi = 'ops/ never imports React, Ink or tui/: the engine runs without a screen (auto mode, --json).';
const opsBoundary = {
  paths: ['react', 'react/jsx-runtime', 'ink', 'ink-testing-library'].map((name) => ({ name, message: noUi })),
  patterns: [{ regex: '(^|/)tui/', message: noUi }],
};

/** A step file may use the Step type beside it, never another step: what two steps share lives in ops/, ops/linux/ or ops/windows/. */
const stepBoundary = {
  paths: opsBoundary.paths,
  patterns: [
    ...opsBoundary.patterns,
    { regex: '^\\./(?!step\\.ts$)', message: 'a step never imports another step: move what they share to ops/, ops/linux/ or ops/windows/.' },
    { regex: '(^|/)steps/(?!step\\.ts$)', message: 'a step never imports another step (nor the registry).' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `const { secret: _s, ...rest } = x` leaves a field out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A terminal program: the control characters in its patterns are the point (escape sequences, what a label may not hold).
      'no-control-regex': 'off',
      // A closure that reads a binding assigned just after it (a test harness that refers to itself).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  // The build scripts are plain JavaScript run by node (TypeScript checks the globals of the rest).
  { files: ['**/*.{mjs,js}'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  { files: ['tui/**', 'test/tui/**'], plugins: { 'react-hooks': reactHooks }, rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' } },
  { files: ['tui/**'], rules: { 'no-restricted-imports': ['error', tuiBoundary] } },
  { files: ['ops/**'], rules: { 'no-restricted-imports': ['error', opsBoundary] } },
  { files: ['ops/steps/**'], ignores: ['ops/steps/index.ts'], rules: { 'no-restricted-imports': ['error', stepBoundary] } },
);
