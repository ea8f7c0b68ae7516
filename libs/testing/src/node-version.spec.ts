describe('runtime', () => {
  it('runs on Node.js 24 LTS (the project brings it; the machine may have an older node)', () => {
    expect(process.version).toMatch(/^v24\./);
  });
});
