// One place that says how every Nx project runs jest. A project's jest.config.cjs calls
// `jestProjectConfig(__dirname)`; its Nx targets pick a tier with `--selectProjects unit|int|e2e`.
// Tiers are file suffixes (style.md): *.spec.ts unit, *.int-spec.ts real Kafka/Postgres,
// *.e2e-spec.ts whole services as processes.
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const workspaceRoot = __dirname;

/** Maps the `@lienthong/*` path aliases of tsconfig.base.json to their sources. */
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [
    `^${alias.replace('/', '\\/')}$`,
    path.join(workspaceRoot, target),
  ]),
);

const swcTransform = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const harness = path.join(workspaceRoot, 'libs/testing/src/jest');
const stackTier = {
  globalSetup: path.join(harness, 'global-setup.cjs'),
  globalTeardown: path.join(harness, 'global-teardown.cjs'),
  setupFilesAfterEnv: [path.join(harness, 'setup-stack-tier.cjs')],
};

function tier(rootDir, displayName, suffix, extra = {}) {
  return {
    displayName,
    rootDir,
    testEnvironment: 'node',
    testMatch: [`<rootDir>/**/*${suffix}`],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    transform: { '^.+\\.ts$': swcTransform },
    moduleFileExtensions: ['ts', 'js', 'json'],
    moduleNameMapper,
    ...extra,
  };
}

/** @returns {import('jest').Config} */
function jestProjectConfig(rootDir) {
  return {
    projects: [
      tier(rootDir, 'unit', '.spec.ts'),
      tier(rootDir, 'int', '.int-spec.ts', stackTier),
      tier(rootDir, 'e2e', '.e2e-spec.ts', stackTier),
    ],
  };
}

module.exports = { jestProjectConfig };
