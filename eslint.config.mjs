import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['.cache/**', 'dist/**', 'build/**', 'node_modules/**', 'prebuilds/**', 'docs/**'] },
  // Type-aware: every file of tsconfig.json (lib, test, bench, scripts, bin; JS included through allowJs) is linted
  // with the types TypeScript infers, so floating promises, unbound methods and `any` leaking into typed code show.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Passing a caught error on unchanged is fine (it is whatever was thrown); rejecting with a new non-Error is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The tool configs are outside tsconfig.json (they are not part of the program); plain rules are enough there.
    files: ['eslint.config.mjs', 'vitest.config.mts', 'vitest.stress.config.mts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The library names Node's built-ins as 'node:fs', never 'fs' (a registry package can never shadow them).
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: builtinModules
            .filter((name) => !name.startsWith('_'))
            .map((name) => ({
              name,
              message: `import 'node:${name}' instead`,
            })),
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      // Plain CommonJS has no type annotations (checkJs is off): every require() and parameter is `any`, so these
      // rules would flag each use of one rather than a real leak. The TypeScript files keep them.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Nor does TypeScript report a name declared twice in JS (a SyntaxError only when the file runs).
      'no-redeclare': 'error',
    },
  },
  // Layout is Prettier's (npm run format); ESLint keeps to what code means.
  prettier,
);
