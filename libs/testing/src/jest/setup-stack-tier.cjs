// Integration and e2e tests wait on real brokers and processes; they poll with deadlines
// (expectEventually) rather than sleep, so a generous per-test ceiling only bounds a hang.
jest.setTimeout(180_000);
