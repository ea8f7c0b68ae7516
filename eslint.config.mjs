// Type-checked lint for every project. Module boundaries are enforced from the Nx tags
// (scope:* says which part of the product, type:* says which layer) as errors, not advice.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

const testFiles = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/test/**/*.ts'];

/** Who may depend on whom. Tests get one more allowance: the testing harness. */
const depConstraints = (allowTesting) => [
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:lib', ...(allowTesting ? ['type:testing'] : [])],
  },
  {
    sourceTag: 'type:lib',
    onlyDependOnLibsWithTags: ['type:lib', ...(allowTesting ? ['type:testing'] : [])],
  },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:portal-sim', onlyDependOnLibsWithTags: ['scope:shared', 'scope:portal-sim'] },
  {
    sourceTag: 'scope:commune-sim',
    onlyDependOnLibsWithTags: ['scope:shared', 'scope:commune-sim'],
  },
  { sourceTag: 'scope:dossier', onlyDependOnLibsWithTags: ['scope:shared', 'scope:dossier'] },
  {
    sourceTag: 'scope:civil-status',
    onlyDependOnLibsWithTags: ['scope:shared', 'scope:civil-status'],
  },
  { sourceTag: 'scope:land', onlyDependOnLibsWithTags: ['scope:shared', 'scope:land'] },
  { sourceTag: 'scope:ops', onlyDependOnLibsWithTags: ['scope:shared', 'scope:ops'] },
  { sourceTag: 'scope:ingest', onlyDependOnLibsWithTags: ['scope:shared', 'scope:ingest'] },
  { sourceTag: 'scope:deploy', onlyDependOnLibsWithTags: ['scope:shared'] },
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      '**/*.cjs',
      '**/*.mjs',
      '**/generated/**',
    ],
  },
  ...nx.configs['flat/base'],
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: depConstraints(false) },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'separate-type-imports' },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/ban-ts-comment': 'error',
      'no-console': 'error',
    },
  },
  {
    files: testFiles,
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: depConstraints(true) },
      ],
      // jest's expect(...).rejects / mocks produce unbound method references on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // NestJS modules and DI tokens are classes whose "emptiness" is their point; the stack tool
    // writes to stdout/stderr by design.
    files: ['**/*.module.ts'],
    rules: { '@typescript-eslint/no-extraneous-class': 'off' },
  },
  {
    // Scripts the dashboard serves to the browser: plain JavaScript, no type information.
    files: ['services/sync-monitor/views/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      globals: { ...globals.browser, uPlot: 'readonly' },
    },
  },
  prettier,
);
