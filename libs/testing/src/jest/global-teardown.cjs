// Stops what global-setup started with testcontainers; the local stack is left running so the
// next test run starts in seconds (npm run stack:down stops it).
module.exports = async function globalTeardown() {
  const containers = globalThis.__LIENTHONG_CONTAINERS__ ?? [];
  await Promise.all(containers.map((c) => c.stop()));
};
